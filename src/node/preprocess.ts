/**
 * Preprocessing as Hugging Face image processors do it (resize, optional center crop, rescale, normalise),
 * read from preprocessor_config.json, or ViT defaults when there is none.
 */
import { InspectorError } from '../shared/errors';
import type { Preprocessing, PreprocessorFile } from '../shared/types';

type Json = Record<string, unknown>;
type HW = [number, number];

// PIL resample codes. Box and hamming have no sharp kernel; both are smooth, area-like filters, so bilinear.
const RESAMPLE: Record<number, Preprocessing['resample']> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'bilinear', 5: 'bilinear' };
const DEFAULT_SIZE: HW = [224, 224];
const FILE: PreprocessorFile = 'preprocessor_config.json';

/**
 * modelInputHW: the model input's static [height, width], or null where dynamic. It wins over the config's size
 * (a model fed another size fails). Notes say what was assumed, for the model summary.
 */
export function preprocessingFrom(pc: Json | null, modelInputHW: HW | null, config?: Json | null, file: PreprocessorFile = FILE): { preprocessing: Preprocessing; notes: string[] } {
  const notes: string[] = [];
  const preprocessing = pc ? fromConfig(pc, modelInputHW, notes, file) : defaults(modelInputHW, config ?? null, notes);
  return { preprocessing, notes };
}

function fromConfig(pc: Json, modelInputHW: HW | null, notes: string[], file: PreprocessorFile): Preprocessing {
  let resizeTo: Preprocessing['resizeTo'];
  let centerCrop: HW | null = null;
  const size = pc.size;
  const crop = pc.do_center_crop !== false && pc.crop_size !== undefined ? hw(pc.crop_size, 'crop_size', file) : null;
  if (typeof size === 'object' && size !== null && 'shortest_edge' in size) {
    const edge = positive((size as Json).shortest_edge, 'size.shortest_edge', file);
    const pct = typeof pc.crop_pct === 'number' && pc.crop_pct > 0 ? pc.crop_pct : null;
    if (pct && !crop && edge < 384) {
      // ConvNeXt style: resize to edge / crop_pct, then crop edge x edge.
      resizeTo = { shortestEdge: Math.floor(edge / pct) };
      centerCrop = [edge, edge];
    } else {
      resizeTo = { shortestEdge: edge };
      centerCrop = crop ?? [edge, edge];
      if (!crop) notes.push(`${file} resizes the shortest edge to ${edge} without a crop size: center-cropping ${edge}×${edge}`);
    }
  } else if (size !== undefined) {
    const [height, width] = hw(size, 'size', file); // an int is square, as ViT/DeiT/BEiT processors read it
    resizeTo = { height, width };
    centerCrop = crop;
  } else {
    const [height, width] = modelInputHW ?? DEFAULT_SIZE;
    resizeTo = { height, width };
    centerCrop = crop;
    notes.push(`${file} has no size: resizing to ${height}×${width}${modelInputHW ? ' from the model input' : ' (assumed)'}`);
  }
  if (pc.do_resize === false) notes.push(`${file} has do_resize false: resizing to the model input anyway`);
  let finalSize: HW = centerCrop ?? ('height' in resizeTo ? [resizeTo.height, resizeTo.width] : [resizeTo.shortestEdge, resizeTo.shortestEdge]);
  if (modelInputHW && (finalSize[0] !== modelInputHW[0] || finalSize[1] !== modelInputHW[1])) {
    notes.push(`${file} gives ${finalSize[0]}×${finalSize[1]} but the model takes ${modelInputHW[0]}×${modelInputHW[1]}: resizing to the model's size`);
    finalSize = modelInputHW;
    resizeTo = { height: finalSize[0], width: finalSize[1] };
    centerCrop = null;
  }
  const normalize = pc.do_normalize !== false;
  if (normalize && (pc.image_mean === undefined || pc.image_std === undefined)) notes.push(`${file} has no image_mean/image_std: 0.5 assumed`);
  const std = normalize ? triple(pc.image_std, 0.5, 'image_std') : ([1, 1, 1] as [number, number, number]);
  if (std.some((s) => s === 0)) throw new InspectorError('bad-config', `${file} has a zero in image_std. Fix the file.`);
  return {
    size: finalSize,
    resizeTo,
    resample: resampleFrom(pc.resample),
    centerCrop,
    rescaleFactor: pc.do_rescale === false ? 1 : typeof pc.rescale_factor === 'number' ? pc.rescale_factor : 1 / 255,
    mean: normalize ? triple(pc.image_mean, 0.5, 'image_mean') : [0, 0, 0],
    std,
    source: file,
  };
}

