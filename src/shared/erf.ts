/**
 * Effective receptive field summaries (Luo et al., NeurIPS 2016), as RepLKNet's erf/analyze_erf.py reports
 * them: the side of the smallest square, centred on the unit, that holds more than a fraction (0.2, 0.5, 0.99)
 * of the total contribution. Differences from that script: no log10(x + 1) rescaling (our contributions are
 * finite differences in the model's own units, and a log would make the sides depend on those units); the
 * square is centred on the unit's receptive-field centre, which may fall on a cell boundary (a CNN unit after
 * a stride-2 pool), so sides grow one cell at a time and a side-s square holds the cells lying wholly inside
 * [c - s/2, c + s/2] on each axis; the square may grow until it covers the whole map. Every cell of a
 * theoretical field of side rf centred there lies inside the side-rf square, so with no contribution outside
 * the theoretical field the measured side never exceeds it.
 */

export const ERF_FRACTIONS = [0.2, 0.5, 0.99] as const;

/** Cells [lo, hi] (inclusive) lying wholly inside [c - s/2, c + s/2], clipped to [0, n). */
function span(c: number, s: number, n: number): [number, number] {
  return [Math.max(0, Math.ceil(c - s / 2 - 1e-9)), Math.min(n - 1, Math.floor(c + s / 2 + 1e-9) - 1)];
}

/**
 * Side, in cells, of the square centred on (cy, cx) (in cell units: cell r spans [r, r + 1)) that first holds
 * more than `fraction` of the total of |map|. 0 for an all-zero map.
 */
export function sideAtFraction(map: ArrayLike<number>, rows: number, cols: number, cy: number, cx: number, fraction: number): number {
  let total = 0;
  for (let i = 0; i < rows * cols; i++) total += Math.abs(map[i]);
  if (total === 0) return 0;
  const maxSide = 2 * Math.ceil(Math.max(cy, rows - cy, cx, cols - cx)) + 1;
  for (let s = 1; s <= maxSide; s++) {
    const [r0, r1] = span(cy, s, rows);
    const [c0, c1] = span(cx, s, cols);
    let sum = 0;
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) sum += Math.abs(map[r * cols + c]);
    if (sum / total > fraction) return s;
  }
  return maxSide;
}

/** Sides at each of ERF_FRACTIONS, keyed "0.2", "0.5", "0.99". */
export function sidesAt(map: ArrayLike<number>, rows: number, cols: number, cy: number, cx: number): Record<string, number> {
  return Object.fromEntries(ERF_FRACTIONS.map((f) => [String(f), sideAtFraction(map, rows, cols, cy, cx, f)]));
}
