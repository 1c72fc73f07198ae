/**
 * Every failure a user can cause (bad image, bad model, bad path) becomes an InspectorError: one line that
 * says what is wrong and what to do. Anything else is a bug and keeps its stack trace.
 */
export type ErrorCode =
  | 'not-onnx' | 'truncated-model' | 'not-a-vit' | 'fused-attention' | 'unsupported-model'
  | 'external-data' | 'model-too-large' | 'bad-config'
  | 'bad-image' | 'image-too-large' | 'unsupported-image' | 'empty-file'
  | 'file-not-found' | 'unreadable' | 'bad-input' | 'inference-failed' | 'worker-crashed' | 'cancelled'
  /** A stored inspection the inference process no longer holds (evicted, or the process restarted). */
  | 'inspection-gone'
  /** A query made stale by a newer one in its lane: dropped unanswered. */
  | 'superseded';

export class InspectorError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
    this.name = 'InspectorError';
  }
}

export function isInspectorError(e: unknown): e is InspectorError {
  return e instanceof InspectorError || (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'InspectorError');
}
