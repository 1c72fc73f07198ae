/**
 * Fused attention ops, made readable in memory (the user's file is never written):
 * - ONNX's own `Attention` (opset 23, what torch's dynamo exporter makes of scaled_dot_product_attention):
 *   onnxruntime returns the probabilities through its optional 4th output (qk_matmul_output) with
 *   qk_matmul_output_mode = 3. The node is set to that mode and gets the 4th output; a copy of it with mode 1
 *   (scaled QKᵀ plus the model's own mask, i.e. what a Softmax would get) gives the scores.
 * - onnxruntime's contrib `com.microsoft` `Attention` and `MultiHeadAttention` (its transformer optimizer,
 *   Optimum O2–O4): rewritten to MatMul/Add/Reshape/Transpose/Softmax as the contrib op spec defines them,
 *   so the ordinary Softmax path finds them.
 * Other fused ops (PackedAttention, GroupQueryAttention, ...) or unusual inputs are refused by name.
 */
import { InspectorError } from '../../shared/errors';
import type { OnnxModel, OnnxNode } from '../../shared/graph';
import { DataType } from '../../shared/onnxFields';
import { editedNode, floatScalar, int64Tensor, nodeProto, splicedModel, type NodeSpec } from './graphEdit';

export const PROBS_SUFFIX = '/vit_inspector_probs';
export const SCORES_SUFFIX = '/vit_inspector_scores';
/** qk_matmul_output_mode: 1 = after the mask is added (scaled QKᵀ + mask), 3 = after the softmax. */
const MODE_SCORES = 1;
const MODE_PROBS = 3;

export function isOnnxAttention(n: OnnxNode): boolean {
  return n.opType === 'Attention' && (!n.domain || n.domain === 'ai.onnx');
}

function isContrib(n: OnnxNode): boolean {
  return n.domain === 'com.microsoft' && (n.opType === 'Attention' || n.opType === 'MultiHeadAttention');
}

/** The tensor names of an exposed ONNX Attention node: its probabilities and its scores. */
export function exposedNames(n: OnnxNode): { probs: string; scores: string } {
  return { probs: `${n.outputs[0]}${PROBS_SUFFIX}`, scores: `${n.outputs[0]}${SCORES_SUFFIX}` };
}

/** Whether this ONNX Attention node was exposed by exposeFusedAttention (its 4th output is ours). */
export function isExposedOnnxAttention(n: OnnxNode): boolean {
  return isOnnxAttention(n) && n.outputs[3] === exposedNames(n).probs;
}

/** An exposed node or its scores copy: fused, but readable. */
export function isReadableOnnxAttention(n: OnnxNode): boolean {
  return isExposedOnnxAttention(n) || (isOnnxAttention(n) && n.outputs[3] === `${n.outputs[0].replace(/\/vit_inspector_unused$/, '')}${SCORES_SUFFIX}`);
}

/** The model with its fused attention made readable, or null when it has none that this handles. */
export function exposeFusedAttention(model: OnnxModel, name: string): Uint8Array | null {
  const replace = new Map<number, Uint8Array[]>();
  for (const n of model.graph.nodes) {
    if (isOnnxAttention(n) && !isReadableOnnxAttention(n)) replace.set(n.range[0], exposeOnnxAttention(model, n));
    else if (isContrib(n)) replace.set(n.range[0], (n.opType === 'Attention' ? contribAttention : contribMultiHeadAttention)(model, n, name).map(nodeProto));
  }
  return replace.size ? splicedModel(model, replace) : null;
}

function exposeOnnxAttention(model: OnnxModel, n: OnnxNode): Uint8Array[] {
  const { probs, scores } = exposedNames(n);
  const outs = (fourth: string, y = n.outputs[0]) => [y, n.outputs[1] ?? '', n.outputs[2] ?? '', fourth];
  const main = editedNode(model.bytes, n.range, { outputs: outs(probs), ints: { qk_matmul_output_mode: MODE_PROBS } });
  const copy = editedNode(model.bytes, n.range, {
    name: `${n.name}/vit_inspector_scores`,
    outputs: outs(scores, `${n.outputs[0]}/vit_inspector_unused`).map((o, i) => (i === 1 || i === 2 ? (o ? `${o}/vit_inspector_unused` : '') : o)),
    ints: { qk_matmul_output_mode: MODE_SCORES },
  });
  return [main, copy];
}

