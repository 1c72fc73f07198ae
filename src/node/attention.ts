/**
 * Finds a ViT's attention maps structurally: every Softmax over the last axis whose output multiplies V
 * (softmax(QK^T / sqrt(d)) @ V), whatever the exporter named things. The model is never re-exported.
 */
import { InspectorError } from '../shared/errors';
import type { OnnxGraph, OnnxModel, OnnxNode } from '../shared/graph';
import { exposedNames, isExposedOnnxAttention, isReadableOnnxAttention } from './onnx/fusedAttention';
import { constantOf, defaultOpset, indexGraph, intAttr, intsAttr } from './onnx/parse';

export interface AttentionSite {
  node: string; // the Softmax node's name
  scores: string; // its input: QK^T / sqrt(d_k), plus any mask
  probs: string; // its output: the attention probabilities
  /** 4: [batch, heads, N, N]; 3: [batch*heads, N, N] (nn.MultiheadAttention, torchvision). */
  rank: 3 | 4;
  index: number; // position in graph.nodes
  /** An ONNX `Attention` node exposed by onnx/fusedAttention.ts: masked through its attn_mask input, not before a Softmax. */
  fused?: true;
}

/** Ops between the softmax and attn @ V that leave the probabilities' meaning unchanged. */
// QuantizeLinear/DequantizeLinear: QDQ-quantized models quantize the probabilities before attn @ V.
const PASS_THROUGH = new Set(['Dropout', 'Identity', 'Cast', 'Where', 'Reshape', 'Mul', 'Div', 'Expand', 'Squeeze', 'Unsqueeze', 'Transpose', 'Flatten', 'QuantizeLinear', 'DequantizeLinear']);

/**
 * Ops that compute attn @ V. FusedMatMul (com.microsoft): onnxruntime's optimizer folds a Transpose and a scale
 * into MatMul, and models saved after optimisation (optimizedModelFilePath, Optimum's ORTOptimizer) keep it.
 */
const VALUE_MATMUL = new Set(['MatMul', 'Einsum', 'FusedMatMul']);

export function findAttention(model: OnnxModel, name = modelName(model)): AttentionSite[] {
  const { graph } = model;
  // ONNX Attention and com.microsoft Attention/MultiHeadAttention were made readable (onnx/fusedAttention.ts) before this.
  const fused = graph.nodes.filter((n) => isFusedAttention(n) && !isReadableOnnxAttention(n));
  if (fused.length > 0) {
    const counts = countBy(fused.map((n) => (n.domain ? `${n.domain}.${n.opType}` : n.opType)));
    throw new InspectorError('fused-attention', `${name} uses fused attention (${counts}), so its weights are not in the graph. Re-export without fused attention (e.g. torch.onnx.export without optimizing, or optimum with --no-post-process).`);
  }
  const { consumers } = indexGraph(graph);
  const ranks = inferRanks(graph);
  const opset = defaultOpset(model);
  const sites: AttentionSite[] = [];
  graph.nodes.forEach((node, index) => {
    if (isExposedOnnxAttention(node)) {
      // qk_matmul_output is [B, q_heads, N, N] whatever the layout of Q, K and V
      sites.push({ node: node.name, ...exposedNames(node), rank: 4, index, fused: true });
      return;
    }
    if (node.opType !== 'Softmax' || (node.domain && node.domain !== 'ai.onnx')) return;
    const [scores] = node.inputs;
    const [probs] = node.outputs;
    if (!scores || !probs) return;
    const rank = ranks.get(scores) ?? ranks.get(probs);
    const axis = intAttr(node, 'axis') ?? (opset >= 13 ? -1 : 1);
    // Before opset 13 Softmax flattens to 2-D at `axis`; only the last axis gives per-row softmax there too.
    const lastAxis = axis === -1 || (rank !== undefined ? axis === rank - 1 : axis === 2 || axis === 3);
    if (!lastAxis) return;
    const siteRank = rank ?? (axis === 2 ? 3 : 4);
    if (siteRank !== 3 && siteRank !== 4) return;
    if (!feedsValueMatMul(graph, probs, consumers)) return;
    sites.push({ node: node.name, scores, probs, rank: siteRank, index });
  });
  if (sites.length === 0) throw notAViT(graph, name);
  return sites;
}

function modelName(model: OnnxModel): string {
  return (model as { name?: string }).name ?? 'The model';
}

