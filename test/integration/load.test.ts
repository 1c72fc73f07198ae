/**
 * Load: 200 different images inspected in a row through the inference child process, every tenth one
 * cancelled in the middle of its run and some with masked tokens. After a warm-up, the resident memory of
 * this process (the host) and of the child grows by less than 50 MB; the child is the same process
 * throughout (no restart, no second child); nothing is written into the image or model folders; after
 * dispose no process is left. The engine keeps one session per model (and at most 4 models).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { Engine } from '../../src/node/engine';
import { InferenceClient } from '../../src/node/inferenceClient';
import { VIT_NAMES } from '../helpers/fixtures';
import { WORKER, assertUserError, isAlive, modelFolder, rssMB, vitImage, vitModel, waitForExit } from '../helpers/badInputs';
import { Rng } from '../helpers/mutate';

const IMAGES = 200;
const WARM_UP = 40;
const MAX_GROWTH_MB = 50;
const work = mkdtempSync(join(tmpdir(), 'vit-load-'));
const imageDir = join(work, 'photos');
let modelDir = '';
const images: string[] = [];

before(async () => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run npm run build first`);
  modelDir = modelFolder(work, 'my-vit', 'vit_hf_style');
  mkdirSync(imageDir);
  // 200 different photos: noise over a colour, 40 to 400 px a side, PNG, JPEG or WebP.
  const rng = new Rng(200);
  for (let i = 0; i < IMAGES; i++) {
    const width = rng.int(40, 401);
    const height = rng.int(40, 401);
    const background = { r: rng.int(0, 256), g: rng.int(0, 256), b: rng.int(0, 256) };
    const format = (['png', 'jpeg', 'webp'] as const)[i % 3];
    const img = sharp({ create: { width, height, channels: 3, background, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .toFormat(format);
    const file = join(imageDir, `photo-${String(i).padStart(3, '0')}.${format === 'jpeg' ? 'jpg' : format}`);
    writeFileSync(file, await img.toBuffer());
    images.push(file);
  }
});
after(() => rmSync(work, { recursive: true, force: true }));

function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => {
    const st = statSync(join(dir, f));
    return `${f} ${st.size} ${st.mtimeMs}`;
  }).sort();
}

const hostRss = () => process.memoryUsage().rss / 1024 / 1024;

test(`${IMAGES} images in a row, every tenth cancelled mid-run: host and child RSS grow < ${MAX_GROWTH_MB} MB after warm-up`, { timeout: 240_000 }, async () => {
  const imagesBefore = listing(imageDir);
  const modelBefore = listing(modelDir);
  const client = new InferenceClient({ workerPath: WORKER });
  const pids = new Set<number>();
  let host0 = 0;
  let child0 = 0;
  let cancelled = 0;
  let done = 0;
  const t0 = performance.now();
  let tWarm = 0;
  for (let i = 0; i < IMAGES; i++) {
    if (i === WARM_UP) {
      (globalThis as { gc?: () => void }).gc?.();
      host0 = hostRss();
      child0 = rssMB(client.pid!);
      tWarm = performance.now();
    }
    const ac = new AbortController();
    const cancel = i % 10 === 5;
    const request = {
      modelPath: modelDir,
      // Half as paths, half as bytes (as the extension sends an unsaved or remote image).
      image: i % 2 === 0 ? images[i] : new Uint8Array(readFileSync(images[i])),
      maskedTokens: i % 7 === 3 ? [1 + (i % 16)] : undefined,
      topK: 5,
      threads: 1,
    };
    try {
      const r = await client.inspect(request, { signal: ac.signal, onProgress: (m) => { if (cancel && /Running/.test(m)) ac.abort(); } });
      assert.ok(!cancel, `request ${i} was to be cancelled`);
      assert.equal(r.attention.length, 3 * 4 * 17 * 17);
      assert.equal(r.modelImage.width, 64);
      done++;
    } catch (e) {
      assert.ok(cancel, `request ${i} failed: ${(e as Error).message}`);
      assertUserError(e, 'cancelled', /^Cancelled\.$/);
      cancelled++;
    }
    pids.add(client.pid!);
  }
  const seconds = (performance.now() - t0) / 1000;
  (globalThis as { gc?: () => void }).gc?.();
  const child = client.pid!;
  const hostGrowth = hostRss() - host0;
  const childGrowth = rssMB(child) - child0;
  console.log(`load: ${done} inspected + ${cancelled} cancelled in ${seconds.toFixed(1)} s (${((performance.now() - tWarm) / (IMAGES - WARM_UP)).toFixed(0)} ms each after warm-up); ` +
    `RSS after warm-up: host ${host0.toFixed(0)} MB ${fmt(hostGrowth)}, child ${child0.toFixed(0)} MB ${fmt(childGrowth)}`);
  assert.equal(cancelled, IMAGES / 10);
  assert.equal(done, IMAGES - IMAGES / 10);
  assert.ok(hostGrowth < MAX_GROWTH_MB, `host RSS grew by ${hostGrowth.toFixed(1)} MB`);
  assert.ok(childGrowth < MAX_GROWTH_MB, `child RSS grew by ${childGrowth.toFixed(1)} MB`);
  assert.deepEqual([...pids], [child], 'one inference process throughout (cancelling a short run does not restart it)');

  client.dispose();
  assert.ok(await waitForExit(child), `inference process ${child} left behind`);
  assert.deepEqual(listing(imageDir), imagesBefore, 'nothing written next to the images');
  assert.deepEqual(listing(modelDir), modelBefore, 'nothing written next to the model');
  assert.ok(isAlive(process.pid));
});

function fmt(mb: number): string {
  return `${mb >= 0 ? '+' : ''}${mb.toFixed(1)} MB`;
}

test('the engine keeps one session per model however many images, and at most 4 models', async () => {
  const engine = new Engine();
  for (let i = 0; i < 20; i++) await engine.inspect({ modelPath: modelDir, image: images[i], threads: 1 });
  assert.equal(engine.cachedModels, 1);
  for (const name of VIT_NAMES) await engine.inspect({ modelPath: vitModel(name), image: vitImage(name), threads: 1 });
  await engine.inspect({ modelPath: join(modelDir, 'model.onnx'), image: images[0], threads: 1 });
  assert.equal(engine.cachedModels, 4, 'six models opened, four kept');
  // A model re-exported in place is loaded again, not served from the old session.
  const file = join(work, 're-exported.onnx');
  writeFileSync(file, readFileSync(vitModel('vit_hf_style')));
  assert.equal((await engine.inspect({ modelPath: file, image: images[0], threads: 1 })).summary.tokens, 17);
  writeFileSync(file, readFileSync(vitModel('deit_style')));
  assert.equal((await engine.inspect({ modelPath: file, image: images[0], threads: 1 })).summary.tokens, 18);
  assert.equal(engine.cachedModels, 4);
});
