/** The model-family fixtures (test/fixtures/families, made by make_families.py): references and tolerances. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeNpy } from '../../src/node/npy';
import { REPO } from './fixtures';

export const FAMILIES_DIR = join(REPO, 'test', 'fixtures', 'families');

export interface FamilyReference {
  about: string;
  input: { name: string; shape: number[]; dtype: string; mean: number[]; std: number[] };
  patch_size: number;
  grid: [number, number];
  prefix_tokens: string[];
  labels: string[] | null;
  layers: number;
  heads: number;
  tokens: number;
  logits?: number[];
  embedding?: number[];
  onnx_logits?: number[]; // low-precision folders: what onnxruntime gives for that model
  fp16_vs_fp32_max_err?: number;
  quantized_vs_fp32_max_err?: number;
}

/** Each family, with where its preprocessing is read from. */
export const FAMILIES: Record<string, string> = {
  onnx_attention_op: 'preprocessor_config.json',
  ort_contrib_attention: 'preprocessor_config.json',
  ort_contrib_mha: 'preprocessor_config.json',
  timm_eva02: 'config.json (timm pretrained_cfg)',
  open_clip_vision: 'open_clip_config.json',
  vit_fp16: 'config.json (timm pretrained_cfg)',
  vit_int8_dynamic: 'preprocessor_config.json',
  vit_qdq: 'preprocessor_config.json',
};

export function familyReference(name: string): FamilyReference {
  return JSON.parse(readFileSync(join(FAMILIES_DIR, name, 'reference.json'), 'utf8'));
}

/** The library's eager attention, [layers, heads, N, N] float32. */
export function familyAttention(name: string): Float32Array {
  return decodeNpy(readFileSync(join(FAMILIES_DIR, name, 'attention.npy'))).data as Float32Array;
}

/**
 * 1e-4 for float32 models; for fp16 and quantized ones the fp32 model's attention is the reference, and the
 * error make_families.py observed between the two (onnxruntime vs PyTorch) is the tolerance, with 50% margin.
 */
export function attentionTolerance(ref: FamilyReference): number {
  const observed = ref.fp16_vs_fp32_max_err ?? ref.quantized_vs_fp32_max_err;
  return observed === undefined ? 1e-4 : observed * 1.5 + 1e-4;
}

/** What the model itself outputs: the fp32 logits, the embedding, or (low precision) onnxruntime's own logits. */
export function expectedOutput(ref: FamilyReference): number[] {
  return ref.onnx_logits ?? ref.embedding ?? ref.logits!;
}

