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
import { DataType, Dimension, GraphProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto } from '../../shared/onnxFields';
import { ProtoWriter } from './protobuf';
import { editedNode, nodeProto, splicedModel } from './graphEdit';

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
  const replace = new Map<number, Uint8Array[]>();
  for (const [start, site] of siteAt) {
    const node = graph.nodes.find((n) => n.range[0] === start)!;
    const masked = `${site.scores}/vit_inspector_batch_masked`;
    replace.set(start, [
      nodeProto({ op: 'Add', inputs: [site.scores, KEY_MASK_INPUT], outputs: [masked], name: `${site.node}/vit_inspector_batch_mask_add` }),
      editedNode(bytes, node.range, { inputs: [masked, ...node.inputs.slice(1)] }),
    ]);
  }
  if (poolNode) {
    // ReduceMean(x) becomes ReduceMean(x · w) · scale: the mean over the kept tokens only
    const weighted = `${pool!.input}/vit_inspector_weighted`;
    const mean = `${poolNode.outputs[0]}/vit_inspector_kept_mean`;
    replace.set(poolNode.range[0], [
      nodeProto({ op: 'Mul', inputs: [pool!.input, POOL_WEIGHT_INPUT], outputs: [weighted], name: `${poolNode.name}/vit_inspector_weight` }),
      editedNode(bytes, poolNode.range, { inputs: [weighted, ...poolNode.inputs.slice(1)], outputs: [mean, ...poolNode.outputs.slice(1)] }),
      nodeProto({ op: 'Mul', inputs: [mean, POOL_SCALE_INPUT], outputs: [poolNode.outputs[0]], name: `${poolNode.name}/vit_inspector_scale` }),
    ]);
  }
  const extra = [new ProtoWriter().bytes(GraphProto.INPUT, floatInput(KEY_MASK_INPUT, rank)).finish()];
  if (poolNode) {
    extra.push(new ProtoWriter().bytes(GraphProto.INPUT, floatInput(POOL_WEIGHT_INPUT, 3)).finish());
    extra.push(new ProtoWriter().bytes(GraphProto.INPUT, floatInput(POOL_SCALE_INPUT, pool!.keepdims ? 3 : 2)).finish());
  }
  const have = new Set(graph.outputs.map((o) => o.name));
  for (const n of new Set(extraOutputs)) if (!have.has(n)) extra.push(new ProtoWriter().bytes(GraphProto.OUTPUT, new ProtoWriter().string(ValueInfoProto.NAME, n)).finish());
  return splicedModel(model, replace, extra);
}

/** ValueInfoProto for a float tensor of the given rank, every dim symbolic. */
function floatInput(name: string, rank: number): ProtoWriter {
  const shape = new ProtoWriter();
  for (let i = 0; i < rank; i++) shape.bytes(TensorShapeProto.DIM, new ProtoWriter().string(Dimension.DIM_PARAM, `${name}_d${i}`));
  const tensor = new ProtoWriter().varint(TypeProtoTensor.ELEM_TYPE, DataType.FLOAT).bytes(TypeProtoTensor.SHAPE, shape);
  return new ProtoWriter().string(ValueInfoProto.NAME, name).bytes(ValueInfoProto.TYPE, new ProtoWriter().bytes(TypeProto.TENSOR_TYPE, tensor));
}

