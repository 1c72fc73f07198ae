/**
 * In-memory surgery for forward-pass explanations of a ViT: a batched key mask (one mask per batch item,
 * −∞ added to the masked keys' scores before every attention softmax, as the masking lab's withKeyMask does
 * for one mask) and, for average-pooled ViTs, a masked token pool. The user's file is never written.
 *
 * Why the pool needs its own edit: with its key masked in every layer no token attends to a masked token, so a
 * CLS readout never sees it; but the token's own row is still computed (from the kept tokens) and a mean pool
 * over the tokens would still add it in. The pooling ReduceMean(x, axes=[1]) is therefore replaced by
 * ReduceMean(x · w) · s with w the keep weights [B, P, 1] (1 kept, 0 masked) and s = P / Σw [B, 1(, 1)] fed by
 * the caller: the mean over the kept tokens only.
 */
import type { AttentionSite } from '../attention';
import { inferRanks } from '../attention';
import { constantOf, intAttr, intsAttr } from './parse';
import type { OnnxModel, OnnxNode } from '../../shared/graph';
import { DataType, Dimension, GraphProto, ModelProto, NodeProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto } from '../../shared/onnxFields';
import { ProtoReader, ProtoWriter, WireType, encodeVarint } from './protobuf';
import { concat } from '../../shared/concat';

export const KEY_MASK_INPUT = 'vit_inspector_batch_key_mask';
export const POOL_WEIGHT_INPUT = 'vit_inspector_pool_weight';
export const POOL_SCALE_INPUT = 'vit_inspector_pool_scale';

export interface TokenPool {
  node: string;
  input: string; // [B, P, D]: the tokens pooled
  keepdims: boolean;
}

/**
 * The token-pooling ReduceMean after the last attention: axes [1] (or -2) of a rank-3 tensor. LayerNorm's
 * ReduceMeans reduce the last axis and are not matched. Null for CLS (or attention-pooled) readouts.
 */
export function findTokenPool(model: OnnxModel, sites: AttentionSite[]): TokenPool | null {
  const g = model.graph;
  const ranks = inferRanks(g);
  const after = Math.max(-1, ...sites.map((s) => s.index));
  for (let i = g.nodes.length - 1; i > after; i--) {
    const n = g.nodes[i];
    const rank = ranks.get(n.inputs[0]);
    if (n.opType !== 'ReduceMean' || (rank !== undefined && rank !== 3)) continue;
    const axes = intsAttr(n, 'axes') ?? (n.inputs[1] ? constantOf(g, n.inputs[1])?.values() : undefined);
    if (axes && axes.length === 1 && (axes[0] === 1 || axes[0] === -2)) return { node: n.name, input: n.inputs[0], keepdims: (intAttr(n, 'keepdims') ?? 1) !== 0 };
  }
  return null;
}

/**
 * The model with a batched key mask input KEY_MASK_INPUT ([B, 1, 1, N] for [B, H, N, N] scores, [B·H, 1, N] for
 * nn.MultiheadAttention's [B·H, N, N]) and, with `pool`, the masked mean pool (inputs POOL_WEIGHT_INPUT and
 * POOL_SCALE_INPUT). `extraOutputs` become graph outputs too.
 */