// ---- com.microsoft contrib ops, as primitives ----

class Builder {
  readonly nodes: NodeSpec[] = [];
  private count = 0;

  constructor(private readonly prefix: string) {}

  op(op: string, inputs: string[], attrs: NodeSpec['attrs'] = [], out?: string): string {
    const o = out ?? `${this.prefix}/${op.toLowerCase()}_${this.count}`;
    this.nodes.push({ op, name: `${this.prefix}/${op}_${this.count++}`, inputs, outputs: [o], attrs });
    return o;
  }

  ints(values: number[]): string {
    return this.op('Constant', [], [{ name: 'value', tensor: int64Tensor(values) }]);
  }

  scalar(value: number, elemType: number): string {
    return this.op('Constant', [], [{ name: 'value', tensor: floatScalar(value, elemType) }]);
  }

  slice(x: string, start: number, end: number, axis: number): string {
    return this.op('Slice', [x, this.ints([start]), this.ints([end]), this.ints([axis])]);
  }

  /** [B, S, hidden] to [B, heads, S, head] (or [B, heads, head, S] for keys, `perm` [0, 2, 3, 1]). */
  heads(x: string, heads: number, perm = [0, 2, 1, 3]): string {
    return this.op('Transpose', [this.op('Reshape', [x, this.ints([0, 0, heads, -1])])], [{ name: 'perm', ints: perm }]);
  }
}

function refuse(name: string, n: OnnxNode, why: string): InspectorError {
  return new InspectorError('fused-attention', `${name} uses onnxruntime's fused ${n.domain}.${n.opType} ${why}, which ViT Inspector cannot unfuse. Export the model without onnxruntime's transformer optimizer (or Optimum at O1), so that its attention softmax stays in the graph.`);
}

const given = (n: OnnxNode, i: number) => !!n.inputs[i];

function numHeads(n: OnnxNode, name: string): number {
  const a = n.attributes.get('num_heads');
  if (a?.type !== 'int' || a.value <= 0) throw refuse(name, n, 'without num_heads');
  return a.value;
}

function floatAttr(n: OnnxNode, key: string): number | undefined {
  const a = n.attributes.get(key);
  return a?.type === 'float' ? a.value : undefined;
}

function intAttrOf(n: OnnxNode, key: string): number | undefined {
  const a = n.attributes.get(key);
  return a?.type === 'int' ? a.value : undefined;
}

/**
 * softmax(Q Kᵀ · scale + bias) V, with Q, K, V as [B, heads, S, head] ([B, heads, head, S] for K). Without a
 * known scale, 1/sqrt(head size) is computed in the graph from Q's shape (in float, cast to the model's type).
 */
function attend(b: Builder, q: string, kT: string, v: string, scale: number | undefined, elemType: number, bias: string | undefined, y: string): void {
  let factor: string;
  if (scale !== undefined) factor = b.scalar(scale, elemType);
  else {
    const head = b.op('Cast', [b.op('Slice', [b.op('Shape', [q]), b.ints([3]), b.ints([4])])], [{ name: 'to', int: DataType.FLOAT }]);
    factor = b.op('Reciprocal', [b.op('Sqrt', [head])]);
    if (elemType !== DataType.FLOAT) factor = b.op('Cast', [factor], [{ name: 'to', int: elemType }]);
  }
  let s = b.op('Mul', [b.op('MatMul', [q, kT]), factor]);
  if (bias) s = b.op('Add', [s, bias]);
  const probs = b.op('Softmax', [s], [{ name: 'axis', int: -1 }]);
  const out = b.op('Transpose', [b.op('MatMul', [probs, v])], [{ name: 'perm', ints: [0, 2, 1, 3] }]);
  b.op('Reshape', [out, b.ints([0, 0, -1])], [], y);
}

/**
 * com.microsoft.Attention: input [B, S, in], weights [in, hq + hk + hv], bias, mask_index, past,
 * attention_bias [B|1, heads|1, S, T], past_sequence_length; attributes num_heads, qkv_hidden_sizes, scale.
 */
