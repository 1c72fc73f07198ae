/**
 * The inference child process (dist/worker.js). It owns onnxruntime, the cached sessions and the store of
 * inspections (their tensors stay here), handles one request at a time, and answers every request with a
 * result or a one-line error. A query superseded by a newer one in its lane while it waited is dropped.
 */
import { AnatomyEngine } from './anatomy/run';
import { Engine } from './engine';
import { headStats } from './survey/headStats';
import { SurveyCnn } from './survey/cnnErf';
import { explain } from './explain/explain';
import { InspectorError, isInspectorError } from '../shared/errors';
import { stageView } from '../shared/windows';
import { laneOf } from '../shared/queries';
import { answerQuery } from './tensorQueries';
import { TensorStore, storedBytes, DEFAULT_STORE_MB, type StoredInspection } from './tensorStore';
import type { OpenedInspection, WorkerRequest, WorkerResponse, WorkerResults } from './workerProtocol';

const engine = new Engine();
const anatomy = new AnatomyEngine();
const surveyCnn = new SurveyCnn();
const budgetMB = Number(process.env.VIT_INSPECTOR_STORE_MB) > 0 ? Number(process.env.VIT_INSPECTOR_STORE_MB) : DEFAULT_STORE_MB;
const store = new TensorStore(budgetMB * 2 ** 20, (e) => {
  if (!e.view) engine.recycle(e.inspection);
});
/** The latest query id received per lane: an older one still waiting is stale. */
const latest = new Map<string, number>();
let queue: Promise<void> = Promise.resolve();
/** Requests that can be stopped between onnxruntime runs, by id. */
const cancellable = new Map<number, AbortController>();

/**
 * Sends a message; resolves once it is written to the channel. Answers are awaited before the next request
 * runs: a large answer (a ViT-L's rows are 0.9 MB) is written over several turns of the event loop, and a
 * long synchronous computation for the next request (a rollout) would otherwise hold it back.
 */
function send(message: WorkerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    try {
      process.send(message, undefined, {}, () => resolve());
    } catch {
      resolve(); // the parent is gone: 'disconnect' ends this process
    }
  });
}

/** What the owner of a stored inspection gets back: everything but the tensors (windowed models' stages included). */
function opened(entry: StoredInspection): OpenedInspection {
  const { attention: _a, scores: _s, stages: _st, ...rest } = entry.inspection;
  return { ...rest, id: entry.id, storedBytes: storedBytes(entry) };
}

async function result(req: WorkerRequest, progress: (message: string, fraction?: number) => void): Promise<WorkerResults[WorkerRequest['kind']]> {
  switch (req.kind) {
    case 'inspect':
      return engine.inspect(req.request, progress);
    case 'open': {
      const { inspection, input } = await engine.inspectWithInput({ ...req.request, scores: false }, progress);
      // The request's image may be encoded bytes: the input tensor is what a scores run needs.
      return opened(store.put({ id: req.id, inspection, request: { ...req.request, image: '' }, input }));
    }
    case 'openStage': {
      const base = store.get(req.inspection);
      const stages = base.inspection.summary.stages;
      if (!stages || req.stage <= 0 || req.stage >= stages.length) throw new InspectorError('bad-input', `Stage ${req.stage + 1} does not exist in this inspection.`);
      return opened(store.put({ id: req.id, inspection: stageView(base.inspection, req.stage), request: base.request, input: base.input, stage: req.stage, view: true }));
    }
    case 'query':
      return answerQuery(store, req.query, (e) => engine.scoresFor(e.request, e.input, e.stage ?? 0));
    case 'release':
      for (const id of req.inspections) store.release(id);
      return null;
    case 'exportReport': {
      const { writeReport } = await import('./report');
      return writeReport(req.dir, store.get(req.inspection).inspection, req.options);
    }
    case 'summary':
      return engine.summary(req.modelPath, req.threads ?? 0, req.maxModelMB, progress);
    case 'receptiveFields':
      return engine.receptiveFields(req.modelPath, req.maxModelMB);
    case 'anatomy':
      return anatomy.anatomy(req.request);
    case 'headStats': {
      const inspection = await engine.inspect({ ...req.request, scores: false }, progress);
      const stats = headStats(inspection);
      engine.recycle(inspection);
      if (!req.cnn) return stats;
      const controller = new AbortController();
      cancellable.set(req.id, controller);
      try {
        const r = req.request;
        return { ...stats, cnnErf: await surveyCnn.sides(req.cnn, r.image, r.threads ?? 0, r.maxModelMB, controller.signal) };
      } finally {
        cancellable.delete(req.id);
      }
    }
    case 'explain': {
      const controller = new AbortController();
      cancellable.set(req.id, controller);
      try {
        return await explain(req.request, progress, controller.signal);
      } finally {
        cancellable.delete(req.id);
      }
    }
    case 'cancel':
      return null; // handled on arrival (process.on('message')), never queued
  }
}

async function handle(req: WorkerRequest): Promise<void> {
  if (req.kind === 'query' && latest.get(laneOf(req.query)) !== req.id) return send({ id: req.id, kind: 'dropped' });
  const progress = (message: string, fraction?: number) => void send({ id: req.id, kind: 'progress', message, fraction });
  try {
    const value = await result(req, progress);
    const sent = send({ id: req.id, kind: 'done', result: value });
    if (req.kind === 'inspect') engine.recycle(value as WorkerResults['inspect']); // sent: serialized into the IPC buffer already
    await sent;
  } catch (e) {
    if (isInspectorError(e)) await send({ id: req.id, kind: 'error', code: e.code, message: e.message });
    else {
      const message = e instanceof Error ? e.message : String(e);
      process.stderr.write(`${e instanceof Error ? e.stack : message}\n`);
      await send({ id: req.id, kind: 'error', code: 'internal', message: `Inference failed: ${firstLine(message)}` });
    }
  } finally {
    if (req.kind === 'query' && latest.get(laneOf(req.query)) === req.id) latest.delete(laneOf(req.query));
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 300);
}

process.on('message', (req: WorkerRequest) => {
  if (req.kind === 'cancel') {
    cancellable.get(req.target)?.abort();
    return;
  }
  if (req.kind === 'query') latest.set(laneOf(req.query), req.id);
  queue = queue.then(() => handle(req));
});
// The parent is gone (host reloaded or crashed): do not linger.
process.on('disconnect', () => process.exit(0));
