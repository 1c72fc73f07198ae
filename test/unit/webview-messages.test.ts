import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InspectionPayload } from '../../src/shared/protocol';
import { parseWebviewMessage } from '../../src/shared/protocol';
import type { ReceptiveFieldReport } from '../../src/shared/types';
import { Analysis, layerMap, maskContour, predictionDiff } from '../../webview/logic/analysis';
import { cnnRfSizes, rfBoxForToken, withGrid } from '../../webview/logic/compare';
import { dimsOf, emptyModel, handleHostMessage, payloadProblem } from '../../webview/logic/messages';

/** A tiny consistent payload: 2 layers x 2 heads, CLS + 2 x 2 patches of 8 px. */
function payload(over: Partial<InspectionPayload> = {}): InspectionPayload {
  const L = 2, H = 2, T = 5;
  const att = new Float32Array(L * H * T * T);
  for (let r = 0; r < L * H * T; r++) for (let k = 0; k < T; k++) att[r * T + k] = (1 + ((r + k) % 3)) / 10;
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
    attention: att,
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

test('inspection: wrong tensor sizes or layout become a one-line error with a retry, not a crash', () => {
  const m = emptyModel();
  const bad = handleHostMessage(m, { type: 'inspection', payload: payload({ attention: new Float32Array(3) }) })!;
  assert.equal(bad.model.payload, null);
  assert.match(bad.model.error!.message, /attention tensor has 3 values, expected 100/);
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

test('maskResult needs a payload and an attention tensor of the same shape', () => {
  let m = emptyModel();
  const att = payload().attention;
  assert.equal(handleHostMessage(m, { type: 'maskResult', maskedTokens: [1], predictions: [], attention: att }), null);
  m = handleHostMessage(m, { type: 'inspection', payload: payload() })!.model;
  assert.equal(handleHostMessage(m, { type: 'maskResult', maskedTokens: [1], predictions: [], attention: new Float32Array(4) }), null);
  const r = handleHostMessage({ ...m, progress: 'running' }, { type: 'maskResult', maskedTokens: [1, 2], predictions: [{ index: 2, label: 'dog', probability: 0.6 }], attention: att })!;
  assert.deepEqual(r.model.maskResult!.maskedTokens, [1, 2]);
  assert.equal(r.model.progress, null);
  // a new inspection drops an old mask result
  const again = handleHostMessage(r.model, { type: 'inspection', payload: payload() })!;
  assert.equal(again.model.maskResult, null);
});

test('scores come on request: only those of the inspection on show, of its shape, are taken', () => {
  const p = payload();
  const scores = p.attention.map((v) => Math.log(v));
  let m = emptyModel();
  assert.equal(handleHostMessage(m, { type: 'scores', id: 7, scores }), null, 'no inspection yet');
  const r = handleHostMessage(m, { type: 'inspection', payload: p })!;
  m = r.model;
  assert.equal(m.scores, null, 'not sent with the payload');
  assert.ok(r.changed.includes('scores'));
  assert.equal(handleHostMessage(m, { type: 'scores', id: 6, scores }), null, 'an earlier inspection');
  assert.equal(handleHostMessage(m, { type: 'scores', id: 7, scores: new Float32Array(3) }), null, 'wrong size');
  assert.equal(handleHostMessage(m, { type: 'scores', id: 7, scores: Array.from(scores) }), null, 'not a typed array');
  const got = handleHostMessage(m, { type: 'scores', id: 7, scores })!;
  assert.equal(got.model.scores, scores);
  assert.deepEqual(got.changed, ['scores']);
  // The next inspection forgets them.
  assert.equal(handleHostMessage(got.model, { type: 'inspection', payload: payload({ id: 8 }) })!.model.scores, null);
});

test('what the webview posts passes the host validator', () => {
  assert.equal(parseWebviewMessage({ type: 'needScores', id: 1.5 }, 5), null);
  assert.equal(parseWebviewMessage({ type: 'needScores' }, 5), null);
  for (const msg of [
    { type: 'ready' }, { type: 'runMasked', maskedTokens: [1, 4] }, { type: 'command', command: 'selectCnn' }, { type: 'needScores', id: 3 },
    { type: 'command', command: 'retry' }, { type: 'painted', what: 'heads', ms: 3.2 }, { type: 'painted', what: 'first', ms: 120 },
  ]) assert.notEqual(parseWebviewMessage(msg, 5), null, JSON.stringify(msg));
});

test('layer map: mean over the enabled heads of the query row, prefix keys dropped', () => {
  const p = payload();
  const a = new Analysis(p);
  const d = a.dims;
  const both = layerMap(p.attention, d, 1, 2, []);
  const h0 = p.attention.subarray(((1 * 2 + 0) * 5 + 2) * 5 + 1, ((1 * 2 + 0) * 5 + 2) * 5 + 5);
  const h1 = p.attention.subarray(((1 * 2 + 1) * 5 + 2) * 5 + 1, ((1 * 2 + 1) * 5 + 2) * 5 + 5);
  both.forEach((v, i) => assert.ok(Math.abs(v - (h0[i] + h1[i]) / 2) < 1e-7));
  const only0 = layerMap(p.attention, d, 1, 2, [3]); // head 1 of layer 1 switched off
  only0.forEach((v, i) => assert.ok(Math.abs(v - h0[i]) < 1e-7));
  assert.deepEqual(Array.from(layerMap(p.attention, d, 1, 2, new Set([2, 3]))), [0, 0, 0, 0], 'no head: zeros');
  // rollout is cached by its inputs
  const s = { fusion: 'mean' as const, discardRatio: 0, disabledHeads: [] };
  assert.equal(a.hasRollout(s), false);
  const j = a.rolloutJoint(s);
  assert.equal(a.rolloutJoint(s), j);
  assert.equal(a.hasRollout({ ...s, disabledHeads: [1] }), false);
  const scores = p.attention.map((v) => Math.log(v));
  const rows = a.scalingRows(scores);
  assert.equal(rows.length, 4);
  // softmax(log p) = p / sum(p): head 0 of layer 0's scaled max weight is the mean over its rows of max(p) / sum(p).
  let expected = 0;
  for (let q = 0; q < 5; q++) {
    const row = Array.from(p.attention.subarray(q * 5, q * 5 + 5));
    expected += Math.max(...row) / row.reduce((x, y) => x + y, 0) / 5;
  }
  assert.ok(Math.abs(rows[0].scaledMax - expected) < 1e-6, `${rows[0].scaledMax} vs ${expected}`);
  assert.equal(a.meanDistances().length, 4);
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
