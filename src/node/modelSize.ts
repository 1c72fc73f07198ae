/**
 * How large a model may be. The weights are not read into memory (onnx/weightsByReference.ts maps them from
 * the file) and onnxruntime needs about the model's size once more for its prepacked weights, so a fixed
 * limit protects nothing: by default (0, "automatic") a model is refused only when it clearly cannot fit in
 * this machine's memory. A positive setting (vitInspector.maxModelSizeMB, --max-model-mb) overrides that.
 */
import { totalmem } from 'node:os';
import { InspectorError } from '../shared/errors';

/** Share of the machine's memory a model may take: the rest holds onnxruntime's copies, activations, VS Code. */
export const MEMORY_SHARE = 0.6;

export interface SizeLimit {
  mb: number;
  automatic: boolean;
}

/** The limit for `override` MB (0 or undefined: automatic, from the machine's memory). */
export function sizeLimit(override?: number, memoryBytes = totalmem()): SizeLimit {
  if (override !== undefined && override > 0) return { mb: override, automatic: false };
  return { mb: Math.floor((memoryBytes * MEMORY_SHARE) / 1024 / 1024), automatic: true };
}

/** Throws model-too-large when `bytes` is over the limit. */
export function checkModelSize(bytes: number, limit: SizeLimit, name: string, what = ''): void {
  if (bytes <= limit.mb * 1024 * 1024) return;
  const mb = Math.round(bytes / 1024 / 1024);
  if (!limit.automatic) throw new InspectorError('model-too-large', `${name} is ${mb} MB${what}, over the ${limit.mb} MB limit. Use a smaller model or raise the limit.`);
  const total = Math.round(limit.mb / MEMORY_SHARE / 1024);
  throw new InspectorError('model-too-large', `${name} is ${mb} MB${what}, more than this machine's ${total} GB of memory can run (up to ${limit.mb} MB). Use a smaller model, or set a size limit (vitInspector.maxModelSizeMB, --max-model-mb) to try anyway.`);
}
