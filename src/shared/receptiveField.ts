/**
 * Static receptive-field analysis of an ONNX CNN (Araujo, Norris, Sim, "Computing Receptive Fields of
 * Convolutional Neural Networks", Distill 2019). Every tensor gets, per spatial axis [height, width]:
 *   rf    size of the input region one unit sees (padding included, so it can exceed the image),
 *   jump  distance in input pixels between neighbouring units (effective stride),
 *   start centre of unit 0 in input pixels (pixel centres at 0.5, 1.5, ...),
 * propagated node by node through the graph by tensor name. A window op (kernel k, dilation d, stride s,
 * leading pad p) maps (r, j, c) to (r + (k_eff - 1) j, j s, c + ((k_eff - 1) / 2 - p) j), k_eff = d (k - 1) + 1.
 * Where paths merge (Add, Concat, Mul, ...) the largest field is kept. Pure TypeScript, no Node APIs.
 */
import type { OnnxGraph, OnnxModel, OnnxNode } from './graph';
import type { ReceptiveFieldLayer, ReceptiveFieldReport } from './types';

type Pair = [number, number];

/** A reported layer plus its output grid [rows, cols] (computed from the input size). */
export interface RfLayer extends ReceptiveFieldLayer {
  grid: Pair;
}

export interface RfReport extends ReceptiveFieldReport {
  layers: RfLayer[];
}

export interface RfOptions {
  /** [height, width] of the input; default: the input's static shape, else 224x224. */
  inputSize?: Pair;
}

interface Field {
  rf: Pair;
  jump: Pair;
  start: Pair;
  size: Pair | null; // spatial [height, width] of the tensor, when known
}

