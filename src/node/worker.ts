/**
 * The inference child process (dist/worker.js). It owns onnxruntime and the cached sessions, handles one
 * request at a time, and answers every request with a result or a one-line error.
 */
import { AnatomyEngine } from './anatomy/run';
import { Engine } from './engine';
import { headStats } from './survey/headStats';
import { explain } from './explain/explain';
import { isInspectorError } from '../shared/errors';
import type { WorkerRequest, WorkerResponse } from './workerProtocol';

const engine = new Engine();
const anatomy = new AnatomyEngine();
let queue: Promise<void> = Promise.resolve();
/** Requests that can be stopped between onnxruntime runs, by id. */
const cancellable = new Map<number, AbortController>();

function send(message: WorkerResponse): void {
  process.send?.(message);
}

async function handle(req: WorkerRequest): Promise<void> {
  const progress = (message: string, fraction?: number) => send({ id: req.id, kind: 'progress', message, fraction });
  try {
    switch (req.kind) {
      case 'inspect': {
        const result = await engine.inspect(req.request, progress);
        send({ id: req.id, kind: 'inspect', result });
        engine.recycle(result); // sent: serialized into the IPC buffer already
        break;
      }
      case 'receptiveFields':
        send({ id: req.id, kind: 'receptiveFields', result: await engine.receptiveFields(req.modelPath, req.maxModelMB) });
        break;
      case 'anatomy':
        send({ id: req.id, kind: 'anatomy', result: await anatomy.anatomy(req.request) });
        break;
      case 'headStats': {
        const inspection = await engine.inspect(req.request, progress);
        const result = headStats(inspection);
        engine.recycle(inspection);
        send({ id: req.id, kind: 'headStats', result });
        break;
      }
      case 'explain': {
        const controller = new AbortController();
        cancellable.set(req.id, controller);
        try {
          send({ id: req.id, kind: 'explain', result: await explain(req.request, progress, controller.signal) });
        } finally {
          cancellable.delete(req.id);
        }
        break;
      }
      case 'cancel':
        break;
      case 'crash':
        if (req.how === 'abort') process.abort();
        process.exit(70);
    }
  } catch (e) {
    if (isInspectorError(e)) send({ id: req.id, kind: 'error', code: e.code, message: e.message });
    else {
      const message = e instanceof Error ? e.message : String(e);
      process.stderr.write(`${e instanceof Error ? e.stack : message}\n`);
      send({ id: req.id, kind: 'error', code: 'internal', message: `Inference failed: ${firstLine(message)}` });
    }
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
  queue = queue.then(() => handle(req));
});
// The parent is gone (host reloaded or crashed): do not linger.
process.on('disconnect', () => process.exit(0));
