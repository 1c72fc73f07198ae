/**
 * Process isolation: inference runs in a supervised child process (dist/worker.js). When that process is
 * killed in the middle of a run, or aborts like a native crash in onnxruntime, the caller gets a one-line
 * error, the next request works (in a new child), and this process (the host) carries on. Cancelling a run
 * answers at once and leaves the client usable; dispose() leaves no process behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InferenceClient } from '../../src/node/inferenceClient';
import type { InspectRequest } from '../../src/node/workerProtocol';
import { WORKER, assertUserError, isAlive, vitImage, vitModel, waitForExit } from '../helpers/badInputs';

const MODEL = vitModel('vit_hf_style');
const IMAGE = vitImage('vit_hf_style');
const request: InspectRequest = { modelPath: MODEL, image: IMAGE, topK: 3, threads: 1 };
const work = mkdtempSync(join(tmpdir(), 'vit-isolation-'));
const logs: string[] = [];
let client: InferenceClient;
const pids = new Set<number>();

before(() => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run npm run build first`);
  client = new InferenceClient({ workerPath: WORKER, log: (l) => logs.push(l) });
});
after(async () => {
  client?.dispose();
  for (const pid of pids) assert.ok(await waitForExit(pid), `inference process ${pid} left behind`);
  rmSync(work, { recursive: true, force: true });
});

async function works(c = client): Promise<number> {
  const r = await c.inspect(request);
  assert.equal(r.attention.length, 3 * 4 * 17 * 17, 'every head of every layer');
  assert.ok(r.predictions[0].probability > 0);
  const pid = c.pid!;
  pids.add(pid);
  return pid;
}

/** Rejects with what the user sees; the error is returned for further checks. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected the request to fail');
}

test('the child killed in the middle of a run: the caller gets an error, the next request works, the host lives', async () => {
  const first = await works();
  // Kill it as soon as the run has started (the progress message comes from inside the run).
  let killed = false;
  const p = client.inspect({ ...request, maskedTokens: [1, 2] }, {
    onProgress: () => {
      if (!killed) {
        killed = true;
        process.kill(first, 'SIGKILL');
      }
    },
  });
  const e = await failure(p);
  assert.ok(killed, 'the run reported progress before it was killed');
  assertUserError(e, 'worker-crashed', /^The inference process stopped \(signal SIGKILL\) while inspecting vit_hf_style\.png\. It restarts on the next request: try again, or choose another model\.$/);
  assert.ok(await waitForExit(first), 'the killed child is gone');
  const second = await works();
  assert.notEqual(second, first, 'a new child answers');
  assert.ok(isAlive(process.pid));
});

// No crash request ships in the worker (test hooks stay out of the bundles): the child is killed from outside
// with the signals a native crash in onnxruntime raises (abort() and a segmentation fault).
for (const signal of ['SIGABRT', 'SIGSEGV'] as const) {
  test(`the child dies of ${signal} like a native crash in onnxruntime with requests queued: each gets an error, the next works`, async () => {
    const before = await works();
    const queued = [client.inspect(request), client.inspect({ ...request, image: vitImage('deit_style') })];
    process.kill(before, signal);
    const errors = await Promise.all(queued.map(failure));
    for (const e of errors) assertUserError(e, 'worker-crashed', new RegExp(`signal ${signal}`));
    assert.match(errors[1].message, /while inspecting deit_style\.png/);
    assert.ok(await waitForExit(before), 'the crashed child is gone');
    assert.notEqual(await works(), before);
    assert.ok(isAlive(process.pid));
  });
}

test('cancelling in the middle of a run answers "Cancelled." at once; the next request works in the same child', async () => {
  const pid = await works();
  const ac = new AbortController();
  const p = client.inspect(request, { signal: ac.signal, onProgress: () => ac.abort() });
  const e = await failure(p);
  assertUserError(e, 'cancelled', /^Cancelled\.$/);
  await works();
  assert.equal(client.pid, pid, 'a short run finishes within the grace period: the child is kept');
  // Already cancelled: refused without reaching the child.
  const pre = new AbortController();
  pre.abort();
  assertUserError(await failure(client.inspect(request, { signal: pre.signal })), 'cancelled');
});

test('a bad request is answered with an error and the child stays up for the next one', async () => {
  const pid = await works();
  const e = await failure(client.inspect({ ...request, image: join(work, 'missing.png') }));
  assertUserError(e, 'file-not-found', /missing\.png does not exist\. Check the image path\.$/);
  assert.equal(await works(), pid);
});

test('dispose: requests in flight are cancelled, the child is gone, later calls are refused; nothing written in the working folder', async () => {
  const cwdBefore = readdirSync(process.cwd()).sort();
  const c = new InferenceClient({ workerPath: WORKER });
  const pid = await works(c);
  const inflight = c.inspect(request);
  c.dispose();
  assertUserError(await failure(inflight), 'cancelled', /closed/);
  assert.ok(await waitForExit(pid), `inference process ${pid} left behind`);
  assertUserError(await failure(c.inspect(request)), 'cancelled', /^ViT Inspector was closed\.$/);
  assert.deepEqual(readdirSync(process.cwd()).sort(), cwdBefore, 'no core dump or other file in the working folder');
});

test('the inference process starts with its allocator settings, and a user\'s own MALLOC_* settings win', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const { readFileSync } = await import('node:fs');
  const { INFERENCE_ALLOCATOR_ENV, inferenceProcessEnv } = await import('../../src/node/allocatorEnv');
  const environ = (pid: number) => Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const pid = await works();
  const env = environ(pid);
  for (const [k, v] of Object.entries(INFERENCE_ALLOCATOR_ENV)) assert.equal(env[k], v, k);
  const own = inferenceProcessEnv({ PATH: '/bin', MALLOC_ARENA_MAX: '2' });
  assert.deepEqual(own, { PATH: '/bin', MALLOC_ARENA_MAX: '2' }, 'a user who tunes malloc keeps exactly their settings');
});
