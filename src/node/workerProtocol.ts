/** Messages between the inference client (host or CLI) and the inference child process (dist/worker.js). */
import type { ErrorCode } from '../shared/errors';
import type { Inspection, ReceptiveFieldReport } from '../shared/types';
import type { HeadAnatomy } from '../shared/anatomyTypes';
import type { AnatomyRequest } from './anatomy/run';
import type { HeadStats } from './survey/headStats';
import type { ExplainRequest, Explanation } from './explain/explain';

export interface InspectRequest {
  modelPath: string; // .onnx file or Hugging Face style folder
  image: string | Uint8Array; // path or encoded bytes
  maskedTokens?: number[]; // keys masked with -inf before every softmax
  topK?: number;
  threads?: number; // intra-op threads; 0 = onnxruntime's default
  maxModelMB?: number;
}

export type WorkerRequest =
  | { id: number; kind: 'inspect'; request: InspectRequest }
  | { id: number; kind: 'receptiveFields'; modelPath: string; maxModelMB?: number }
  | { id: number; kind: 'anatomy'; request: AnatomyRequest }
  | { id: number; kind: 'headStats'; request: InspectRequest } // survey: per-head values of one image
  | { id: number; kind: 'crash'; how: 'exit' | 'abort' } // test hook: makes the child die like a native crash
  | { id: number; kind: 'explain'; request: ExplainRequest }
  /** Stops request `target` at its next onnxruntime run (handled at once, not queued behind it). */
  | { id: number; kind: 'cancel'; target: number };

export type WorkerResponse =
  | { id: number; kind: 'progress'; message: string; fraction?: number }
  | { id: number; kind: 'explain'; result: Explanation }
  | { id: number; kind: 'inspect'; result: Inspection }
  | { id: number; kind: 'receptiveFields'; result: ReceptiveFieldReport }
  | { id: number; kind: 'anatomy'; result: HeadAnatomy }
  | { id: number; kind: 'headStats'; result: HeadStats }
  | { id: number; kind: 'error'; code: ErrorCode | 'internal'; message: string };
