/**
 * Engine.recycle: an inspection's attention arrays handed back are written into by the next run (no new
 * memory), and that run's numbers are exactly those of a run into fresh arrays. Arrays not handed back
 * are never touched again. The inference process recycles every result once sent: what the host receives
 * is still each image's own attention.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/node/engine';
import { InferenceClient } from '../../src/node/inferenceClient';
import { WORKER, vitImage, vitModel } from '../helpers/badInputs';
import { maxAbsDiff } from '../helpers/fixtures';

const model = vitModel('vit_timm_style');
const imageA = vitImage('vit_timm_style');
const imageB = vitImage('deit_style');

test("a recycled inspection's arrays carry the next run, with the same numbers as fresh arrays", async () => {
  const fresh = await new Engine().inspect({ modelPath: model, image: imageB, threads: 1 });
  const engine = new Engine();
  const a = await engine.inspect({ modelPath: model, image: imageA, threads: 1 });
  assert.ok(maxAbsDiff(a.attention, fresh.attention) > 1e-3, 'the two images give different attention');
  const { attention, scores } = a;
  engine.recycle(a);
  const b = await engine.inspect({ modelPath: model, image: imageB, threads: 1 });
  assert.equal(b.attention, attention, 'the probabilities went into the recycled array');
  assert.equal(b.scores, scores, 'the scores went into the recycled array');
  assert.equal(maxAbsDiff(b.attention, fresh.attention), 0);
  assert.equal(maxAbsDiff(b.scores, fresh.scores), 0);
  assert.deepEqual(Array.from(b.logits), Array.from(fresh.logits));
});

test('without recycle every inspection gets arrays of its own, and earlier results stay as they were', async () => {
  const engine = new Engine();
  const a = await engine.inspect({ modelPath: model, image: imageA, threads: 1 });
  const kept = a.attention.slice();
  const b = await engine.inspect({ modelPath: model, image: imageB, threads: 1 });
  assert.notEqual(b.attention, a.attention);
  assert.notEqual(b.scores, a.scores);
  assert.equal(maxAbsDiff(a.attention, kept), 0, 'the first result is untouched');
  // A view into someone else's buffer is not taken for reuse.
  const view = new Float32Array(b.attention.length * 2).subarray(0, b.attention.length);
  engine.recycle({ attention: view, scores: new Float32Array(0) });
  const c = await engine.inspect({ modelPath: model, image: imageA, threads: 1 });
  assert.notEqual(c.attention.buffer, view.buffer);
  assert.equal(maxAbsDiff(c.attention, kept), 0);
});

test('through the inference process (which recycles each result once sent) every inspection is its own', async () => {
  const engine = new Engine();
  const expected = new Map<string, Float32Array>();
  for (const image of [imageA, imageB]) expected.set(image, (await engine.inspect({ modelPath: model, image, threads: 1 })).attention);
  const client = new InferenceClient({ workerPath: WORKER });
  try {
    const results = [];
    for (const image of [imageA, imageB, imageA, imageB]) results.push({ image, r: await client.inspect({ modelPath: model, image, threads: 1 }) });
    for (const { image, r } of results) assert.equal(maxAbsDiff(r.attention, expected.get(image)!), 0, image);
  } finally {
    client.dispose();
  }
});
