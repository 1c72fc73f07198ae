/**
 * timm and OpenCLIP folders, read as Hugging Face's preprocessor_config.json is: their eval transforms
 * translated into the same keys (size, crop_size, resample, image_mean, image_std), so that preprocess.ts
 * has one reader.
 * - timm (`save_pretrained`/`push_to_hf_hub`): config.json with architecture, num_classes, label_names and
 *   pretrained_cfg {input_size, interpolation, crop_pct, crop_mode, mean, std}. timm's eval transform
 *   resizes to input_size / crop_pct (the shortest edge for crop_mode 'center', both sides for 'squash')
 *   and center-crops input_size.
 * - OpenCLIP: open_clip_config.json with model_cfg.vision_cfg.image_size and preprocess_cfg {mean, std,
 *   interpolation, resize_mode}. 'shortest' resizes the shortest edge and center-crops, 'squash' resizes
 *   both sides, 'longest' (resize the longest edge, pad) has no equivalent here: squashed, with a note.
 */
import type { JsonObject } from './modelSource';
import type { PreprocessorFile } from '../shared/types';

export interface LibraryPreprocessing {
  config: JsonObject; // in preprocessor_config.json's keys
  file: PreprocessorFile; // where it came from, for notes and the summary
  notes: string[];
}

// OpenCLIP's defaults (open_clip/constants.py: OPENAI_DATASET_MEAN/STD), used where preprocess_cfg leaves them out.
const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711];
// timm's defaults (IMAGENET_DEFAULT_MEAN/STD).
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** A timm config.json (it has pretrained_cfg), as a preprocessor config; null for any other config.json. */
export function timmPreprocessing(config: JsonObject | null): LibraryPreprocessing | null {
  const cfg = config?.pretrained_cfg;
  if (!isObject(cfg)) return null;
  const notes: string[] = [];
  const input = Array.isArray(cfg.input_size) ? cfg.input_size : null;
  const [h, w] = input && input.length === 3 && isSize(input[1]) && isSize(input[2]) ? [input[1], input[2]] : [undefined, undefined];
  const out: JsonObject = {
    image_mean: cfg.mean ?? IMAGENET_MEAN,
    image_std: cfg.std ?? IMAGENET_STD,
    resample: typeof cfg.interpolation === 'string' ? cfg.interpolation : 'bicubic',
    do_rescale: true,
    rescale_factor: 1 / 255,
  };
  if (h && w) {
    const pct = typeof cfg.crop_pct === 'number' && cfg.crop_pct > 0 ? cfg.crop_pct : 0.875; // timm's DEFAULT_CROP_PCT
    const mode = typeof cfg.crop_mode === 'string' ? cfg.crop_mode : 'center';
    const [sh, sw] = [Math.floor(h / pct), Math.floor(w / pct)];
    if (mode !== 'center' && mode !== 'squash') notes.push(`config.json has crop_mode "${mode}": resized and center-cropped as "center"`);
    out.size = mode === 'squash' || h !== w ? { height: sh, width: sw } : { shortest_edge: sh };
    out.crop_size = { height: h, width: w };
    out.do_center_crop = true;
  } else notes.push('config.json has no pretrained_cfg.input_size: the model input size is used');
  return { config: out, file: 'config.json (timm pretrained_cfg)', notes };
}

/** timm's label_names, by index. */
export function timmLabels(config: JsonObject | null): string[] | null {
  const names = config?.label_names;
  return Array.isArray(names) && names.length > 0 ? names.map(String) : null;
}

/** An open_clip_config.json as a preprocessor config. */
export function openClipPreprocessing(oc: JsonObject): LibraryPreprocessing {
  const notes: string[] = [];
  const pc = isObject(oc.preprocess_cfg) ? oc.preprocess_cfg : {};
  const vision = isObject(oc.model_cfg) && isObject(oc.model_cfg.vision_cfg) ? oc.model_cfg.vision_cfg : {};
  const size = vision.image_size;
  const [h, w] = isSize(size) ? [size, size] : Array.isArray(size) && size.length === 2 && isSize(size[0]) && isSize(size[1]) ? [size[0], size[1]] : [undefined, undefined];
  const out: JsonObject = {
    image_mean: pc.mean ?? OPENAI_MEAN,
    image_std: pc.std ?? OPENAI_STD,
    resample: typeof pc.interpolation === 'string' ? pc.interpolation : 'bicubic',
    do_rescale: true,
    rescale_factor: 1 / 255,
  };
  const mode = typeof pc.resize_mode === 'string' ? pc.resize_mode : 'shortest';
  if (h && w) {
    if (mode === 'shortest' && h === w) {
      out.size = { shortest_edge: h };
      out.crop_size = { height: h, width: w };
      out.do_center_crop = true;
    } else {
      out.size = { height: h, width: w };
      if (mode !== 'squash' && mode !== 'shortest') notes.push(`open_clip_config.json has resize_mode "${mode}": the image is squashed to ${h}×${w} instead`);
    }
  } else notes.push('open_clip_config.json has no model_cfg.vision_cfg.image_size: the model input size is used');
  return { config: out, file: 'open_clip_config.json', notes };
}