function defaults(modelInputHW: HW | null, config: Json | null, notes: string[]): Preprocessing {
  let size = modelInputHW;
  let from = 'the model input';
  if (!size && config?.image_size !== undefined) {
    size = hw(config.image_size, 'image_size', 'config.json');
    from = 'config.json';
  }
  if (!size) {
    size = DEFAULT_SIZE;
    from = 'an assumption (the model input is dynamic)';
  }
  notes.push(`no ${FILE}: mean/std 0.5, rescale 1/255, bilinear resize to ${size[0]}×${size[1]} from ${from}`);
  return {
    size,
    resizeTo: { height: size[0], width: size[1] },
    resample: 'bilinear',
    centerCrop: null,
    rescaleFactor: 1 / 255,
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
    source: 'defaults',
  };
}

/** Interleaved RGB uint8 (h × w × 3) to the NCHW float32 tensor: (x * rescale - mean) / std. */
export function toInputTensor(rgb: Uint8Array, h: number, w: number, prep: Preprocessing): Float32Array {
  const n = h * w;
  if (rgb.length !== n * 3) throw new Error(`toInputTensor: expected ${n * 3} bytes for ${h}×${w} RGB, got ${rgb.length}`);
  const out = new Float32Array(n * 3);
  for (let c = 0; c < 3; c++) {
    const scale = prep.rescaleFactor / prep.std[c];
    const shift = -prep.mean[c] / prep.std[c];
    const plane = c * n;
    for (let i = 0; i < n; i++) out[plane + i] = rgb[i * 3 + c] * scale + shift;
  }
  return out;
}

/** NCHW planes (from toInputTensor) to NHWC, for models that take channels last (tf2onnx exports of Keras models). */
export function toChannelsLast(planar: Float32Array, h: number, w: number): Float32Array {
  const n = h * w;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = planar[c * n + i];
  return out;
}

function resampleFrom(v: unknown): Preprocessing['resample'] {
  if (typeof v === 'number') return RESAMPLE[v] ?? 'bilinear';
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s === 'nearest' || s === 'bilinear' || s === 'bicubic' || s === 'lanczos') return s;
  }
  return 'bilinear'; // the HF ViT processor's default
}

/** int → square; {height, width}; [h, w]. */
function hw(v: unknown, key: string, file: string = FILE): HW {
  if (typeof v === 'number') return [positive(v, key, file), positive(v, key, file)];
  if (Array.isArray(v) && v.length === 2) return [positive(v[0], key, file), positive(v[1], key, file)];
  if (typeof v === 'object' && v !== null && 'height' in v && 'width' in v) {
    const o = v as Json;
    return [positive(o.height, `${key}.height`, file), positive(o.width, `${key}.width`, file)];
  }
  throw new InspectorError('bad-config', `${file} has an unreadable ${key} (${JSON.stringify(v)}): expected a number or {"height", "width"}.`);
}

function positive(v: unknown, key: string, file: string = FILE): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  throw new InspectorError('bad-config', `${file} has ${key} = ${JSON.stringify(v)}: expected a positive integer.`);
}

function triple(v: unknown, fallback: number, key: string): [number, number, number] {
  if (v === undefined || v === null) return [fallback, fallback, fallback];
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return [v[0], v[1], v[2]];
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') return [v[0], v[0], v[0]];
  throw new InspectorError('bad-config', `${FILE} has an unreadable ${key} (${JSON.stringify(v)}): expected 3 numbers.`);
}
