/**
 * The arithmetic of one attention head, done in plain TypeScript on the model's own tensors so that a
 * learner can follow it: q·k_j, the scale, the softmax, Σ p_j v_j, the patch projection. No Node or DOM.
 */

/** A tensor as onnxruntime returns it: row-major values and dims. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}

/** A [heads, rows, cols] view of a tensor after the layout was undone (batch 1, leading dims merged). */
export interface HeadTensor {
  data: Float32Array;
  heads: number;
  rows: number;
  cols: number;
}

export function size(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** The tensor with its axes permuted (out axis i = in axis perm[i]). */
export function permute(t: Tensor, perm: number[]): Tensor {
  const r = t.dims.length;
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new RangeError(`bad permutation [${perm}] for rank ${r}`);
  const dims = perm.map((p) => t.dims[p]);
  if (perm.every((p, i) => p === i)) return { data: t.data, dims };
  const inStrides = strides(t.dims);
  const stepOf = perm.map((p) => inStrides[p]);
  const out = new Float32Array(t.data.length);
  const idx = new Array<number>(r).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = t.data[src];
    for (let a = r - 1; a >= 0; a--) {
      if (++idx[a] < dims[a]) {
        src += stepOf[a];
        break;
      }
      src -= stepOf[a] * (dims[a] - 1);
      idx[a] = 0;
    }
  }
  return { data: out, dims };
}

export function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** The last two axes as rows and columns, every axis before them merged into heads (the batch is 1). */
export function asHeads(t: Tensor): HeadTensor {
  const r = t.dims.length;
  if (r < 2) throw new RangeError(`a tensor of rank ${r} has no rows and columns`);
  const rows = t.dims[r - 2];
  const cols = t.dims[r - 1];
  return { data: t.data, heads: size(t.dims.slice(0, r - 2)), rows, cols };
}

/** Row `row` of head `head`. */
export function headRow(t: HeadTensor, head: number, row: number): Float32Array {
  const start = (head * t.rows + row) * t.cols;
  return t.data.subarray(start, start + t.cols);
}

/** The [rows, cols] matrix of head `head`. */
export function headMatrix(t: HeadTensor, head: number): Float32Array {
  const start = head * t.rows * t.cols;
  return t.data.subarray(start, start + t.rows * t.cols);
}

/**
 * The value of `t` that broadcasts (NumPy rules) onto element `index` of a tensor of dims `target`.
 * Used for the additive bias (mask, relative position bias) and scale factors met between QKᵀ and the softmax.
 */
export function broadcastAt(t: Tensor, target: number[], index: number[]): number {
  const offset = target.length - t.dims.length;
  if (offset < 0) throw new RangeError(`[${t.dims}] does not broadcast to [${target}]`);
  const s = strides(t.dims);
  let flat = 0;
  for (let a = 0; a < t.dims.length; a++) {
    const d = t.dims[a];
    if (d !== 1 && d !== target[a + offset]) throw new RangeError(`[${t.dims}] does not broadcast to [${target}]`);
    if (d !== 1) flat += index[a + offset] * s[a];
  }
  return t.data[flat];
}

/** Multi-index of flat position `flat` in dims. */
export function unravel(flat: number, dims: number[]): number[] {
  const out = new Array<number>(dims.length);
  for (let a = dims.length - 1; a >= 0; a--) {
    out[a] = flat % dims[a];
    flat = Math.floor(flat / dims[a]);
  }
  return out;
}

/** q·k_j for every row k_j of K ([n, d]); accumulated in double precision. */
export function dotRows(q: ArrayLike<number>, K: Float32Array, d: number): Float64Array {
  const n = K.length / d;
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += q[i] * K[j * d + i];
    out[j] = s;
  }
  return out;
}

/** softmax of a row, in double precision; a row of -Infinity gives zeros. */
export function softmax(x: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]);
  const out = new Float64Array(x.length);
  if (max === -Infinity) return out;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += out[i] = Math.exp(x[i] - max);
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

/** Σ_j p_j v_j with V [n, d]. */
export function weightedSum(p: ArrayLike<number>, V: Float32Array, d: number): Float64Array {
  const out = new Float64Array(d);
  for (let j = 0; j < p.length; j++) {
    const w = p[j];
    if (w === 0) continue;
    for (let i = 0; i < d; i++) out[i] += w * V[j * d + i];
  }
  return out;
}

/** The tokens whose terms p_j v_j are longest (Euclidean norm), largest first. */
export function topContributors(p: ArrayLike<number>, V: Float32Array, d: number, k: number): { token: number; weight: number; norm: number }[] {
  const all: { token: number; weight: number; norm: number }[] = [];
  for (let j = 0; j < p.length; j++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += V[j * d + i] * V[j * d + i];
    all.push({ token: j, weight: p[j], norm: Math.abs(p[j]) * Math.sqrt(s) });
  }
  return all.sort((a, b) => b.norm - a.norm || a.token - b.token).slice(0, k);
}

/** y = x·W + b for W [inDim, outDim] (MatMul) or, with transposed, W [outDim, inDim] (Gemm transB, Conv). */
export function linear(x: ArrayLike<number>, W: Float32Array, b: Float32Array | null, inDim: number, outDim: number, transposed: boolean): Float64Array {
  if (W.length !== inDim * outDim) throw new RangeError(`a ${inDim}→${outDim} weight has ${inDim * outDim} values, not ${W.length}`);
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = b ? b[o] : 0;
    if (transposed) for (let i = 0; i < inDim; i++) s += W[o * inDim + i] * x[i];
    else for (let i = 0; i < inDim; i++) s += W[i * outDim + o] * x[i];
    y[o] = s;
  }
  return y;
}

/** Largest absolute difference; Infinity where lengths differ or a value is not finite on one side only. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}
