/**
 * One inspection panel's logic, free of the `vscode` module so that it runs under plain Node in tests:
 * it runs the inference through the client (the inference process keeps the tensors), turns the result into
 * the webview's payload, validates every message from the webview (parseWebviewMessage), passes its queries
 * on (one in flight and one waiting per lane: a newer query replaces the waiting one, which is dropped) and
 * answers masked runs. The host holds no tensor. src/host/panel.ts wires it to a real vscode.WebviewPanel.
 */
import { basename } from 'node:path';
import { InspectorError, isInspectorError, type ErrorCode } from '../shared/errors';
import type { ReceptiveFieldReport } from '../shared/types';
import type { ExportOptions, InspectRequest, OpenedInspection } from '../node/workerProtocol';
import { laneOf, type AnswerOf, type TensorQuery } from '../shared/queries';
import type { AnatomyRequest } from '../node/anatomy/run';
import type { HeadAnatomy } from '../shared/anatomyTypes';
import { parseWebviewMessage, type HostToWebview, type InspectionPayload, type WebviewToHost } from '../shared/protocol';
import { panelSettings, type EffectiveSettings } from './settings';
import { ExplainRunner } from './explainHost';
import type { ExplainRequest, Explanation } from '../shared/explainTypes';

export interface Disposable {
  dispose(): void;
}

/** The part of vscode.Webview a panel uses. */
export interface WebviewPort {
  postMessage(message: HostToWebview): PromiseLike<boolean>;
  onDidReceiveMessage(listener: (message: unknown) => void): Disposable;
}

/** The part of InferenceClient a panel uses. */
export interface ClientLike {
  open(req: InspectRequest, opts?: { signal?: AbortSignal; onProgress?: (message: string) => void }): Promise<OpenedInspection>;
  query<Q extends TensorQuery>(query: Q): Promise<AnswerOf<Q['kind']>>;
  release(inspections: number[]): Promise<void>;
  /** Windowed models: one stage of a stored inspection as an inspection of its own (optional: test doubles without it show stage 1 only). */
  openStage?(inspection: number, stage: number): Promise<OpenedInspection>;
  exportReport(inspection: number, dir: string, options?: ExportOptions): Promise<string[]>;
  receptiveFields(modelPath: string, opts?: { signal?: AbortSignal; maxModelMB?: number }): Promise<ReceptiveFieldReport>;
  /** The Anatomy view's data (optional: test doubles without it answer anatomyError). */
  anatomy?(req: AnatomyRequest, opts?: { signal?: AbortSignal }): Promise<HeadAnatomy>;
  explain?(req: ExplainRequest, opts?: { signal?: AbortSignal; onProgress?: (message: string, fraction?: number) => void }): Promise<Explanation>;
}

export type ErrorAction = 'selectModel' | 'selectCnn' | 'retry';
export type PanelCommand = Extract<WebviewToHost, { type: 'command' }>['command'];

export interface PanelDeps {
  client(): ClientLike;
  settings(): EffectiveSettings;
  /** Resolved model paths (settings, or the embedded defaults). */
  models(): { vit: string; cnn: string };
  log(line: string): void;
  /**
   * Runs long work with a cancellable progress indicator (a notification in VS Code). `quiet` work
   * (a masked re-run of a loaded model) uses a less intrusive indicator.
   */
  withProgress<T>(title: string, quiet: boolean, task: (signal: AbortSignal, report: (message: string) => void) => Promise<T>): Promise<T>;
  /** Shows a one-line error with a useful action (showErrorMessage in VS Code). */
  showError(message: string, action: ErrorAction | undefined, panel: PanelController): void;
  /** A command button in the webview (select model, export, ...). */
  runCommand(command: PanelCommand, panel: PanelController): void;
}

const MODEL_ERRORS: ErrorCode[] = ['not-onnx', 'truncated-model', 'not-a-vit', 'fused-attention', 'unsupported-model',
  'external-data', 'model-too-large', 'bad-config', 'inference-failed'];

/** The action offered next to an error: choose another model for model errors, try again otherwise. */
export function actionFor(code: ErrorCode | undefined, model: 'vit' | 'cnn' = 'vit'): ErrorAction | undefined {
  if (code === undefined) return 'retry';
  if (MODEL_ERRORS.includes(code)) return model === 'vit' ? 'selectModel' : 'selectCnn';
  if (code === 'file-not-found' || code === 'unreadable') return model === 'vit' ? 'selectModel' : 'retry';
  if (['bad-image', 'image-too-large', 'unsupported-image', 'empty-file'].includes(code)) return undefined;
  return 'retry'; // worker-crashed, cancelled, bad-input
}

