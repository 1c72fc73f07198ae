/**
 * Seeded fuzzing of the fixture models, their config files and images (bit flips, truncation, byte
 * shuffles, overwritten and repeated blocks) through the inference child process. Every case must end in a
 * result or a clear one-line error within PER_CASE_MS, never an internal error ("Inference failed: …", a
 * bug's message) and never a crash of this (the host) process. Mutated models are also parsed and edited
 * in-process: only InspectorErrors, and the edited bytes stay within a few kB of the file.
 *
 * Case k uses seed FUZZ_SEED + k (FUZZ_VERBOSE=1 prints every error message); a failing case prints its seed and the command that replays it alone:
 *   FUZZ_SEED=<seed> FUZZ_CASES=1 node --import tsx --test test/integration/fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { findAttention } from '../../src/node/attention';
import { isInspectorError } from '../../src/shared/errors';
import { InferenceClient } from '../../src/node/inferenceClient';
import { parseOnnx } from '../../src/node/onnx/parse';
import { withExtraOutputs, withKeyMask } from '../../src/node/onnx/surgery';
import type { InspectRequest } from '../../src/node/workerProtocol';
import { VIT_NAMES } from '../helpers/fixtures';
import { VIT_DIR, WORKER, assertUserError, isAlive, rssMB, vitImage, vitModel, waitForExit } from '../helpers/badInputs';
import { Rng, mutate } from '../helpers/mutate';

const BASE_SEED = envInt('FUZZ_SEED', 20_240_611);
const CASES = envInt('FUZZ_CASES', 400);
const PER_CASE_MS = 20_000;
/** The child's resident memory may not pass this while fuzzing (a mutated length or shape must not make it allocate wildly). */
const CHILD_RSS_CAP_MB = 1500;

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  assert.ok(Number.isInteger(n) && n >= 0, `${name} must be a non-negative integer, not ${v}`);
  return n;
}

type Target = { kind: 'model'; name: string } | { kind: 'config'; name: string; file: string } | { kind: 'image'; name: string; format: string };

const work = mkdtempSync(join(tmpdir(), 'vit-fuzz-'));
const originals = new Map<string, Uint8Array>();
let client: InferenceClient;
const pids = new Set<number>();

