/**
 * The inference process keeps each inspection's tensors (src/node/tensorStore.ts) and answers queries on them
 * (src/node/tensorQueries.ts), through the real child process (dist/worker.js): every answer equals the same
 * slice or statistic of the whole tensor that `inspect` returns, scores come only when the scaling query asks,
 * stale queries are dropped, the store stays within its budget (least recently used dropped first) and the
 * export written by the child is byte for byte the CLI's.
 */
import assert from 'node:assert/strict';
import { float32ToHalf } from '../../src/shared/float16';
import { rowValues } from '../../src/shared/queries';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InferenceClient } from '../../src/node/inferenceClient';
import { writeReport } from '../../src/node/report';
import { attentionDims, attentionEntropy, compareScaling, meanAttentionDistance, rollout } from '../../src/shared/analytics';
import { isInspectorError } from '../../src/shared/errors';
import type { Inspection } from '../../src/shared/types';
import type { InspectRequest } from '../../src/node/workerProtocol';
import { WORKER, vitImage, vitModel } from '../helpers/badInputs';

const request: InspectRequest = { modelPath: vitModel('vit_hf_style'), image: vitImage('vit_hf_style'), topK: 3, threads: 1 };
const work = mkdtempSync(join(tmpdir(), 'vit-store-'));
let client: InferenceClient;
let full: Inspection;

