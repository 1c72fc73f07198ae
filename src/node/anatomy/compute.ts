/**
 * The head's arithmetic redone on the model's tensors: q·k_j, the scale, any bias, the softmax, Σ p_j v_j, the
 * head merge and output projection, and the patch projection; each checked against the model's own tensor.
 */
import {
  asHeads, broadcastAt, dotRows, headMatrix, headRow, linear, maxAbsDiff, permute, softmax, topContributors,
  unravel, weightedSum, type HeadTensor, type Tensor,
} from '../../shared/anatomy';
import type { HeadAnatomy, PatchStep, PositionStep, ScaleInfo } from '../../shared/anatomyTypes';
import { InspectorError } from '../../shared/errors';
import type { TokenLayout } from '../../shared/types';
import { layoutPermutation, type HeadGraph, type OperandLayout, type Step } from './headGraph';
import type { PatchGraph } from './patchGraph';

export type TensorSource = (name: string) => Tensor | undefined;

export interface ComputeInput {
  graph: HeadGraph;
  patch: PatchGraph | null;
  tensor: TensorSource; // run outputs, the fed input, constants
  weight: TensorSource; // initializers
  layer: number;
  layers: number;
  head: number;
  query: number;
  top: number;
  layout: TokenLayout | null;
  modelImage: { width: number; height: number; rgb: Uint8Array } | null;
  modelName: string;
  isFirstLayer: boolean;
}

