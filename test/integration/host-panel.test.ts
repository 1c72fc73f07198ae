/**
 * The host's panel logic (src/host/panelController.ts) with the real inference child process (dist/worker.js),
 * without VS Code: payloads carry no tensor, the webview's queries are answered with what it paints (bytes per
 * query move measured), stale queries are dropped, invalid webview messages are ignored and logged, a child
 * killed mid-run gives the panel an error and the next request works, and an untrusted workspace cannot
 * choose the model.
 */
import assert from 'node:assert/strict';
import { float32ToHalf } from '../../src/shared/float16';
import { rowValues } from '../../src/shared/queries';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { InferenceClient } from '../../src/node/inferenceClient';
import type { Inspection } from '../../src/shared/types';
import type { InspectRequest } from '../../src/node/workerProtocol';
import { resolveModels } from '../../src/host/models';
import { bufferBytes, PanelController, withOwnBuffers, type ClientLike, type PanelDeps } from '../../src/host/panelController';
import type { TensorQuery } from '../../src/shared/queries';
import type { HostToWebview, InspectionPayload } from '../../src/shared/protocol';
import { readSettings, type ConfigLike } from '../../src/host/settings';
import { FIXTURES, REPO } from '../helpers/fixtures';
import { FakePort } from '../helpers/fakePort';

const WORKER = join(REPO, 'dist', 'worker.js');
const VIT = join(FIXTURES, 'vit', 'vit_hf_style');
const IMAGE = join(FIXTURES, 'vit', 'vit_hf_style.png');
const work = mkdtempSync(join(tmpdir(), 'vit-host-'));
const CNN = join(work, 'cnn_small.onnx');

let client: InferenceClient;
const logs: string[] = [];

