/**
 * DOM-free derived data for the views, on top of src/shared/analytics.ts, with small caches so that moving the
 * query only reads rows and the heavy work (rollout, distances, scaling statistics) runs when its inputs change.
 */
import type { InspectionPayload } from '../../src/shared/protocol';
import type { HeadSharpness, PatchDims } from '../../src/shared/analytics';
import { attentionDims, compareScaling, dinoMask, meanAttentionDistance, rollout, rolloutMap } from '../../src/shared/analytics';
import type { UiState } from './state';
import { rolloutHeadMask } from './state';

/** Mean over the enabled heads of one layer of the query's attention over the patches, into `out`. */
export function layerMap(att: Float32Array, d: PatchDims, layer: number, query: number, disabled: ReadonlySet<number> | number[], out: Float32Array = new Float32Array(d.tokens - d.prefix)): Float32Array {
  const n = d.tokens;
  const off = (lh: number) => (Array.isArray(disabled) ? disabled.includes(lh) : (disabled as ReadonlySet<number>).has(lh));
  out.fill(0);
  let count = 0;
  for (let h = 0; h < d.heads; h++) {
    const lh = layer * d.heads + h;
    if (off(lh)) continue;
    const row = (lh * n + query) * n + d.prefix;
    for (let k = 0; k < out.length; k++) out[k] += att[row + k];
    count++;
  }
  if (count > 1) for (let k = 0; k < out.length; k++) out[k] /= count;
  return out;
}

/** The row of one query (all keys, prefix included) for one head. */
export function attentionRow(att: Float32Array, d: PatchDims, layer: number, head: number, query: number): Float32Array {
  const n = d.tokens;
  const row = ((layer * d.heads + head) * n + query) * n;
  return att.subarray(row, row + n);
}

/** Rollout input key: what the rollout depends on in the panel state. */
export function rolloutKey(s: Pick<UiState, 'fusion' | 'discardRatio' | 'disabledHeads'>): string {
  return `${s.fusion}|${s.discardRatio.toFixed(3)}|${s.disabledHeads.join(',')}`;
}

export interface ScalingRow {
  layer: number;
  head: number;
  scaledEntropy: number;
  unscaledEntropy: number;
  scaledMax: number;
  unscaledMax: number;
}

/** Per-payload derived data with caches. */
export class Analysis {
  readonly dims: PatchDims;
  private distances: Float32Array | null = null;
  private joint: Float32Array | null = null;
  private jointKey = '';
  private scaling: { scaled: HeadSharpness; unscaled: HeadSharpness } | null = null;
  constructor(readonly payload: InspectionPayload) {
    const s = payload.summary;
    this.dims = attentionDims(s.layers, s.heads, s.layout);
  }
  meanDistances(): Float32Array {
    return (this.distances ??= meanAttentionDistance(this.payload.attention, this.dims, this.payload.summary.layout));
  }
  /** Rollout joint matrix for the state's fusion / discard ratio / enabled heads (cached by those). */
  rolloutJoint(s: Pick<UiState, 'fusion' | 'discardRatio' | 'disabledHeads'>): Float32Array {
    const key = rolloutKey(s);
    if (!this.joint || key !== this.jointKey) {
      this.joint = rollout(this.payload.attention, this.dims, { fusion: s.fusion, discardRatio: s.discardRatio, heads: rolloutHeadMask(s, this.dims) });
      this.jointKey = key;
    }
    return this.joint;
  }
  hasRollout(s: Pick<UiState, 'fusion' | 'discardRatio' | 'disabledHeads'>): boolean {
    return !!this.joint && this.jointKey === rolloutKey(s);
  }
  rolloutMap(s: UiState, query: number): Float32Array {
    return rolloutMap(this.rolloutJoint(s), this.payload.summary.layout, query);
  }
  dinoMask(map: Float32Array, mass: number): Uint8Array {
    return dinoMask(map, mass);
  }
  /** `scores`: the payload's softmax inputs (sent on request, not with the payload). */
  scalingRows(scores: Float32Array): ScalingRow[] {
    this.scaling ??= compareScaling(scores, this.dims, this.payload.summary.headDim);
    const { scaled, unscaled } = this.scaling;
    const rows: ScalingRow[] = [];
    for (let l = 0; l < this.dims.layers; l++) {
      for (let h = 0; h < this.dims.heads; h++) {
        const lh = l * this.dims.heads + h;
        rows.push({ layer: l, head: h, scaledEntropy: scaled.entropy[lh], unscaledEntropy: unscaled.entropy[lh], scaledMax: scaled.maxWeight[lh], unscaledMax: unscaled.maxWeight[lh] });
      }
    }
    return rows;
  }
}

/** Prediction changes after masking: per label, probability before and after (union of both top-K lists). */
export function predictionDiff(before: { index: number; label: string; probability: number }[], after: { index: number; label: string; probability: number }[]): { label: string; before: number | null; after: number | null }[] {
  const map = new Map<number, { label: string; before: number | null; after: number | null }>();
  for (const p of before) map.set(p.index, { label: p.label, before: p.probability, after: null });
  for (const p of after) {
    const e = map.get(p.index);
    if (e) e.after = p.probability;
    else map.set(p.index, { label: p.label, before: null, after: p.probability });
  }
  return [...map.values()];
}

/** Max ln(n): the entropy of a uniform row, for scaling the entropy bars. */
export function maxEntropy(tokens: number): number {
  return Math.log(Math.max(1, tokens));
}

/**
 * Patch edges where the mask changes, as segments in patch units (for drawing a contour):
 * [x0, y0, x1, y1] per segment.
 */
export function maskContour(mask: Uint8Array, rows: number, cols: number): number[][] {
  const segs: number[][] = [];
  const at = (r: number, c: number) => (r >= 0 && r < rows && c >= 0 && c < cols ? mask[r * cols + c] : 0);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (!at(r, c)) continue;
      if (!at(r - 1, c)) segs.push([c, r, c + 1, r]);
      if (!at(r + 1, c)) segs.push([c, r + 1, c + 1, r + 1]);
      if (!at(r, c - 1)) segs.push([c, r, c, r + 1]);
      if (!at(r, c + 1)) segs.push([c + 1, r, c + 1, r + 1]);
    }
  }
  return segs;
}
