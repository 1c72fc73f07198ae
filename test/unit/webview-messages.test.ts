import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InspectionPayload } from '../../src/shared/protocol';
import { parseWebviewMessage } from '../../src/shared/protocol';
import type { ReceptiveFieldReport } from '../../src/shared/types';
import { attentionDims, compareScaling, rollout } from '../../src/shared/analytics';
import { layerMap, maskContour, predictionDiff, rolloutKey, scalingRows } from '../../webview/logic/analysis';
import { QueryBook } from '../../webview/logic/queries';
import { cnnRfSizes, rfBoxForToken, withGrid } from '../../webview/logic/compare';
import { dimsOf, emptyModel, handleHostMessage, payloadProblem } from '../../webview/logic/messages';
import { float32ToHalf } from '../../src/shared/float16';

/** The attention of the tiny payload below (held by the inference process; the payload never carries it). */
const L = 2, H = 2, T = 5;
const att = new Float32Array(L * H * T * T);
for (let r = 0; r < L * H * T; r++) for (let k = 0; k < T; k++) att[r * T + k] = (1 + ((r + k) % 3)) / 10;
/** Every head's row of that token, [L, H, T], as float32. */
function rowsF32(q: number, from = 0, to = L): Float32Array {
  const out = new Float32Array((to - from) * H * T);
  for (let lh = from * H; lh < to * H; lh++) out.set(att.subarray((lh * T + q) * T, (lh * T + q + 1) * T), (lh - from * H) * T);
  return out;
}
/** What the inference process answers for a query's rows: those rows as float16 bits. */
const rowsOf = (q: number, from = 0, to = L): Uint16Array => float32ToHalf(rowsF32(q, from, to));

/** A tiny consistent payload: 2 layers x 2 heads, CLS + 2 x 2 patches of 8 px. */
function payload(over: Partial<InspectionPayload> = {}): InspectionPayload {
  return {
    id: 7,
    imageName: 'a.png',
    image: { width: 16, height: 16, rgba: new Uint8Array(16 * 16 * 4) },
    preview: { width: 16, height: 16, rgba: new Uint8Array(16 * 16 * 4) },
    summary: {
      name: 'm.onnx', path: '/m.onnx', layers: L, heads: H, dModel: 8, headDim: 4, tokens: T, parameters: 1000, opset: 17, producer: 'test',
      layout: { patchSize: [8, 8], grid: [2, 2], inputSize: [16, 16], prefixTokens: ['cls'], tokens: T },
      preprocessing: { size: [16, 16], resizeTo: { height: 16, width: 16 }, resample: 'bilinear', centerCrop: null, rescaleFactor: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], source: 'defaults' },
      attentionNodes: [], notes: [],
    },
    predictions: [{ index: 1, label: 'cat', probability: 0.7 }, { index: 2, label: 'dog', probability: 0.2 }],
    cnn: null,
    cnnError: 'no CNN',
    settings: { colormap: 'magma', topK: 3 },
    ...over,
  };
}

test('inspection: a consistent payload replaces the model, clears progress and errors, takes the settings', () => {
  let m = emptyModel();
  m = handleHostMessage(m, { type: 'progress', message: 'Running…' })!.model;
  assert.equal(m.progress, 'Running…');
  m = handleHostMessage(m, { type: 'error', message: 'bad\nthing', action: 'selectModel' })!.model;
  assert.deepEqual(m.error, { message: 'bad thing', action: 'selectModel' });
  assert.equal(m.progress, null);
  const r = handleHostMessage(m, { type: 'inspection', payload: payload() })!;
  assert.ok(r.changed.includes('payload'));
  assert.equal(r.model.error, null);
  assert.equal(r.model.progress, null);
  assert.equal(r.model.settings.colormap, 'magma');
  assert.deepEqual(r.model.dims, { layers: 2, heads: 2, tokens: 5, grid: [2, 2], prefixTokens: ['cls'], cnnLayers: 0 });
});

test('inspection: a missing id, wrong sizes or layout become a one-line error with a retry, not a crash', () => {
  const m = emptyModel();
  const bad = handleHostMessage(m, { type: 'inspection', payload: payload({ id: 1.5 }) })!;
  assert.equal(bad.model.payload, null);
  assert.match(bad.model.error!.message, /no id/);
  assert.equal(bad.model.error!.action, 'retry');
  const p = payload();
  p.summary.layout.tokens = 9;
  assert.match(payloadProblem(p)!, /does not add up/);
  assert.match(payloadProblem(payload({ image: { width: 2, height: 2, rgba: new Uint8Array(3) } }))!, /image/);
  assert.equal(payloadProblem(payload()), null);
  assert.ok(handleHostMessage(m, { type: 'inspection' })!.model.error);
});

