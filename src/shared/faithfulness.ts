/**
 * Deletion and insertion (Petsiuk et al., "RISE", BMVC 2018) over a patch grid: pure math, no model. The model
 * side (filling patches, running the passes) is src/node/explain/faithfulness.ts; the protocol text below is
 * written into report.json so that anyone can recompute the numbers.
 */

/** Fill of a removed patch: zero after normalisation, that is the dataset mean. */
export const FILL = 0;
export const FILL_MEANING = 'every channel of a removed patch is 0 after normalisation ((x · rescale − mean) / std = 0): the dataset mean';

export const PROTOCOL_TEXT = {
  order:
    'patches (row-major indices 0..n-1 of the saliency grid, as float32) sorted by value descending; ties by index ascending',
  ties: 'patches with exactly equal values move together: a step that reaches into a run of equal values takes the whole run',
  steps:
    'c_0 = 0; c_{t+1} = min(n, c_t + stepPatches), then raised to the end of the run of equal values containing position c_{t+1} - 1; until c = n',
  deletion: 'the image with the first c_t patches of the order set to the fill',
  insertion: 'the fill everywhere except the first c_t patches of the order, which keep the image',
  score: 'softmax probability of the target class (softmax over all logits)',
  auc: 'trapezoid rule over x = c_t / n from 0 to 1',
} as const;

/** The patch order: value descending, ties by index ascending (a stable sort of the indices). */
export function patchOrder(map: ArrayLike<number>): number[] {
  const order = Array.from({ length: map.length }, (_, i) => i);
  const v = Float32Array.from(map); // compared as float32, as saliency.npy stores them
  return order.sort((a, b) => (v[b] !== v[a] ? v[b] - v[a] : a - b));
}

/** The patch counts c_0 = 0 < c_1 < … < c_T = n at which the curve is scored (PROTOCOL_TEXT.steps). */
export function stepCounts(map: ArrayLike<number>, stepPatches: number, order = patchOrder(map)): number[] {
  const n = order.length;
  const k = Math.max(1, Math.floor(stepPatches));
  const v = Float32Array.from(map);
  const counts = [0];
  let c = 0;
  while (c < n) {
    c = Math.min(n, c + k);
    const last = v[order[c - 1]];
    while (c < n && v[order[c]] === last) c++;
    counts.push(c);
  }
  return counts;
}

/** Area under y(x) by the trapezoid rule. */
export function trapezoid(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += ((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1])) / 2;
  return area;
}

/** A small seeded PRNG (mulberry32): the random baseline and the sampling masks are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The random baseline map: n uniform values in [0, 1) from `seed`. */
export function randomMap(n: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n }, () => rand());
}

export function softmaxAt(logits: ArrayLike<number>, index: number, offset = 0, count = logits.length): number {
  let max = -Infinity;
  for (let i = 0; i < count; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < count; i++) sum += Math.exp(logits[offset + i] - max);
  return Math.exp(logits[offset + index] - max) / sum;
}
