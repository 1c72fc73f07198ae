/**
 * Where one attention site's Q, K and V are in the graph: the operands of the QKᵀ product that feeds the
 * softmax (MatMul, Einsum or onnxruntime's FusedMatMul, possibly through a scale and an additive bias), the
 * value operand and output of the attention·V product, and after it the head merge and output projection.
 * Read from the graph's structure only; the layouts are undone on the tensors onnxruntime returns.
 */
import type { AttentionSite } from '../attention';
import { InspectorError } from '../../shared/errors';
import type { OnnxGraph, OnnxNode } from '../../shared/graph';
import { constantOf, indexGraph, intAttr } from '../onnx/parse';

/**
 * How to read an operand as [heads, rows, cols]: a permutation of its axes, known once its rank is.
 * matmul: onnxruntime's FusedMatMul transBatch (axis 0 moved behind the batch axes), then optionally the
 * last two axes swapped. einsum: the operand's subscripts reordered to `order`.
 */
export type OperandLayout =
  | { kind: 'matmul'; transBatch: boolean; swapLast: boolean }
  | { kind: 'einsum'; subscripts: string; order: string };

/** Mul or Div by a factor tensor (a scalar for a scale). */
export interface Step {
  op: 'Mul' | 'Div' | 'Add' | 'Sub';
  other: string;
}

export interface Operand {
  tensor: string; // the product's input
  layout: OperandLayout;
  /** The tensor before any scalar Mul/Div applied right before the product (pre-scaled q), and those steps. */
  raw: string;
  prescale: Step[];
}

export interface HeadGraph {
  site: AttentionSite;
  product: OnnxNode; // QKᵀ
  alpha: number; // FusedMatMul's alpha (1 elsewhere)
  q: Operand; // rows: queries
  k: Operand; // rows: keys
  /** Between the product and the softmax input, in order (scales, masks, relative position bias). */
  chain: Step[];
  valueProduct: OnnxNode; // attention·V
  v: Operand; // rows: keys
  out: { tensor: string; layout: OperandLayout }; // rows: queries, cols: d_head
  /** The heads merged and the output projection, where found. */
  merge: { concat: string; weight: string; bias: string | null; transposed: boolean; output: string } | null;
}

const PRODUCTS = new Set(['MatMul', 'Einsum', 'FusedMatMul']);
/** Ops between the softmax and attention·V that keep the probabilities' values (as attention.ts allows). */
const PROBS_PASS = new Set(['Dropout', 'Identity', 'Cast', 'Mul', 'Div', 'Where', 'Reshape', 'Expand', 'Squeeze', 'Unsqueeze', 'Transpose', 'Flatten']);
const MERGE_PASS = new Set(['Transpose', 'Reshape', 'Flatten', 'Identity', 'Cast', 'Dropout']);