test('unknown or malformed messages are ignored; settings and errors are validated', () => {
  const m = emptyModel();
  assert.equal(handleHostMessage(m, null), null);
  assert.equal(handleHostMessage(m, 'x'), null);
  assert.equal(handleHostMessage(m, { type: 'nope' }), null);
  assert.equal(handleHostMessage(m, { type: 'progress' }), null);
  assert.equal(handleHostMessage(m, { type: 'error', message: 3 }), null);
  const e = handleHostMessage(m, { type: 'error', message: 'x', action: 'rm -rf' })!;
  assert.equal(e.model.error!.action, undefined);
  const s = handleHostMessage(m, { type: 'settings', settings: { colormap: 'jet', topK: 0 } })!;
  assert.deepEqual(s.model.settings, m.settings, 'invalid values keep the previous settings');
  const s2 = handleHostMessage(m, { type: 'settings', settings: { colormap: 'turbo', topK: 10 } })!;
  assert.deepEqual(s2.model.settings, { colormap: 'turbo', topK: 10 });
});

test('maskResult needs a payload and names the masked run\'s stored inspection; its rows come as an answer', () => {
  let m = emptyModel();
  const book = new QueryBook();
  assert.equal(handleHostMessage(m, { type: 'maskResult', maskedTokens: [1], predictions: [], inspection: 9 }), null);
  m = handleHostMessage(m, { type: 'inspection', payload: payload() })!.model;
  assert.equal(handleHostMessage(m, { type: 'maskResult', maskedTokens: [1], predictions: [], inspection: 'x' }), null);
  const r = handleHostMessage({ ...m, progress: 'running' }, { type: 'maskResult', maskedTokens: [1, 2], predictions: [{ index: 2, label: 'dog', probability: 0.6 }], inspection: 9 })!;
  assert.deepEqual(r.model.maskResult!.maskedTokens, [1, 2]);
  assert.equal(r.model.maskResult!.inspection, 9);
  assert.equal(r.model.progress, null);
  // the masked run's layer 1 for query 2
  const q = book.request({ kind: 'rows', inspection: 9, token: 2, layers: [1, 2] })!;
  const got = handleHostMessage(r.model, { type: 'answer', requestId: q.requestId, inspection: 9, answer: { kind: 'rows', token: 2, layers: [1, 2], rows: rowsOf(2, 1, 2) } }, book)!;
  assert.deepEqual(got.changed, ['maskRows']);
  assert.equal(got.model.maskRows!.layer, 1);
  // a new inspection drops an old mask result
  const again = handleHostMessage(got.model, { type: 'inspection', payload: payload() })!;
  assert.equal(again.model.maskResult, null);
  assert.equal(again.model.maskRows, null);
});

