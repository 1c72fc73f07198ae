/**
 * Decodes an ONNX ModelProto into the object model of graph.ts. Only structure is decoded; tensor data
 * stays in the original bytes and is read on demand (TensorData.values) for small tensors.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { InspectorError } from '../../shared/errors';
import type { AttributeValue, OnnxGraph, OnnxModel, OnnxNode, TensorData, ValueInfo } from '../../shared/graph';
import {
  AttributeProto, AttributeType, DataLocation, DataType, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
  TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
} from '../../shared/onnxFields';
import { ProtoError, ProtoReader, WireType, type Tag } from './protobuf';

const { VARINT, LEN, I32 } = WireType;

/** Byte size of one element per ONNX TensorProto.DataType (0 for strings and unknown types). */
const ELEM_SIZE: Record<number, number> = {
  [DataType.FLOAT]: 4, [DataType.UINT8]: 1, [DataType.INT8]: 1, [DataType.UINT16]: 2, [DataType.INT16]: 2, [DataType.INT32]: 4, [DataType.INT64]: 8,
  [DataType.BOOL]: 1, [DataType.FLOAT16]: 2, [DataType.DOUBLE]: 8, [DataType.UINT32]: 4, [DataType.UINT64]: 8, [DataType.BFLOAT16]: 2,
};

/** Mutable context for error messages: what was being read when the data ran out. */
interface Ctx {
  where: string;
}

/** An OnnxModel that remembers its file name, for error messages further on. */
export type NamedOnnxModel = OnnxModel & { name: string };

export function parseOnnx(bytes: Uint8Array, name = 'The model'): NamedOnnxModel {
  if (bytes.length === 0) {
    throw new InspectorError('empty-file', `${name} is empty (0 bytes). Choose a .onnx file exported with torch.onnx.export or optimum.`);
  }
  const notOnnx = (why: string) =>
    new InspectorError('not-onnx', `${name} is not an ONNX model (${why}). Choose a .onnx file exported with torch.onnx.export or optimum.`);
  const sniffed = sniffOtherFormat(bytes);
  if (sniffed) throw notOnnx(sniffed);

  const ctx: Ctx = { where: 'the model header' };
  const r = new ProtoReader(bytes, 0, bytes.length, { clipAtEnd: true, clipped: false });
  let model: OnnxModel;
  // Every ONNX file starts with ir_version (a varint field: its tag byte is field * 8 + VARINT); without it a cut is just garbage.
  const cut = () => (bytes[0] === ModelProto.IR_VERSION * 8 + VARINT ? truncated(name, bytes.length, ctx.where) : notOnnx('it does not start like an ONNX ModelProto'));
  try {
    model = readModel(r, ctx, notOnnx);
  } catch (e) {
    if (!(e instanceof ProtoError)) throw e;
    if (e.kind === 'malformed') throw notOnnx(`invalid protobuf data in ${ctx.where}`);
    throw cut();
  }
  if (r.state.clipped) throw cut();
  return Object.assign(model, { name });
}

function truncated(name: string, size: number, where: string): InspectorError {
  return new InspectorError('truncated-model', `${name} is truncated (${size} bytes, ends inside ${where}). Download or export it again.`);
}

/** Recognises common non-ONNX files by their first bytes, for a clearer message. */
function sniffOtherFormat(b: Uint8Array): string | null {
  const starts = (...sig: number[]) => sig.every((v, i) => b[i] === v);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'it is a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'it is a JPEG image';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'it is a GIF image';
  if (starts(0x52, 0x49, 0x46, 0x46)) return 'it is a RIFF/WebP file';
  if (starts(0x1f, 0x8b)) return 'it is gzip-compressed; decompress it first';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'it is a ZIP archive (a PyTorch .pt/.pth checkpoint?)';
  if (starts(0x25, 0x50, 0x44, 0x46)) return 'it is a PDF';
  if (starts(0x80) && b.length > 1 && b[1] >= 2 && b[1] <= 5) return 'it is a Python pickle';
  if (starts(0x89, 0x48, 0x44, 0x46)) return 'it is an HDF5 file (Keras?)';
  const head = b.subarray(0, Math.min(b.length, 64));
  if (head.every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127))) return 'it is a text file';
  return null;
}