function isFusedAttention(n: OnnxNode): boolean {
  // com.microsoft Attention, MultiHeadAttention, PackedAttention, GroupQueryAttention, ... and ONNX Attention (opset 23)
  return /attention/i.test(n.opType);
}

/** True when `probs` reaches a MatMul/Einsum/FusedMatMul (through shape-only or elementwise ops) whose other input is not a weight. */
function feedsValueMatMul(graph: OnnxGraph, probs: string, consumers: Map<string, OnnxNode[]>): boolean {
  let frontier = [probs];
  for (let depth = 0; depth < 8 && frontier.length; depth++) { // QDQ models put Q and DQ pairs on the way
    const next: string[] = [];
    for (const t of frontier) {
      for (const c of consumers.get(t) ?? []) {
        if (VALUE_MATMUL.has(c.opType)) {
          const other = c.inputs.find((i) => i !== t);
          if (other && !graph.initializers.has(other)) return true;
        } else if (PASS_THROUGH.has(c.opType) && carriesData(c, c.inputs.indexOf(t))) next.push(...c.outputs.slice(0, 1));
      }
    }
    frontier = next;
  }
  return false;
}

/** Whether input `i` of a pass-through op is its data (not a shape, axes or a Where condition). */
function carriesData(node: OnnxNode, i: number): boolean {
  if (node.opType === 'Where') return i === 1 || i === 2;
  if (node.opType === 'Mul') return i === 0 || i === 1; // e.g. HF's head_mask * probs
  return i === 0;
}

function notAViT(graph: OnnxGraph, name: string): InspectorError {
  const ops = new Map<string, number>();
  for (const n of graph.nodes) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
  const interesting = ['Conv', 'Gemm', 'MatMul', 'Softmax', 'LSTM', 'GRU', 'MaxPool', 'Einsum'].filter((o) => ops.has(o));
  const found = interesting.length ? interesting.map((o) => `${ops.get(o)} ${o}`).join(', ') : `${graph.nodes.length} nodes`;
  const cnn = (ops.get('Conv') ?? 0) >= 2;
  const looks = cnn ? 'it looks like a CNN. Select it as the comparison CNN, or choose a ViT.' : 'it does not look like a Vision Transformer. Choose a ViT image classifier.';
  return new InspectorError('not-a-vit', `${name} has no attention softmax (found ${found}): ${looks}`);
}

function countBy(items: string[]): string {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return [...m].map(([k, v]) => `${k} ×${v}`).join(', ');
}

// ---- rank propagation (cheap, static: enough to tell [B,H,N,N] from [B*H,N,N]) ----

