/** The query's map over the image (Patches view), the enlarged head and the attention rollout (Heads view). */
import { app, dims, query } from '../app';
import { maskContour } from '../logic/analysis';
import { headIndex, isHeadEnabled } from '../logic/state';
import { drawContour, shadeOutside } from '../dom/draw';
import { invalidate } from '../schedule';
import { currentLayerMap, drawImageWithMap } from './imageMap';
import { stageSuffix } from './stages';

export function paintPatches(): void {
  const { els } = app;
  const map = els.overlay.checked ? currentLayerMap(app.scratchMap) : null;
  drawImageWithMap(els.patches, map, { maxSize: 448, grid: true, alpha: 0.6 });
  els.patches.dataset.query = String(query());
}

export function paintEnlarged(): void {
  const d = dims()!;
  const { els, state } = app;
  const e = state.enlarged;
  if (!e) {
    els.enlargedTitle.textContent = 'Click a head to enlarge it';
    drawImageWithMap(els.enlarged, null, { maxSize: 256 });
    return;
  }
  const a = app.analysis!.dims;
  const n = a.tokens;
  const row = ((e.layer * a.heads + e.head) * n + query()) * n + a.prefix;
  app.scratchMap2.set(app.model.payload!.attention.subarray(row, row + n - a.prefix));
  const on = isHeadEnabled(state, headIndex(d, e.layer, e.head));
  els.enlargedTitle.textContent = `Layer ${e.layer + 1}, head ${e.head + 1}${on ? '' : ' (switched off)'}`;
  drawImageWithMap(els.enlarged, app.scratchMap2, { maxSize: 256, alpha: 0.7 });
  els.enlarged.dataset.cell = `${e.layer},${e.head}`;
}

/** Computes the rollout soon (debounced, only while the Heads view shows) unless it is cached; then repaints it. */
export function scheduleRollout(): void {
  if (!app.analysis) return;
  clearTimeout(app.rolloutTimer);
  if (app.analysis.hasRollout(app.state)) { invalidate('rollout'); return; }
  if (app.state.view !== 'heads') return; // computed when the heads view shows
  app.els.rolloutStatus.textContent = 'Computing rollout…';
  app.rolloutTimer = window.setTimeout(() => {
    const { analysis, state } = app;
    if (!analysis) return;
    const t0 = performance.now();
    analysis.rolloutJoint(state);
    app.els.rolloutStatus.textContent = `Rollout over ${dims()!.layers} layers (${state.fusion} fusion, discard ${state.discardRatio.toFixed(2)}) in ${Math.round(performance.now() - t0)} ms${stageSuffix()}.`;
    invalidate('rollout');
  }, 120);
}

export function paintRollout(): void {
  const d = dims()!;
  const { analysis, els, state, theme } = app;
  if (!analysis || !analysis.hasRollout(state)) {
    drawImageWithMap(els.rollout, null, { maxSize: 256 });
    return;
  }
  const map = analysis.rolloutMap(state, query());
  const { w, h: hh, c } = drawImageWithMap(els.rollout, map, { maxSize: 256, alpha: 0.7 });
  const mask = analysis.dinoMask(map, state.massThreshold);
  shadeOutside(c, mask, d.grid[0], d.grid[1], w, hh, theme.bg, 0.45);
  drawContour(c, maskContour(mask, d.grid[0], d.grid[1]), d.grid[0], d.grid[1], w, hh, theme.mask);
  let kept = 0;
  for (const v of mask) kept += v;
  els.rollout.dataset.kept = String(kept);
  els.rollout.dataset.query = String(query());
}