function contribAttention(model: OnnxModel, n: OnnxNode, name: string): NodeSpec[] {
  if (given(n, 3)) throw refuse(name, n, 'with a mask_index');
  if (given(n, 4) || given(n, 6) || n.outputs[1]) throw refuse(name, n, 'with past state');
  if (intAttrOf(n, 'unidirectional') || intAttrOf(n, 'do_rotary')) throw refuse(name, n, 'with unidirectional or rotary attention');
  const heads = numHeads(n, name);
  const weights = model.graph.initializers.get(n.inputs[1]);
  if (!weights || weights.dims.length !== 2) throw refuse(name, n, 'whose weights are not a constant matrix');
  const sizes = n.attributes.get('qkv_hidden_sizes');
  const [hq, hk, hv] = sizes?.type === 'ints' && sizes.value.length === 3 ? sizes.value : [weights.dims[1] / 3, weights.dims[1] / 3, weights.dims[1] / 3];
  if (hq + hk + hv !== weights.dims[1] || hq % heads || hv % heads) throw refuse(name, n, `whose qkv sizes (${hq}, ${hk}, ${hv}) do not split into ${heads} heads`);
  const b = new Builder(`${n.outputs[0]}/vit_inspector`);
  let qkv = b.op('MatMul', [n.inputs[0], n.inputs[1]]);
  if (given(n, 2)) qkv = b.op('Add', [qkv, n.inputs[2]]);
  const q = b.heads(b.slice(qkv, 0, hq, -1), heads);
  const kT = b.heads(b.slice(qkv, hq, hq + hk, -1), heads, [0, 2, 3, 1]);
  const v = b.heads(b.slice(qkv, hq + hk, hq + hk + hv, -1), heads);
  const scale = floatAttr(n, 'scale') || 1 / Math.sqrt(hq / heads);
  attend(b, q, kT, v, scale, weights.dataType, given(n, 5) ? n.inputs[5] : undefined, n.outputs[0]);
  return b.nodes;
}

/**
 * com.microsoft.MultiHeadAttention: query [B, S, hidden], key [B, L, hidden], value [B, L, v_hidden], bias
 * [hidden + hidden + v_hidden], key_padding_mask, attention_bias, past_key, past_value; or packed QKV
 * (query [B, S, heads, 3, head], no key or value).
 */
function contribMultiHeadAttention(model: OnnxModel, n: OnnxNode, name: string): NodeSpec[] {
  if (given(n, 4)) throw refuse(name, n, 'with a key_padding_mask');
  if (given(n, 6) || given(n, 7) || n.outputs[1] || n.outputs[2]) throw refuse(name, n, 'with past state');
  if (intAttrOf(n, 'unidirectional')) throw refuse(name, n, 'with unidirectional attention');
  const heads = numHeads(n, name);
  const { initializers, valueInfo } = model.graph;
  const rankOf = (t: string) => initializers.get(t)?.dims.length ?? valueInfo.get(t)?.dims?.length;
  const bias = given(n, 3) ? initializers.get(n.inputs[3]) : undefined;
  const elemType = bias?.dataType ?? valueInfo.get(n.inputs[0])?.elemType ?? DataType.FLOAT;
  const b = new Builder(`${n.outputs[0]}/vit_inspector`);
  let q: string;
  let k: string;
  let v: string;
  let headSize: number | undefined;
  if (!given(n, 1) && !given(n, 2)) {
    // packed QKV: [B, S, heads, 3, head]
    const dims = valueInfo.get(n.inputs[0])?.dims;
    if (dims && dims.length !== 5) throw refuse(name, n, 'with a query but no key or value');
    const part = (i: number) => b.op('Reshape', [b.slice(n.inputs[0], i, i + 1, 3), b.ints([0, 0, 0, -1])]);
    [q, k, v] = [part(0), part(1), part(2)].map((x) => b.op('Reshape', [x, b.ints([0, 0, -1])]));
    headSize = typeof dims?.[4] === 'number' ? dims[4] : undefined;
  } else if (given(n, 1) && given(n, 2)) {
    if (rankOf(n.inputs[1]) === 4 || rankOf(n.inputs[1]) === 5) throw refuse(name, n, 'with keys in a packed or per-head layout');
    [q, k, v] = [n.inputs[0], n.inputs[1], n.inputs[2]];
  } else throw refuse(name, n, 'with packed keys and values');
  if (bias) {
    if (bias.dims.length !== 1 || bias.dims[0] % 3) throw refuse(name, n, 'with a bias that does not split into query, key and value');
    const h = bias.dims[0] / 3;
    headSize ??= h / heads;
    q = b.op('Add', [q, b.slice(n.inputs[3], 0, h, 0)]);
    k = b.op('Add', [k, b.slice(n.inputs[3], h, 2 * h, 0)]);
    v = b.op('Add', [v, b.slice(n.inputs[3], 2 * h, 3 * h, 0)]);
  } else if (given(n, 3)) throw refuse(name, n, 'with a computed bias');
  if (headSize === undefined) {
    const qd = valueInfo.get(n.inputs[0])?.dims;
    const hidden = qd?.length === 3 ? qd[2] : undefined;
    if (typeof hidden === 'number') headSize = hidden / heads;
  }
  const scale = floatAttr(n, 'scale') || (headSize ? 1 / Math.sqrt(headSize) : undefined);
  attend(b, b.heads(q, heads), b.heads(k, heads, [0, 2, 3, 1]), b.heads(v, heads), scale, elemType, given(n, 5) ? n.inputs[5] : undefined, n.outputs[0]);
  return b.nodes;
}