/** Nodes listed in the report (as in the fixtures: window ops). Every other op is only propagated through. */
const REPORTED = new Set(['Conv', 'ConvInteger', 'QLinearConv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'LpPool']);
const WINDOW = new Set(['Conv', 'ConvInteger', 'QLinearConv', 'MaxPool', 'AveragePool', 'LpPool']);
const GLOBAL = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const REDUCE = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceSum', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp']);
/** Outputs that are shapes or constants, not feature maps. */
const NO_FIELD = new Set(['Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'EyeLike', 'RandomNormal', 'RandomUniform']);
/** Ops whose feature map is input 0; the other inputs are shapes, indices, scales, pads. */
const DATA_FIRST = new Set([
  'Reshape', 'Expand', 'Tile', 'Squeeze', 'Unsqueeze', 'Flatten', 'Transpose', 'Gather', 'GatherElements', 'Split',
  'Clip', 'Dropout', 'Pad', 'Slice', 'Resize', 'Upsample', 'TopK', 'ReduceMean', 'ReduceMax', 'ReduceSum',
  'Cast', 'Identity', 'QuantizeLinear', 'DequantizeLinear', 'BatchNormalization', 'InstanceNormalization', 'LayerNormalization',
]);

export function receptiveFields(model: OnnxModel, options: RfOptions = {}): RfReport {
  const g = model.graph;
  const consts = constantTable(g);
  const fields = new Map<string, Field>();
  const inputSize = options.inputSize ?? imageSize(g) ?? [224, 224];
  const image = imageInput(g);
  for (const input of g.inputs) {
    const size = input === image ? inputSize : spatialDims(input.dims);
    fields.set(input.name, { rf: [1, 1], jump: [1, 1], start: [0.5, 0.5], size });
  }
  const layers: RfLayer[] = [];
  for (const node of g.nodes) {
    const out = propagate(node, fields, consts, g);
    if (!out) continue;
    for (const o of node.outputs) {
      if (!o) continue;
      const declared = spatialDims(g.valueInfo.get(o)?.dims ?? null);
      fields.set(o, { ...out, size: declared ?? out.size });
    }
    if (REPORTED.has(node.opType) && node.outputs[0]) {
      const f = fields.get(node.outputs[0])!;
      layers.push({
        node: node.name, op: node.opType, output: node.outputs[0],
        rf: f.rf, jump: f.jump, start: f.start, grid: f.size ?? estimateGrid(f, inputSize),
      });
    }
  }
  return { model: g.name, inputSize, layers };
}

// ---- per-op propagation ----

function propagate(node: OnnxNode, fields: Map<string, Field>, consts: ConstTable, g: OnnxGraph): Field | null {
  if (NO_FIELD.has(node.opType)) return null;
  if (node.opType === 'QLinearConv' || DATA_FIRST.has(node.opType)) {
    const x = fields.get(node.inputs[0]);
    if (!x) return null;
    switch (node.opType) {
      case 'QLinearConv': return windowOp(node, x, consts, g);
      case 'Pad': return pad(node, x, consts);
      case 'Slice': return slice(node, x, consts);
      case 'Resize': case 'Upsample': return resize(node, x, consts);
      case 'ReduceMean': case 'ReduceMax': case 'ReduceSum':
        return reducesSpatial(node, consts) ? globalPool(x) : x;
      default: return x;
    }
  }
  const ins = node.inputs.map((i) => fields.get(i)).filter((f): f is Field => !!f);
  if (ins.length === 0) return null;
  if (WINDOW.has(node.opType)) return windowOp(node, ins[0], consts, g);
  if (node.opType === 'ConvTranspose') return convTranspose(node, ins[0], consts, g);
  if (GLOBAL.has(node.opType)) return globalPool(ins[0]);
  if (REDUCE.has(node.opType)) return reducesSpatial(node, consts) ? globalPool(ins[0]) : ins[0];
  if (node.opType === 'SpaceToDepth') return spaceToDepth(ins[0], intAttr(node, 'blocksize') ?? 1);
  if (node.opType === 'DepthToSpace') return resizeBy(ins[0], [intAttr(node, 'blocksize') ?? 1, intAttr(node, 'blocksize') ?? 1], 'half_pixel', 'nearest');
  return merge(ins);
}

/**
 * Largest field per axis. Jump and start come from the input with that field, except a 1x1 broadcast
 * operand (a squeeze-excitation gate), which has no grid of its own when a spatial operand is present.
 */
function merge(ins: Field[]): Field {
  if (ins.length === 1) return ins[0];
  const spatial = ins.filter((f) => !(f.size && f.size[0] === 1 && f.size[1] === 1));
  const grid = spatial.length ? spatial : ins;
  const out: Field = { rf: [0, 0], jump: [0, 0], start: [0, 0], size: null };
  for (const a of [0, 1] as const) {
    let best = grid[0];
    for (const f of grid) if (f.rf[a] > best.rf[a]) best = f;
    out.rf[a] = Math.max(...ins.map((f) => f.rf[a]));
    out.jump[a] = best.jump[a];
    out.start[a] = best.start[a];
  }
  out.size = grid.find((f) => f.size)?.size ?? null;
  return out;
}

function windowOp(node: OnnxNode, x: Field, consts: ConstTable, g: OnnxGraph): Field {
  const isPool = node.opType.endsWith('Pool');
  const weight = node.inputs[node.opType === 'QLinearConv' ? 3 : 1];
  const kernel = intsAttr(node, 'kernel_shape') ?? (isPool ? undefined : weightKernel(weight, consts, g));
  if (!kernel || kernel.length !== 2) return x; // 1-D / 3-D windows or an unknown kernel: pass through
  const strides = intsAttr(node, 'strides') ?? [1, 1];
  const dil = intsAttr(node, 'dilations') ?? [1, 1];
  const keff: Pair = [dil[0] * (kernel[0] - 1) + 1, dil[1] * (kernel[1] - 1) + 1];
  const [pb, pe] = padsFor(node, x.size, keff, strides);
  const ceil = (intAttr(node, 'ceil_mode') ?? 0) === 1;
  const out: Field = { rf: [0, 0], jump: [0, 0], start: [0, 0], size: x.size ? [0, 0] : null };
  for (const a of [0, 1] as const) {
    out.rf[a] = x.rf[a] + (keff[a] - 1) * x.jump[a];
    out.jump[a] = x.jump[a] * strides[a];
    out.start[a] = x.start[a] + ((keff[a] - 1) / 2 - pb[a]) * x.jump[a];
    if (x.size && out.size) out.size[a] = windowCount(x.size[a], keff[a], strides[a], pb[a], pe[a], ceil);
  }
  return out;
}

function windowCount(n: number, k: number, s: number, pb: number, pe: number, ceil: boolean): number {
  const span = n + pb + pe - k;
  if (!ceil) return Math.floor(span / s) + 1;
  let out = Math.ceil(span / s) + 1;
  if ((out - 1) * s >= n + pb) out--; // the last window must start inside the input or the leading pad
  return out;
}

/** Leading and trailing pads [h, w] from `pads` or `auto_pad`. */
function padsFor(node: OnnxNode, size: Pair | null, keff: Pair, strides: number[]): [Pair, Pair] {
  const auto = strAttr(node, 'auto_pad') ?? 'NOTSET';
  if (auto === 'VALID') return [[0, 0], [0, 0]];
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const pb: Pair = [0, 0];
    const pe: Pair = [0, 0];
    for (const a of [0, 1] as const) {
      // output = ceil(in / s); with an unknown size assume in is a multiple of s
      const total = size
        ? Math.max((Math.ceil(size[a] / strides[a]) - 1) * strides[a] + keff[a] - size[a], 0)
        : Math.max(keff[a] - strides[a], 0);
      pb[a] = auto === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      pe[a] = total - pb[a];
    }
    return [pb, pe];
  }
  const p = intsAttr(node, 'pads') ?? [0, 0, 0, 0];
  return [[p[0], p[1]], [p[2], p[3]]];
}

/** Kernel [kh, kw] from the weight's dims [out, in/groups, kh, kw] (initializer, Constant or declared shape). */
function weightKernel(name: string | undefined, consts: ConstTable, g: OnnxGraph): number[] | undefined {
  if (!name) return undefined;
  const dims = consts.get(name)?.dims ?? g.valueInfo.get(name)?.dims ?? g.inputs.find((i) => i.name === name)?.dims;
  if (!dims || dims.length < 3 || dims.slice(2).some((d) => typeof d !== 'number')) {
    // weights behind a DequantizeLinear / Identity / Cast
    const producer = g.nodes.find((n) => n.outputs.includes(name));
    if (producer && ['DequantizeLinear', 'Identity', 'Cast'].includes(producer.opType)) return weightKernel(producer.inputs[0], consts, g);
    return undefined;
  }
  return dims.slice(2) as number[];
}

/** Global pooling = a window as large as the map (stride 1, no pad): the unit sees the whole input. */
function globalPool(x: Field): Field {
  if (!x.size) return { ...x, size: [1, 1] };
  const s = x.size;
  return {
    rf: [x.rf[0] + (s[0] - 1) * x.jump[0], x.rf[1] + (s[1] - 1) * x.jump[1]],
    jump: x.jump,
    start: [x.start[0] + ((s[0] - 1) / 2) * x.jump[0], x.start[1] + ((s[1] - 1) / 2) * x.jump[1]],
    size: [1, 1],
  };
}

/** ReduceMean/ReduceMax/... over both spatial axes of an NCHW tensor (axes attribute or input; none = all). */
function reducesSpatial(node: OnnxNode, consts: ConstTable): boolean {
  const axes = intsAttr(node, 'axes') ?? (node.inputs[1] ? consts.get(node.inputs[1])?.values() : undefined);
  if (!axes || axes.length === 0) return (intAttr(node, 'noop_with_empty_axes') ?? 0) === 0;
  const norm = axes.map((a) => (a < 0 ? a + 4 : a));
  return norm.includes(2) && norm.includes(3);
}

function pad(node: OnnxNode, x: Field, consts: ConstTable): Field {
  const p = (node.inputs[1] ? consts.get(node.inputs[1])?.values() : undefined) ?? intsAttr(node, 'pads');
  if (!p || p.length !== 8) return x; // unknown or not 4-D
  const axes = node.inputs[3] ? consts.get(node.inputs[3])?.values() : undefined;
  if (axes) return x; // opset 18 partial axes: rare, left as is
  const pb: Pair = [p[2], p[3]];
  const pe: Pair = [p[6], p[7]];
  return {
    rf: x.rf, jump: x.jump,
    start: [x.start[0] - pb[0] * x.jump[0], x.start[1] - pb[1] * x.jump[1]],
    size: x.size ? [x.size[0] + pb[0] + pe[0], x.size[1] + pb[1] + pe[1]] : null,
  };
}

/** Slice along the spatial axes (2, 3 of NCHW): shifts the start and multiplies the jump by the step. */
function slice(node: OnnxNode, x: Field, consts: ConstTable): Field {
  const read = (i: number, attr: string) => (node.inputs[i] ? consts.get(node.inputs[i])?.values() : intsAttr(node, attr));
  const starts = read(1, 'starts');
  const ends = read(2, 'ends');
  if (!starts || !ends) return x;
  const axes = read(3, 'axes') ?? starts.map((_, i) => i);
  const steps = (node.inputs[4] ? consts.get(node.inputs[4])?.values() : undefined) ?? starts.map(() => 1);
  const out: Field = { rf: [...x.rf], jump: [...x.jump], start: [...x.start], size: x.size ? [...x.size] : null };
  axes.forEach((ax, i) => {
    const a = (ax < 0 ? ax + 4 : ax) - 2;
    if ((a !== 0 && a !== 1) || steps[i] <= 0) return;
    const n = x.size?.[a] ?? Infinity;
    const s = Math.min(starts[i] < 0 ? starts[i] + n : starts[i], n);
    const e = Math.min(ends[i] < 0 ? ends[i] + n : ends[i], n);
    out.start[a] = x.start[a] + s * x.jump[a];
    out.jump[a] = x.jump[a] * steps[i];
    if (out.size && Number.isFinite(n)) out.size[a] = Math.max(0, Math.ceil((e - s) / steps[i]));
  });
  return out;
}

/** Resize / Upsample by a scale factor: the jump divides by it; interpolation taps widen the field. */
function resize(node: OnnxNode, x: Field, consts: ConstTable): Field {
  const legacy = node.opType === 'Upsample' || node.inputs.length === 2; // (X, scales)
  const scalesName = legacy ? node.inputs[1] : node.inputs[2];
  const floatsAttr = node.attributes.get('scales');
  let scales = (scalesName ? consts.get(scalesName)?.values() : undefined) ?? (floatsAttr?.type === 'floats' ? floatsAttr.value : undefined);
  const sizes = !legacy && node.inputs[3] ? consts.get(node.inputs[3])?.values() : undefined;
  if ((!scales || scales.length !== 4) && sizes?.length === 4 && x.size) scales = [1, 1, sizes[2] / x.size[0], sizes[3] / x.size[1]];
  if (!scales || scales.length !== 4) return x;
  const mode = strAttr(node, 'mode') ?? 'nearest';
  const coords = node.opType === 'Upsample' ? 'asymmetric' : strAttr(node, 'coordinate_transformation_mode') ?? 'half_pixel';
  return resizeBy(x, [scales[2], scales[3]], coords, mode);
}

function resizeBy(x: Field, f: Pair, coords: string, mode: string): Field {
  const taps = mode === 'linear' || mode === 'bilinear' ? 2 : mode === 'cubic' ? 4 : 1;
  const out: Field = { rf: [0, 0], jump: [0, 0], start: [0, 0], size: x.size ? [0, 0] : null };
  for (const a of [0, 1] as const) {
    const outN = x.size ? Math.floor(x.size[a] * f[a]) : 0;
    if (out.size) out.size[a] = outN;
    out.rf[a] = x.rf[a] + (taps - 1) * x.jump[a];
    if (coords === 'align_corners' && x.size && outN > 1) {
      out.jump[a] = (x.jump[a] * (x.size[a] - 1)) / (outN - 1);
      out.start[a] = x.start[a];
    } else {
      out.jump[a] = x.jump[a] / f[a];
      // half_pixel: output centre 0 maps to input coordinate 0.5 / f - 0.5; asymmetric: to 0
      out.start[a] = x.start[a] + (coords === 'asymmetric' ? 0 : (0.5 / f[a] - 0.5) * x.jump[a]);
    }
  }
  return out;
}

function spaceToDepth(x: Field, b: number): Field {
  return {
    rf: [x.rf[0] + (b - 1) * x.jump[0], x.rf[1] + (b - 1) * x.jump[1]],
    jump: [x.jump[0] * b, x.jump[1] * b],
    start: [x.start[0] + ((b - 1) / 2) * x.jump[0], x.start[1] + ((b - 1) / 2) * x.jump[1]],
    size: x.size ? [Math.floor(x.size[0] / b), Math.floor(x.size[1] / b)] : null,
  };
}

/** Approximate: output unit o gathers about ceil(k_eff / s) input units around (o + p - (k_eff - 1) / 2) / s. */
function convTranspose(node: OnnxNode, x: Field, consts: ConstTable, g: OnnxGraph): Field {
  const kernel = intsAttr(node, 'kernel_shape') ?? weightKernel(node.inputs[1], consts, g);
  if (!kernel || kernel.length !== 2) return x;
  const strides = intsAttr(node, 'strides') ?? [1, 1];
  const dil = intsAttr(node, 'dilations') ?? [1, 1];
  const p = intsAttr(node, 'pads') ?? [0, 0, 0, 0];
  const outPad = intsAttr(node, 'output_padding') ?? [0, 0];
  const out: Field = { rf: [0, 0], jump: [0, 0], start: [0, 0], size: x.size ? [0, 0] : null };
  for (const a of [0, 1] as const) {
    const keff = dil[a] * (kernel[a] - 1) + 1;
    out.rf[a] = x.rf[a] + (Math.ceil(keff / strides[a]) - 1) * x.jump[a];
    out.jump[a] = x.jump[a] / strides[a];
    out.start[a] = x.start[a] + ((p[a] - (keff - 1) / 2) / strides[a]) * x.jump[a];
    if (x.size && out.size) out.size[a] = (x.size[a] - 1) * strides[a] + outPad[a] + keff - p[a] - p[a + 2];
  }
  return out;
}

// ---- graph helpers (local: parse.ts pulls in Node APIs) ----

type ConstTable = Map<string, { dims: number[]; values(): number[] }>;

/** Initializers and Constant node outputs by name. */
function constantTable(g: OnnxGraph): ConstTable {
  const t: ConstTable = new Map(g.initializers);
  for (const n of g.nodes) {
    if (n.opType !== 'Constant' || !n.outputs[0]) continue;
    for (const a of n.attributes.values()) {
      if (a.type === 'tensor') t.set(n.outputs[0], a.value);
      else if (a.type === 'ints' || a.type === 'floats') { const v = a.value; t.set(n.outputs[0], { dims: [v.length], values: () => v.slice() }); }
      else if (a.type === 'int' || a.type === 'float') { const v = a.value; t.set(n.outputs[0], { dims: [], values: () => [v] }); }
    }
  }
  return t;
}

function intAttr(node: OnnxNode, name: string): number | undefined {
  const a = node.attributes.get(name);
  return a?.type === 'int' ? a.value : undefined;
}

function intsAttr(node: OnnxNode, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  return a?.type === 'ints' ? a.value : undefined;
}

function strAttr(node: OnnxNode, name: string): string | undefined {
  const a = node.attributes.get(name);
  return a?.type === 'string' ? a.value : undefined;
}

/** The image input: the first real input of rank 4. */
function imageInput(g: OnnxGraph) {
  return g.inputs.find((i) => i.dims?.length === 4) ?? g.inputs[0];
}

function imageSize(g: OnnxGraph): Pair | null {
  return spatialDims(imageInput(g)?.dims ?? null, true);
}

/**
 * [height, width] of a 4-D shape: NCHW (what ONNX Conv takes), or for the image input NHWC when the last
 * dim looks like colour channels and dim 1 does not (TF exports transpose it to NCHW later).
 */
function spatialDims(dims: (number | string | null)[] | null, maybeNhwc = false): Pair | null {
  if (!dims || dims.length !== 4) return null;
  const [, d1, d2, d3] = dims;
  const isChannels = (d: unknown) => d === 1 || d === 3 || d === 4;
  const [h, w] = maybeNhwc && isChannels(d3) && !isChannels(d1) ? [d1, d2] : [d2, d3];
  return typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? [h, w] : null;
}

/** Grid when sizes were unknown: the units whose centres fall inside the image. */
function estimateGrid(f: Field, inputSize: Pair): Pair {
  const n = (a: 0 | 1) => Math.max(1, Math.ceil((inputSize[a] - f.start[a]) / f.jump[a]));
  return [n(0), n(1)];
}

// ---- geometry for the panel ----

/** Input pixels [x0, x1) x [y0, y1) seen by unit (row, col) of `layer`, clipped to the image. */
export function unitBox(layer: ReceptiveFieldLayer, row: number, col: number, inputSize: Pair): { x0: number; y0: number; x1: number; y1: number } {
  const cy = layer.start[0] + row * layer.jump[0];
  const cx = layer.start[1] + col * layer.jump[1];
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return {
    x0: clip(cx - layer.rf[1] / 2, inputSize[1]),
    y0: clip(cy - layer.rf[0] / 2, inputSize[0]),
    x1: clip(cx + layer.rf[1] / 2, inputSize[1]),
    y1: clip(cy + layer.rf[0] / 2, inputSize[0]),
  };
}

/** The unit of `layer` whose centre is nearest to input point (x, y) (pixel i spans [i, i + 1)). */
export function unitForPixel(layer: RfLayer, x: number, y: number): { row: number; col: number } {
  const pick = (v: number, a: 0 | 1) => Math.min(Math.max(Math.round((v - layer.start[a]) / layer.jump[a]), 0), layer.grid[a] - 1);
  return { row: pick(y, 0), col: pick(x, 1) };
}