before(async () => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run npm run build first`);
  for (const name of VIT_NAMES) {
    originals.set(`model:${name}`, readFileSync(vitModel(name)));
    const png = readFileSync(vitImage(name));
    originals.set(`image:${name}:png`, png);
    originals.set(`image:${name}:jpg`, await sharp(png).jpeg({ quality: 90 }).toBuffer());
    originals.set(`image:${name}:webp`, await sharp(png).webp({ quality: 90 }).toBuffer());
    originals.set(`image:${name}:gif`, await sharp(png).gif().toBuffer());
    for (const file of ['config.json', 'preprocessor_config.json']) originals.set(`config:${name}:${file}`, readFileSync(join(VIT_DIR, name, file)));
  }
  client = new InferenceClient({ workerPath: WORKER });
});
after(async () => {
  client?.dispose();
  for (const pid of pids) assert.ok(await waitForExit(pid), `inference process ${pid} left behind`);
  rmSync(work, { recursive: true, force: true });
});

/** What a case fuzzes, chosen by its own seed: a model (45%), a config file (10%) or an image (45%). */
function pickTarget(rng: Rng): Target {
  const name = rng.pick(VIT_NAMES);
  const r = rng.next();
  if (r < 0.45) return { kind: 'model', name };
  if (r < 0.55) return { kind: 'config', name, file: rng.pick(['config.json', 'preprocessor_config.json']) };
  return { kind: 'image', name, format: rng.pick(['png', 'png', 'jpg', 'webp', 'gif']) };
}

/** Writes the case's files and returns the request (the unmutated partner comes straight from the fixtures). */
function prepare(seed: number): { req: InspectRequest; target: Target; detail: string; bytes: Uint8Array } {
  const rng = new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ (seed >>> 13));
  const target = pickTarget(rng);
  const dir = join(work, `case-${seed}`);
  mkdirSync(dir);
  const req: InspectRequest = { modelPath: vitModel(target.name), image: vitImage(target.name), threads: 1, topK: 3 };
  if (target.kind === 'model') {
    const m = mutate(originals.get(`model:${target.name}`)!, rng);
    req.modelPath = join(dir, `${target.name}.onnx`);
    writeFileSync(req.modelPath, m.bytes);
    return { req, target, detail: `${m.kind}: ${m.detail}`, bytes: m.bytes };
  }
  if (target.kind === 'config') {
    const folder = join(dir, target.name);
    mkdirSync(folder);
    for (const file of ['config.json', 'preprocessor_config.json']) writeFileSync(join(folder, file), originals.get(`config:${target.name}:${file}`)!);
    writeFileSync(join(folder, 'model.onnx'), originals.get(`model:${target.name}`)!);
    const m = mutate(originals.get(`config:${target.name}:${target.file}`)!, rng);
    writeFileSync(join(folder, target.file), m.bytes);
    req.modelPath = folder;
    return { req, target, detail: `${m.kind}: ${m.detail}`, bytes: m.bytes };
  }
  const m = mutate(originals.get(`image:${target.name}:${target.format}`)!, rng);
  req.image = join(dir, `${target.name}.${target.format}`);
  writeFileSync(req.image, m.bytes);
  return { req, target, detail: `${m.kind}: ${m.detail}`, bytes: m.bytes };
}

/** Parsing and graph edits in-process: InspectorErrors only, and edits add no more than a few kB. */
function parseInProcess(bytes: Uint8Array): string {
  try {
    const model = parseOnnx(bytes, 'fuzzed.onnx');
    const sites = findAttention(model);
    const exposed = withExtraOutputs(model, sites.flatMap((s) => [s.scores, s.probs]));
    const masked = withKeyMask(model, sites);
    const slack = 64 * 1024;
    assert.ok(exposed.length <= bytes.length + slack, `withExtraOutputs made ${exposed.length} bytes from ${bytes.length}`);
    assert.ok(masked.length <= bytes.length + slack, `withKeyMask made ${masked.length} bytes from ${bytes.length}`);
    return 'parsed';
  } catch (e) {
    if (isInspectorError(e)) return e.code;
    throw new Error(`parse/edit threw a non-InspectorError: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

test(`fuzz: ${CASES} mutated models, configs and images from seed ${BASE_SEED} end in a result or a clear error`, { timeout: Math.max(60_000, CASES * 3_000) }, async () => {
  const outcomes = new Map<string, number>();
  const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  const failures: string[] = [];
  let maxChildRss = 0;
  let slowest = { ms: 0, seed: 0 };
  const t0 = performance.now();
  for (let k = 0; k < CASES; k++) {
    const seed = BASE_SEED + k;
    const { req, target, detail, bytes } = prepare(seed);
    const what = `${target.kind} ${target.name}${target.kind === 'image' ? `.${target.format}` : target.kind === 'config' ? `/${target.file}` : ''} (${detail})`;
    const fail = (why: string) => failures.push(`seed ${seed}: ${what}: ${why}\n    replay: FUZZ_SEED=${seed} FUZZ_CASES=1 node --import tsx --test test/integration/fuzz.test.ts`);
    try {
      if (target.kind === 'model') count(`in-process parse: ${parseInProcess(bytes)}`);
      const start = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        client.inspect(req).then((r) => ({ ok: true as const, r }), (e: unknown) => ({ ok: false as const, e })),
        new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), PER_CASE_MS); }),
      ]);
      clearTimeout(timer);
      const ms = performance.now() - start;
      if (ms > slowest.ms) slowest = { ms, seed };
      if (client.pid) pids.add(client.pid);
      if (outcome === 'timeout') {
        fail(`no answer within ${PER_CASE_MS} ms`);
        client.dispose(); // a fresh child for the next cases
        client = new InferenceClient({ workerPath: WORKER });
        continue;
      }
      if (outcome.ok) {
        count(`${target.kind}: result`);
        assert.ok(outcome.r.attention.length > 0 && outcome.r.predictions.length > 0, 'a result has attention and predictions');
      } else {
        const e = outcome.e as Error & { code?: string };
        assertUserError(e, ALLOWED_CODES);
        assert.doesNotMatch(e.message, /^Inference failed:/, 'an internal error reached the user (a bug, not a bad input)');
        count(`${target.kind}: ${e.code}`);
        if (process.env.FUZZ_VERBOSE) console.log(`seed ${seed} ${what}: ${e.message}`);
      }
      if (client.pid) maxChildRss = Math.max(maxChildRss, rssMB(client.pid) || 0);
      assert.ok(maxChildRss < CHILD_RSS_CAP_MB, `the inference process grew to ${Math.round(maxChildRss)} MB`);
    } catch (e) {
      fail(e instanceof Error ? e.message : String(e));
    } finally {
      rmSync(join(work, `case-${seed}`), { recursive: true, force: true });
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`fuzz: ${CASES} cases from seed ${BASE_SEED} in ${seconds.toFixed(1)} s; slowest ${slowest.ms.toFixed(0)} ms (seed ${slowest.seed}); ` +
    `inference process peak RSS ${Math.round(maxChildRss)} MB`);
  for (const [k, n] of [...outcomes].sort()) console.log(`  ${k}: ${n}`);
  assert.ok(isAlive(process.pid));
  assert.equal(failures.length, 0, `${failures.length} of ${CASES} cases failed:\n${failures.join('\n')}`);
});

const ALLOWED_CODES = [
  'not-onnx', 'truncated-model', 'not-a-vit', 'fused-attention', 'unsupported-model', 'external-data', 'model-too-large', 'bad-config',
  'bad-image', 'image-too-large', 'unsupported-image', 'empty-file', 'bad-input', 'inference-failed',
  // A native crash in the child is contained (the host lives, the next case gets a new child) and said clearly.
  'worker-crashed',
] as const;
