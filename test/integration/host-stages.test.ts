/**
 * A windowed model (Swin, from transformers) in the panel's host logic with the real inference process: the
 * panel is sent one stage at a time as a plain ViT over that stage's grid, switching stages needs no new run,
 * each stage's attention is the library's (test/fixtures/families/swin_hf), its scores give back its
 * probabilities, and masking is refused in one line.
 */
import assert from 'node:assert/strict';
import { float32ToHalf } from '../../src/shared/float16';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InferenceClient } from '../../src/node/inferenceClient';
import { decodeNpy } from '../../src/node/npy';
import { PanelController, type ClientLike, type PanelDeps } from '../../src/host/panelController';
import { readSettings, type ConfigLike } from '../../src/host/settings';
import { summaryMarkdown } from '../../src/host/summary';
import { parseWebviewMessage, type HostToWebview } from '../../src/shared/protocol';
import { REPO, maxAbsDiff } from '../helpers/fixtures';
import { FakePort } from '../helpers/fakePort';

const WORKER = join(REPO, 'dist', 'worker.js');
const SWIN = join(REPO, 'test', 'fixtures', 'families', 'swin_hf');
const stageRef = (s: number) => decodeNpy(readFileSync(join(SWIN, `attention-stage${s}.npy`)));

let client: InferenceClient;
before(() => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run npm run build first`);
  client = new InferenceClient({ workerPath: WORKER, log: () => {} });
});
after(() => client?.dispose());

describe('a Swin in the panel', () => {
  const port = new FakePort();
  const log: string[] = [];
  let requests = 0;
  const cfg: ConfigLike = {
    get: <T>(k: string) => (k === 'model' ? SWIN : undefined) as T,
    inspect: <T>(k: string) => ({ defaultValue: undefined, ...(k === 'model' ? { globalValue: SWIN } : {}) }) as { globalValue?: T },
  };
  const spy: ClientLike = {
    open: (req, o) => {
      requests++;
      return client.open(req, o);
    },
    openStage: (id, stage) => client.openStage(id, stage),
    query: (q) => client.query(q),
    release: (ids) => client.release(ids),
    exportReport: (id, dir, o) => client.exportReport(id, dir, o),
    receptiveFields: (p, o) => client.receptiveFields(p, o),
  };
  let requestId = 0;
  /** One query through the panel (each after the previous one's answer). */
  const ask = async <T>(query: Record<string, unknown>): Promise<T> => {
    const answer = port.next('answer');
    port.send({ type: 'query', requestId: ++requestId, query });
    return (await answer).answer as T;
  };
  /** A stored inspection's whole [layers, heads, N, N] attention, from the panel's one-head queries (float32), checked against one token's rows (float16). */
  const attentionOf = async (inspection: number, layers: number, heads: number, n: number): Promise<Float32Array> => {
    const out = new Float32Array(layers * heads * n * n);
    for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) {
      const { map } = await ask<{ map: Float32Array }>({ kind: 'head', inspection, layer: l, head: h });
      out.set(map, (l * heads + h) * n * n);
    }
    const t = n - 1;
    const { rows } = await ask<{ rows: Uint16Array }>({ kind: 'rows', inspection, token: t });
    const expected = new Float32Array(layers * heads * n);
    for (let lh = 0; lh < layers * heads; lh++) expected.set(out.subarray((lh * n + t) * n, (lh * n + t + 1) * n), lh * n);
    assert.deepEqual(rows, float32ToHalf(expected), 'the rows of a token are its float32 rows in half precision');
    return out;
  };
  const deps: PanelDeps = {
    client: () => spy,
    settings: () => readSettings(cfg, true),
    models: () => ({ vit: SWIN, cnn: '' }),
    log: (l) => log.push(l),
    withProgress: (_title, _quiet, task) => task(new AbortController().signal, () => {}),
    showError: () => {},
    runCommand: () => {},
  };
  const panel = new PanelController(join(SWIN, 'image.png'), port, deps);
  after(() => panel.dispose());
  let firstId = 0;

  test('the first payload is stage 1: its grid, layers and heads, and its dense attention as transformers gives it', async () => {
    const got = port.next('inspection');
    port.send({ type: 'ready' });
    const { payload } = await got;
    const s = payload.summary;
    assert.equal(payload.stage, 0);
    assert.equal(s.stages?.length, 2);
    assert.deepEqual([s.layers, s.heads, s.tokens, s.layout.grid, s.layout.prefixTokens], [2, 2, 64, [8, 8], []]);
    const ref = stageRef(1);
    assert.ok(maxAbsDiff(await attentionOf(payload.id, 2, 2, 64), ref.data) < 1e-4);
    firstId = payload.id;
    // Show Model Summary lists every stage
    const md = summaryMarkdown(s);
    assert.match(md, /## Stages \(windowed attention\)/);
    assert.match(md, /\| 1 \| 8×8 \| 4×4 \| 2 \| 2 \| 0, 2 \|/);
    assert.match(md, /\| 2 \| 4×4 \| 4×4 \| 2 \| 4 \| 0, 0 \|/);
  });

  test('selectStage 2: the same run, shown over stage 2\'s 4×4 grid with its 4 heads', async () => {
    const got = port.next('inspection');
    port.send({ type: 'selectStage', stage: 1 });
    const { payload } = await got;
    const s = payload.summary;
    assert.equal(payload.stage, 1);
    assert.notEqual(payload.id, firstId);
    assert.deepEqual([s.layers, s.heads, s.tokens, s.layout.grid], [2, 4, 16, [4, 4]]);
    assert.deepEqual(s.layout.patchSize, [8, 8], 'each stage-2 token covers 8×8 input pixels');
    assert.ok(maxAbsDiff(await attentionOf(payload.id, 2, 4, 16), stageRef(2).data) < 1e-4);
    assert.equal(requests, 1, 'no new inference');

    // its scores (dense, -Infinity across windows; fetched by a second run for the scaling view) give back its
    // probabilities: the entropy per head of softmax(scores) is the probabilities' entropy per head
    const scaling = await ask<{ scaledEntropy: Float32Array }>({ kind: 'scaling', inspection: payload.id });
    const stats = await ask<{ entropy: Float32Array }>({ kind: 'headStats', inspection: payload.id });
    assert.equal(scaling.scaledEntropy.length, 2 * 4);
    assert.ok(maxAbsDiff(scaling.scaledEntropy, stats.entropy) < 1e-4, `scores vs probabilities: ${maxAbsDiff(scaling.scaledEntropy, stats.entropy)}`);
  });

  test('a stage the model does not have, or a malformed one, is ignored and logged', async () => {
    const before = port.posted.length;
    port.send({ type: 'selectStage', stage: 5 });
    port.send({ type: 'selectStage', stage: -1 });
    port.send({ type: 'selectStage', stage: 1.5 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(port.posted.length, before);
    assert.ok(log.some((l) => /ignored selectStage 5: the model has 2 stages/.test(l)));
    assert.equal(parseWebviewMessage({ type: 'selectStage', stage: '1' }, { tokens: 16, layers: 2, heads: 4, inspections: [] }), null);
  });

  test('masking is refused with one line', async () => {
    const got = port.next('error');
    port.send({ type: 'runMasked', maskedTokens: [1] });
    const err = await got;
    assert.match(err.message, /^Masking tokens is not available for windowed models/);
    assert.doesNotMatch(err.message, /\n/);
  });
});