before(() => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run npm run build first`);
  writeFileSync(CNN, gunzipSync(readFileSync(join(FIXTURES, 'cnn', 'cnn_small.onnx.gz'))));
  client = new InferenceClient({ workerPath: WORKER, log: (l) => logs.push(l) });
});
after(() => {
  client?.dispose();
  rmSync(work, { recursive: true, force: true });
});

function config(values: Record<string, { globalValue?: unknown; workspaceValue?: unknown }>): ConfigLike {
  return {
    get: <T>(k: string) => (values[k]?.workspaceValue ?? values[k]?.globalValue) as T,
    inspect: <T>(k: string) => ({ defaultValue: undefined, ...(values[k] ?? {}) }) as { globalValue?: T; workspaceValue?: T },
  };
}

interface Harness {
  port: FakePort;
  panel: PanelController;
  deps: PanelDeps;
  requests: InspectRequest[];
  errors: { message: string; action?: string }[];
  log: string[];
}

function harness(opts: { image?: string; cfg?: ConfigLike; trusted?: boolean; wrap?: (c: ClientLike) => ClientLike } = {}): Harness {
  const port = new FakePort();
  const requests: InspectRequest[] = [];
  const errors: { message: string; action?: string }[] = [];
  const log: string[] = [];
  const spy: ClientLike = {
    open: (req, o) => {
      requests.push(req);
      return client.open(req, o);
    },
    query: (q) => client.query(q),
    release: (ids) => client.release(ids),
    exportReport: (id, dir, o) => client.exportReport(id, dir, o),
    receptiveFields: (p, o) => client.receptiveFields(p, o),
  };
  const c = opts.wrap ? opts.wrap(spy) : spy;
  const cfg = opts.cfg ?? config({ model: { globalValue: VIT }, cnnModel: { globalValue: CNN } });
  const deps: PanelDeps = {
    client: () => c,
    settings: () => readSettings(cfg, opts.trusted ?? true),
    models: () => resolveModels('/nonexistent-extension', readSettings(cfg, opts.trusted ?? true)),
    log: (l) => log.push(l),
    withProgress: (_title, _quiet, task) => task(new AbortController().signal, () => {}),
    showError: (message, action) => errors.push({ message, action }),
    runCommand: () => {},
  };
  const panel = new PanelController(opts.image ?? IMAGE, port, deps);
  return { port, panel, deps, requests, errors, log };
}

describe('panel controller with the real inference process', () => {
  let h: Harness;
  let payload: InspectionPayload;

  /** Sends a query as the webview does and waits for its answer. */
  let nextRequest = 1;
  async function ask<Q extends TensorQuery>(query: Q) {
    const requestId = nextRequest++;
    const got = h.port.next('answer');
    h.port.send({ type: 'query', requestId, query });
    const a = await got;
    assert.equal(a.requestId, requestId);
    return a;
  }

  test('ready → an inspection payload without any tensor, with the CNN receptive fields', async () => {
    h = harness();
    const got = h.port.next('inspection');
    h.port.send({ type: 'ready' });
    payload = (await got).payload;
    const s = payload.summary;
    assert.equal(payload.imageName, 'vit_hf_style.png');
    assert.equal(payload.imagePath, IMAGE);
    assert.deepEqual([s.layers, s.heads, s.tokens], [3, 4, 17]);
    assert.ok(!('attention' in payload) && !('scores' in payload), 'the tensors stay in the inference process');
    assert.ok(Number.isSafeInteger(payload.id), 'the stored inspection\'s id');
    assert.ok(payload.image.rgba instanceof Uint8Array);
    assert.equal(payload.image.rgba.length, payload.image.width * payload.image.height * 4);
    assert.deepEqual([payload.image.height, payload.image.width], s.layout.inputSize);
    assert.ok(payload.preview.rgba instanceof Uint8Array);
    assert.equal(payload.predictions.length, 5);
    assert.ok(payload.predictions[0].probability >= payload.predictions[1].probability);
    assert.equal(payload.cnnError, null);
    assert.ok(payload.cnn && payload.cnn.layers.length >= 5, 'CNN receptive fields');
    assert.deepEqual(payload.settings, { colormap: 'viridis', topK: 5 });
    assert.equal(h.requests[0].modelPath, VIT);
  });

  test('a query move posts the rows of every head for the token, the whole tensor\'s in half precision, within 4·L·H·N + 64 KB', async () => {
    const full = await client.inspect({ modelPath: VIT, image: IMAGE, topK: 5 });
    const [L, H, N] = [3, 4, 17];
    for (const token of [0, 5, 16]) {
      const before = h.port.posted.length;
      // what the webview asks on a query move in the Heads view: the rows, and the rollout row
      const rows = await ask({ kind: 'rows', inspection: payload.id, token });
      const ro = await ask({ kind: 'rollout', inspection: payload.id, token, fusion: 'mean', discardRatio: 0.9, disabledHeads: [] });
      assert.equal(rows.answer.kind, 'rows');
      if (rows.answer.kind !== 'rows' || ro.answer.kind !== 'rollout') return;
      for (let lh = 0; lh < L * H; lh++) {
        const expected = full.attention.subarray((lh * N + token) * N, (lh * N + token + 1) * N);
        assert.deepEqual(rows.answer.rows.subarray(lh * N, lh * N + N), float32ToHalf(expected), 'float16 bits of the stored float32 rows');
        const decoded = rowValues(rows.answer).subarray(lh * N, lh * N + N);
        for (let j = 0; j < N; j++) assert.ok(Math.abs(decoded[j] - expected[j]) <= expected[j] * 2 ** -11 + 2 ** -25, 'within half an ulp of 11 bits');
      }
      assert.equal(ro.answer.row.length, N);
      const posted = h.port.posted.slice(before).reduce((n, m) => n + bufferBytes(m) + Buffer.byteLength(JSON.stringify(m, (_k, v) => (ArrayBuffer.isView(v) ? null : v))), 0);
      assert.ok(posted <= 4 * L * H * N + 64 * 1024, `${posted} bytes posted for one query move`);
      assert.equal(bufferBytes(rows), L * H * N * 2, 'the rows alone are carried, 2 bytes a value (an ArrayBuffer of their own)');
    }
  });

  test('a reloaded webview (ready again) gets the same payload without a new run', async () => {
    const n = h.requests.length;
    const got = h.port.next('inspection');
    h.port.send({ type: 'ready' });
    assert.equal((await got).payload, payload);
    assert.equal(h.requests.length, n);
  });

  test('each array posted is in an ArrayBuffer of its own (VS Code carries a typed array\'s whole buffer)', async () => {
    // Node's structured-clone deserializer may return views into the one message buffer from the child.
    const raw = await client.open({ modelPath: VIT, image: IMAGE });
    const shared = new ArrayBuffer(raw.preview.rgba.byteLength + 64);
    const views = { ...raw, preview: { ...raw.preview, rgba: new Uint8Array(shared, 64, raw.preview.rgba.length) } };
    views.preview.rgba.set(raw.preview.rgba);
    assert.equal(bufferBytes({ a: views.preview.rgba }), shared.byteLength, 'a view carries its whole buffer');
    const own = withOwnBuffers(views);
    assert.equal(bufferBytes({ a: own.preview.rgba }), raw.preview.rgba.byteLength);
    assert.deepEqual(own.preview.rgba, raw.preview.rgba);
    await client.release([raw.id]);
    const message = h.port.posted.find((m) => m.type === 'inspection')!;
    const arrays = [payload.image.rgba, payload.preview.rgba];
    for (const a of arrays) assert.deepEqual([a.byteOffset, a.byteLength], [0, a.buffer.byteLength]);
    assert.equal(bufferBytes(message), arrays.reduce((n, a) => n + a.byteLength, 0), 'nothing but the pictures is carried');
    assert.ok(h.log.some((l) => /posted inspection \(\d+\.\d\d MB of arrays\) in \d+ ms/.test(l)), h.log.join('\n'));
  });

  test('the scaling statistics are computed on request from the softmax inputs, fetched then; every head\'s', async () => {
    const full = await client.inspect({ modelPath: VIT, image: IMAGE, topK: 5 });
    const n = h.requests.length;
    const a = await ask({ kind: 'scaling', inspection: payload.id });
    if (a.answer.kind !== 'scaling') return assert.fail(a.answer.kind);
    const stats = a.answer;
    assert.equal(stats.scaledEntropy.length, 12);
    // the max weight of softmax(scores) per head is the mean over rows of the attention's max
    for (let lh = 0; lh < 12; lh++) {
      let m = 0;
      for (let q = 0; q < 17; q++) m += Math.max(...full.attention.subarray((lh * 17 + q) * 17, (lh * 17 + q + 1) * 17)) / 17;
      assert.ok(Math.abs(stats.scaledMax[lh] - m) < 1e-5, `head ${lh}: ${stats.scaledMax[lh]} vs ${m}`);
    }
    assert.ok(stats.unscaledMax.every((v, i) => v >= stats.scaledMax[i] - 1e-6), 'without 1/sqrt(d_k) the rows are sharper');
    assert.equal(h.requests.length, n, 'no new inspection');
  });

  test('queries of a lane in flight wait, and a newer one replaces the waiting one: the stale move gets no answer', async () => {
    const before = h.port.posted.length;
    for (const [requestId, token] of [[900, 1], [901, 2], [902, 3], [903, 4]]) h.port.send({ type: 'query', requestId, query: { kind: 'rows', inspection: payload.id, token } });
    await new Promise((r) => setTimeout(r, 1000));
    const answers = h.port.posted.slice(before).filter((m) => m.type === 'answer').map((m) => (m as { requestId: number }).requestId);
    assert.deepEqual(answers, [900, 903], 'the first went at once; of those that waited, only the latest');
  });

  test('a query for an inspection that is not this panel\'s is refused', async () => {
    const before = { posted: h.port.posted.length, logs: h.log.length };
    h.port.send({ type: 'query', requestId: 5, query: { kind: 'rows', inspection: payload.id + 1000, token: 0 } });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.port.posted.length, before.posted);
    assert.ok(h.log.slice(before.logs).some((l) => l.startsWith('ignored an invalid message')));
  });

  test('unknown types, bad commands and out-of-range mask indices are ignored and logged', async () => {
    const before = { posted: h.port.posted.length, requests: h.requests.length, logs: h.log.length };
    const bad: unknown[] = [
      { type: 'evil', path: '/etc/passwd' },
      { type: 'runMasked', maskedTokens: [17] },
      { type: 'runMasked', maskedTokens: [-1] },
      { type: 'runMasked', maskedTokens: [1.5] },
      { type: 'runMasked', maskedTokens: '1,2' },
      { type: 'runMasked', maskedTokens: Array.from({ length: 18 }, (_, i) => i % 17) },
      { type: 'command', command: 'workbench.action.terminal.new' },
      { type: 'painted', what: 'first', ms: 'soon' },
      { type: 'needScores', id: payload?.id },
      { type: 'query', requestId: 1, query: { kind: 'rows', inspection: 0, token: 99 } },
      null,
      'ready',
      42,
    ];
    for (const m of bad) h.port.send(m);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(h.port.posted.length, before.posted, 'nothing posted back');
    assert.equal(h.requests.length, before.requests, 'no inference run');
    const ignored = h.log.slice(before.logs).filter((l) => l.startsWith('ignored an invalid message'));
    assert.equal(ignored.length, bad.length, h.log.slice(before.logs).join('\n'));
    assert.ok(ignored[0].includes('"evil"'));
  });

  test('runMasked re-runs with the masked keys: a new stored inspection, whose rows the webview then asks for', async () => {
    const got = h.port.next('maskResult');
    h.port.send({ type: 'runMasked', maskedTokens: [5, 1, 5] });
    const r = await got;
    assert.deepEqual(r.maskedTokens, [1, 5]);
    assert.deepEqual(h.requests.at(-1)!.maskedTokens, [1, 5]);
    assert.notEqual(r.inspection, payload.id);
    assert.equal(bufferBytes(r), 0, 'no tensor is carried');
    assert.ok(r.predictions.length > 0);
    // No query attends to a masked key, at any layer.
    for (let layer = 0; layer < 3; layer++) {
      const a = await ask({ kind: 'rows', inspection: r.inspection, token: 3, layers: [layer, layer + 1] });
      if (a.answer.kind !== 'rows') return assert.fail(a.answer.kind);
      assert.equal(a.answer.rows.length, 4 * 17);
      const values = rowValues(a.answer);
      for (let hd = 0; hd < 4; hd++) for (const k of [1, 5]) assert.ok(values[hd * 17 + k] < 1e-6);
    }
  });

  test('an empty mask returns the unmasked result without a run, and the masked run is released', async () => {
    const n = h.requests.length;
    const masked = (h.port.posted.filter((m) => m.type === 'maskResult').at(-1) as { inspection: number }).inspection;
    const got = h.port.next('maskResult');
    h.port.send({ type: 'runMasked', maskedTokens: [] });
    const r = await got;
    assert.equal(r.inspection, payload.id);
    assert.equal(h.requests.length, n);
    const gone = await client.query({ kind: 'rows', inspection: masked, token: 0 }).catch((e) => e);
    assert.equal(gone.code, 'inspection-gone', 'the masked run no longer takes memory');
    h.panel.dispose();
    await new Promise((r2) => setTimeout(r2, 200));
    const base = await client.query({ kind: 'rows', inspection: payload.id, token: 0 }).catch((e) => e);
    assert.equal(base.code, 'inspection-gone', 'a closed panel\'s inspection is released');
  });
});

describe('an inspection the inference process no longer holds', () => {
  test('its queries give one error offering to run it again, not one per query', async () => {
    const h = harness();
    const got = h.port.next('inspection');
    h.port.send({ type: 'ready' });
    const { payload } = await got;
    await client.release([payload.id]); // as the store does when another inspection needs the memory
    const err = h.port.next('error');
    h.port.send({ type: 'query', requestId: 1, query: { kind: 'rows', inspection: payload.id, token: 0 } });
    h.port.send({ type: 'query', requestId: 2, query: { kind: 'headStats', inspection: payload.id } });
    const e = await err;
    assert.match(e.message, /no longer held by the inference process.*Run the inspection again\.$/);
    assert.equal(e.action, 'retry');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.errors.length, 1, 'one notification');
    const again = h.port.next('inspection');
    h.port.send({ type: 'command', command: 'retry' });
    const next = (await again).payload;
    assert.notEqual(next.id, payload.id);
    const answer = h.port.next('answer');
    h.port.send({ type: 'query', requestId: 3, query: { kind: 'rows', inspection: next.id, token: 0 } });
    assert.equal((await answer).requestId, 3);
    h.panel.dispose();
  });
});

describe('the inference process dies mid-run', () => {
  test('the panel gets an error with a retry action, and the next request works', async () => {
    let kill = true;
    const h = harness({
      wrap: (c) => ({
        ...c,
        open: (req, o) => {
          if (!kill) return c.open(req, o);
          kill = false;
          // Stopped before the request is sent: on a busy machine the child could otherwise finish this small
          // model's run between the send and the kill, and the test would see a result instead of a crash.
          const running = client.pid;
          if (running) process.kill(running, 'SIGSTOP');
          const p = c.open(req, o);
          const pid = client.pid;
          assert.ok(pid, 'child started');
          process.kill(pid, 'SIGKILL'); // like a native crash in onnxruntime while it runs
          return p;
        },
      }),
    });
    const firstPid = client.pid;
    const err = h.port.next('error');
    h.port.send({ type: 'ready' });
    const e = await err;
    assert.match(e.message, /inference process stopped/i);
    assert.equal(e.action, 'retry');
    assert.equal(h.errors.length, 1, 'a notification with an action');
    assert.equal(h.errors[0].action, 'retry');
    assert.ok(!e.message.includes('\n'));

    const ok = h.port.next('inspection');
    h.port.send({ type: 'command', command: 'retry' });
    const p = (await ok).payload;
    assert.equal(p.summary.tokens, 17);
    assert.notEqual(client.pid, undefined);
    assert.ok(firstPid === undefined || client.pid !== firstPid, 'a new child');
    h.panel.dispose();
  });

  test('a model that does not exist gives an error offering another model', async () => {
    const h = harness({ cfg: config({ model: { globalValue: join(work, 'missing.onnx') } }) });
    const err = h.port.next('error');
    h.port.send({ type: 'ready' });
    const e = await err;
    assert.equal(e.action, 'selectModel');
    assert.match(e.message, /missing\.onnx/);
    h.panel.dispose();
  });
});

describe('workspace trust', () => {
  const evil = join(work, 'workspace-chosen.onnx');

  test('an untrusted workspace cannot choose the models', () => {
    const cfg = config({ model: { workspaceValue: evil }, cnnModel: { workspaceValue: evil } });
    const untrusted = readSettings(cfg, false);
    assert.equal(untrusted.model, '');
    assert.equal(untrusted.cnnModel, '');
    assert.deepEqual(untrusted.ignored, ['vitInspector.model', 'vitInspector.cnnModel']);
    const trusted = readSettings(cfg, true);
    assert.equal(trusted.model, evil);
    assert.deepEqual(trusted.ignored, []);
  });

  test('in an untrusted workspace the user setting still applies, the workspace one does not', () => {
    const cfg = config({ model: { globalValue: VIT, workspaceValue: evil } });
    assert.equal(readSettings(cfg, false).model, VIT);
    assert.equal(readSettings(cfg, true).model, evil);
  });

  test('the panel of an untrusted workspace asks the worker for the default model, never the workspace one', async () => {
    const h = harness({ cfg: config({ model: { workspaceValue: evil }, cnnModel: { workspaceValue: evil } }), trusted: false });
    const done = h.port.next('error'); // the default model does not exist at /nonexistent-extension
    h.port.send({ type: 'ready' });
    await done;
    assert.equal(h.requests.length, 1);
    assert.equal(h.requests[0].modelPath, join('/nonexistent-extension', 'media', 'models', 'vit-cifar10'));
    assert.ok(h.requests.every((r) => r.modelPath !== evil));
    h.panel.dispose();
  });
});

export type { Inspection };