/**
 * A copy of `a` in an ArrayBuffer of its own. VS Code's postMessage sends a typed array's whole ArrayBuffer,
 * and an array of a result from the inference process can be a view into that message's one buffer (Node's
 * structured-clone deserializer makes views where the bytes are aligned): posting one array alone would
 * then carry the rest of the message too.
 */
export function ownBuffer<T extends Float32Array | Uint16Array | Uint8Array>(a: T): T {
  return (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice()) as T;
}

/** The opened inspection with each array in a buffer of its own (see ownBuffer); the message buffer can then be freed. */
export function withOwnBuffers(i: OpenedInspection): OpenedInspection {
  return {
    ...i,
    logits: ownBuffer(i.logits),
    preview: { ...i.preview, rgba: ownBuffer(i.preview.rgba) },
    modelImage: { ...i.modelImage, rgb: ownBuffer(i.modelImage.rgb) },
  };
}

/** Each typed array of a query's answer in a buffer of its own (see ownBuffer). */
function answerWithOwnBuffers<A extends object>(a: A): A {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) out[k] = v instanceof Float32Array || v instanceof Uint16Array ? ownBuffer(v) : v;
  return out as A;
}

/** RGB (model input) to RGBA for canvases. */
export function rgbToRgba(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    out[i * 4] = rgb[j];
    out[i * 4 + 1] = rgb[j + 1];
    out[i * 4 + 2] = rgb[j + 2];
    out[i * 4 + 3] = 255;
  }
  return out;
}

export function toPayload(imagePath: string, inspection: OpenedInspection, cnn: ReceptiveFieldReport | null, cnnError: string | null,
  settings: EffectiveSettings, stage = 0): InspectionPayload {
  const img = inspection.modelImage;
  return {
    id: inspection.id,
    imageName: basename(imagePath),
    imagePath,
    image: { width: img.width, height: img.height, rgba: rgbToRgba(img.rgb, img.width, img.height) },
    preview: inspection.preview,
    summary: inspection.summary,
    ...(inspection.summary.stages ? { stage } : {}),
    predictions: inspection.predictions,
    cnn,
    cnnError,
    settings: panelSettings(settings),
  };
}

function oneLine(e: unknown): string {
  if (isInspectorError(e)) return e.message;
  const m = e instanceof Error ? e.message : String(e);
  return `Unexpected error: ${m.split('\n')[0]}. See the "ViT Inspector" output for details.`;
}

export class PanelController implements Disposable {
  private ready = false;
  private inspection: OpenedInspection | undefined;
  /** The stored masked run on show (its id), released when replaced. */
  private masked: number | undefined;
  /** Per lane: whether a query is in flight, and the latest one waiting behind it. */
  private readonly lanes = new Map<string, { busy: boolean; next?: { requestId: number; query: TensorQuery } }>();
  /** Inspections whose queries failed (evicted, process restarted): the error is shown once. */
  private readonly failedQueries = new Set<number>();
  /** The model path the current inspection was made with (masked runs reuse it). */
  private modelPath = '';
  private payload: InspectionPayload | undefined;
  private lastError: HostToWebview | undefined;
  private run: AbortController | undefined;
  private maskRun: AbortController | undefined;
  private anatomyRun: AbortController | undefined;
  private generation = 0;
  /** Windowed models: the stage on show, and the stored views of the other stages (opened on first use). */
  private stage = 0;
  private readonly stageViews = new Map<number, OpenedInspection>();
  private running: Promise<void> | undefined;
  private readonly subscription: Disposable;
  private disposed = false;
  private readonly explainer: ExplainRunner;

  constructor(readonly imagePath: string, private readonly port: WebviewPort, private readonly deps: PanelDeps) {
    this.subscription = port.onDidReceiveMessage((m) => this.onMessage(m));
    this.explainer = new ExplainRunner({
      explain: (req, opts) => {
        const client = this.deps.client();
        if (!client.explain) return Promise.reject(new InspectorError('inference-failed', 'This inference client cannot explain.'));
        return client.explain(req, opts);
      },
      withProgress: (title, quiet, task) => this.deps.withProgress(title, quiet, task),
      post: (m) => this.post(m),
      log: (l) => this.deps.log(l),
    });
  }

