/**
 * The Anatomy view's host side: a needAnatomy message from the webview is answered by the real inference
 * process ('anatomy' worker request), and its softmax row is the Heads view's row of the same inspection.
 */
import assert from 'node:assert/strict';
import { rowValues } from '../../src/shared/queries';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InferenceClient } from '../../src/node/inferenceClient';
import { PanelController, type PanelDeps } from '../../src/host/panelController';
import { readSettings, type ConfigLike } from '../../src/host/settings';
import type { HostToWebview } from '../../src/shared/protocol';
import { REPO, maxAbsDiff } from '../helpers/fixtures';
import { FakePort } from '../helpers/fakePort';

const WORKER = join(REPO, 'dist', 'worker.js');
const VARIANT = join(REPO, 'test', 'fixtures', 'variants', 'torchvision_mha'); // 3-D [B*H, N, N] attention
let client: InferenceClient;
before(() => {
  assert.ok(existsSync(WORKER), 'run npm run build first');
  client = new InferenceClient({ workerPath: WORKER });
});
after(() => client.dispose());

function harness() {
  const port = new FakePort();
  const cfg: ConfigLike = { get: <T>(k: string) => (k === 'model' ? VARIANT : k === 'cnnModel' ? join(REPO, 'nonexistent.onnx') : undefined) as T, inspect: () => ({}) };
  const log: string[] = [];
  const deps: PanelDeps = {
    client: () => client,
    settings: () => readSettings(cfg, true),
    models: () => ({ vit: VARIANT, cnn: '' }),
    log: (l) => log.push(l),
    withProgress: (_t, _q, task) => task(new AbortController().signal, () => {}),
    showError: () => {},
    runCommand: () => {},
  };
  const panel = new PanelController(join(VARIANT, 'image.png'), port, deps);
  return { panel, posted: port.posted, next: <T extends HostToWebview['type']>(type: T) => port.next(type), log, send: (m: unknown) => port.send(m) };
}

test('needAnatomy → anatomy from the inference process; its softmax row is the Heads view\'s row', async () => {
  const h = harness();
  const got = h.next('inspection');
  h.send({ type: 'ready' });
  const payload = (await got).payload;
  const { heads, tokens } = payload.summary;
  const [layer, head, query] = [1, heads - 1, 5];
  const answer = h.next('anatomy');
  h.send({ type: 'needAnatomy', id: payload.id, layer, head, query });
  const a = (await answer).anatomy;
  assert.deepEqual([a.layer, a.head, a.query, a.tokens], [layer, head, query, tokens]);
  // the Heads view's row: the rows the inference process answers for the query token
  const rowsAnswer = h.next('answer');
  h.send({ type: 'query', requestId: 1, query: { kind: 'rows', inspection: payload.id, token: query } });
  const rows = rowValues((await rowsAnswer).answer as { rows: Uint16Array });
  const base = (layer * heads + head) * tokens;
  const row = rows.subarray(base, base + tokens);
  // The rows travel as float16: within half a unit in the last place of 11 significant bits.
  const halfUlp = Math.max(...a.softmax) * 2 ** -11;
  assert.ok(maxAbsDiff(a.softmax, row) <= 1e-5 + halfUlp, `softmax differs from the Heads view's row by ${maxAbsDiff(a.softmax, row)}`);
  // and from the stored float32 attention (one head's map, row `query`) by float32 rounding only
  const headAnswer = h.next('answer');
  h.send({ type: 'query', requestId: 2, query: { kind: 'head', inspection: payload.id, layer, head } });
  const map = ((await headAnswer).answer as { map: Float32Array }).map;
  assert.ok(maxAbsDiff(a.softmax, map.subarray(query * tokens, (query + 1) * tokens)) < 1e-5);
  assert.ok(a.checks.weightedSum < 1e-5);
  assert.ok(a.q instanceof Float32Array && a.q.length === a.dHead);

  // out of range for the model: a one-line anatomyError; out of the token range: ignored and logged
  const error = h.next('anatomyError');
  h.send({ type: 'needAnatomy', id: payload.id, layer: 0, head: heads + 3, query: 0 });
  assert.match((await error).message, /^Head \d+ does not exist: layer 0 has \d+ heads/);
  const before = h.posted.length;
  h.send({ type: 'needAnatomy', id: payload.id, layer: 0, head: 0, query: tokens });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.posted.length, before);
  assert.ok(h.log.some((l) => /ignored an invalid message/.test(l)));
  h.panel.dispose();
});