before(async () => {
  client = new InferenceClient({ workerPath: WORKER });
  full = await client.inspect(request);
});
after(() => {
  client?.dispose();
  rmSync(work, { recursive: true, force: true });
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('open keeps the tensors in the child: the answer has none, and every query equals the whole tensor\'s slice', async () => {
  const opened = await client.open(request);
  assert.ok(!('attention' in opened) && !('scores' in opened), 'no tensor comes back');
  const { layers: L, heads: H, tokens: N } = opened.summary;
  assert.deepEqual([L, H, N], [3, 4, 17]);
  const [h, w] = opened.summary.preprocessing.size;
  const others = opened.logits.byteLength + opened.modelImage.rgb.byteLength + opened.preview.rgba.byteLength + 3 * h * w * 4; // and the input tensor
  assert.equal(opened.storedBytes, L * H * N * N * 4 + others, 'the child holds the probabilities, not the scores');
  assert.deepEqual(opened.predictions, full.predictions);

  const rows = await client.query({ kind: 'rows', inspection: opened.id, token: 5 });
  assert.equal(rows.rows.length, L * H * N);
  for (let lh = 0; lh < L * H; lh++) {
    const expected = full.attention.subarray((lh * N + 5) * N, (lh * N + 5) * N + N);
    assert.deepEqual(rows.rows.subarray(lh * N, lh * N + N), float32ToHalf(expected), `row of head ${lh}: the stored float32 row in half precision`);
  }
  const layer1 = await client.query({ kind: 'rows', inspection: opened.id, token: 5, layers: [1, 2] });
  assert.deepEqual(Array.from(layer1.rows), Array.from(rows.rows.subarray(H * N, 2 * H * N)));

  const head = await client.query({ kind: 'head', inspection: opened.id, layer: 2, head: 3 });
  assert.equal(maxDiff(head.map, full.attention.subarray((2 * H + 3) * N * N, (2 * H + 4) * N * N)), 0);

  const dims = attentionDims(L, H, opened.summary.layout);
  for (const [fusion, discardRatio, disabledHeads] of [['mean', 0, []], ['max', 0.9, [1, 6]]] as const) {
    const heads = Array.from({ length: L * H }, (_, i) => !(disabledHeads as readonly number[]).includes(i));
    const joint = rollout(full.attention, dims, { fusion, discardRatio, heads });
    const r = await client.query({ kind: 'rollout', inspection: opened.id, token: 7, fusion, discardRatio, disabledHeads: [...disabledHeads] });
    assert.ok(maxDiff(r.row, joint.subarray(7 * N, 8 * N)) < 1e-5, `rollout row (${fusion}, ${discardRatio})`);
  }

  const stats = await client.query({ kind: 'headStats', inspection: opened.id });
  assert.ok(maxDiff(stats.meanDistance, meanAttentionDistance(full.attention, dims, opened.summary.layout)) < 1e-4);
  assert.ok(maxDiff(stats.entropy, attentionEntropy(full.attention, dims)) < 1e-5);
  await client.release([opened.id]);
});

test('scores are fetched only when the scaling query asks, and equal those of a run that fetched them', async () => {
  const opened = await client.open(request);
  const before = opened.storedBytes;
  const s = await client.query({ kind: 'scaling', inspection: opened.id });
  const expected = compareScaling(full.scores, attentionDims(3, 4, opened.summary.layout), opened.summary.headDim);
  assert.ok(maxDiff(s.scaledEntropy, expected.scaled.entropy) < 1e-5);
  assert.ok(maxDiff(s.unscaledEntropy, expected.unscaled.entropy) < 1e-5);
  assert.ok(maxDiff(s.scaledMax, expected.scaled.maxWeight) < 1e-6);
  assert.ok(maxDiff(s.unscaledMax, expected.unscaled.maxWeight) < 1e-6);
  assert.ok(before > 0);
  await client.release([opened.id]);
});

test('a query superseded by a newer one of its lane while it waited is dropped, not answered', async () => {
  const opened = await client.open(request);
  // The child is busy with the masked run while these three arrive: only the last rows query is answered.
  const busy = client.open({ ...request, maskedTokens: [3, 4] });
  const moves = [1, 2, 3].map((token) => client.query({ kind: 'rows', inspection: opened.id, token }).then((a) => a.token, (e) => e));
  const stats = client.query({ kind: 'headStats', inspection: opened.id }); // another lane: kept
  const settled = await Promise.all(moves);
  assert.ok(isInspectorError(settled[0]) && settled[0].code === 'superseded', String(settled[0]));
  assert.ok(isInspectorError(settled[1]) && settled[1].code === 'superseded', String(settled[1]));
  assert.equal(settled[2], 3);
  assert.equal((await stats).kind, 'headStats');
  await client.release([opened.id, (await busy).id]);
});

test('a masked run is a stored inspection of its own', async () => {
  const base = await client.open(request);
  const masked = await client.open({ ...request, maskedTokens: [3] });
  assert.notEqual(masked.id, base.id);
  assert.deepEqual(masked.maskedTokens, [3]);
  const rows = await client.query({ kind: 'rows', inspection: masked.id, token: 0, layers: [0, 1] });
  const values = rowValues(rows);
  for (let h = 0; h < 4; h++) assert.equal(values[h * 17 + 3], 0, 'the masked key gets no attention');
  await client.release([base.id, masked.id]);
});

test('the store keeps within its budget: the least recently used inspection is dropped first, with a one-line error', async () => {
  const size = (await client.open(request)).storedBytes;
  const saved = process.env.VIT_INSPECTOR_STORE_MB;
  process.env.VIT_INSPECTOR_STORE_MB = String((2.5 * size) / 2 ** 20); // two inspections of this model fit, three do not
  const small = new InferenceClient({ workerPath: WORKER });
  try {
    const a = await small.open(request);
    const b = await small.open(request);
    await small.query({ kind: 'rows', inspection: a.id, token: 0 }); // a is now more recent than b
    const c = await small.open(request);
    assert.equal(a.storedBytes, size);
    const gone = await small.query({ kind: 'rows', inspection: b.id, token: 0 }).catch((e) => e);
    assert.ok(isInspectorError(gone) && gone.code === 'inspection-gone', String(gone));
    assert.match(gone.message, /^This inspection is no longer held by the inference process .*Run the inspection again\.$/);
    assert.equal((await small.query({ kind: 'rows', inspection: a.id, token: 0 })).token, 0);
    assert.equal((await small.query({ kind: 'rows', inspection: c.id, token: 0 })).token, 0);
  } finally {
    small.dispose();
    if (saved === undefined) delete process.env.VIT_INSPECTOR_STORE_MB;
    else process.env.VIT_INSPECTOR_STORE_MB = saved;
  }
});

test('export from the child writes the same files as the CLI\'s in-process writeReport, attention.npy byte for byte', async () => {
  const opened = await client.open(request);
  const inChild = join(work, 'child');
  const inProcess = join(work, 'cli');
  const files = await client.exportReport(opened.id, inChild, { query: 0 });
  await writeReport(inProcess, full, { query: 0 });
  assert.equal(files.length, 5);
  for (const f of ['attention.npy', 'patches.png', 'heads.png', 'rollout.png']) {
    assert.ok(readFileSync(join(inChild, f)).equals(readFileSync(join(inProcess, f))), `${f} is identical`);
  }
  const strip = (p: string) => { const r = JSON.parse(readFileSync(p, 'utf8')); delete r.timings; return r; };
  assert.deepEqual(strip(join(inChild, 'report.json')), strip(join(inProcess, 'report.json')));
  await client.release([opened.id]);
});

test('a summary is read from the graph without an image', async () => {
  const s = await client.summary(request.modelPath);
  assert.deepEqual(s, full.summary);
});
