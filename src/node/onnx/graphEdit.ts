/**
 * Node-level edits on a model's bytes, for in-memory rewrites (fusedAttention.ts): new NodeProtos, a node
 * copied with some fields changed, and the graph spliced with nodes replaced. Everything not edited is
 * copied byte for byte; the user's file is never written.
 */
import type { OnnxModel } from '../../shared/graph';
import { toHalfBits } from '../../shared/float16';
import { AttributeProto, AttributeType, DataType, GraphProto, ModelProto, NodeProto, TensorProto } from '../../shared/onnxFields';
import { ProtoReader, ProtoWriter, WireType, encodeVarint } from './protobuf';
import { concat } from '../../shared/concat';

export type AttrSpec =
  | { name: string; int: number }
  | { name: string; ints: number[] }
  | { name: string; float: number }
  | { name: string; tensor: Uint8Array };

export interface NodeSpec {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  attrs?: AttrSpec[];
}

function attribute(a: AttrSpec): ProtoWriter {
  const w = new ProtoWriter().string(AttributeProto.NAME, a.name);
  if ('int' in a) w.varint(AttributeProto.I, a.int).varint(AttributeProto.TYPE, AttributeType.INT);
  else if ('ints' in a) {
    for (const v of a.ints) w.varint(AttributeProto.INTS, v);
    w.varint(AttributeProto.TYPE, AttributeType.INTS);
  } else if ('float' in a) w.float(AttributeProto.F, a.float).varint(AttributeProto.TYPE, AttributeType.FLOAT);
  else w.bytes(AttributeProto.T, a.tensor).varint(AttributeProto.TYPE, AttributeType.TENSOR);
  return w;
}

/** A NodeProto payload. */
export function nodeProto(spec: NodeSpec): Uint8Array {
  const w = new ProtoWriter();
  for (const i of spec.inputs) w.string(NodeProto.INPUT, i);
  for (const o of spec.outputs) w.string(NodeProto.OUTPUT, o);
  w.string(NodeProto.NAME, spec.name).string(NodeProto.OP_TYPE, spec.op);
  for (const a of spec.attrs ?? []) w.bytes(NodeProto.ATTRIBUTE, attribute(a));
  if (spec.domain) w.string(NodeProto.DOMAIN, spec.domain);
  return w.finish();
}

export interface NodeEdit {
  name?: string;
  inputs?: string[];
  outputs?: string[];
  /** INT attributes to set: replaced where present, added where not. */
  ints?: Record<string, number>;
}

/** The NodeProto payload at [start, end) of `bytes` with the edit applied, other fields copied as they are. */
export function editedNode(bytes: Uint8Array, [start, end]: [number, number], edit: NodeEdit): Uint8Array {
  const w = new ProtoWriter();
  const r = new ProtoReader(bytes, start, end);
  const pendingInts = new Map(Object.entries(edit.ints ?? {}));
  let wroteInputs = false;
  let wroteOutputs = false;
  while (!r.done) {
    const fieldStart = r.pos;
    const t = r.tag();
    if (t.wire === WireType.LEN && t.field === NodeProto.ATTRIBUTE && edit.ints) {
      const sub = r.sub('an attribute');
      const name = attributeName(bytes, sub.pos, sub.end);
      r.pos = sub.end;
      const v = pendingInts.get(name);
      if (v !== undefined) {
        w.bytes(NodeProto.ATTRIBUTE, attribute({ name, int: v }));
        pendingInts.delete(name);
        continue;
      }
    } else r.skip(t.wire);
    if (t.field === NodeProto.INPUT && edit.inputs) {
      if (!wroteInputs) for (const i of edit.inputs) w.string(NodeProto.INPUT, i);
      wroteInputs = true;
    } else if (t.field === NodeProto.OUTPUT && edit.outputs) {
      if (!wroteOutputs) for (const o of edit.outputs) w.string(NodeProto.OUTPUT, o);
      wroteOutputs = true;
    } else if (t.field === NodeProto.NAME && edit.name !== undefined) w.string(NodeProto.NAME, edit.name);
    else w.raw(bytes.subarray(fieldStart, r.pos));
  }
  if (edit.inputs && !wroteInputs) for (const i of edit.inputs) w.string(NodeProto.INPUT, i);
  if (edit.outputs && !wroteOutputs) for (const o of edit.outputs) w.string(NodeProto.OUTPUT, o);
  for (const [name, int] of pendingInts) w.bytes(NodeProto.ATTRIBUTE, attribute({ name, int }));
  return w.finish();
}

