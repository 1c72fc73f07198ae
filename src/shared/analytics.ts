/**
 * Attention analytics: pure functions on attention laid out [layers, heads, tokens, tokens] row-major
 * (row = query, column = key). No Node or DOM APIs: this file also runs in the webview bundle.
 */
import type { TokenLayout } from './types';

export interface AttentionDims {
  layers: number;
  heads: number;
  tokens: number;
  prefix?: number; // prefix tokens (CLS, distillation, registers) before the patch tokens
}

/** Dims of maps over the patch grid: the prefix count is needed to drop the prefix keys. */
export type PatchDims = AttentionDims & { prefix: number };

export type HeadFusion = 'mean' | 'max' | 'min';

export interface RolloutOptions {
  fusion: HeadFusion;
  discardRatio: number; // share of the lowest fused weights set to 0 per layer, in [0, 1)
  /** Enabled heads: length `heads` (same for every layer) or `layers * heads`. Default: all. */
  heads?: boolean[];
}

export function attentionDims(layers: number, heads: number, layout: TokenLayout): PatchDims {
  return { layers, heads, tokens: layout.tokens, prefix: layout.prefixTokens.length };
}

function checkSize(att: Float32Array, d: AttentionDims): void {
  if (att.length !== d.layers * d.heads * d.tokens * d.tokens) {
    throw new RangeError(`attention has ${att.length} values, expected ${d.layers}x${d.heads}x${d.tokens}x${d.tokens}`);
  }
}

/** One query's attention over the patch grid (prefix keys dropped), [rows * cols]. */
export function queryMap(
  att: Float32Array, dims: PatchDims, layer: number, head: number, query: number,
  out = new Float32Array(dims.tokens - dims.prefix),
): Float32Array {
  const n = dims.tokens;
  const row = ((layer * dims.heads + head) * n + query) * n;
  out.set(att.subarray(row + dims.prefix, row + n));
  return out;
}

/** The query's patch maps for every layer and head, [layers, heads, rows * cols]; reuse `out` across repaints. */
export function queryMaps(
  att: Float32Array, dims: PatchDims, query: number,
  out = new Float32Array(dims.layers * dims.heads * (dims.tokens - dims.prefix)),
): Float32Array {
  const n = dims.tokens;
  const patches = n - dims.prefix;
  for (let lh = 0; lh < dims.layers * dims.heads; lh++) {
    const row = (lh * n + query) * n;
    out.set(att.subarray(row + dims.prefix, row + n), lh * patches);
  }
  return out;
}

/** Fuse the enabled heads of one layer into `fused` [n, n]; with no head enabled the layer contributes zeros. */
function fuseHeads(att: Float32Array, dims: AttentionDims, layer: number, fusion: HeadFusion, enabled: (h: number) => boolean, fused: Float32Array): void {
  const nn = dims.tokens * dims.tokens;
  let count = 0;
  for (let h = 0; h < dims.heads; h++) {
    if (!enabled(h)) continue;
    const src = att.subarray((layer * dims.heads + h) * nn, (layer * dims.heads + h + 1) * nn);
    if (count === 0) fused.set(src);
    else if (fusion === 'mean') for (let i = 0; i < nn; i++) fused[i] += src[i];
    else if (fusion === 'max') for (let i = 0; i < nn; i++) fused[i] = Math.max(fused[i], src[i]);
    else for (let i = 0; i < nn; i++) fused[i] = Math.min(fused[i], src[i]);
    count++;
  }
  if (count === 0) fused.fill(0);
  else if (fusion === 'mean') for (let i = 0; i < nn; i++) fused[i] /= count;
}

/**
 * Attention rollout (Abnar & Zuidema 2020) as in jacobgil/vit-explain: per layer fuse the heads, zero the
 * lowest floor(n*n*discardRatio) weights of the flattened matrix (flat index 0 is never zeroed), then
 * a = (A + I) / 2 with rows renormalised, and joint = a_L ... a_1. Returns the joint [n, n].
 */