export function withBatchedTokenMask(model: OnnxModel, sites: AttentionSite[], pool: TokenPool | null, extraOutputs: string[] = []): Uint8Array {
  const { bytes, graph } = model;
  const siteAt = new Map<number, AttentionSite>();
  for (const s of sites) {
    const node = graph.nodes.find((n) => n.name === s.node && n.outputs[0] === s.probs);
    if (node) siteAt.set(node.range[0], s);
  }
  const poolNode: OnnxNode | undefined = pool ? graph.nodes.find((n) => n.name === pool.node && n.inputs[0] === pool.input) : undefined;
  const rank = sites.every((s) => s.rank === 4) ? 4 : 3;
  const payload: Uint8Array[] = [];
  const r = new ProtoReader(bytes, graph.range[0], graph.range[1]);
  while (!r.done) {
    const fieldStart = r.pos;
    const t = r.tag();
    if (t.field === GraphProto.NODE && t.wire === WireType.LEN) {
      const [s, e] = r.lenRange();
      const site = siteAt.get(s);
      if (site) {
        const masked = `${site.scores}/vit_inspector_batch_masked`;
        payload.push(nodeField('Add', [site.scores, KEY_MASK_INPUT], masked, `${site.node}/vit_inspector_batch_mask_add`));
        payload.push(new ProtoWriter().bytes(GraphProto.NODE, rewire(bytes, s, e, masked, null)).finish());
        continue;
      }
      if (poolNode && s === poolNode.range[0]) {
        const weighted = `${pool!.input}/vit_inspector_weighted`;
        const mean = `${poolNode.outputs[0]}/vit_inspector_kept_mean`;
        payload.push(nodeField('Mul', [pool!.input, POOL_WEIGHT_INPUT], weighted, `${poolNode.name}/vit_inspector_weight`));
        payload.push(new ProtoWriter().bytes(GraphProto.NODE, rewire(bytes, s, e, weighted, mean)).finish());
        payload.push(nodeField('Mul', [mean, POOL_SCALE_INPUT], poolNode.outputs[0], `${poolNode.name}/vit_inspector_scale`));
        continue;
      }
    } else r.skip(t.wire);
    payload.push(bytes.subarray(fieldStart, r.pos));
  }
  payload.push(new ProtoWriter().bytes(GraphProto.INPUT, floatInput(KEY_MASK_INPUT, rank)).finish());
  if (poolNode) {
    payload.push(new ProtoWriter().bytes(GraphProto.INPUT, floatInput(POOL_WEIGHT_INPUT, 3)).finish());
    payload.push(new ProtoWriter().bytes(GraphProto.INPUT, floatInput(POOL_SCALE_INPUT, pool!.keepdims ? 3 : 2)).finish());
  }
  const have = new Set(graph.outputs.map((o) => o.name));
  for (const n of new Set(extraOutputs)) if (!have.has(n)) payload.push(new ProtoWriter().bytes(GraphProto.OUTPUT, new ProtoWriter().string(ValueInfoProto.NAME, n)).finish());
  const body = concat(payload, Uint8Array);
  const [gs, ge] = model.graphFieldRange;
  const header = Uint8Array.from([...encodeVarint(ModelProto.GRAPH * 8 + WireType.LEN), ...encodeVarint(body.length)]);
  return concat([bytes.subarray(0, gs), header, body, bytes.subarray(ge)], Uint8Array);
}

function nodeField(op: string, inputs: string[], output: string, name: string): Uint8Array {
  const node = new ProtoWriter();
  for (const i of inputs) node.string(NodeProto.INPUT, i);
  node.string(NodeProto.OUTPUT, output).string(NodeProto.NAME, name).string(NodeProto.OP_TYPE, op);
  return new ProtoWriter().bytes(GraphProto.NODE, node).finish();
}

/** The NodeProto payload [start, end) with its first input (and, given, its first output) replaced. */
function rewire(bytes: Uint8Array, start: number, end: number, input: string, output: string | null): Uint8Array {
  const out = new ProtoWriter();
  const r = new ProtoReader(bytes, start, end);
  let inputDone = false;
  let outputDone = output === null;
  while (!r.done) {
    const fieldStart = r.pos;
    const t = r.tag();
    r.skip(t.wire);
    if (t.field === NodeProto.INPUT && !inputDone) {
      out.string(NodeProto.INPUT, input);
      inputDone = true;
    } else if (t.field === NodeProto.OUTPUT && !outputDone) {
      out.string(NodeProto.OUTPUT, output!);
      outputDone = true;
    } else out.raw(bytes.subarray(fieldStart, r.pos));
  }
  return out.finish();
}

/** ValueInfoProto for a float tensor of the given rank, every dim symbolic. */
function floatInput(name: string, rank: number): ProtoWriter {
  const shape = new ProtoWriter();
  for (let i = 0; i < rank; i++) shape.bytes(TensorShapeProto.DIM, new ProtoWriter().string(Dimension.DIM_PARAM, `${name}_d${i}`));
  const tensor = new ProtoWriter().varint(TypeProtoTensor.ELEM_TYPE, DataType.FLOAT).bytes(TypeProtoTensor.SHAPE, shape);
  return new ProtoWriter().string(ValueInfoProto.NAME, name).bytes(ValueInfoProto.TYPE, new ProtoWriter().bytes(TypeProto.TENSOR_TYPE, tensor));
}