export function computeHead(x: ComputeInput): HeadAnatomy {
  const g = x.graph;
  const need = (name: string, what: string): Tensor => {
    const t = x.tensor(name);
    if (!t) throw new InspectorError('unsupported-model', `${x.modelName}: the ${what} (${name}) could not be read from the run.`);
    return t;
  };
  const probsT = need(g.site.probs, 'attention probabilities');
  const pDims = probsT.dims;
  const tokens = pDims[pDims.length - 1];
  const probsH = asHeads(probsT);
  const heads = probsH.heads;
  const inRange = (v: number, n: number) => Number.isInteger(v) && v >= 0 && v < n;
  if (!inRange(x.head, heads)) throw new InspectorError('bad-input', `Head ${x.head} does not exist: layer ${x.layer} has ${heads} heads (0…${heads - 1}).`);
  if (!inRange(x.query, tokens)) throw new InspectorError('bad-input', `Query token ${x.query} does not exist: the model has ${tokens} tokens (0…${tokens - 1}).`);

  const asLogical = (name: string, layout: OperandLayout, what: string): HeadTensor => {
    const t = need(name, what);
    const h = asHeads(permute(t, layoutPermutation(layout, t.dims.length)));
    if (h.heads !== heads) throw new InspectorError('unsupported-model', `${x.modelName}: the ${what} has ${h.heads} heads where the attention has ${heads}.`);
    return h;
  };
  const qH = asLogical(g.q.raw, g.q.layout, 'query');
  const kH = asLogical(g.k.raw, g.k.layout, 'key');
  const vH = asLogical(g.v.tensor, g.v.layout, 'value');
  const oH = asLogical(g.out.tensor, g.out.layout, 'attention output');
  const d = qH.cols;
  if (kH.cols !== d || kH.rows !== tokens || vH.rows !== tokens || oH.cols !== vH.cols) {
    throw new InspectorError('unsupported-model', `${x.modelName}: Q, K and V do not line up (q ${qH.rows}×${qH.cols}, k ${kH.rows}×${kH.cols}, v ${vH.rows}×${vH.cols}).`);
  }
  const dv = vH.cols;
  const q = headRow(qH, x.head, x.query);
  const K = headMatrix(kH, x.head);
  const V = headMatrix(vH, x.head);

  // scores: q·k_j, then every factor and term between the raw projections and the softmax, in graph order
  const raw = dotRows(q, K, d);
  const onQ = scalarProduct(g.q.prescale, x.tensor);
  const onK = scalarProduct(g.k.prescale, x.tensor);
  const after = scalarProduct(g.chain.filter((s) => s.op === 'Mul' || s.op === 'Div'), x.tensor);
  if (onQ === null || onK === null) throw new InspectorError('unsupported-model', `${x.modelName}: a scale before the QKᵀ product is not a scalar.`);
  const lead = unravel(x.head, pDims.slice(0, -2));
  const scaled = new Float64Array(tokens);
  for (let j = 0; j < tokens; j++) {
    let s = raw[j] * onQ * onK * g.alpha;
    for (const step of g.chain) {
      const v = broadcastAt(need(step.other, `${step.op} operand`), pDims, [...lead, x.query, j]);
      s = step.op === 'Mul' ? s * v : step.op === 'Div' ? s / v : step.op === 'Add' ? s + v : s - v;
    }
    scaled[j] = s;
  }
  const ours = softmax(scaled);
  const probs = headRow(probsH, x.head, x.query);
  const out = headRow(oH, x.head, x.query);
  const sum = weightedSum(probs, V, dv);
  const modelScores = x.tensor(g.site.scores);
  const scoresCheck = modelScores ? finiteDiff(scaled, headRow(asHeads(modelScores), x.head, x.query)) : null;

  const scale = scaleInfo(onQ, onK, g.alpha, after, g.chain.some((s) => s.op === 'Add' || s.op === 'Sub'), d);
  const merge = mergeStep(x, out, dv);
  const patch = x.patch && x.isFirstLayer ? patchStep(x, x.patch, tokens) : null;
  const position = x.patch?.position && x.isFirstLayer ? positionStep(x, x.patch, tokens) : null;
  const patchCheck = patch ? maxAbsDiff(patch.token, patch.modelToken) : null;
  const positionCheck = patch && position ? maxAbsDiff(patch.token.map((t, i) => t + position.embedding[i]), position.modelInput) : null;
  const notes: string[] = [];
  if (!x.isFirstLayer) notes.push('The patch projection and position embedding are shown for layer 1.');
  else if (!x.patch) notes.push('No patch Conv or patch MatMul was found in the graph.');
  else if (!patch) notes.push(`Token ${x.query} is a prefix token (no patch of its own).`);
  if (x.isFirstLayer && x.patch && !x.patch.position) notes.push('No position embedding Add was found after the patch projection.');
  if (x.patch?.kind === 'linear') notes.push('The patch projection is a MatMul: its input is the patch vector as the model prepares it.');

  return {
    model: x.modelName, layer: x.layer, head: x.head, query: x.query, layers: x.layers, heads, tokens,
    dHead: d, dModel: merge?.concat.length ?? (patch ? patch.token.length : null), layout: x.layout, scale,
    q: Float32Array.from(q), k: Float32Array.from(K), v: Float32Array.from(V),
    scores: Float32Array.from(raw), scaledScores: Float32Array.from(scaled), softmax: Float32Array.from(ours), probs: Float32Array.from(probs),
    weightedSum: Float32Array.from(sum), out: Float32Array.from(out), contributors: topContributors(probs, V, dv, x.top),
    concat: merge?.concat ?? null, projection: merge?.projection ?? null, patch, position,
    checks: {
      softmax: maxAbsDiff(ours, probs), weightedSum: maxAbsDiff(sum, out), scores: scoresCheck,
      concat: merge?.concatCheck ?? null, projection: merge?.projection ? maxAbsDiff(merge.projection.computed, merge.projection.model) : null,
      patch: patchCheck, position: positionCheck,
    },
    tensors: {
      q: g.q.raw, qScaled: g.q.tensor, k: g.k.raw, v: g.v.tensor, product: g.product.name, scores: g.site.scores, probs: g.site.probs,
      valueProduct: g.valueProduct.name, out: g.out.tensor, ...(g.merge ? { concat: g.merge.concat, projectionWeight: g.merge.weight, projection: g.merge.output } : {}),
      ...(x.patch ? { patchNode: x.patch.node, patchWeight: x.patch.weight, patchOutput: x.patch.output } : {}),
      ...(x.patch?.position ? { positionEmbedding: x.patch.position.embedding } : {}),
    },
    shapes: Object.fromEntries([['q', g.q.raw], ['k', g.k.raw], ['v', g.v.tensor], ['probs', g.site.probs], ['out', g.out.tensor]].map(([k, n]) => [k, x.tensor(n)?.dims ?? []])),
    notes,
  };
}