export function rollout(att: Float32Array, dims: AttentionDims, opts: RolloutOptions): Float32Array {
  checkSize(att, dims);
  const n = dims.tokens;
  const nn = n * n;
  const layer = layerMatrices(dims, opts, att);
  let joint: Float64Array<ArrayBufferLike> | null = null; // null = identity
  let next: Float64Array<ArrayBufferLike> = new Float64Array(nn);
  const a = new Float32Array(nn);
  for (let l = 0; l < dims.layers; l++) {
    layer(l, a);
    if (!joint) {
      joint = Float64Array.from(a);
      continue;
    }
    // next = a @ joint
    next.fill(0);
    for (let i = 0; i < n; i++) {
      const ri = i * n;
      for (let k = 0; k < n; k++) {
        const w = a[ri + k];
        if (w === 0) continue;
        const rk = k * n;
        for (let j = 0; j < n; j++) next[ri + j] += w * joint[rk + j];
      }
    }
    [joint, next] = [next, joint];
  }
  if (!joint) {
    const eye = new Float32Array(nn);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    return eye;
  }
  return Float32Array.from(joint);
}

/**
 * The rollout's per-layer matrix: fused heads, the lowest floor(n*n*discardRatio) weights of the flattened
 * matrix zeroed (flat index 0 never), then (A + I) / 2 with rows renormalised. Returns a filler for layer l.
 */
function layerMatrices(dims: AttentionDims, opts: RolloutOptions, att: Float32Array): (l: number, a: Float32Array) => void {
  const n = dims.tokens;
  const nn = n * n;
  const mask = opts.heads;
  if (mask && mask.length !== dims.heads && mask.length !== dims.layers * dims.heads) {
    throw new RangeError(`heads mask has ${mask.length} entries, expected ${dims.heads} or ${dims.layers * dims.heads}`);
  }
  const discard = Math.floor(nn * opts.discardRatio);
  const scratch = discard > 0 ? new Float32Array(nn) : null;
  return (l, a) => {
    const enabled = (h: number) => !mask || (mask.length === dims.heads ? mask[h] : mask[l * dims.heads + h]);
    fuseHeads(att, dims, l, opts.fusion, enabled, a);
    if (scratch) discardLowest(a, discard, scratch);
    for (let i = 0; i < n; i++) {
      a[i * n + i] += 1; // (A + I) / 2: the halving cancels in the row normalisation
      let sum = 0;
      for (let j = 0; j < n; j++) sum += a[i * n + j];
      for (let j = 0; j < n; j++) a[i * n + j] /= sum;
    }
  };
}

/**
 * Zeroes the `k` lowest entries of `a` in ascending (value, index) order, flat index 0 excepted (it still counts):
 * what sorting every index by value and zeroing the first k does (vit-explain), in O(n) with a selection of the
 * k-th value instead of an O(n log n) sort (1.5 s of a ViT-B/16 at 384 px's rollout otherwise).
 */
export function discardLowest(a: Float32Array, k: number, scratch = new Float32Array(a.length)): void {
  if (k <= 0) return;
  if (k >= a.length) {
    const first = a[0];
    a.fill(0);
    a[0] = first;
    return;
  }
  scratch.set(a);
  const v = selectKth(scratch.subarray(0, a.length), k - 1); // the value at rank k - 1
  let below = 0;
  for (let i = 0; i < a.length; i++) if (a[i] < v) below++;
  let ties = k - below; // entries equal to v that are zeroed: the lowest indices first
  const first = a[0];
  for (let i = 0; i < a.length; i++) {
    if (a[i] < v) a[i] = 0;
    else if (a[i] === v && ties > 0) {
      a[i] = 0;
      ties--;
    }
  }
  a[0] = first;
}