  get current(): OpenedInspection | undefined {
    return this.inspection;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Number of tokens of the current inspection (0 before the first one): the bound for token indices. */
  get tokens(): number {
    return this.payload?.summary.tokens ?? this.inspection?.summary.tokens ?? 0;
  }

  /** Runs (or re-runs) the inspection; resolves when the payload (or the error) has been posted. */
  inspect(): Promise<void> {
    this.run?.abort();
    this.maskRun?.abort();
    const ac = new AbortController();
    this.run = ac;
    const generation = ++this.generation;
    const name = basename(this.imagePath);
    const done = this.deps.withProgress(`ViT Inspector: inspecting ${name}`, false, async (signal, report) => {
      signal.addEventListener('abort', () => ac.abort(), { once: true });
      const settings = this.deps.settings();
      const models = this.deps.models();
      const progress = (message: string) => {
        report(message);
        if (generation === this.generation) void this.post({ type: 'progress', message });
      };
      progress('Loading model…');
      const t0 = Date.now();
      const inspection = await this.deps.client().open(
        { modelPath: models.vit, image: this.imagePath, topK: settings.topK, threads: settings.threads, maxModelMB: settings.maxModelSizeMB },
        { signal: ac.signal, onProgress: progress });
      const parts = inspection.timings ? ` (in the inference process: load ${Math.round(inspection.timings.load)}, image ${Math.round(inspection.timings.preprocess)}, run ${Math.round(inspection.timings.run)}, total ${Math.round(inspection.timings.total)} ms)` : '';
      this.deps.log(`inspected ${name} with ${inspection.summary.name} in ${Date.now() - t0} ms${parts}`);
      let cnn: ReceptiveFieldReport | null = null;
      let cnnError: string | null = null;
      if (models.cnn) {
        try {
          progress('Reading the CNN…');
          cnn = await this.deps.client().receptiveFields(models.cnn, { signal: ac.signal, maxModelMB: settings.maxModelSizeMB });
        } catch (e) {
          if (ac.signal.aborted) throw e;
          cnnError = oneLine(e);
          this.deps.log(`CNN ${models.cnn}: ${cnnError}`);
        }
      }
      return { inspection: withOwnBuffers(inspection), cnn, cnnError, settings, modelPath: models.vit };
    }).then(({ inspection, cnn, cnnError, settings, modelPath }) => {
      if (generation !== this.generation || this.disposed) return void this.deps.client().release([inspection.id]);
      this.releaseStored();
      this.inspection = inspection;
      this.modelPath = modelPath;
      this.stage = 0;
      this.payload = toPayload(this.imagePath, inspection, cnn, cnnError, settings);
      this.lastError = undefined;
      if (this.ready) void this.post({ type: 'inspection', payload: this.payload });
    }, (e) => {
      if (generation !== this.generation || this.disposed) return;
      this.fail(e, 'vit');
    }).finally(() => {
      if (generation === this.generation) {
        this.running = undefined;
        if (this.run === ac) this.run = undefined;
      }
    });
    this.running = done;
    return done;
  }

  /** Re-runs the current model with keys masked; resolves when the maskResult (or an error) is posted. */
  async runMasked(maskedTokens: number[]): Promise<void> {
    const base = this.inspection;
    if (!base) return this.deps.log('runMasked before any inspection: ignored');
    this.maskRun?.abort();
    if (maskedTokens.length === 0) {
      this.releaseMasked();
      await this.post({ type: 'maskResult', maskedTokens: [], predictions: base.predictions, inspection: base.id });
      return;
    }
    const ac = new AbortController();
    this.maskRun = ac;
    const generation = this.generation;
    const settings = this.deps.settings();
    try {
      const result = await this.deps.withProgress(`ViT Inspector: masking ${maskedTokens.length} token(s)`, true, (signal) => {
        signal.addEventListener('abort', () => ac.abort(), { once: true });
        return this.deps.client().open(
          { modelPath: this.modelPath, image: this.imagePath, maskedTokens, topK: settings.topK, threads: settings.threads, maxModelMB: settings.maxModelSizeMB },
          { signal: ac.signal });
      });
      if (generation !== this.generation || this.maskRun !== ac || this.disposed) return void this.deps.client().release([result.id]);
      this.releaseMasked();
      this.masked = result.id;
      await this.post({ type: 'maskResult', maskedTokens: result.maskedTokens, predictions: result.predictions, inspection: result.id });
    } catch (e) {
      if (this.maskRun !== ac || this.disposed) return;
      if (isInspectorError(e) && e.code === 'cancelled') return;
      this.fail(e, 'vit');
    } finally {
      if (this.maskRun === ac) this.maskRun = undefined;
    }
  }

  /** The stored inspections this panel's webview may query. */
  private get inspections(): number[] {
    return [this.inspection?.id, this.masked, ...[...this.stageViews.values()].map((v) => v.id)].filter((i): i is number => i !== undefined);
  }

  /** Writes the current inspection's report files into dir, from the inference process (which holds the tensors). */
  exportReport(dir: string, options: ExportOptions): Promise<string[]> {
    if (!this.inspection) return Promise.reject(new InspectorError('bad-input', 'The inspection is still running: export when it has finished.'));
    return this.deps.client().exportReport(this.inspection.id, dir, options);
  }

  /** Passes a query on, unless one of its lane is in flight: then it waits, replacing (dropping) any query already waiting. */
  private query(requestId: number, query: TensorQuery): void {
    const key = laneOf(query);
    const lane = this.lanes.get(key) ?? { busy: false };
    this.lanes.set(key, lane);
    if (lane.busy) {
      lane.next = { requestId, query };
      return;
    }
    lane.busy = true;
    void this.deps.client().query(query).then(
      (answer) => this.post({ type: 'answer', requestId, inspection: query.inspection, answer: answerWithOwnBuffers(answer) }),
      (e) => {
        if (this.disposed || (isInspectorError(e) && (e.code === 'superseded' || e.code === 'cancelled'))) return;
        // Not this panel's inspection any more (re-run meanwhile): nothing to say. Said once per inspection.
        if (!this.inspections.includes(query.inspection) || this.failedQueries.has(query.inspection)) return;
        this.failedQueries.add(query.inspection);
        this.fail(e, 'vit');
      },
    ).finally(() => {
      lane.busy = false;
      const next = lane.next;
      lane.next = undefined;
      if (next && !this.disposed) this.query(next.requestId, next.query);
      else if (!next) this.lanes.delete(key);
    });
  }

  private releaseMasked(): void {
    if (this.masked !== undefined) void this.deps.client().release([this.masked]);
    this.masked = undefined;
  }

  /** Drops this panel's stored inspections from the inference process. */
  private releaseStored(): void {
    const ids = this.inspections;
    this.inspection = undefined;
    this.masked = undefined;
    this.stageViews.clear();
    if (ids.length) void this.deps.client().release(ids);
  }

  /** Every message from the webview lands here and is validated first. */
  onMessage(raw: unknown): void {
    const s = this.payload?.summary ?? this.inspection?.summary; // a windowed model's stage on show
    const m = parseWebviewMessage(raw, { tokens: this.tokens, layers: s?.layers ?? 0, heads: s?.heads ?? 0, inspections: this.inspections });
    if (!m) {
      this.deps.log(`ignored an invalid message from the webview of ${basename(this.imagePath)}: ${describe(raw)}`);
      return;
    }
    switch (m.type) {
      case 'ready':
        // Also after the webview was reloaded (hidden and shown again): send what it had.
        this.ready = true;
        this.deps.log(`${basename(this.imagePath)}: webview ready${this.payload ? '' : this.running ? ' (inspection running)' : ''}`);
        if (this.payload) void this.post({ type: 'inspection', payload: this.payload });
        else if (this.lastError) void this.post(this.lastError);
        else if (!this.running) void this.inspect();
        return;
      case 'runMasked':
        void this.runMasked(m.maskedTokens);
        return;
      case 'selectStage':
        void this.selectStage(m.stage);
        return;
      case 'query':
        this.query(m.requestId, m.query);
        return;
      case 'command':
        if (m.command === 'retry') void this.inspect();
        else this.deps.runCommand(m.command, this);
        return;
      case 'needAnatomy':
        void this.answerAnatomy(m);
        return;
      case 'painted':
        // Once per inspection, not per repaint.
        if (m.what === 'first') this.deps.log(`${basename(this.imagePath)}: first heatmap ${Math.round(m.ms)} ms after the inspection arrived`);
        return;
      case 'explain': {
        const settings = this.deps.settings();
        void this.explainer.run(this.imagePath, this.deps.models(), m.target, { threads: settings.threads, maxModelMB: settings.maxModelSizeMB });
        return;
      }
    }
  }

  /** Takes one head apart in the inference process (src/node/anatomy) for the inspection on show; the latest request wins. */
  private async answerAnatomy(m: Extract<WebviewToHost, { type: 'needAnatomy' }>): Promise<void> {
    if (this.payload?.id !== m.id || !this.inspection) return;
    this.anatomyRun?.abort();
    const ac = new AbortController();
    this.anatomyRun = ac;
    const { id, layer, head, query } = m;
    try {
      const client = this.deps.client();
      if (!client.anatomy) throw new InspectorError('inference-failed', 'This inference client cannot take heads apart.');
      const settings = this.deps.settings();
      const anatomy = await client.anatomy({ modelPath: this.modelPath, image: this.imagePath, layer, head, query, threads: settings.threads, maxModelMB: settings.maxModelSizeMB }, { signal: ac.signal });
      if (this.anatomyRun === ac && !this.disposed) await this.post({ type: 'anatomy', id, layer, head, query, anatomy });
    } catch (e) {
      if (this.anatomyRun !== ac || this.disposed || (isInspectorError(e) && e.code === 'cancelled')) return;
      this.deps.log(`${basename(this.imagePath)}: anatomy of layer ${layer} head ${head} query ${query}: ${oneLine(e)}`);
      await this.post({ type: 'anatomyError', id, layer, head, query, message: oneLine(e) });
    } finally {
      if (this.anatomyRun === ac) this.anatomyRun = undefined;
    }
  }

  /** Windowed models: shows another stage, a stored view of the same inspection in the inference process (no new run). */
  private async selectStage(stage: number): Promise<void> {
    const base = this.inspection;
    const stages = base?.summary.stages;
    if (!base || !this.payload || !stages || stage >= stages.length) {
      this.deps.log(`ignored selectStage ${stage}: ${stages ? `the model has ${stages.length} stages` : 'not a windowed model'}`);
      return;
    }
    let view = stage === 0 ? base : this.stageViews.get(stage);
    if (!view) {
      const client = this.deps.client();
      if (!client.openStage) return this.deps.log('this inference client cannot open stages');
      try {
        const opened = withOwnBuffers(await client.openStage(base.id, stage));
        if (this.inspection !== base || this.disposed) return void client.release([opened.id]);
        this.stageViews.set(stage, opened);
        view = opened;
      } catch (e) {
        if (!this.disposed) this.fail(e, 'vit');
        return;
      }
    }
    this.stage = stage;
    const { cnn, cnnError } = this.payload;
    this.payload = { ...toPayload(this.imagePath, view, cnn, cnnError, this.deps.settings(), stage), settings: this.payload.settings };
    if (this.ready) void this.post({ type: 'inspection', payload: this.payload });
  }

  postSettings(settings: EffectiveSettings): void {
    if (this.payload) this.payload.settings = panelSettings(settings);
    if (this.ready) void this.post({ type: 'settings', settings: panelSettings(settings) });
  }

  private fail(e: unknown, model: 'vit' | 'cnn'): void {
    const code = isInspectorError(e) ? (e as InspectorError).code : undefined;
    if (!isInspectorError(e)) this.deps.log(`error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    const message = oneLine(e);
    const action = actionFor(code, model);
    this.deps.log(`${basename(this.imagePath)}: ${message}`);
    this.lastError = { type: 'error', message, ...(action ? { action } : {}) };
    if (this.ready) void this.post(this.lastError);
    if (code !== 'cancelled') this.deps.showError(message, action, this);
  }

  private async post(message: HostToWebview): Promise<boolean> {
    if (this.disposed) return false;
    try {
      if (message.type !== 'inspection' && message.type !== 'explanation') return await this.port.postMessage(message);
      // The big messages: how long VS Code takes to carry them is part of what the user waits for.
      const t0 = Date.now();
      const ok = await this.port.postMessage(message);
      this.deps.log(`${basename(this.imagePath)}: posted ${message.type} (${(bufferBytes(message) / 2 ** 20).toFixed(2)} MB of arrays) in ${Date.now() - t0} ms`);
      return ok;
    } catch (e) {
      this.deps.log(`could not post ${message.type} to the webview: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  dispose(): void {
    this.disposed = true;
    this.explainer.dispose();
    this.run?.abort();
    this.maskRun?.abort();
    this.anatomyRun?.abort();
    this.subscription.dispose();
    this.releaseStored();
  }
}

/** Bytes VS Code carries for a message's typed arrays: each distinct ArrayBuffer under them, whole. */
export function bufferBytes(message: unknown): number {
  const seen = new Set<ArrayBufferLike>();
  const walk = (v: unknown): void => {
    if (ArrayBuffer.isView(v)) seen.add(v.buffer);
    else if (v !== null && typeof v === 'object') for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
  };
  walk(message);
  let n = 0;
  for (const b of seen) n += b.byteLength;
  return n;
}

function describe(raw: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(raw) ?? String(raw);
  } catch {
    s = Object.prototype.toString.call(raw);
  }
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