/** The product of scalar Mul/Div factors (1 for none); null when a factor is not a single value. */
function scalarProduct(steps: Step[], tensor: TensorSource): number | null {
  let f = 1;
  for (const s of steps) {
    const t = tensor(s.other);
    if (!t || t.data.length !== 1) return null;
    f = s.op === 'Mul' ? f * t.data[0] : f / t.data[0];
  }
  return f;
}

function scaleInfo(onQ: number, onK: number, inProduct: number, after: number | null, bias: boolean, d: number): ScaleInfo {
  const effective = after === null ? null : onQ * onK * inProduct * after;
  const expected = 1 / Math.sqrt(d);
  const where: string[] = [];
  const fmt = (v: number) => (Math.abs(v - expected) < 1e-6 * expected ? `1/√${d}` : Math.abs(v * v - expected) < 1e-6 * expected ? `${d}^-1/4` : v.toPrecision(6));
  if (onQ !== 1) where.push(`q is pre-scaled by ${fmt(onQ)} before the product`);
  if (onK !== 1) where.push(`k is pre-scaled by ${fmt(onK)}`);
  if (inProduct !== 1) where.push(`the product itself scales by ${fmt(inProduct)} (FusedMatMul alpha)`);
  if (after === null) where.push('a non-scalar factor follows the product');
  else if (after !== 1) where.push(`the product is scaled by ${fmt(after)} after it`);
  let description = where.length ? `${where.join('; ')}: effective scale ${effective === null ? 'not a scalar' : effective.toPrecision(6)}` : 'no scale in the graph between the projections and the softmax (it may be folded into the query weights)';
  if (effective !== null && where.length) description += Math.abs(effective - expected) < 1e-6 * expected ? ` = 1/√d_k with d_k = ${d}` : ` (1/√d_k would be ${expected.toPrecision(6)})`;
  if (bias) description += '; an additive term (mask or position bias) is added before the softmax';
  return { effective, expected, onQ, onK, inProduct, after, bias, description };
}

/** Max difference where the model's score is finite and not a -inf-like mask value. */
function finiteDiff(ours: ArrayLike<number>, model: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < ours.length; i++) if (Math.abs(model[i]) < 1e30) m = Math.max(m, Math.abs(ours[i] - model[i]));
  return m;
}

function mergeStep(x: ComputeInput, out: Float32Array, dv: number) {
  const merge = x.graph.merge;
  if (!merge) return null;
  const concatT = x.tensor(merge.concat);
  const projT = x.tensor(merge.output);
  const W = x.weight(merge.weight);
  if (!concatT || !projT || !W || W.dims.length !== 2) return null;
  const c = asHeads(concatT);
  const p = asHeads(projT);
  if (c.heads !== 1 || p.heads !== 1 || c.rows <= x.query || p.rows <= x.query) return null;
  const concat = Float32Array.from(headRow(c, 0, x.query));
  const slice = concat.subarray(x.head * dv, (x.head + 1) * dv);
  const b = merge.bias ? x.weight(merge.bias)?.data ?? null : null;
  const [inDim, outDim] = merge.transposed ? [W.dims[1], W.dims[0]] : W.dims;
  if (inDim !== concat.length) return null;
  const computed = Float32Array.from(linear(concat, W.data, b, inDim, outDim, merge.transposed));
  return { concat, concatCheck: maxAbsDiff(slice, out), projection: { computed, model: Float32Array.from(headRow(p, 0, x.query)), weight: merge.weight } };
}