// ModelProto field -> expected wire type; the first field must be one of these for the file to count as ONNX.
const M = ModelProto;
const MODEL_FIELDS: Record<number, number> = {
  [M.IR_VERSION]: VARINT, [M.PRODUCER_NAME]: LEN, [M.PRODUCER_VERSION]: LEN, [M.DOMAIN]: LEN, [M.MODEL_VERSION]: VARINT, [M.DOC_STRING]: LEN,
  [M.GRAPH]: LEN, [M.OPSET_IMPORT]: LEN, [M.METADATA_PROPS]: LEN, [M.TRAINING_INFO]: LEN, [M.FUNCTIONS]: LEN, [M.CONFIGURATION]: LEN,
};

function readModel(r: ProtoReader, ctx: Ctx, notOnnx: (why: string) => InspectorError): OnnxModel {
  let irVersion = 0;
  let producer = '';
  const opsets = new Map<string, number>();
  let graph: OnnxGraph | null = null;
  let graphFieldRange: [number, number] = [0, 0];
  let first = true;
  while (!r.done) {
    const fieldStart = r.pos;
    const t = r.tag();
    const wire = MODEL_FIELDS[t.field];
    if (wire !== undefined && wire !== t.wire) throw new ProtoError('malformed', 'bad ModelProto field');
    if (first && wire === undefined) throw notOnnx('it does not start like an ONNX ModelProto');
    first = false;
    if (t.field === ModelProto.IR_VERSION) {
      irVersion = r.varint();
      if (irVersion < 1 || irVersion > 100) throw notOnnx(`ir_version ${irVersion} is not a valid ONNX IR version`);
    } else if (t.field === ModelProto.PRODUCER_NAME) producer = r.string();
    else if (t.field === ModelProto.GRAPH) {
      ctx.where = 'the graph';
      const sub = r.sub('the graph');
      const g = readGraph(sub, ctx);
      if (!graph) {
        graph = g;
        graphFieldRange = [fieldStart, r.pos];
      } else mergeGraph(graph, g); // protobuf merges a repeated message field (as withExtraOutputs relies on)
      // A graph clipped by the end of a cut file: where it ended is what the message should say.
      if (!r.state.clipped) ctx.where = 'the model metadata after the graph';
    } else if (t.field === ModelProto.OPSET_IMPORT) {
      const o = r.sub('opset_import');
      let domain = '';
      let version = 0;
      while (!o.done) {
        const ot = o.tag();
        if (ot.field === OperatorSetIdProto.DOMAIN) domain = (o.expect(ot, LEN), o.string());
        else if (ot.field === OperatorSetIdProto.VERSION) version = (o.expect(ot, VARINT), o.varint());
        else o.skip(ot.wire);
      }
      opsets.set(domain === 'ai.onnx' ? '' : domain, version);
    } else r.skip(t.wire);
  }
  if (r.state.clipped) return undefined as never; // caller reports the cut
  if (!graph) {
    if (irVersion > 0) throw new ProtoError('truncated', 'before the graph');
    throw notOnnx('it has no graph');
  }
  if (opsets.size === 0 && irVersion >= 3) {
    ctx.where = 'the model metadata after the graph (no opset_import)';
    throw new ProtoError('truncated', 'before opset_import');
  }
  if (opsets.size === 0) opsets.set('', 1);
  return { bytes: r.buf, irVersion, producer, opsets, graph, graphFieldRange };
}

function mergeGraph(into: OnnxGraph, g: OnnxGraph): void {
  into.nodes.push(...g.nodes);
  into.inputs.push(...g.inputs.filter((i) => !into.initializers.has(i.name)));
  into.outputs.push(...g.outputs);
  for (const [k, v] of g.valueInfo) into.valueInfo.set(k, v);
  for (const [k, v] of g.initializers) into.initializers.set(k, v);
  if (g.name) into.name = g.name;
}

