/**
 * The inference process's store of inspections: each inspection's tensors (probabilities; scores once asked
 * for) stay here, keyed by inspection id, under a memory budget; the least recently used are dropped first.
 * What the views show is computed from them on request (src/node/tensorQueries.ts), so the host and the
 * webview never hold a whole [layers, heads, tokens, tokens] tensor.
 */
import { InspectorError } from '../shared/errors';
import type { Inspection } from '../shared/types';
import type { InspectRequest } from './workerProtocol';

/** Default budget: two ViT-L/16 at 384 px with probabilities (511 MB each), or one with its scores. */
export const DEFAULT_STORE_MB = 1536;

export interface StoredInspection {
  id: number;
  /** The inspection, attention included; `scores` is empty until the scaling view asks for them. */
  inspection: Inspection;
  /** What produced it (a scores run repeats it on `input`). */
  request: InspectRequest;
  /** The model input tensor [1, 3, H, W] as fed. */
  input: Float32Array;
  /** Windowed models: the stage this entry shows (0 for the inspection itself). */
  stage?: number;
  /** A stage's view of another entry: its arrays are that entry's (never recycled or counted twice). */
  view?: boolean;
  /** Derived data kept with the tensors (all counted in the budget). */
  rollout?: { key: string; layers: Float32Array };
  headStats?: { meanDistance: Float32Array; entropy: Float32Array };
  scaling?: { scaledEntropy: Float32Array; unscaledEntropy: Float32Array; scaledMax: Float32Array; unscaledMax: Float32Array };
}

export function storedBytes(e: StoredInspection): number {
  const i = e.inspection;
  const derived = e.rollout?.layers.byteLength ?? 0;
  if (e.view) return derived;
  // A windowed model's later stages (stage 1 is `attention` itself).
  const stages = (i.stages ?? []).slice(1).reduce((n, s) => n + s.attention.byteLength + s.scores.byteLength, 0);
  return i.attention.byteLength + i.scores.byteLength + i.logits.byteLength + i.modelImage.rgb.byteLength + i.preview.rgba.byteLength
    + e.input.byteLength + stages + derived;
}

export class TensorStore {
  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<number, StoredInspection>();

  /** `onDrop`: called with every entry that leaves the store (evicted or released), e.g. to recycle its arrays. */
  constructor(readonly budgetBytes = DEFAULT_STORE_MB * 2 ** 20, private readonly onDrop: (e: StoredInspection) => void = () => undefined) {}

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += storedBytes(e);
    return n;
  }

  ids(): number[] {
    return [...this.entries.keys()];
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  /** Adds an entry (most recently used) and drops the least recently used others while over budget. */
  put(e: StoredInspection): StoredInspection {
    this.release(e.id);
    this.entries.set(e.id, e);
    this.fit(e.id);
    return e;
  }

  /** The entry, now the most recently used; a one-line error if it was dropped or never stored. */
  get(id: number): StoredInspection {
    const e = this.entries.get(id);
    if (!e) {
      throw new InspectorError('inspection-gone',
        'This inspection is no longer held by the inference process (it was dropped to stay within memory, or the process restarted). Run the inspection again.');
    }
    this.entries.delete(id);
    this.entries.set(id, e);
    return e;
  }

  /** Call after an entry grew (scores fetched, rollout cached): drops others while over budget. */
  grew(id: number): void {
    this.fit(id);
  }

  release(id: number): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.entries.delete(id);
    this.onDrop(e);
    return true;
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.release(id);
  }

  /** Drops least recently used entries other than `keep` until the store fits its budget (`keep` alone may exceed it). */
  private fit(keep: number): void {
    for (const id of [...this.entries.keys()]) {
      if (this.bytes <= this.budgetBytes) return;
      if (id !== keep) this.release(id);
    }
  }
}
