/**
 * Supervises the inference child process. onnxruntime runs only in the child, because a native crash there
 * would otherwise take down the VS Code extension host (or the CLI) with it. A child that dies fails the
 * requests in flight with a one-line error and is started again on the next request.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { inferenceProcessEnv } from './allocatorEnv';
import { InspectorError, type ErrorCode } from '../shared/errors';
import type { AnswerOf, QueryKind, TensorQuery } from '../shared/queries';
import type { Inspection, ModelSummary, ReceptiveFieldReport } from '../shared/types';
import type { ExportOptions, InspectRequest, OpenedInspection, WorkerKind, WorkerParams, WorkerRequest, WorkerResponse, WorkerResults } from './workerProtocol';
import type { AnatomyRequest } from './anatomy/run';
import type { HeadAnatomy } from '../shared/anatomyTypes';
import type { HeadStats } from './survey/headStats';
import type { CnnErfRequest } from './survey/cnnErf';
import type { ExplainRequest, Explanation } from './explain/explain';

interface Pending {
  resolve: (value: never) => void;
  reject: (error: Error) => void;
  onProgress?: (message: string, fraction?: number) => void;
  what: string;
}

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (message: string, fraction?: number) => void;
}

/** How long a cancelled request may keep the child busy before the child is killed and restarted. */
const CANCEL_GRACE_MS = 3000;

