/**
 * Messages between the inference client (host or CLI) and the inference child process (dist/worker.js), typed
 * per kind: a request `{ id, kind, ...params }` is answered by `{ id, kind: 'done', result: WorkerResults[kind] }`,
 * or `{ id, kind: 'error' }`, or (a query made stale by a newer one in its lane) `{ id, kind: 'dropped' }`.
 * A new request kind = one line in WorkerParams, one in WorkerResults and one case in worker.ts.
 */
import type { ErrorCode } from '../shared/errors';
import type { QueryAnswer, TensorQuery } from '../shared/queries';
import type { Inspection, ModelSummary, ReceptiveFieldReport } from '../shared/types';
import type { HeadAnatomy } from '../shared/anatomyTypes';
import type { AnatomyRequest } from './anatomy/run';
import type { HeadStats } from './survey/headStats';
import type { CnnErfRequest } from './survey/cnnErf';
import type { ExplainRequest, Explanation } from './explain/explain';

export interface InspectRequest {
  modelPath: string; // .onnx file or Hugging Face style folder
  image: string | Uint8Array; // path or encoded bytes
  maskedTokens?: number[]; // keys masked with -inf before every softmax
  topK?: number;
  threads?: number; // intra-op threads; 0 = onnxruntime's default
  maxModelMB?: number;
  /** Fetch the softmax inputs too (default true). 'open' never does: the scaling view asks for them. */
  scores?: boolean;
}

/** A stored inspection as its owner sees it: everything but the tensors, which stay in the inference process. */
export type OpenedInspection = Omit<Inspection, 'attention' | 'scores'> & {
  /** The store's key: send it with every query. */
  id: number;
  /** Bytes the inference process holds for it. */
  storedBytes: number;
};

export interface ExportOptions {
  colormap?: string;
  query?: number;
}

/** The parameters of each request kind. */
export interface WorkerParams {
  /** The whole inspection, tensors included (the CLI; nothing is stored). */
  inspect: { request: InspectRequest };
  /** Runs and stores the inspection under the request's id; answers without the tensors. */
  open: { request: InspectRequest };
  /** One query on a stored inspection. */
  query: { query: TensorQuery };
  /** Windowed models: stores stage `stage` of stored inspection `inspection` as an inspection of its own (its arrays shared). */
  openStage: { inspection: number; stage: number };
  /** Drops stored inspections (a panel closed or re-ran). */
  release: { inspections: number[] };
  /** Writes report.json, attention.npy and the PNGs of a stored inspection into `dir` (as `vit-inspector inspect` does). */
  exportReport: { inspection: number; dir: string; options: ExportOptions };
  /** A model's summary, read from the graph (no image). */
  summary: { modelPath: string; threads?: number; maxModelMB?: number };
  receptiveFields: { modelPath: string; maxModelMB?: number };
  /** One head taken apart (the Anatomy view and `vit-inspector anatomy`). */
  anatomy: { request: AnatomyRequest };
  /** Survey: per-head mean distance and entropy of one image, and with `cnn` the CNN's measured ERF sides per layer (only these numbers come back; stoppable with 'cancel'). */
  headStats: { request: InspectRequest; cnn?: CnnErfRequest };
  /** Class-specific maps, faithfulness and measured ERF (many passes; stoppable with 'cancel'). */
  explain: { request: ExplainRequest };
  /** Stops request `target` at its next onnxruntime run: handled at once, not queued, and never answered. */
  cancel: { target: number };
}

export interface WorkerResults {
  inspect: Inspection;
  open: OpenedInspection;
  openStage: OpenedInspection;
  query: QueryAnswer;
  release: null;
  exportReport: string[];
  summary: ModelSummary;
  receptiveFields: ReceptiveFieldReport;
  anatomy: HeadAnatomy;
  headStats: HeadStats;
  explain: Explanation;
  cancel: null;
}

export type WorkerKind = keyof WorkerParams;

export type WorkerRequest = { [K in WorkerKind]: { id: number; kind: K } & WorkerParams[K] }[WorkerKind];

export type WorkerResponse =
  | { id: number; kind: 'progress'; message: string; fraction?: number }
  | { id: number; kind: 'done'; result: WorkerResults[WorkerKind] }
  | { id: number; kind: 'dropped' }
  | { id: number; kind: 'error'; code: ErrorCode | 'internal'; message: string };