function readGraph(r: ProtoReader, ctx: Ctx): OnnxGraph {
  const range: [number, number] = [r.pos, r.end];
  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, TensorData>();
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  const valueInfo = new Map<string, ValueInfo>();
  let name = '';
  while (!r.done) {
    const t = r.tag();
    switch (t.field) {
      case GraphProto.NODE:
        r.expect(t, LEN);
        ctx.where = `node ${nodes.length + 1} of the graph`;
        nodes.push(readNode(r, ctx));
        break;
      case GraphProto.NAME:
        r.expect(t, LEN);
        name = r.string();
        break;
      case GraphProto.INITIALIZER: {
        r.expect(t, LEN);
        ctx.where = `initializer ${initializers.size + 1} (the weights)`;
        const tensor = readTensor(r.sub('an initializer'), r.buf);
        initializers.set(tensor.name, tensor);
        break;
      }
      case GraphProto.INPUT:
      case GraphProto.OUTPUT:
      case GraphProto.VALUE_INFO: {
        r.expect(t, LEN);
        ctx.where = t.field === GraphProto.INPUT ? 'the graph inputs' : t.field === GraphProto.OUTPUT ? 'the graph outputs' : 'the value_info';
        const vi = readValueInfo(r.sub('a ValueInfoProto'));
        (t.field === GraphProto.INPUT ? inputs : t.field === GraphProto.OUTPUT ? outputs : []).push(vi);
        valueInfo.set(vi.name, vi);
        break;
      }
      default:
        r.skip(t.wire);
    }
  }
  // Old exporters list initializers among the inputs too; keep only the real inputs.
  const realInputs = inputs.filter((i) => !initializers.has(i.name));
  for (const v of [...realInputs, ...outputs]) valueInfo.set(v.name, v);
  return { name, nodes, inputs: realInputs, outputs, valueInfo, initializers, range };
}

function readNode(parent: ProtoReader, ctx: Ctx): OnnxNode {
  const r = parent.sub('a node');
  const start = r.pos;
  const node: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: new Map(), range: [start, r.end] };
  while (!r.done) {
    const t = r.tag();
    const N = NodeProto;
    if (t.field === N.INPUT || t.field === N.OUTPUT || t.field === N.NAME || t.field === N.OP_TYPE || t.field === N.DOMAIN) r.expect(t, LEN);
    if (t.field === N.INPUT) node.inputs.push(r.string());
    else if (t.field === N.OUTPUT) node.outputs.push(r.string());
    else if (t.field === N.NAME) node.name = r.string();
    else if (t.field === N.OP_TYPE) node.opType = r.string();
    else if (t.field === N.DOMAIN) node.domain = r.string();
    else if (t.field === N.ATTRIBUTE) {
      r.expect(t, LEN);
      const [k, v] = readAttribute(r.sub('an attribute'));
      node.attributes.set(k, v);
    } else r.skip(t.wire);
  }
  if (node.domain === 'ai.onnx') node.domain = '';
  if (!node.name) node.name = `${node.opType}_${node.outputs[0] ?? start}`;
  ctx.where = `node "${node.name}"`;
  return node;
}

const ATTR_TYPES: Record<number, AttributeValue['type']> = {
  [AttributeType.FLOAT]: 'float', [AttributeType.INT]: 'int', [AttributeType.STRING]: 'string', [AttributeType.TENSOR]: 'tensor',
  [AttributeType.GRAPH]: 'graph', [AttributeType.FLOATS]: 'floats', [AttributeType.INTS]: 'ints', [AttributeType.STRINGS]: 'strings',
};