// ---- the key mask on exposed ONNX Attention nodes ----

const SAME_TYPE_AS_INPUT0 = new Set(['Expand', 'Reshape', 'Unsqueeze', 'Squeeze', 'Slice', 'Identity', 'Transpose', 'Tile', 'Gather', 'Concat', 'Flatten', 'Add', 'Sub', 'Mul', 'Neg']);
const BOOLEAN_OPS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);

/** The element type of a tensor, from declarations or by following its producers back a few steps; undefined if unknown. */
export function elemTypeOf(model: OnnxModel, tensor: string, depth = 0): number | undefined {
  const { graph } = model;
  const declared = graph.initializers.get(tensor)?.dataType ?? graph.valueInfo.get(tensor)?.elemType ?? graph.inputs.find((i) => i.name === tensor)?.elemType;
  if (declared || depth > 8) return declared || undefined;
  const producer = graph.nodes.find((n) => n.outputs.includes(tensor));
  if (!producer) return undefined;
  if (producer.opType === 'Constant') return constantType(producer);
  if (producer.opType === 'Cast') return intAttrOf(producer, 'to');
  if (BOOLEAN_OPS.has(producer.opType)) return DataType.BOOL;
  if (producer.opType === 'Where') return elemTypeOf(model, producer.inputs[1], depth + 1);
  if (SAME_TYPE_AS_INPUT0.has(producer.opType)) return elemTypeOf(model, producer.inputs[0], depth + 1);
  return undefined;
}

function constantType(n: OnnxNode): number | undefined {
  for (const a of n.attributes.values()) {
    if (a.type === 'tensor') return a.value.dataType;
    if (a.type === 'float' || a.type === 'floats') return DataType.FLOAT;
    if (a.type === 'int' || a.type === 'ints') return DataType.INT64;
  }
  return undefined;
}

/**
 * Key-mask nodes for exposed ONNX Attention sites (the caller declares `maskInput`, [1, N] of `elemType`):
 * the mask is expanded to [N, N] (onnxruntime wants [..., q_sequence, kv_sequence]) and given to each node
 * as attn_mask, combined with the model's own mask (a bool mask keeps its false entries out, a float one
 * is added to). The scores copy keeps the model's mask only, so the scores stay unmasked. Returns the
 * replacement NodeProtos by node range start.
 */
export function fusedKeyMaskNodes(model: OnnxModel, nodes: OnnxNode[], maskInput: string, elemType: number): Map<number, Uint8Array[]> {
  const replace = new Map<number, Uint8Array[]>();
  const b = new Builder('vit_inspector_key_mask');
  const n = b.op('Shape', [maskInput], [{ name: 'start', int: 1 }]);
  const square = b.op('Expand', [maskInput, b.op('Concat', [n, n], [{ name: 'axis', int: 0 }])]);
  for (const node of nodes) {
    const own = node.inputs[3];
    let mask = square;
    if (own) {
      const ownType = elemTypeOf(model, own);
      mask = ownType === DataType.BOOL ? b.op('Where', [own, square, b.scalar(-Infinity, elemType)]) : b.op('Add', [own, square]);
    }
    const inputs = [...node.inputs];
    while (inputs.length < 4) inputs.push('');
    inputs[3] = mask;
    const prologue = b.nodes.splice(0).map(nodeProto); // the first node also gets the shared expansion
    replace.set(node.range[0], [...prologue, editedNode(model.bytes, node.range, { inputs })]);
  }
  return replace;
}
