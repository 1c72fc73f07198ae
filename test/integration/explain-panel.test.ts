/**
 * The panel's `explain` message on the host side (src/host/panelController.ts → explainHost.ts) with the real
 * inference child process: an explanation for the picked class arrives with typed arrays; cancelling from the
 * progress indicator answers with "Cancelled." and stops the child's passes; a bad message is ignored.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultModels } from '../../src/node/defaults';
import { InferenceClient } from '../../src/node/inferenceClient';
import { PanelController, type PanelDeps } from '../../src/host/panelController';
import type { HostToWebview } from '../../src/shared/protocol';
import { parseWebviewMessage } from '../../src/shared/protocol';
import { cifarImages } from '../helpers/cifar';
import { REPO } from '../helpers/fixtures';

const client = new InferenceClient({ workerPath: join(REPO, 'dist', 'worker.js') });
after(() => client.dispose());

function harness(withProgress: PanelDeps['withProgress']) {
  const posted: HostToWebview[] = [];
  let listener: ((m: unknown) => void) | undefined;
  let resolveNext: ((m: HostToWebview) => void) | undefined;
  const port = {
    postMessage: (m: HostToWebview) => {
      posted.push(m);
      if (m.type === 'explanation') resolveNext?.(m);
      return Promise.resolve(true);
    },
    onDidReceiveMessage: (l: (m: unknown) => void) => {
      listener = l;
      return { dispose: () => (listener = undefined) };
    },
  };
  const log: string[] = [];
  const deps: PanelDeps = {
    client: () => client,
    settings: () => ({ threads: 0, maxModelSizeMB: 2048 } as ReturnType<PanelDeps['settings']>),
    models: () => defaultModels(),
    log: (l) => log.push(l),
    withProgress,
    showError: () => {},
    runCommand: () => {},
  };
  const panel = new PanelController(cifarImages()[2].path, port, deps);
  const explanation = () => new Promise<Extract<HostToWebview, { type: 'explanation' }>>((r) => (resolveNext = r as (m: HostToWebview) => void));
  return { panel, send: (m: unknown) => listener?.(m), explanation, posted, log };
}

const BOUNDS = { tokens: 65, layers: 6, heads: 4, inspections: [] as number[] };

test('explain messages are validated', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'explain', target: null }, BOUNDS), { type: 'explain', target: null });
  assert.deepEqual(parseWebviewMessage({ type: 'explain', target: 3 }, BOUNDS), { type: 'explain', target: 3 });
  for (const target of [-1, 1.5, '3', undefined, 1e9]) assert.equal(parseWebviewMessage({ type: 'explain', target }, BOUNDS), null);
});

test('the panel explains the picked class, with progress', async () => {
  const reports: string[] = [];
  const h = harness((_t, _q, task) => task(new AbortController().signal, (m) => reports.push(m)));
  const done = h.explanation();
  h.send({ type: 'explain', target: 2 });
  const m = await done;
  assert.ok(m.result, m.error);
  assert.equal(m.result.vit.target, 2);
  assert.equal(m.result.cnn?.target, 2);
  assert.ok(m.result.vit.maps.classSpecific instanceof Float32Array);
  assert.equal(m.result.vit.labels[2], 'bird');
  assert.ok(reports.some((r) => /token sampling .*%/.test(r)) && reports.some((r) => /RISE/.test(r)), reports.slice(0, 3).join(' | '));
  h.panel.dispose();
});

test('cancel from the progress indicator: "Cancelled." and the child stops its passes', async () => {
  const h = harness((_t, _q, task) => {
    const ac = new AbortController();
    let n = 0;
    return task(ac.signal, () => {
      if (++n === 2) ac.abort();
    });
  });
  const done = h.explanation();
  h.send({ type: 'explain', target: null });
  const m = await done;
  assert.equal(m.result, null);
  assert.equal(m.error, 'Cancelled.');
  const t = Date.now();
  await client.receptiveFields(defaultModels().cnn);
  assert.ok(Date.now() - t < 2500, 'the child is free again');
  h.panel.dispose();
});