function attributeName(bytes: Uint8Array, start: number, end: number): string {
  const r = new ProtoReader(bytes, start, end);
  while (!r.done) {
    const t = r.tag();
    if (t.field === AttributeProto.NAME && t.wire === WireType.LEN) return r.string();
    r.skip(t.wire);
  }
  return '';
}

/**
 * The model with some nodes replaced: `replace` maps a node's range start (OnnxNode.range[0]) to the
 * NodeProto payloads that take its place, in order (so the node list stays topologically sorted when they
 * are). `extraGraphFields`: already tagged GraphProto fields appended at the end (inputs, outputs, ...).
 */
export function splicedModel(model: OnnxModel, replace: Map<number, Uint8Array[]>, extraGraphFields: Uint8Array[] = []): Uint8Array {
  const { bytes, graph } = model;
  const payload: Uint8Array[] = [];
  const r = new ProtoReader(bytes, graph.range[0], graph.range[1]);
  while (!r.done) {
    const fieldStart = r.pos;
    const t = r.tag();
    if (t.field === GraphProto.NODE && t.wire === WireType.LEN) {
      const [s] = r.lenRange();
      const nodes = replace.get(s);
      if (nodes) {
        for (const n of nodes) payload.push(new ProtoWriter().bytes(GraphProto.NODE, n).finish());
        continue;
      }
    } else r.skip(t.wire);
    payload.push(bytes.subarray(fieldStart, r.pos));
  }
  payload.push(...extraGraphFields);
  const body = concat(payload, Uint8Array);
  const [gs, ge] = model.graphFieldRange;
  const header = Uint8Array.from([...encodeVarint(ModelProto.GRAPH * 8 + WireType.LEN), ...encodeVarint(body.length)]);
  return concat([bytes.subarray(0, gs), header, body, bytes.subarray(ge)], Uint8Array);
}

/** A TensorProto payload of int64 values (raw little-endian data), 1-D unless `scalar`. */
export function int64Tensor(values: number[], scalar = false): Uint8Array {
  const w = new ProtoWriter();
  if (!scalar) w.varint(TensorProto.DIMS, values.length);
  w.varint(TensorProto.DATA_TYPE, DataType.INT64);
  const raw = new Uint8Array(values.length * 8);
  const dv = new DataView(raw.buffer);
  values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
  return w.bytes(TensorProto.RAW_DATA, raw).finish();
}

/** A scalar TensorProto payload of a float, float16 or double value (elemType: a DataType). */
export function floatScalar(value: number, elemType: number): Uint8Array {
  const w = new ProtoWriter().varint(TensorProto.DATA_TYPE, elemType);
  if (elemType === DataType.FLOAT16) {
    const raw = new Uint8Array(2);
    new DataView(raw.buffer).setUint16(0, toHalfBits(value), true);
    return w.bytes(TensorProto.RAW_DATA, raw).finish();
  }
  if (elemType === DataType.DOUBLE) {
    const raw = new Uint8Array(8);
    new DataView(raw.buffer).setFloat64(0, value, true);
    return w.bytes(TensorProto.RAW_DATA, raw).finish();
  }
  const raw = new Uint8Array(4);
  new DataView(raw.buffer).setFloat32(0, value, true);
  return w.bytes(TensorProto.RAW_DATA, raw).finish();
}