function readAttribute(r: ProtoReader): [string, AttributeValue] {
  let name = '';
  let type = 0;
  let f: number | undefined;
  let i: number | undefined;
  let s: string | undefined;
  let tensor: TensorData | undefined;
  let graph = false;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  while (!r.done) {
    const t: Tag = r.tag();
    const A = AttributeProto;
    switch (t.field) {
      case A.NAME: name = (r.expect(t, LEN), r.string()); break;
      case A.F: f = (r.expect(t, I32), r.float()); break;
      case A.I: i = (r.expect(t, VARINT), r.varint()); break;
      case A.S: s = (r.expect(t, LEN), r.string()); break;
      case A.T: tensor = (r.expect(t, LEN), readTensor(r.sub('a tensor attribute'), r.buf)); break;
      case A.G: graph = true; r.expect(t, LEN); r.skip(t.wire); break;
      case A.FLOATS: r.floats(t.wire, floats); break;
      case A.INTS: r.varints(t.wire, ints); break;
      case A.STRINGS: strings.push((r.expect(t, LEN), r.string())); break;
      case A.TYPE: type = (r.expect(t, VARINT), r.varint()); break;
      default: r.skip(t.wire);
    }
  }
  let kind = ATTR_TYPES[type];
  if (!kind) {
    // IR version 1 files have no type field: infer it from what is set.
    kind = f !== undefined ? 'float' : i !== undefined ? 'int' : s !== undefined ? 'string' : tensor ? 'tensor'
      : graph ? 'graph' : floats.length ? 'floats' : ints.length ? 'ints' : strings.length ? 'strings' : 'other';
  }
  const value: AttributeValue =
    kind === 'float' ? { type: kind, value: f ?? 0 }
    : kind === 'int' ? { type: kind, value: i ?? 0 }
    : kind === 'string' ? { type: kind, value: s ?? '' }
    : kind === 'floats' ? { type: kind, value: floats }
    : kind === 'ints' ? { type: kind, value: ints }
    : kind === 'strings' ? { type: kind, value: strings }
    : kind === 'tensor' && tensor ? { type: kind, value: tensor }
    : { type: kind === 'graph' ? 'graph' : 'other' };
  return [name, value];
}

/** Decodes a TensorProto's header; its data is decoded only when values() is called. */
function readTensor(r: ProtoReader, buf: Uint8Array): TensorData {
  const msgStart = r.pos;
  const msgEnd = r.end;
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let rawLength = -1;
  let dataLocation = 0;
  const ext: Record<string, string> = {};
  while (!r.done) {
    const t = r.tag();
    const T = TensorProto;
    if (t.field === T.DIMS) r.varints(t.wire, dims);
    else if (t.field === T.DATA_TYPE) dataType = (r.expect(t, VARINT), r.varint());
    else if (t.field === T.NAME) name = (r.expect(t, LEN), r.string());
    else if (t.field === T.RAW_DATA) {
      r.expect(t, LEN);
      const [s, e] = r.lenRange('raw_data');
      rawLength = e - s;
    } else if (t.field === T.EXTERNAL_DATA) {
      r.expect(t, LEN);
      const kv = r.sub('external_data');
      let k = '';
      let v = '';
      while (!kv.done) {
        const kt = kv.tag();
        if (kt.field === StringStringEntryProto.KEY) k = (kv.expect(kt, LEN), kv.string());
        else if (kt.field === StringStringEntryProto.VALUE) v = (kv.expect(kt, LEN), kv.string());
        else kv.skip(kt.wire);
      }
      ext[k] = v;
    } else if (t.field === T.DATA_LOCATION) dataLocation = (r.expect(t, VARINT), r.varint());
    else r.skip(t.wire);
  }
  const elems = dims.reduce((a, d) => a * Math.max(d, 0), 1);
  const external = dataLocation === DataLocation.EXTERNAL || ext.location !== undefined
    ? { location: ext.location ?? '', offset: Number(ext.offset ?? 0) || 0, length: ext.length !== undefined ? Number(ext.length) : null }
    : null;
  return {
    name,
    dataType,
    dims,
    byteLength: rawLength >= 0 ? rawLength : elems * (ELEM_SIZE[dataType] ?? 0),
    external,
    values: () => decodeTensorValues(buf, msgStart, msgEnd, dataType),
  };
}

