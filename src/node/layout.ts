/**
 * Where a ViT's tokens come from: the patch grid (from the patch-embedding Conv, whose kernel equals its
 * stride) and the prefix tokens before it (CLS, DeiT's distillation token, register tokens).
 */
import { InspectorError } from '../shared/errors';
import type { OnnxModel, OnnxNode } from '../shared/graph';
import { indexGraph, intsAttr } from './onnx/parse';
import type { TokenLayout } from '../shared/types';

export interface LayoutOptions {
  inputSize?: [number, number]; // [h, w] the image is preprocessed to (needed when the model's input is dynamic)
  config?: Record<string, unknown>; // config.json
  tokens: number; // token count seen in the attention maps
}

export interface LayoutResult {
  layout: TokenLayout;
  dModel: number | null; // embedding width: the patch Conv's out-channels
  patchConv: string | null; // the patch-embedding Conv node, if found
}

/** Ops that may sit between the pixel input and the patch Conv (casts, in-graph normalisation). */
const PREPROCESS_OPS = new Set(['Cast', 'Identity', 'Sub', 'Div', 'Mul', 'Add', 'Transpose', 'Resize', 'Pad', 'Slice']);

export function tokenLayout(model: OnnxModel, opts: LayoutOptions): LayoutResult {
  const name = (model as { name?: string }).name ?? 'The model';
  const inputSize = modelInputSize(model) ?? opts.inputSize ?? configSize(opts.config);
  if (!inputSize) {
    throw new InspectorError('bad-input', `${name} has a dynamic input size and none was given. Add a preprocessor_config.json with "size", or export the model with a fixed input size.`);
  }
  const conv = findPatchConv(model);
  let patchSize: [number, number] | null = null;
  let grid: [number, number] | null = null;
  let dModel: number | null = null;
  if (conv) {
    const weight = model.graph.initializers.get(conv.inputs[1] ?? '');
    const kernel = intsAttr(conv, 'kernel_shape') ?? weight?.dims.slice(2);
    const strides = intsAttr(conv, 'strides') ?? [1, 1];
    const pads = intsAttr(conv, 'pads') ?? [0, 0, 0, 0];
    if (kernel && kernel.length === 2) {
      patchSize = [kernel[0], kernel[1]];
      const autoPad = conv.attributes.get('auto_pad');
      const same = autoPad?.type === 'string' && autoPad.value.startsWith('SAME');
      grid = [0, 1].map((i) =>
        same ? Math.ceil(inputSize[i] / strides[i]) : Math.floor((inputSize[i] + pads[i] + pads[i + 2] - kernel[i]) / strides[i]) + 1,
      ) as [number, number];
    }
    dModel = weight?.dims[0] ?? null;
  }
  if (!patchSize) {
    const p = configPatch(opts.config) ?? guessPatch(inputSize, opts.tokens);
    if (!p) {
      throw new InspectorError('unsupported-model', `${name}: no patch-embedding Conv found and no patch_size in config.json. Add "patch_size" to config.json next to the model.`);
    }
    patchSize = p;
    grid = [Math.floor(inputSize[0] / p[0]), Math.floor(inputSize[1] / p[1])];
  }
  const [rows, cols] = grid!;
  const prefix = opts.tokens - rows * cols;
  if (prefix < 0) {
    throw new InspectorError('unsupported-model', `${name} has ${opts.tokens} tokens, fewer than its ${rows}×${cols} patch grid. Check the input size in preprocessor_config.json.`);
  }
  return {
    layout: { patchSize, grid: [rows, cols], inputSize, prefixTokens: prefixNames(prefix, opts.config), tokens: opts.tokens },
    dModel,
    patchConv: conv?.name ?? null,
  };
}

/** Centre of each patch token, row-major, in input pixels (pixel centres at 0.5, 1.5, ...). */
export function patchCenters(layout: TokenLayout): { row: number; col: number; x: number; y: number }[] {
  const [ph, pw] = layout.patchSize;
  const out: { row: number; col: number; x: number; y: number }[] = [];
  for (let row = 0; row < layout.grid[0]; row++) {
    for (let col = 0; col < layout.grid[1]; col++) out.push({ row, col, x: (col + 0.5) * pw, y: (row + 0.5) * ph });
  }
  return out;
}

/** Names of the prefix tokens in order: cls, then DeiT's dist, then registers (reg1, reg2, ...). */
export function prefixNames(count: number, config?: Record<string, unknown>): string[] {
  if (count <= 0) return [];
  const modelType = String(config?.model_type ?? '').toLowerCase();
  const regConfig = typeof config?.num_register_tokens === 'number' ? config.num_register_tokens : undefined;
  const names: string[] = [];
  let left = count;
  if (config?.class_token !== false) {
    names.push('cls');
    left--;
  }
  const dist = config?.distillation === true || config?.distilled === true || modelType === 'deit'
    || (config?.distillation === undefined && regConfig === undefined && left === 1);
  if (dist && left > 0 && !(regConfig !== undefined && regConfig >= left)) {
    names.push('dist');
    left--;
  }
  for (let i = 1; i <= left; i++) names.push(`reg${i}`);
  return names;
}

/** [h, w] of a static NCHW (or NHWC: last axis 3, axis 1 not) model input, or null when dynamic. */
function modelInputSize(model: OnnxModel): [number, number] | null {
  const dims = model.graph.inputs[0]?.dims;
  if (!dims || dims.length !== 4) return null;
  const [h, w] = dims[3] === 3 && dims[1] !== 3 ? dims.slice(1, 3) : dims.slice(2);
  return typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? [h, w] : null;
}

function pair(v: unknown): [number, number] | null {
  if (typeof v === 'number' && v > 0) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && x > 0)) return [v[0], v[1]];
  return null;
}

function configSize(config?: Record<string, unknown>): [number, number] | null {
  return pair(config?.image_size) ?? pair(config?.img_size);
}

function configPatch(config?: Record<string, unknown>): [number, number] | null {
  return pair(config?.patch_size);
}

/** Largest patch size dividing the input whose grid leaves a plausible prefix (0-8 tokens). */
function guessPatch([h, w]: [number, number], tokens: number): [number, number] | null {
  for (let p = Math.min(h, w); p >= 2; p--) {
    if (h % p || w % p) continue;
    const prefix = tokens - (h / p) * (w / p);
    if (prefix >= 0 && prefix <= 8) return [p, p];
  }
  return null;
}

/** The first Conv reached from the pixel input (through preprocessing ops) with kernel == stride. */
export function findPatchConv(model: OnnxModel): OnnxNode | null {
  const { graph } = model;
  const input = graph.inputs[0]?.name;
  if (!input) return null;
  const { consumers } = indexGraph(graph);
  const seen = new Set<string>();
  let frontier = [input];
  for (let depth = 0; depth < 8 && frontier.length; depth++) {
    const next: string[] = [];
    for (const t of frontier) {
      for (const c of consumers.get(t) ?? []) {
        if (c.opType === 'Conv' && c.inputs[0] === t) {
          const kernel = intsAttr(c, 'kernel_shape') ?? graph.initializers.get(c.inputs[1] ?? '')?.dims.slice(2);
          const strides = intsAttr(c, 'strides');
          if (kernel && strides && kernel.length === 2 && kernel[0] === strides[0] && kernel[1] === strides[1] && kernel[0] > 1) return c;
        } else if (PREPROCESS_OPS.has(c.opType) && !seen.has(c.outputs[0])) {
          seen.add(c.outputs[0]);
          next.push(c.outputs[0]);
        }
      }
    }
    frontier = next;
  }
  return null;
}
