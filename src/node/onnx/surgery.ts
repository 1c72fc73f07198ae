/**
 * In-memory graph edits on the model's bytes (the user's file is never written). Edits splice byte
 * ranges of the original file instead of decoding and re-encoding the whole model.
 */
import type { AttentionSite } from '../attention';
import type { OnnxModel } from '../../shared/graph';
import { fusedKeyMaskNodes, isExposedOnnxAttention } from './fusedAttention';
import { DataType, Dimension, GraphProto, ModelProto, NodeProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto } from '../../shared/onnxFields';
import { ProtoWriter } from './protobuf';
import { editedNode, nodeProto, splicedModel } from './graphEdit';
import { concat } from '../../shared/concat';

/** ValueInfoProto with just a name (enough for an output; onnxruntime infers its type). */
function namedValueInfo(name: string): ProtoWriter {
  return new ProtoWriter().string(ValueInfoProto.NAME, name);
}

function newOutputs(model: OnnxModel, names: string[]): string[] {
  const have = new Set(model.graph.outputs.map((o) => o.name));
  return [...new Set(names)].filter((n) => n && !have.has(n));
}

/**
 * The model with `names` as extra graph outputs. Protobuf merges a repeated message field that appears
 * twice, so appending one more ModelProto.graph holding only GraphProto.output entries is enough.
 */
export function withExtraOutputs(model: OnnxModel, names: string[]): Uint8Array {
  const add = newOutputs(model, names);
  if (add.length === 0) return model.bytes;
  const graph = new ProtoWriter();
  for (const n of add) graph.bytes(GraphProto.OUTPUT, namedValueInfo(n));
  return concat([model.bytes, new ProtoWriter().bytes(ModelProto.GRAPH, graph).finish()], Uint8Array);
}

/**
 * The model with a key mask: a new float input `maskInputName` of shape [1, N] (0 keeps a key, -Infinity
 * drops it) added to every attention softmax's scores. [1, N] broadcasts over [B, H, N, N] and
 * [B*H, N, N] alike. Each Add is placed right before its Softmax, so the node list stays topologically
 * sorted. With `exposeOutputs`, the sites' scores (unmasked) and probabilities become outputs too.
 */
export function withKeyMask(model: OnnxModel, sites: AttentionSite[], maskInputName = 'vit_inspector_key_mask', exposeOutputs = true, elemType: number = DataType.FLOAT): Uint8Array {
  const { bytes, graph } = model;
  // ONNX Attention nodes (onnx/fusedAttention.ts) take the mask through their attn_mask input instead.
  const fusedNames = new Set(sites.filter((s) => s.fused).map((s) => s.node));
  const replace = fusedKeyMaskNodes(model, graph.nodes.filter((n) => fusedNames.has(n.name) && isExposedOnnxAttention(n)), maskInputName, elemType);
  for (const site of sites) {
    if (site.fused) continue;
    const node = graph.nodes.find((n) => n.name === site.node && n.outputs[0] === site.probs);
    if (!node || replace.has(node.range[0])) continue;
    const masked = `${site.scores}/vit_inspector_masked`;
    replace.set(node.range[0], [
      nodeProto({ op: 'Add', inputs: [site.scores, maskInputName], outputs: [masked], name: `${site.node}/vit_inspector_mask_add` }),
      editedNode(bytes, node.range, { inputs: [masked, ...node.inputs.slice(1)] }),
    ]);
  }
  const extra = [new ProtoWriter().bytes(GraphProto.INPUT, maskInput(maskInputName, elemType)).finish()];
  if (exposeOutputs) {
    const names = newOutputs(model, sites.flatMap((s) => [s.scores, s.probs]));
    for (const n of names) extra.push(new ProtoWriter().bytes(GraphProto.OUTPUT, namedValueInfo(n)).finish());
  }
  return splicedModel(model, replace, extra);
}

/** ValueInfoProto for a float (or float16, ...) tensor of shape [1, tokens]. */
function maskInput(name: string, elemType: number): ProtoWriter {
  const dim = (w: ProtoWriter) => new ProtoWriter().bytes(TensorShapeProto.DIM, w);
  const shape = dim(new ProtoWriter().varint(Dimension.DIM_VALUE, 1)).bytes(TensorShapeProto.DIM, new ProtoWriter().string(Dimension.DIM_PARAM, 'vit_inspector_tokens'));
  const tensor = new ProtoWriter().varint(TypeProtoTensor.ELEM_TYPE, elemType).bytes(TypeProtoTensor.SHAPE, shape);
  return new ProtoWriter().string(ValueInfoProto.NAME, name).bytes(ValueInfoProto.TYPE, new ProtoWriter().bytes(TypeProto.TENSOR_TYPE, tensor));
}

/** Name of the output that holds the shape of `tensor` (added by withShapeProbes). */
export function shapeProbeName(tensor: string): string {
  return `vit_inspector_shape/${tensor}`;
}

/**
 * `bytes` (a model, possibly edited already) with a Shape node and a graph output for each of `tensors`:
 * run-time sizes where the graph computes them (Swin's padded maps and windows). The nodes are appended
 * after every other node, so the node list stays topologically sorted.
 */
export function withShapeProbes(bytes: Uint8Array, tensors: string[]): Uint8Array {
  if (tensors.length === 0) return bytes;
  const graph = new ProtoWriter();
  for (const t of tensors) {
    const out = shapeProbeName(t);
    graph.bytes(GraphProto.NODE, new ProtoWriter().string(NodeProto.INPUT, t).string(NodeProto.OUTPUT, out).string(NodeProto.NAME, out).string(NodeProto.OP_TYPE, 'Shape'));
  }
  for (const t of tensors) graph.bytes(GraphProto.OUTPUT, namedValueInfo(shapeProbeName(t)));
  return concat([bytes, new ProtoWriter().bytes(ModelProto.GRAPH, graph).finish()], Uint8Array);
}