function decodeTensorValues(buf: Uint8Array, start: number, end: number, dataType: number): number[] {
  const r = new ProtoReader(buf, start, end);
  const out: number[] = [];
  while (!r.done) {
    const t = r.tag();
    const T = TensorProto;
    if (t.field === T.FLOAT_DATA) r.floats(t.wire, out);
    else if (t.field === T.INT32_DATA) {
      const before = out.length;
      r.varints(t.wire, out);
      // float16 values travel as their bit patterns in int32_data
      if (dataType === DataType.FLOAT16) for (let k = before; k < out.length; k++) out[k] = halfToFloat(out[k]);
    } else if (t.field === T.INT64_DATA || t.field === T.UINT64_DATA) r.varints(t.wire, out);
    else if (t.field === T.DOUBLE_DATA) r.doubles(t.wire, out);
    else if (t.field === T.RAW_DATA) out.push(...decodeRaw(r.bytes('raw_data'), dataType));
    else r.skip(t.wire);
  }
  return out;
}

function decodeRaw(b: Uint8Array, dataType: number): number[] {
  const size = ELEM_SIZE[dataType] ?? 0;
  if (!size) return [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = Math.floor(b.byteLength / size);
  const out = new Array<number>(n);
  for (let k = 0; k < n; k++) {
    const o = k * size;
    const D = DataType;
    switch (dataType) {
      case D.FLOAT: out[k] = dv.getFloat32(o, true); break;
      case D.UINT8: case D.BOOL: out[k] = dv.getUint8(o); break;
      case D.INT8: out[k] = dv.getInt8(o); break;
      case D.UINT16: out[k] = dv.getUint16(o, true); break;
      case D.INT16: out[k] = dv.getInt16(o, true); break;
      case D.INT32: out[k] = dv.getInt32(o, true); break;
      case D.INT64: out[k] = dv.getInt32(o + 4, true) * 4294967296 + dv.getUint32(o, true); break;
      case D.FLOAT16: out[k] = halfToFloat(dv.getUint16(o, true)); break;
      case D.DOUBLE: out[k] = dv.getFloat64(o, true); break;
      case D.UINT32: out[k] = dv.getUint32(o, true); break;
      case D.UINT64: out[k] = dv.getUint32(o + 4, true) * 4294967296 + dv.getUint32(o, true); break;
      case D.BFLOAT16: out[k] = new Float32Array(new Uint32Array([dv.getUint16(o, true) << 16]).buffer)[0]; break;
    }
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function readValueInfo(r: ProtoReader): ValueInfo {
  const vi: ValueInfo = { name: '', elemType: 0, dims: null };
  while (!r.done) {
    const t = r.tag();
    if (t.field === ValueInfoProto.NAME) vi.name = (r.expect(t, LEN), r.string());
    else if (t.field === ValueInfoProto.TYPE) {
      r.expect(t, LEN);
      const type = r.sub('a TypeProto');
      while (!type.done) {
        const tt = type.tag();
        if (tt.field !== TypeProto.TENSOR_TYPE) {
          type.skip(tt.wire);
          continue;
        }
        type.expect(tt, LEN);
        const tensor = type.sub('a tensor type');
        while (!tensor.done) {
          const ft = tensor.tag();
          if (ft.field === TypeProtoTensor.ELEM_TYPE) vi.elemType = (tensor.expect(ft, VARINT), tensor.varint());
          else if (ft.field === TypeProtoTensor.SHAPE) vi.dims = (tensor.expect(ft, LEN), readShape(tensor.sub('a shape')));
          else tensor.skip(ft.wire);
        }
      }
    } else r.skip(t.wire);
  }
  return vi;
}

function readShape(r: ProtoReader): (number | string | null)[] {
  const dims: (number | string | null)[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t.field !== TensorShapeProto.DIM) {
      r.skip(t.wire);
      continue;
    }
    r.expect(t, LEN);
    const d = r.sub('a dimension');
    let dim: number | string | null = null;
    while (!d.done) {
      const dt = d.tag();
      if (dt.field === Dimension.DIM_VALUE) dim = (d.expect(dt, VARINT), d.varint());
      else if (dt.field === Dimension.DIM_PARAM) dim = (d.expect(dt, LEN), d.string()) || null;
      else d.skip(dt.wire);
    }
    dims.push(dim);
  }
  return dims;
}

// ---- graph helpers ----

const constantNodes = new WeakMap<OnnxGraph, { count: number; byOutput: Map<string, OnnxNode> }>();

/** Constant value of a tensor: an initializer or the output of a Constant node (for shapes, axes, kernels). */
export function constantOf(graph: OnnxGraph, name: string): TensorData | null {
  const init = graph.initializers.get(name);
  if (init) return init;
  let cached = constantNodes.get(graph);
  if (!cached || cached.count !== graph.nodes.length) {
    cached = { count: graph.nodes.length, byOutput: new Map(graph.nodes.filter((n) => n.opType === 'Constant').map((n) => [n.outputs[0], n])) };
    constantNodes.set(graph, cached);
  }
  const node = cached.byOutput.get(name);
  if (!node) return null;
  for (const [key, a] of node.attributes) {
    if (a.type === 'tensor') return a.value;
    if (a.type === 'ints' || a.type === 'int' || a.type === 'floats' || a.type === 'float') {
      const vals = Array.isArray(a.value) ? a.value : [a.value];
      const isFloat = a.type === 'floats' || a.type === 'float';
      return {
        name,
        dataType: isFloat ? 1 : 7,
        dims: Array.isArray(a.value) ? [vals.length] : [],
        values: () => vals.slice(),
        byteLength: vals.length * (isFloat ? 4 : 8),
        external: null,
      };
    }
    void key;
  }
  return null;
}

/** Producer node and consumer nodes of every tensor name. */
export function indexGraph(graph: OnnxGraph): { producer: Map<string, OnnxNode>; consumers: Map<string, OnnxNode[]> } {
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of graph.nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  return { producer, consumers };
}

export function intAttr(node: OnnxNode, name: string): number | undefined {
  const a = node.attributes.get(name);
  return a && a.type === 'int' ? a.value : undefined;
}

export function intsAttr(node: OnnxNode, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  return a && a.type === 'ints' ? a.value : undefined;
}

/** The opset of the standard domain ('' / ai.onnx). */
export function defaultOpset(model: OnnxModel): number {
  return model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 1;
}

// ---- file-level checks ----

export function assertModelSize(byteLength: number, maxMB: number, name = 'The model'): void {
  if (byteLength > maxMB * 1024 * 1024) {
    const mb = (byteLength / 1024 / 1024).toFixed(0);
    throw new InspectorError('model-too-large', `${name} is ${mb} MB, over the ${maxMB} MB limit. Choose a smaller model or raise the vitInspector.maxModelMB setting.`);
  }
}

/**
 * Absolute path of an external-data file named by a tensor, which must stay inside the model's folder
 * (an absolute path, a '..' escape or a symlink out of the folder is refused: nothing outside is read).
 */
export function resolveExternalData(modelDir: string, location: string): string {
  const refuse = (why: string) =>
    new InspectorError('external-data', `The model's external data file "${location}" ${why}. Keep external data files next to the .onnx file.`);
  if (!location || location.includes('\0')) throw refuse('is not a valid file name');
  if (path.isAbsolute(location) || path.win32.isAbsolute(location) || /^[a-zA-Z]:/.test(location)) throw refuse('is an absolute path, outside the model folder');
  const root = path.resolve(modelDir);
  const full = path.resolve(root, location);
  const rel = path.relative(root, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || location.split(/[\\/]/).includes('..')) {
    throw refuse('points outside the model folder');
  }
  if (fs.existsSync(full)) {
    const realRoot = fs.realpathSync(root);
    const realRel = path.relative(realRoot, fs.realpathSync(full));
    if (realRel.startsWith('..') || path.isAbsolute(realRel)) throw refuse('links outside the model folder');
  }
  return full;
}