export function headGraph(graph: OnnxGraph, site: AttentionSite, modelName: string): HeadGraph {
  const { producer, consumers } = indexGraph(graph);
  const unsupported = (why: string) => new InspectorError('unsupported-model', `${modelName}: attention ${site.node}: ${why}. The anatomy view reads plain MatMul/Einsum attention only.`);
  const isProduct = (n: OnnxNode | undefined): boolean => !!n && PRODUCTS.has(n.opType) && n.inputs.slice(0, 2).every((i) => !graph.initializers.has(i));

  /** Whether `t` is computed from a QKᵀ-like product within a few steps back. */
  const reachesProduct = (t: string, depth = 4): boolean => {
    const n = producer.get(t);
    if (!n || depth < 0) return false;
    if (isProduct(n)) return true;
    return n.inputs.some((i) => reachesProduct(i, depth - 1));
  };

  // softmax input back to the product
  const chain: Step[] = [];
  let cur = site.scores;
  let product: OnnxNode | undefined;
  for (let depth = 0; depth < 8 && !product; depth++) {
    const n = producer.get(cur);
    if (!n) throw unsupported('no product of Q and K found before the softmax');
    if (isProduct(n)) product = n;
    else if (n.opType === 'Cast' || n.opType === 'Identity') cur = n.inputs[0];
    else if (n.opType === 'Add' || n.opType === 'Sub' || n.opType === 'Mul' || n.opType === 'Div') {
      const which = n.inputs.findIndex((i) => reachesProduct(i));
      if (which < 0) throw unsupported(`its scores come from ${n.opType} ${n.name}, not from a product of Q and K`);
      if (which === 1 && (n.opType === 'Sub' || n.opType === 'Div')) throw unsupported(`the scores are the divisor or subtrahend of ${n.opType} ${n.name}`);
      chain.unshift({ op: n.opType, other: n.inputs[1 - which] });
      cur = n.inputs[which];
    } else throw unsupported(`its scores pass through ${n.opType} ${n.name}`);
  }
  if (!product) throw unsupported('no product of Q and K found before the softmax');

  const [qLayout, kLayout] = productLayouts(product, 'qk', unsupported);
  const operand = (tensor: string, layout: OperandLayout): Operand => ({ tensor, layout, ...prescaled(graph, producer, tensor) });
  const q = operand(product.inputs[0], qLayout);
  const k = operand(product.inputs[1], kLayout);
  const alpha = product.opType === 'FusedMatMul' ? floatAttr(product, 'alpha') ?? 1 : 1;

  // softmax output forward to attention·V
  let frontier = [site.probs];
  let found: { node: OnnxNode; index: number } | undefined;
  for (let depth = 0; depth < 5 && frontier.length && !found; depth++) {
    const next: string[] = [];
    for (const t of frontier) {
      for (const c of consumers.get(t) ?? []) {
        const index = c.inputs.indexOf(t);
        if (PRODUCTS.has(c.opType) && index <= 1 && !graph.initializers.has(c.inputs[1 - index])) found ??= { node: c, index };
        else if (PROBS_PASS.has(c.opType) && (index === 0 || ((c.opType === 'Mul' || c.opType === 'Where') && index <= 2))) next.push(c.outputs[0]);
      }
    }
    frontier = next;
  }
  if (!found) throw unsupported('the probabilities do not reach a product with V');
  if (found.index !== 0) throw unsupported('the probabilities are the second operand of the attention·V product');
  const valueProduct = found.node;
  const [, vLayout, outLayout] = productLayouts(valueProduct, 'pv', unsupported);
  const v: Operand = { tensor: valueProduct.inputs[1], layout: vLayout, raw: valueProduct.inputs[1], prescale: [] };
  const out = { tensor: valueProduct.outputs[0], layout: outLayout };
  return { site, product, alpha, q, k, chain, valueProduct, v, out, merge: findMerge(graph, consumers, out.tensor) };
}

/**
 * The layouts of a product's operands and output as [heads, rows, cols]. 'qk': (q: queries × d, k: keys × d);
 * 'pv': (probs, v: keys × d, out: queries × d).
 */
function productLayouts(n: OnnxNode, role: 'qk' | 'pv', unsupported: (why: string) => Error): [OperandLayout, OperandLayout, OperandLayout] {
  const identity: OperandLayout = { kind: 'matmul', transBatch: false, swapLast: false };
  if (n.opType === 'Einsum') {
    const eq = n.attributes.get('equation');
    const text = eq?.type === 'string' ? eq.value.replace(/\s/g, '') : '';
    const m = /^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$/.exec(text);
    if (!m) throw unsupported(`its Einsum equation "${text}" is not of the form ab,cd->ef`);
    const [, a, b, o] = m;
    const contracted = [...a].filter((l) => b.includes(l) && !o.includes(l));
    const batch = [...o].filter((l) => a.includes(l) && b.includes(l)).join('');
    const row = [...a].find((l) => o.includes(l) && !b.includes(l));
    const col = [...b].find((l) => o.includes(l) && !a.includes(l));
    if (contracted.length !== 1 || !row || !col || a.length !== batch.length + 2 || b.length !== batch.length + 2) throw unsupported(`its Einsum equation "${text}" is not a batched matrix product`);
    const c = contracted[0];
    const e = (subscripts: string, order: string): OperandLayout => ({ kind: 'einsum', subscripts, order });
    return role === 'qk'
      ? [e(a, batch + row + c), e(b, batch + col + c), e(o, batch + row + col)]
      : [e(a, batch + row + c), e(b, batch + c + col), e(o, batch + row + col)];
  }
  let transA = false;
  let transB = false;
  let batchA = false;
  let batchB = false;
  if (n.opType === 'FusedMatMul') {
    transA = intAttr(n, 'transA') === 1;
    transB = intAttr(n, 'transB') === 1;
    batchA = intAttr(n, 'transBatchA') === 1;
    batchB = intAttr(n, 'transBatchB') === 1;
  }
  const A: OperandLayout = { kind: 'matmul', transBatch: batchA, swapLast: transA };
  // B as [.., d, keys] after its flags; K wants keys as rows (swap once more), V wants it as is.
  const B: OperandLayout = { kind: 'matmul', transBatch: batchB, swapLast: role === 'qk' ? !transB : transB };
  return [A, B, identity];
}