/** The k-th smallest value of `x` (0-based), reordering `x` (Hoare's quickselect, median-of-three pivots). */
function selectKth(x: Float32Array, k: number): number {
  let lo = 0;
  let hi = x.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three as the pivot
    const p = Math.max(Math.min(x[lo], x[mid]), Math.min(Math.max(x[lo], x[mid]), x[hi]));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (x[i] < p) i++;
      while (x[j] > p) j--;
      if (i <= j) {
        const t = x[i];
        x[i] = x[j];
        x[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return x[k];
  }
  return x[k];
}

/**
 * Row `query` of rollout(): e_q^T a_L ... a_1, computed as a vector-matrix chain from the last layer down
 * (L*n^2 work instead of the full product's L*n^3), for the report, which needs only the CLS row.
 */
export function rolloutRow(att: Float32Array, dims: AttentionDims, opts: RolloutOptions, query = 0): Float32Array {
  checkSize(att, dims);
  const n = dims.tokens;
  const layer = layerMatrices(dims, opts, att);
  const a = new Float32Array(n * n);
  let v = new Float64Array(n);
  let next = new Float64Array(n);
  v[query] = 1;
  for (let l = dims.layers - 1; l >= 0; l--) {
    layer(l, a);
    next.fill(0);
    for (let k = 0; k < n; k++) {
      const w = v[k];
      if (w === 0) continue;
      for (let j = 0; j < n; j++) next[j] += w * a[k * n + j];
    }
    [v, next] = [next, v];
  }
  return Float32Array.from(v);
}

/** Row `query` of a rollout over the patch grid [rows * cols], divided by its maximum (as vit-explain). */
export function rolloutMap(joint: Float32Array, layout: TokenLayout, query = 0): Float32Array {
  const n = layout.tokens;
  const p = layout.prefixTokens.length;
  const out = joint.slice(query * n + p, query * n + n);
  let max = 0;
  for (const v of out) max = Math.max(max, v);
  if (max > 0) for (let i = 0; i < out.length; i++) out[i] /= max;
  return out;
}

/**
 * Mean attention distance per head [layers * heads], in input pixels: patch queries only, weights
 * renormalised over the patch keys, Euclidean distance between patch centres, averaged over queries.
 */
export function meanAttentionDistance(att: Float32Array, dims: AttentionDims, layout: TokenLayout): Float32Array {
  checkSize(att, dims);
  const [rows, cols] = layout.grid;
  const [ph, pw] = layout.patchSize;
  const n = dims.tokens;
  const p = n - rows * cols;
  if (p < 0) throw new RangeError(`${rows}x${cols} patches do not fit in ${n} tokens`);
  const patches = rows * cols;
  // distance table between patch i and patch j
  const dist = new Float64Array(patches * patches);
  for (let i = 0; i < patches; i++) {
    for (let j = 0; j < patches; j++) {
      const dy = (Math.floor(i / cols) - Math.floor(j / cols)) * ph;
      const dx = ((i % cols) - (j % cols)) * pw;
      dist[i * patches + j] = Math.hypot(dx, dy);
    }
  }
  const out = new Float32Array(dims.layers * dims.heads);
  for (let lh = 0; lh < dims.layers * dims.heads; lh++) {
    let total = 0;
    for (let q = 0; q < patches; q++) {
      const base = (lh * n + p + q) * n + p;
      const row = q * patches;
      let mass = 0;
      let weighted = 0;
      for (let k = 0; k < patches; k++) {
        const a = att[base + k];
        mass += a;
        weighted += a * dist[row + k];
      }
      if (mass > 0) total += weighted / mass;
    }
    out[lh] = patches ? total / patches : 0;
  }
  return out;
}

/** Per head [layers * heads]: mean over all queries of the row entropy -sum p ln p (nats, all keys). */
export function attentionEntropy(att: Float32Array, dims: AttentionDims): Float32Array {
  return rowStats(att, dims).entropy;
}

/** Per head [layers * heads]: mean over all queries of the largest weight in the row. */
export function maxWeight(att: Float32Array, dims: AttentionDims): Float32Array {
  return rowStats(att, dims).maxWeight;
}

function rowStats(att: Float32Array, dims: AttentionDims): { entropy: Float32Array; maxWeight: Float32Array } {
  checkSize(att, dims);
  const n = dims.tokens;
  const heads = dims.layers * dims.heads;
  const entropy = new Float32Array(heads);
  const maxW = new Float32Array(heads);
  const bits = new Int32Array(att.buffer, att.byteOffset, att.length); // the same values' IEEE 754 bits
  for (let lh = 0; lh < heads; lh++) {
    let e = 0;
    let m = 0;
    for (let q = 0; q < n; q++) {
      const start = (lh * n + q) * n;
      let re = 0;
      let rm = 0;
      for (let k = start; k < start + n; k++) {
        const v = att[k];
        if (v > 0) re -= v * lnFloat32(v, bits[k]);
        if (v > rm) rm = v;
      }
      e += re;
      m += rm;
    }
    entropy[lh] = e / n;
    maxW[lh] = m / n;
  }
  return { entropy, maxWeight: maxW };
}

// ln of a float32 from its bits: exponent * ln 2 + ln c + ln(m / c), where the mantissa m in [1, 2) falls in one
// of 1024 buckets of centre c (ln c from a table) and ln(m / c) = ln(1 + r), |r| < 1/2048, is a 3-term series.
// Agrees with Math.log to ~1e-13 relative and is a few times faster (the report's entropy takes ~3M logs).
const LN_BUCKET_BITS = 10;
const LN_BUCKET_SHIFT = 23 - LN_BUCKET_BITS;
const LN_BUCKET_MASK = (1 << LN_BUCKET_BITS) - 1;
const LN_CENTRE = new Float64Array(1 << LN_BUCKET_BITS);
const INV_CENTRE = new Float64Array(1 << LN_BUCKET_BITS);
for (let i = 0; i < LN_CENTRE.length; i++) {
  const c = 1 + (i + 0.5) / LN_CENTRE.length;
  LN_CENTRE[i] = Math.log(c);
  INV_CENTRE[i] = 1 / c;
}

/** ln(v) for a float32 v > 0 whose bits are `b`. */
function lnFloat32(v: number, b: number): number {
  const ex = b >>> 23; // v > 0: no sign bit
  if (ex === 0 || ex === 255) return Math.log(v); // subnormal or infinite
  const bucket = (b >>> LN_BUCKET_SHIFT) & LN_BUCKET_MASK;
  const r = (1 + (b & 0x7fffff) / 8388608) * INV_CENTRE[bucket] - 1;
  return (ex - 127) * Math.LN2 + LN_CENTRE[bucket] + r * (1 - r * (0.5 - r / 3));
}

/** Entropy -sum p ln p and the largest p of one row (compareScaling's rows of softmax probabilities). */
function rowEntropyMax(p: Float64Array, start: number, n: number): [number, number] {
  let e = 0;
  let m = 0;
  for (let k = start; k < start + n; k++) {
    const v = p[k];
    if (v > 0) e -= v * Math.log(v);
    if (v > m) m = v;
  }
  return [e, m];
}

/** Writes softmax(scale * row) into `out` for one row; -Infinity scores get exactly 0, an all-masked row all 0. */
function softmaxRow(scores: Float32Array, start: number, n: number, scale: number, out: Float32Array | Float64Array, outStart: number): void {
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, scores[start + k] * scale);
  if (max === -Infinity) {
    out.fill(0, outStart, outStart + n);
    return;
  }
  let sum = 0;
  for (let k = 0; k < n; k++) {
    const e = Math.exp(scores[start + k] * scale - max);
    out[outStart + k] = e;
    sum += e;
  }
  for (let k = 0; k < n; k++) out[outStart + k] /= sum;
}

