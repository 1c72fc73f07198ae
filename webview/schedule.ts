/** Repaint scheduling: the parts of the UI, which are dirty, one flush per animation frame and each part's timing. */
import { app } from './app';
import type { View } from './logic/state';

export type Part = 'heads' | 'headsOv' | 'patches' | 'enlarged' | 'rollout' | 'compare' | 'chart' | 'scaling' | 'mask' | 'maskResult' | 'anatomy' | 'controls';
/** The view each part belongs to (null: always painted). */
export const partView: Record<Part, View | null> = {
  heads: null, headsOv: 'heads', patches: 'patches', enlarged: 'heads', rollout: 'heads', compare: 'compare', chart: 'compare',
  scaling: 'scaling', mask: 'scaling', maskResult: 'scaling', anatomy: 'anatomy', controls: null,
};
export const allParts = () => Object.keys(partView) as Part[];

/** Milliseconds of each part in the last flush (exposed to the benchmark). */
export const breakdown: Partial<Record<Part | 'headsFill', number>> = {};

/** The scheduler's own state: the dirty parts, the pending animation frame and the painter of each part (set once by main.ts). */
const queue = {
  dirty: new Set<Part>(),
  frame: 0,
  paint: null as Record<Part, () => void> | null,
};

export function setPainters(paint: Record<Part, () => void>): void {
  queue.paint = paint;
}

/** Marks parts dirty and asks for a flush on the next animation frame. */
export function invalidate(...parts: Part[]): void {
  for (const p of parts) queue.dirty.add(p);
  if (!queue.frame) queue.frame = requestAnimationFrame(() => { queue.frame = 0; flush(); });
}

/** Marks parts dirty without asking for a frame (the caller flushes). */
export function markDirty(...parts: Part[]): void {
  for (const p of parts) queue.dirty.add(p);
}

/** Paints one part now, untimed, and clears it. */
export function paintNow(p: Part): void {
  queue.paint![p]();
  queue.dirty.delete(p);
}

/** Paints every dirty part of the view shown (others stay dirty until their view shows). */
export function flush(): void {
  if (!app.model.payload) return;
  for (const k of Object.keys(breakdown)) delete breakdown[k as Part];
  for (const p of [...queue.dirty]) {
    const v = partView[p];
    if (v && v !== app.state.view) continue; // stays dirty until its view shows
    queue.dirty.delete(p);
    const t0 = performance.now();
    queue.paint![p]();
    breakdown[p] = performance.now() - t0;
  }
}

/** Drops the pending frame, marks parts dirty and flushes synchronously (the benchmark hook). */
export function flushNow(...parts: Part[]): void {
  if (queue.frame) { cancelAnimationFrame(queue.frame); queue.frame = 0; }
  for (const p of parts) queue.dirty.add(p);
  flush();
}