/** Scalar Mul/Div right before the product (q * scale, q / sqrt(d)): the raw operand and the steps. */
function prescaled(graph: OnnxGraph, producer: Map<string, OnnxNode>, tensor: string): { raw: string; prescale: Step[] } {
  const prescale: Step[] = [];
  let raw = tensor;
  for (let depth = 0; depth < 3; depth++) {
    const n = producer.get(raw);
    if (!n || (n.opType !== 'Mul' && n.opType !== 'Div')) break;
    const factorAt = n.inputs.findIndex((i, at) => isScalarConstant(graph, i) && (n.opType === 'Mul' || at === 1));
    if (factorAt < 0) break;
    prescale.unshift({ op: n.opType, other: n.inputs[factorAt] });
    raw = n.inputs[1 - factorAt];
  }
  return { raw, prescale };
}

function isScalarConstant(graph: OnnxGraph, name: string): boolean {
  const c = constantOf(graph, name);
  return !!c && c.dims.reduce((a, b) => a * b, 1) === 1 && !c.external;
}

/** After attention·V: through the head-merge transposes and reshapes to the output projection (a weight MatMul or Gemm). */
function findMerge(graph: OnnxGraph, consumers: Map<string, OnnxNode[]>, from: string): HeadGraph['merge'] {
  let t = from;
  for (let depth = 0; depth < 6; depth++) {
    const cs = consumers.get(t) ?? [];
    if (cs.length !== 1) return null;
    const c = cs[0];
    if ((c.opType === 'MatMul' || c.opType === 'Gemm') && c.inputs[0] === t && graph.initializers.has(c.inputs[1])) {
      const transposed = c.opType === 'Gemm' && intAttr(c, 'transB') === 1;
      if (c.opType === 'Gemm' && (intAttr(c, 'transA') === 1 || (floatAttr(c, 'alpha') ?? 1) !== 1 || (floatAttr(c, 'beta') ?? 1) !== 1)) return null;
      let bias: string | null = c.opType === 'Gemm' ? c.inputs[2] || null : null;
      let output = c.outputs[0];
      const next = consumers.get(output) ?? [];
      if (!bias && next.length === 1 && next[0].opType === 'Add') {
        const other = next[0].inputs.find((i) => i !== output);
        if (other && graph.initializers.has(other) && graph.initializers.get(other)!.dims.length === 1) {
          bias = other;
          output = next[0].outputs[0];
        }
      }
      return { concat: t, weight: c.inputs[1], bias, transposed, output };
    }
    if (!MERGE_PASS.has(c.opType) || c.inputs[0] !== t) return null;
    t = c.outputs[0];
  }
  return null;
}

function floatAttr(n: OnnxNode, name: string): number | undefined {
  const a = n.attributes.get(name);
  return a?.type === 'float' || a?.type === 'int' ? a.value : undefined;
}

/** The permutation that turns an operand of rank `rank` into [..heads, rows, cols]. */
export function layoutPermutation(layout: OperandLayout, rank: number): number[] {
  if (layout.kind === 'einsum') {
    if (layout.subscripts.length !== rank) throw new RangeError(`subscripts ${layout.subscripts} for a rank-${rank} tensor`);
    return [...layout.order].map((l) => layout.subscripts.indexOf(l));
  }
  const perm = [...Array(rank).keys()];
  if (layout.transBatch && rank >= 3) perm.splice(rank - 2, 0, perm.shift()!); // [a0, a1..a(r-2), a(r-1)] -> [a1..a(r-2), a0, a(r-1)]
  if (layout.swapLast) [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}