function patchStep(x: ComputeInput, pg: PatchGraph, tokens: number): PatchStep | null {
  const X = x.tensor(pg.input);
  const Y = x.tensor(pg.output);
  const W = x.weight(pg.weight);
  if (!X || !Y || !W) return null;
  const b = pg.bias ? x.weight(pg.bias)?.data ?? null : null;
  if (pg.kind === 'conv') {
    if (X.dims.length !== 4 || Y.dims.length !== 4 || W.dims.length !== 4) return null;
    const [, C, H, Wd] = X.dims;
    const [, D, rows, cols] = Y.dims;
    const [kh, kw] = pg.kernel;
    const prefix = tokens - rows * cols;
    const patch = x.query - prefix;
    if (prefix < 0 || patch < 0) return null;
    const row = Math.floor(patch / cols);
    const col = patch % cols;
    const vector = new Float32Array(C * kh * kw);
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const y = row * pg.strides[0] + i - pg.pads[0];
          const xx = col * pg.strides[1] + j - pg.pads[1];
          vector[(c * kh + i) * kw + j] = y >= 0 && y < H && xx >= 0 && xx < Wd ? X.data[(c * H + y) * Wd + xx] : 0;
        }
      }
    }
    const token = Float32Array.from(linear(vector, W.data, b, C * kh * kw, D, true));
    const modelToken = new Float32Array(D);
    for (let o = 0; o < D; o++) modelToken[o] = Y.data[(o * rows + row) * cols + col];
    return { kind: 'conv', node: pg.node, patch, row, col, vector, rgb: patchRgb(x, row * pg.strides[0] - pg.pads[0], col * pg.strides[1] - pg.pads[1], kh, kw), token, modelToken };
  }
  const XH = asHeads(X);
  const YH = asHeads(Y);
  if (XH.heads !== 1 || YH.heads !== 1 || W.dims.length !== 2) return null;
  const prefix = tokens - XH.rows;
  const patch = x.query - prefix;
  if (prefix < 0 || patch < 0) return null;
  const [inDim, outDim] = pg.transposed ? [W.dims[1], W.dims[0]] : W.dims;
  const vector = Float32Array.from(headRow(XH, 0, patch));
  const token = Float32Array.from(linear(vector, W.data, b, inDim, outDim, pg.transposed));
  const grid = x.layout?.grid;
  const row = grid ? Math.floor(patch / grid[1]) : 0;
  const col = grid ? patch % grid[1] : patch;
  const ps = x.layout?.patchSize;
  const rgb = ps ? patchRgb(x, row * ps[0], col * ps[1], ps[0], ps[1]) : null;
  return { kind: 'linear', node: pg.node, patch, row, col, vector, rgb, token, modelToken: Float32Array.from(headRow(YH, 0, patch)) };
}

function patchRgb(x: ComputeInput, top: number, left: number, h: number, w: number): Uint8Array | null {
  const img = x.modelImage;
  if (!img || top < 0 || left < 0 || top + h > img.height || left + w > img.width) return null;
  const out = new Uint8Array(h * w * 3);
  for (let i = 0; i < h; i++) out.set(img.rgb.subarray(((top + i) * img.width + left) * 3, ((top + i) * img.width + left + w) * 3), i * w * 3);
  return out;
}

function positionStep(x: ComputeInput, pg: PatchGraph, tokens: number): PositionStep | null {
  const pos = pg.position!;
  const E = x.weight(pos.embedding);
  const added = x.tensor(pos.output);
  if (!E || !added) return null;
  const EH = asHeads(E);
  const AH = asHeads(added);
  if (EH.heads !== 1 || AH.heads !== 1 || EH.rows !== tokens || AH.rows !== tokens || EH.cols !== AH.cols) return null;
  return { embedding: Float32Array.from(headRow(EH, 0, x.query)), modelInput: Float32Array.from(headRow(AH, 0, x.query)) };
}