const SAME_RANK = new Set([
  'Relu', 'Gelu', 'Erf', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Reciprocal', 'Softmax', 'LogSoftmax',
  'Dropout', 'Identity', 'Cast', 'CastLike', 'LayerNormalization', 'BatchNormalization', 'InstanceNormalization',
  'Conv', 'MaxPool', 'AveragePool', 'Slice', 'Split', 'Clip', 'Pad', 'HardSigmoid', 'HardSwish', 'Softplus',
  'Resize', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'FastGelu', 'BiasGelu', 'QuickGelu', 'Trilu', 'CumSum',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Where', 'Equal', 'Less', 'Greater', 'And', 'Or', 'Max', 'Min', 'Mod']);

export function inferRanks(graph: OnnxGraph): Map<string, number> {
  const rank = new Map<string, number>();
  for (const [n, t] of graph.initializers) rank.set(n, t.dims.length);
  for (const [n, v] of graph.valueInfo) if (v.dims) rank.set(n, v.dims.length);
  const lengths = new Map<string, number>(); // static lengths of computed 1-D shape tensors
  const r = (t: string | undefined) => (t ? rank.get(t) : undefined);
  for (const node of graph.nodes) {
    trackShapeLength(graph, node, rank, lengths);
    const out = node.outputs[0];
    if (!out || rank.has(out)) continue;
    const x = r(node.inputs[0]);
    let v: number | undefined;
    const op = node.opType;
    if (op === 'Constant') v = constantOf(graph, out)?.dims.length;
    else if (SAME_RANK.has(op)) v = x;
    else if (BROADCAST.has(op)) {
      const known = node.inputs.map(r).filter((k): k is number => k !== undefined);
      v = known.length === node.inputs.length ? Math.max(...known) : undefined;
    } else if (op === 'MatMul' || op === 'FusedMatMul') {
      const y = r(node.inputs[1]);
      v = x !== undefined && y !== undefined ? Math.max(x, y) : undefined;
    } else if (op === 'Transpose') v = intsAttr(node, 'perm')?.length ?? x;
    else if (op === 'Reshape') v = shapeLength(graph, node.inputs[1], rank, lengths);
    else if (op === 'Gather') {
      const idx = r(node.inputs[1]);
      v = x !== undefined && idx !== undefined ? x - 1 + idx : undefined;
    } else if (op === 'Unsqueeze') {
      const axes = intsAttr(node, 'axes') ?? constantOf(graph, node.inputs[1] ?? '')?.values();
      v = x !== undefined && axes ? x + axes.length : undefined;
    } else if (op === 'Squeeze') {
      const axes = intsAttr(node, 'axes') ?? (node.inputs[1] ? constantOf(graph, node.inputs[1])?.values() : undefined);
      v = x !== undefined && axes ? x - axes.length : undefined;
    } else if (op === 'Concat') v = node.inputs.map(r).find((k) => k !== undefined);
    else if (op === 'Gemm' || op === 'Flatten') v = 2;
    else if (op === 'Shape') v = 1;
    else if (op === 'Expand') v = Math.max(x ?? 0, shapeLength(graph, node.inputs[1], rank, lengths) ?? 0) || undefined;
    else if (op === 'ConstantOfShape') v = shapeLength(graph, node.inputs[0], rank, lengths);
    else if (op.startsWith('Reduce')) v = (intAttr(node, 'keepdims') ?? 1) === 1 ? x : undefined;
    else if (op === 'Einsum') {
      const eq = node.attributes.get('equation');
      const rhs = eq?.type === 'string' ? eq.value.split('->')[1] : undefined;
      v = rhs !== undefined ? rhs.replace(/\s/g, '').replace('...', '').length : undefined;
    }
    if (v !== undefined) for (const o of node.outputs) if (o) rank.set(o, v);
  }
  return rank;
}

/** Length of a 1-D shape tensor: a constant, or computed from Shape/Concat/Unsqueeze/Gather/Slice. */
function shapeLength(graph: OnnxGraph, name: string | undefined, rank: Map<string, number>, lengths: Map<string, number>): number | undefined {
  if (!name) return undefined;
  const known = lengths.get(name);
  if (known !== undefined) return known;
  const c = constantOf(graph, name);
  if (c) return c.dims.length === 0 ? 1 : c.dims[0];
  return undefined;
}

function trackShapeLength(graph: OnnxGraph, node: OnnxNode, rank: Map<string, number>, lengths: Map<string, number>): void {
  const out = node.outputs[0];
  if (!out) return;
  const len = (t: string | undefined) => shapeLength(graph, t, rank, lengths);
  let v: number | undefined;
  switch (node.opType) {
    case 'Shape': {
      const x = rank.get(node.inputs[0]);
      if (x === undefined) break;
      const norm = (a: number) => Math.min(Math.max(a < 0 ? a + x : a, 0), x);
      v = norm(intAttr(node, 'end') ?? x) - norm(intAttr(node, 'start') ?? 0);
      break;
    }
    case 'Concat': {
      const parts = node.inputs.map(len);
      if (parts.every((p): p is number => p !== undefined)) v = parts.reduce((a, b) => a + b, 0);
      break;
    }
    case 'Unsqueeze':
      if (rank.get(node.inputs[0]) === 0 || constantOf(graph, node.inputs[0])?.dims.length === 0) v = 1;
      break;
    case 'Cast': case 'Identity': case 'Abs': case 'Neg':
      v = lengths.get(node.inputs[0]);
      break;
    case 'Gather': {
      const idx = constantOf(graph, node.inputs[1] ?? '');
      if (idx && idx.dims.length <= 1) v = idx.dims.length === 0 ? undefined : idx.dims[0];
      break;
    }
    case 'Slice': {
      const n = len(node.inputs[0]);
      const starts = constantOf(graph, node.inputs[1] ?? '')?.values();
      const ends = constantOf(graph, node.inputs[2] ?? '')?.values();
      if (n === undefined || starts?.length !== 1 || ends?.length !== 1) break;
      const clamp = (a: number) => Math.min(Math.max(a < 0 ? a + n : a, 0), n);
      v = Math.max(0, clamp(ends[0]) - clamp(starts[0]));
      break;
    }
  }
  if (v !== undefined) lengths.set(out, v);
}