/** Row-wise softmax(scale * scores) over rows of `rowLength`; scale > 0. */
export function softmaxRows(scores: Float32Array, rowLength: number, scale = 1, out = new Float32Array(scores.length)): Float32Array {
  if (scores.length % rowLength !== 0) throw new RangeError(`${scores.length} scores are not rows of ${rowLength}`);
  for (let r = 0; r < scores.length; r += rowLength) softmaxRow(scores, r, rowLength, scale, out, r);
  return out;
}

export interface HeadSharpness {
  entropy: Float32Array; // [layers * heads], nats
  maxWeight: Float32Array; // [layers * heads]
}

/**
 * Entropy and max weight per head of softmax(QK^T/sqrt(d_k)) (the exposed scores, already scaled) and of the
 * unscaled softmax(QK^T) = softmax(scores * sqrt(d_k)), computed row by row without a second full tensor.
 */
export function compareScaling(scores: Float32Array, dims: AttentionDims, headDim: number): { scaled: HeadSharpness; unscaled: HeadSharpness } {
  checkSize(scores, dims);
  const n = dims.tokens;
  const heads = dims.layers * dims.heads;
  const row = new Float64Array(n);
  const stats = (scale: number): HeadSharpness => {
    const entropy = new Float32Array(heads);
    const maxW = new Float32Array(heads);
    for (let lh = 0; lh < heads; lh++) {
      let e = 0;
      let m = 0;
      for (let q = 0; q < n; q++) {
        softmaxRow(scores, (lh * n + q) * n, n, scale, row, 0);
        const s = rowEntropyMax(row, 0, n);
        e += s[0];
        m += s[1];
      }
      entropy[lh] = e / n;
      maxW[lh] = m / n;
    }
    return { entropy, maxWeight: maxW };
  };
  return { scaled: stats(1), unscaled: stats(Math.sqrt(headDim)) };
}

