/**
 * DOM-free derived data for the views from what the inference process answers (src/shared/queries.ts):
 * the query's rows [layers, heads, tokens], rollout rows, per-head statistics. Never the whole tensor.
 */
import type { PatchDims } from '../../src/shared/analytics';
import type { AnswerOf } from '../../src/shared/queries';

/**
 * Mean over the enabled heads of one layer of the query's attention over the patches, into `out`. `rows` are
 * the query's rows [layers, heads, tokens] starting at layer `rowsFrom` (a masked run's answer may hold one layer).
 */
export function layerMap(rows: Float32Array, d: PatchDims, layer: number, disabled: ReadonlySet<number> | number[],
  out: Float32Array = new Float32Array(d.tokens - d.prefix), rowsFrom = 0): Float32Array {
  const n = d.tokens;
  const off = (lh: number) => (Array.isArray(disabled) ? disabled.includes(lh) : (disabled as ReadonlySet<number>).has(lh));
  out.fill(0);
  let count = 0;
  for (let h = 0; h < d.heads; h++) {
    if (off(layer * d.heads + h)) continue;
    const row = ((layer - rowsFrom) * d.heads + h) * n + d.prefix;
    for (let k = 0; k < out.length; k++) out[k] += rows[row + k];
    count++;
  }
  if (count > 1) for (let k = 0; k < out.length; k++) out[k] /= count;
  return out;
}

/** The row of one head (all keys, prefix included) in the query's rows [layers, heads, tokens]. */
export function attentionRow(rows: Float32Array, d: PatchDims, layer: number, head: number): Float32Array {
  const start = (layer * d.heads + head) * d.tokens;
  return rows.subarray(start, start + d.tokens);
}

/** Rollout input key: what the rollout depends on in the panel state. */
export function rolloutKey(s: { fusion: string; discardRatio: number; disabledHeads: number[] }): string {
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

/** The scaling answer as one row per head. */
export function scalingRows(a: AnswerOf<'scaling'>, d: Pick<PatchDims, 'layers' | 'heads'>): ScalingRow[] {
  const rows: ScalingRow[] = [];
  for (let l = 0; l < d.layers; l++) {
    for (let h = 0; h < d.heads; h++) {
      const lh = l * d.heads + h;
      rows.push({ layer: l, head: h, scaledEntropy: a.scaledEntropy[lh], unscaledEntropy: a.unscaledEntropy[lh], scaledMax: a.scaledMax[lh], unscaledMax: a.unscaledMax[lh] });
    }
  }
  return rows;
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