export class InferenceClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private disposed = false;

  constructor(private readonly opts: { workerPath: string; log?: (line: string) => void; execArgv?: string[] }) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The whole inspection, tensors included (the CLI's path: nothing stays in the child). */
  inspect(request: InspectRequest, options: CallOptions = {}): Promise<Inspection> {
    return this.call('inspect', { request }, `inspecting ${describe(request.image)}`, options);
  }

  /** Runs an inspection that the child keeps (probabilities only); its tensors are then read with query(). */
  open(request: InspectRequest, options: CallOptions = {}): Promise<OpenedInspection> {
    return this.call('open', { request }, `inspecting ${describe(request.image)}`, options);
  }

  /** Windowed models: stage `stage` of a stored inspection, stored as an inspection of its own (no new run). */
  openStage(inspection: number, stage: number, options: CallOptions = {}): Promise<OpenedInspection> {
    return this.call('openStage', { inspection, stage }, `opening stage ${stage + 1}`, options);
  }

  /**
   * One query on a stored inspection. Rejects with code 'superseded' when a newer query of the same lane
   * (same inspection and kind) reached the child before this one was answered.
   */
  query<Q extends TensorQuery>(query: Q, options: CallOptions = {}): Promise<AnswerOf<Q['kind'] & QueryKind>> {
    return this.call('query', { query }, `answering a ${query.kind} query`, options) as Promise<AnswerOf<Q['kind'] & QueryKind>>;
  }

  /** Drops stored inspections; a dead child holds none, so nothing is started for it. */
  async release(inspections: number[]): Promise<void> {
    if (!inspections.length || !this.child || this.disposed) return;
    await this.call('release', { inspections }, 'releasing inspections', {}).catch(() => undefined);
  }

  /** Writes a stored inspection's report files into dir (streamed from the child: the tensor never comes here). */
  exportReport(inspection: number, dir: string, options: ExportOptions = {}, call: CallOptions = {}): Promise<string[]> {
    return this.call('exportReport', { inspection, dir, options }, 'exporting', call);
  }

  summary(modelPath: string, options: CallOptions & { threads?: number; maxModelMB?: number } = {}): Promise<ModelSummary> {
    return this.call('summary', { modelPath, threads: options.threads, maxModelMB: options.maxModelMB }, 'reading the model', options);
  }

  receptiveFields(modelPath: string, options: CallOptions & { maxModelMB?: number } = {}): Promise<ReceptiveFieldReport> {
    return this.call('receptiveFields', { modelPath, maxModelMB: options.maxModelMB }, 'reading the CNN', options);
  }

  /** One head taken apart (src/node/anatomy): layer, head and query of one image. */
  anatomy(request: AnatomyRequest, options: CallOptions = {}): Promise<HeadAnatomy> {
    return this.call('anatomy', { request }, `taking head ${request.head} of layer ${request.layer} apart`, options);
  }

  /** Per-head mean attention distance and entropy of one image, and with `cnn` the CNN's ERF sides (for surveys: only these numbers come back). */
  headStats(request: InspectRequest, options: CallOptions & { cnn?: CnnErfRequest } = {}): Promise<HeadStats> {
    return this.call('headStats', { request, cnn: options.cnn }, `surveying ${describe(request.image)}`, options);
  }

  /** Class-specific maps, faithfulness and ERF (many passes: progress reports a fraction, and cancelling stops the child's passes). */
  explain(request: ExplainRequest, options: CallOptions = {}): Promise<Explanation> {
    return this.call('explain', { request }, `explaining ${describe(request.image)}`, options);
  }

  dispose(): void {
    this.disposed = true;
    this.failAll('cancelled', 'ViT Inspector was closed.');
    this.child?.kill('SIGKILL');
    this.child = undefined;
  }

  private call<K extends WorkerKind>(kind: K, params: WorkerParams[K], what: string, options: CallOptions): Promise<WorkerResults[K]> {
    if (this.disposed) return Promise.reject(new InspectorError('cancelled', 'ViT Inspector was closed.'));
    if (options.signal?.aborted) return Promise.reject(cancelled());
    const id = this.nextId++;
    const child = this.ensureChild();
    return new Promise<WorkerResults[K]>((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        reject(cancelled());
        // The child stops a cancellable request (explain) at its next run; others finish and are dropped.
        if (child.connected) child.send({ id: this.nextId++, kind: 'cancel', target: id } satisfies WorkerRequest);
        // onnxruntime cannot interrupt a run: if the child stays busy, restart it rather than wait.
        const timer = setTimeout(() => {
          if (this.child === child && this.pending.size === 0) this.restart('cancelled request still running');
        }, CANCEL_GRACE_MS);
        timer.unref();
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const done = <V>(settle: (v: V) => void) => (v: V) => {
        options.signal?.removeEventListener('abort', onAbort);
        settle(v);
      };
      this.pending.set(id, { resolve: done(resolve as (v: never) => void), reject: done(reject), onProgress: options.onProgress, what });
      child.send({ id, kind, ...params });
    });
  }

  private ensureChild(): ChildProcess {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null && this.child.connected) return this.child;
    // 'advanced' serialization sends typed arrays as binary (structured clone), not JSON number arrays.
    const child = fork(this.opts.workerPath, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: this.opts.execArgv ?? [],
      env: inferenceProcessEnv(),
    });
    child.stderr?.on('data', (d: Buffer) => this.opts.log?.(`[worker] ${d.toString().trimEnd()}`));
    child.on('message', (m: WorkerResponse) => this.onMessage(m));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      this.opts.log?.(`inference process ${child.pid} ended (${how})`);
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new InspectorError('worker-crashed',
          `The inference process stopped (${how}) while ${p.what}. It restarts on the next request: try again, or choose another model.`));
      }
    });
    child.on('error', (e) => this.opts.log?.(`inference process error: ${e.message}`));
    this.child = child;
    this.opts.log?.(`inference process ${child.pid} started`);
    return child;
  }

  private restart(reason: string): void {
    this.opts.log?.(`restarting inference process: ${reason}`);
    this.child?.kill('SIGKILL');
    this.child = undefined;
  }

  private onMessage(m: WorkerResponse): void {
    const p = this.pending.get(m.id);
    if (!p) return; // cancelled: the result is dropped
    if (m.kind === 'progress') return p.onProgress?.(m.message, m.fraction);
    this.pending.delete(m.id);
    if (m.kind === 'dropped') p.reject(new InspectorError('superseded', 'A newer request replaced this one.'));
    else if (m.kind === 'error') {
      const code: ErrorCode = m.code === 'internal' ? 'inference-failed' : m.code;
      p.reject(new InspectorError(code, m.message));
    } else {
      p.resolve(m.result as never);
    }
  }

  private failAll(code: ErrorCode, message: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new InspectorError(code, message));
    }
  }
}

function cancelled(): InspectorError {
  return new InspectorError('cancelled', 'Cancelled.');
}

function describe(image: string | Uint8Array): string {
  return typeof image === 'string' ? image.split(/[\\/]/).pop() ?? image : 'the image';
}