test('answers: only the latest query of a lane is taken, of the right size; a new inspection forgets them all', () => {
  const book = new QueryBook();
  let m = emptyModel();
  const a1 = book.request({ kind: 'rows', inspection: 7, token: 1 })!;
  const answer = (r: { requestId: number }, token: number, rows = rowsOf(token)) => ({ type: 'answer', requestId: r.requestId, inspection: 7, answer: { kind: 'rows', token, layers: [0, L], rows } });
  assert.equal(handleHostMessage(m, answer(a1, 1), book), null, 'no inspection yet');
  m = handleHostMessage(m, { type: 'inspection', payload: payload() })!.model;
  assert.equal(m.rows, null, 'no rows come with the payload');
  assert.equal(book.request({ kind: 'rows', inspection: 7, token: 1 }), null, 'the same query is not asked twice');
  const a2 = book.request({ kind: 'rows', inspection: 7, token: 3 })!;
  assert.equal(handleHostMessage(m, answer(a1, 1), book), null, 'stale: the query moved on');
  assert.equal(handleHostMessage(m, answer(a2, 3, new Uint16Array(3)), book), null, 'wrong size');
  assert.equal(handleHostMessage(m, answer(a2, 3, rowsF32(3) as unknown as Uint16Array), book), null, 'float32 rows: not the wire format');
  assert.equal(handleHostMessage(m, { ...answer(a2, 3), inspection: 8 }, book), null, 'another inspection');
  assert.equal(handleHostMessage(m, answer(a2, 3), undefined), null, 'no book: not asked');
  const got = handleHostMessage(m, answer(a2, 3), book)!;
  assert.deepEqual(got.changed, ['rows']);
  assert.equal(got.model.rows!.token, 3);
  const want = rowsF32(3);
  assert.ok(got.model.rows!.rows instanceof Float32Array && got.model.rows!.rows.every((v, i) => Math.abs(v - want[i]) <= want[i] * 2 ** -11), 'decoded to float32, within half an ulp of 11 bits');
  // the rollout, head statistics and scaling statistics
  const dims = attentionDims(L, H, payload().summary.layout);
  const s = { fusion: 'mean' as const, discardRatio: 0, disabledHeads: [] as number[] };
  const rq = book.request({ kind: 'rollout', inspection: 7, token: 0, ...s })!;
  const joint = rollout(att, dims, { fusion: 'mean', discardRatio: 0 });
  const ro = handleHostMessage(got.model, { type: 'answer', requestId: rq.requestId, inspection: 7, answer: { kind: 'rollout', token: 0, row: joint.slice(0, T), ms: 12 } }, book)!;
  assert.equal(ro.model.rollout!.key, rolloutKey(s));
  assert.equal(ro.model.rollout!.ms, 12);
  const sq = book.request({ kind: 'scaling', inspection: 7 })!;
  const cs = compareScaling(att.map((v) => Math.log(v)), dims, 4);
  const sc = handleHostMessage(ro.model, { type: 'answer', requestId: sq.requestId, inspection: 7,
    answer: { kind: 'scaling', scaledEntropy: cs.scaled.entropy, unscaledEntropy: cs.unscaled.entropy, scaledMax: cs.scaled.maxWeight, unscaledMax: cs.unscaled.maxWeight } }, book)!;
  const table = scalingRows(sc.model.scaling!, dims);
  assert.equal(table.length, 4);
  // softmax(log p) = p / sum(p): head 0 of layer 0's scaled max weight is the mean over its rows of max(p) / sum(p).
  let expected = 0;
  for (let q = 0; q < 5; q++) {
    const row = Array.from(att.subarray(q * 5, q * 5 + 5));
    expected += Math.max(...row) / row.reduce((x, y) => x + y, 0) / 5;
  }
  assert.ok(Math.abs(table[0].scaledMax - expected) < 1e-6, `${table[0].scaledMax} vs ${expected}`);
  book.reset();
  const next = handleHostMessage(sc.model, { type: 'inspection', payload: payload({ id: 8 }) })!.model;
  assert.deepEqual([next.rows, next.rollout, next.scaling, next.headStats], [null, null, null, null]);
});

test('what the webview posts passes the host validator; queries out of bounds or of another inspection do not', () => {
  const b = { tokens: 5, layers: 2, heads: 2, inspections: [3, 4] };
  const query = (q: object) => ({ type: 'query', requestId: 1, query: q });
  for (const msg of [
    { type: 'ready' }, { type: 'runMasked', maskedTokens: [1, 4] }, { type: 'command', command: 'selectCnn' },
    { type: 'command', command: 'retry' }, { type: 'painted', what: 'heads', ms: 3.2 }, { type: 'painted', what: 'first', ms: 120 },
    query({ kind: 'rows', inspection: 3, token: 4 }), query({ kind: 'rows', inspection: 4, token: 0, layers: [1, 2] }),
    query({ kind: 'head', inspection: 3, layer: 1, head: 1 }), query({ kind: 'headStats', inspection: 3 }), query({ kind: 'scaling', inspection: 3 }),
    query({ kind: 'rollout', inspection: 3, token: 0, fusion: 'max', discardRatio: 0.9, disabledHeads: [3, 0] }),
  ]) assert.notEqual(parseWebviewMessage(msg, b), null, JSON.stringify(msg));
  for (const msg of [
    { type: 'needScores', id: 3 }, { type: 'query', requestId: 1.5, query: { kind: 'rows', inspection: 3, token: 0 } },
    query({ kind: 'rows', inspection: 5, token: 0 }), query({ kind: 'rows', inspection: 3, token: 5 }), query({ kind: 'rows', inspection: 3, token: -1 }),
    query({ kind: 'rows', inspection: 3, token: 0, layers: [1, 1] }), query({ kind: 'rows', inspection: 3, token: 0, layers: [0, 3] }),
    query({ kind: 'head', inspection: 3, layer: 2, head: 0 }), query({ kind: 'rollout', inspection: 3, token: 0, fusion: 'sum', discardRatio: 0, disabledHeads: [] }),
    query({ kind: 'rollout', inspection: 3, token: 0, fusion: 'mean', discardRatio: 1, disabledHeads: [] }),
    query({ kind: 'rollout', inspection: 3, token: 0, fusion: 'mean', discardRatio: 0, disabledHeads: [4] }), query({ kind: 'everything', inspection: 3 }),
  ]) assert.equal(parseWebviewMessage(msg, b), null, JSON.stringify(msg));
  const r = parseWebviewMessage(query({ kind: 'rollout', inspection: 3, token: 0, fusion: 'max', discardRatio: 0.9, disabledHeads: [3, 0, 3] }), b);
  assert.deepEqual(r, { type: 'query', requestId: 1, query: { kind: 'rollout', inspection: 3, token: 0, fusion: 'max', discardRatio: 0.9, disabledHeads: [0, 3] } });
});