/**
 * DINO's visualize_attention mask: keep the largest weights, in descending order, until their cumulative
 * mass reaches `keepMass` (e.g. 0.6) of the total. 1 = kept.
 */
export function dinoMask(map: Float32Array, keepMass: number): Uint8Array {
  const mask = new Uint8Array(map.length);
  let total = 0;
  for (const v of map) total += v;
  if (!(total > 0)) return mask;
  const order = Array.from(map.keys()).sort((a, b) => map[b] - map[a] || a - b);
  let cum = 0;
  for (const i of order) {
    if (cum >= keepMass * total) break;
    mask[i] = 1;
    cum += map[i];
  }
  return mask;
}

/**
 * The rollout's per-layer matrices [layers, n, n] (heads fused, lowest weights discarded, (A + I) / 2 with rows
 * renormalised), as rollout() uses them. Kept by the inference process: each row of the rollout then costs
 * L*n^2 (rolloutRowOf) instead of the whole joint's L*n^3.
 */
export function rolloutLayers(att: Float32Array, dims: AttentionDims, opts: RolloutOptions): Float32Array {
  checkSize(att, dims);
  const nn = dims.tokens * dims.tokens;
  const out = new Float32Array(dims.layers * nn);
  const layer = layerMatrices(dims, opts, att);
  for (let l = 0; l < dims.layers; l++) layer(l, out.subarray(l * nn, (l + 1) * nn));
  return out;
}

/** Row `query` of the rollout from rolloutLayers' matrices: e_q^T a_L ... a_1 (equals row `query` of rollout()). */
export function rolloutRowOf(layers: Float32Array, dims: Pick<AttentionDims, 'layers' | 'tokens'>, query: number): Float32Array {
  const n = dims.tokens;
  const nn = n * n;
  if (layers.length !== dims.layers * nn) throw new RangeError(`rollout layers have ${layers.length} values, expected ${dims.layers}x${n}x${n}`);
  let v = new Float64Array(n);
  let next = new Float64Array(n);
  v[query] = 1;
  for (let l = dims.layers - 1; l >= 0; l--) {
    next.fill(0);
    const base = l * nn;
    for (let k = 0; k < n; k++) {
      const w = v[k];
      if (w === 0) continue;
      const rk = base + k * n;
      for (let j = 0; j < n; j++) next[j] += w * layers[rk + j];
    }
    [v, next] = [next, v];
  }
  return Float32Array.from(v);
}

/** A rollout row [tokens] as a map over the patch grid [rows * cols], divided by its maximum (as rolloutMap). */
export function rolloutRowMap(row: Float32Array, prefix: number): Float32Array {
  const out = row.slice(prefix);
  let max = 0;
  for (const v of out) max = Math.max(max, v);
  if (max > 0) for (let i = 0; i < out.length; i++) out[i] /= max;
  return out;
}
