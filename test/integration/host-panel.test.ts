/**
 * The host's panel logic (src/host/panelController.ts) with the real inference child process (dist/worker.js),
 * without VS Code: payloads carry typed arrays, invalid webview messages are ignored and logged, a child
 * killed mid-run gives the panel an error and the next request works, and an untrusted workspace cannot
 * choose the model.
 */
import assert from 'node:assert/strict';
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
import type { HostToWebview, InspectionPayload } from '../../src/shared/protocol';
import { readSettings, type ConfigLike } from '../../src/host/settings';
import { FIXTURES, REPO } from '../helpers/fixtures';

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

class Port {
  readonly posted: HostToWebview[] = [];
  private listener: ((m: unknown) => void) | undefined;
  private waiters: { type: string; resolve: (m: any) => void }[] = [];
  postMessage(m: HostToWebview) {
    this.posted.push(m);
    for (const w of [...this.waiters]) if (w.type === m.type) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(m);
    }
    return Promise.resolve(true);
  }
  onDidReceiveMessage(l: (m: unknown) => void) {
    this.listener = l;
    return { dispose: () => (this.listener = undefined) };
  }
  send(m: unknown) {
    this.listener?.(m);
  }
  next<T extends HostToWebview['type']>(type: T, timeoutMs = 60_000): Promise<Extract<HostToWebview, { type: T }>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms (got ${this.posted.map((m) => m.type).join(', ')})`)), timeoutMs);
      this.waiters.push({ type, resolve: (m) => { clearTimeout(t); resolve(m); } });
    });
  }
}

function config(values: Record<string, { globalValue?: unknown; workspaceValue?: unknown }>): ConfigLike {
  return {
    get: <T>(k: string) => (values[k]?.workspaceValue ?? values[k]?.globalValue) as T,
    inspect: <T>(k: string) => ({ defaultValue: undefined, ...(values[k] ?? {}) }) as { globalValue?: T; workspaceValue?: T },
  };
}

interface Harness {
  port: Port;
  panel: PanelController;
  deps: PanelDeps;
  requests: InspectRequest[];
  errors: { message: string; action?: string }[];
  log: string[];
}

function harness(opts: { image?: string; cfg?: ConfigLike; trusted?: boolean; wrap?: (c: ClientLike) => ClientLike } = {}): Harness {
  const port = new Port();
  const requests: InspectRequest[] = [];
  const errors: { message: string; action?: string }[] = [];
  const log: string[] = [];
  const spy: ClientLike = {
    inspect: (req, o) => {
      requests.push(req);
      return client.inspect(req, o);
    },
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

  test('ready → an inspection payload with typed arrays and the CNN receptive fields', async () => {
    h = harness();
    const got = h.port.next('inspection');
    h.port.send({ type: 'ready' });
    payload = (await got).payload;
    const s = payload.summary;
    assert.equal(payload.imageName, 'vit_hf_style.png');
    assert.equal(payload.imagePath, IMAGE);
    assert.deepEqual([s.layers, s.heads, s.tokens], [3, 4, 17]);
    assert.ok(payload.attention instanceof Float32Array, 'attention is a Float32Array');
    assert.ok(!('scores' in payload), 'the scores are not sent with the payload');
    assert.equal(payload.attention.length, 3 * 4 * 17 * 17);
    assert.ok(payload.image.rgba instanceof Uint8Array);
    assert.equal(payload.image.rgba.length, payload.image.width * payload.image.height * 4);
    assert.deepEqual([payload.image.height, payload.image.width], s.layout.inputSize);
    assert.ok(payload.preview.rgba instanceof Uint8Array);
    assert.equal(payload.predictions.length, 5);
    assert.ok(payload.predictions[0].probability >= payload.predictions[1].probability);
    // Each attention row is a probability distribution.
    let row = 0;
    for (let k = 0; k < 17; k++) row += payload.attention[k];
    assert.ok(Math.abs(row - 1) < 1e-4, `row sums to ${row}`);
    assert.equal(payload.cnnError, null);
    assert.ok(payload.cnn && payload.cnn.layers.length >= 5, 'CNN receptive fields');
    assert.deepEqual(payload.settings, { colormap: 'viridis', topK: 5 });
    assert.equal(h.requests[0].modelPath, VIT);
  });

  test('each array posted is in an ArrayBuffer of its own (VS Code carries a typed array\'s whole buffer)', async () => {
    // Node's structured-clone deserializer may return views into the one message buffer from the child.
    const raw = await client.inspect({ modelPath: VIT, image: IMAGE });
    const shared = new ArrayBuffer(raw.attention.byteLength + raw.scores.byteLength + 64);
    const views = { ...raw, attention: new Float32Array(shared, 0, raw.attention.length), scores: new Float32Array(shared, raw.attention.byteLength + 64, raw.scores.length) };
    views.attention.set(raw.attention);
    assert.equal(bufferBytes({ attention: views.attention }), shared.byteLength, 'a view carries its whole buffer');
    const own = withOwnBuffers(views);
    assert.equal(bufferBytes({ attention: own.attention }), raw.attention.byteLength);
    assert.deepEqual(own.attention, raw.attention);
    const message = h.port.posted.find((m) => m.type === 'inspection')!;
    const arrays = [payload.attention, payload.image.rgba, payload.preview.rgba];
    for (const a of arrays) assert.deepEqual([a.byteOffset, a.byteLength], [0, a.buffer.byteLength]);
    assert.equal(bufferBytes(message), arrays.reduce((n, a) => n + a.byteLength, 0), 'nothing but the arrays is carried');
    assert.ok(h.log.some((l) => /posted inspection \(\d+\.\d\d MB of arrays\) in \d+ ms/.test(l)), h.log.join('\n'));
  });

  test('a reloaded webview (ready again) gets the same payload without a new run', async () => {
    const n = h.requests.length;
    const got = h.port.next('inspection');
    h.port.send({ type: 'ready' });
    assert.equal((await got).payload, payload);
    assert.equal(h.requests.length, n);
  });

  test("needScores gets this inspection's softmax inputs as a typed array; another inspection's id gets nothing", async () => {
    const n = h.requests.length;
    const before = h.port.posted.length;
    h.port.send({ type: 'needScores', id: payload.id + 1 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.port.posted.length, before, 'no answer for an id not on show');
    const got = h.port.next('scores');
    h.port.send({ type: 'needScores', id: payload.id });
    const r = await got;
    assert.equal(r.id, payload.id);
    assert.ok(r.scores instanceof Float32Array);
    assert.equal(r.scores.length, payload.attention.length);
    assert.equal(bufferBytes(r), r.scores.byteLength, 'the scores alone are carried');
    // softmax(scores) is the attention that was sent, row by row.
    let worst = 0;
    for (let row = 0; row < r.scores.length / 17; row++) {
      const s = r.scores.subarray(row * 17, row * 17 + 17);
      const max = Math.max(...s);
      const e = Array.from(s, (v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let k = 0; k < 17; k++) worst = Math.max(worst, Math.abs(e[k] / sum - payload.attention[row * 17 + k]));
    }
    assert.ok(worst < 1e-5, `softmax(scores) differs from the attention by ${worst}`);
    assert.equal(h.requests.length, n, 'no inference run');
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
      { type: 'needScores', id: 'latest' },
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

  test('runMasked re-runs with the masked keys and posts maskResult', async () => {
    const got = h.port.next('maskResult');
    h.port.send({ type: 'runMasked', maskedTokens: [5, 1, 5] });
    const r = await got;
    assert.deepEqual(r.maskedTokens, [1, 5]);
    assert.deepEqual(h.requests.at(-1)!.maskedTokens, [1, 5]);
    assert.ok(r.attention instanceof Float32Array);
    assert.equal(r.attention.length, payload.attention.length);
    assert.equal(bufferBytes(r), r.attention.byteLength, 'the attention alone is carried');
    // No query attends to a masked key.
    for (let q = 0; q < 17; q++) assert.ok(r.attention[q * 17 + 5] < 1e-6);
    assert.ok(r.predictions.length > 0);
  });

  test('an empty mask returns the unmasked result without a run', async () => {
    const n = h.requests.length;
    const got = h.port.next('maskResult');
    h.port.send({ type: 'runMasked', maskedTokens: [] });
    const r = await got;
    assert.equal(r.attention, payload.attention);
    assert.equal(h.requests.length, n);
    h.panel.dispose();
  });
});

describe('the inference process dies mid-run', () => {
  test('the panel gets an error with a retry action, and the next request works', async () => {
    let kill = true;
    const h = harness({
      wrap: (c) => ({
        ...c,
        inspect: (req, o) => {
          if (!kill) return c.inspect(req, o);
          kill = false;
          // Stopped before the request is sent: on a busy machine the child could otherwise finish this small
          // model's run between the send and the kill, and the test would see a result instead of a crash.
          const running = client.pid;
          if (running) process.kill(running, 'SIGSTOP');
          const p = c.inspect(req, o);
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