test('layer map: mean over the enabled heads of the query\'s rows, prefix keys dropped', () => {
  const d = attentionDims(L, H, payload().summary.layout);
  const rows = rowsF32(2);
  const both = layerMap(rows, d, 1, []);
  const h0 = att.subarray(((1 * 2 + 0) * 5 + 2) * 5 + 1, ((1 * 2 + 0) * 5 + 2) * 5 + 5);
  const h1 = att.subarray(((1 * 2 + 1) * 5 + 2) * 5 + 1, ((1 * 2 + 1) * 5 + 2) * 5 + 5);
  both.forEach((v, i) => assert.ok(Math.abs(v - (h0[i] + h1[i]) / 2) < 1e-7));
  const only0 = layerMap(rows, d, 1, [3]); // head 1 of layer 1 switched off
  only0.forEach((v, i) => assert.ok(Math.abs(v - h0[i]) < 1e-7));
  assert.deepEqual(Array.from(layerMap(rows, d, 1, new Set([2, 3]))), [0, 0, 0, 0], 'no head: zeros');
  // a masked run's answer holds one layer: rowsFrom says which
  assert.deepEqual(Array.from(layerMap(rowsF32(2, 1, 2), d, 1, [], undefined, 1)), Array.from(both));
});

test('mask contour: the outline of the kept patches', () => {
  // 2 x 3, one patch kept: 4 edges
  assert.equal(maskContour(new Uint8Array([0, 1, 0, 0, 0, 0]), 2, 3).length, 4);
  // two neighbours: 6 edges, the shared one is not drawn
  const segs = maskContour(new Uint8Array([1, 1, 0, 0, 0, 0]), 2, 3);
  assert.equal(segs.length, 6);
  assert.ok(!segs.some(([x0, y0, x1, y1]) => x0 === 1 && x1 === 1 && y0 === 0 && y1 === 1));
  assert.equal(maskContour(new Uint8Array(6), 2, 3).length, 0);
});

test('prediction diff joins before and after by class', () => {
  const d = predictionDiff(
    [{ index: 1, label: 'cat', probability: 0.7 }, { index: 2, label: 'dog', probability: 0.2 }],
    [{ index: 2, label: 'dog', probability: 0.5 }, { index: 3, label: 'fox', probability: 0.3 }],
  );
  assert.deepEqual(d, [
    { label: 'cat', before: 0.7, after: null },
    { label: 'dog', before: 0.2, after: 0.5 },
    { label: 'fox', before: null, after: 0.3 },
  ]);
});

test('ViT vs CNN: the receptive field box of the unit under a patch, in ViT input pixels', () => {
  const p = payload();
  // two layers of a CNN on a 32 x 32 input (twice the ViT input): conv 3x3 s1 p1, then conv 3x3 s2 p1
  const cnn: ReceptiveFieldReport = {
    model: 'cnn', inputSize: [32, 32],
    layers: [
      { node: 'c1', op: 'Conv', output: 'o1', rf: [3, 3], jump: [1, 1], start: [0.5, 0.5] },
      { node: 'c2', op: 'Conv', output: 'o2', rf: [5, 5], jump: [2, 2], start: [0.5, 0.5] },
    ],
  };
  assert.deepEqual(withGrid(cnn.layers[1], cnn.inputSize).grid, [16, 16]);
  // patch (1, 1) = token 4: centre (12, 12) in ViT px = (24, 24) in CNN px
  const r = rfBoxForToken(cnn, 0, p.summary.layout, 4)!;
  assert.deepEqual(r.unit, { row: 24, col: 24 });
  assert.deepEqual(r.cnnBox, { x0: 23, y0: 23, x1: 26, y1: 26 });
  assert.deepEqual(r.box, { x0: 11.5, y0: 11.5, x1: 13, y1: 13 });
  const r2 = rfBoxForToken(cnn, 1, p.summary.layout, 1)!; // patch (0, 0): centre (4, 4) -> (8, 8)
  assert.deepEqual(r2.unit, { row: 4, col: 4 }); // round((8 - 0.5) / 2)
  assert.deepEqual(r2.cnnBox, { x0: 6, y0: 6, x1: 11, y1: 11 });
  assert.equal(rfBoxForToken(cnn, 5, p.summary.layout, 1), null);
  const sizes = cnnRfSizes(cnn, p.summary.layout);
  assert.deepEqual(sizes, [1.5, 2.5]); // in ViT pixels (the CNN input is twice as large)
  assert.equal(dimsOf({ ...p, cnn }).cnnLayers, 2);
});
