import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attentionDims, attentionEntropy, compareScaling, dinoMask, maxWeight, meanAttentionDistance, queryMap, queryMaps,
  discardLowest, rollout, rolloutLayers, rolloutRowMap, rolloutRowOf,
  rolloutRow, rolloutMap, softmaxRows, type AttentionDims, type PatchDims, type RolloutOptions,
} from '../../src/shared/analytics';
import type { TokenLayout } from '../../src/shared/types';

function close(actual: ArrayLike<number>, expected: number[], eps = 1e-6): void {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= eps, `[${i}] ${actual[i]} != ${expected[i]}`);
  }
}

/** Flattens [layer][head][query][key] into the [L, H, N, N] layout. */
const flat = (a: number[][][][]): Float32Array => Float32Array.from(a.flat(3));

function layout(rows: number, cols: number, patch: [number, number], prefix: string[]): TokenLayout {
  return { patchSize: patch, grid: [rows, cols], inputSize: [rows * patch[0], cols * patch[1]], prefixTokens: prefix, tokens: prefix.length + rows * cols };
}

test('queryMap and queryMaps drop the prefix keys', () => {
  const dims: PatchDims = { layers: 1, heads: 2, tokens: 3, prefix: 1 };
  const att = flat([[
    [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [1, 0, 0]],
    [[0.6, 0.4, 0], [0, 1, 0], [0.3, 0.3, 0.4]],
  ]]);
  close(queryMap(att, dims, 0, 1, 2), [0.3, 0.4]);
  const out = new Float32Array(4);
  assert.equal(queryMaps(att, dims, 1, out), out, 'reuses the out buffer');
  close(out, [0.1, 0.8, 1, 0]);
  assert.deepEqual(attentionDims(12, 12, layout(14, 14, [16, 16], ['cls'])), { layers: 12, heads: 12, tokens: 197, prefix: 1 });
});

// Two layers, two heads, three tokens.
// Layer 1: H0 = [[1,0,0],[1,0,0],[0,0,1]], H1 = [[1,0,0],[0,1,0],[0,0,1]]; layer 2: both heads = A2 = [[0,1,0],[0,1,0],[0,0,1]].
const H0 = [[1, 0, 0], [1, 0, 0], [0, 0, 1]];
const H1 = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
const A2 = [[0, 1, 0], [0, 1, 0], [0, 0, 1]];
const twoLayers = flat([[H0, H1], [A2, A2]]);
const dims3: AttentionDims = { layers: 2, heads: 2, tokens: 3, prefix: 1 };

test('rollout, mean fusion, worked by hand', () => {
  // mean A1 = [[1,0,0],[.5,.5,0],[0,0,1]]; a1 = (A1+I)/2 = [[1,0,0],[.25,.75,0],[0,0,1]] (rows already sum to 1)
  // a2 = (A2+I)/2 = [[.5,.5,0],[0,1,0],[0,0,1]]
  // joint = a2 @ a1 = [[.625,.375,0],[.25,.75,0],[0,0,1]]
  const joint = rollout(twoLayers, dims3, { fusion: 'mean', discardRatio: 0 });
  close(joint, [0.625, 0.375, 0, 0.25, 0.75, 0, 0, 0, 1]);
  // CLS row over the 1x2 patch grid [.375, 0], divided by its max
  close(rolloutMap(joint, layout(1, 2, [16, 16], ['cls'])), [1, 0]);
  close(rolloutMap(joint, layout(1, 2, [16, 16], ['cls']), 1), [1, 0]);
});

test('rollout, max and min fusion', () => {
  // max A1 = [[1,0,0],[1,1,0],[0,0,1]]; +I -> [[2,0,0],[1,2,0],[0,0,2]]; rows -> [[1,0,0],[1/3,2/3,0],[0,0,1]]
  // joint row 0 = .5*[1,0,0] + .5*[1/3,2/3,0] = [2/3,1/3,0]
  const max = rollout(twoLayers, dims3, { fusion: 'max', discardRatio: 0 });
  close(max.subarray(0, 3), [2 / 3, 1 / 3, 0]);
  // min A1 = [[1,0,0],[0,0,0],[0,0,1]]; +I and rows -> identity, so joint = a2
  const min = rollout(twoLayers, dims3, { fusion: 'min', discardRatio: 0 });
  close(min, [0.5, 0.5, 0, 0, 1, 0, 0, 0, 1]);
});

test('rollout with a head mask', () => {
  // only head 0: a1 = (H0+I)/2 = [[1,0,0],[.5,.5,0],[0,0,1]]; joint row 0 = .5*[1,0,0] + .5*[.5,.5,0]
  const joint = rollout(twoLayers, dims3, { fusion: 'mean', discardRatio: 0, heads: [true, false] });
  close(joint.subarray(0, 3), [0.75, 0.25, 0]);
  // per layer-head mask: head 1 in layer 1 (H1 + I)/2 -> [[1,0,0],[0,1,0],[0,0,1]], so joint = a2
  const perLayer = rollout(twoLayers, dims3, { fusion: 'mean', discardRatio: 0, heads: [false, true, true, true] });
  close(perLayer, [0.5, 0.5, 0, 0, 1, 0, 0, 0, 1]);
  // no head enabled anywhere: every layer is the identity
  close(rollout(twoLayers, dims3, { fusion: 'max', discardRatio: 0, heads: [false, false] }), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.throws(() => rollout(twoLayers, dims3, { fusion: 'mean', discardRatio: 0, heads: [true] }), RangeError);
});

test('rollout discardRatio zeroes the lowest weights but never flat index 0', () => {
  // A flattened: [.05,.55,.4, .1,.6,.3, .25,.15,.6]; k = floor(9 * .34) = 3 lowest: idx 0 (.05, kept), 3 (.1), 7 (.15)
  // A' = [[.05,.55,.4],[0,.6,.3],[.25,0,.6]]; +I = [[1.05,.55,.4],[0,1.6,.3],[.25,0,1.6]], row sums 2, 1.9, 1.85
  const att = flat([[[[0.05, 0.55, 0.4], [0.1, 0.6, 0.3], [0.25, 0.15, 0.6]]]]);
  const dims: AttentionDims = { layers: 1, heads: 1, tokens: 3, prefix: 1 };
  const joint = rollout(att, dims, { fusion: 'mean', discardRatio: 0.34 });
  close(joint, [0.525, 0.275, 0.2, 0, 1.6 / 1.9, 0.3 / 1.9, 0.25 / 1.85, 0, 1.6 / 1.85]);
  // without discarding: +I = [[1.05,.55,.4],[.1,1.6,.3],[.25,.15,1.6]], each row sums to 2
  close(rollout(att, dims, { fusion: 'mean', discardRatio: 0 }), [0.525, 0.275, 0.2, 0.05, 0.8, 0.15, 0.125, 0.075, 0.8]);
});

test('meanAttentionDistance: one-hot to the diagonal neighbour is 16 * sqrt(2)', () => {
  // 2x2 grid of 16px patches after a CLS token. Patch q attends to the opposite corner 3 - q; the CLS key
  // gets weight too (renormalised away) and the CLS query is ignored.
  const lay = layout(2, 2, [16, 16], ['cls']);
  const rows = [[0.2, 0.2, 0.2, 0.2, 0.2]];
  for (let q = 0; q < 4; q++) {
    const r = [0.5, 0, 0, 0, 0];
    r[1 + (3 - q)] = 0.5;
    rows.push(r);
  }
  const d = meanAttentionDistance(flat([[rows]]), attentionDims(1, 1, lay), lay);
  close(d, [16 * Math.SQRT2], 1e-4);
});

test('meanAttentionDistance uses the patch height and width separately', () => {
  // 1x2 grid, patches 8 high and 16 wide, no prefix: attending to the other patch is 16px; to itself 0.
  const lay = layout(1, 2, [8, 16], []);
  const att = flat([[[[0, 1], [1, 0]], [[1, 0], [0.5, 0.5]]]]);
  close(meanAttentionDistance(att, attentionDims(1, 2, lay), lay), [16, 4]);
  // 2x1 grid: the other patch is 8px below
  const tall = layout(2, 1, [8, 16], []);
  close(meanAttentionDistance(flat([[[[0, 1], [1, 0]]]]), attentionDims(1, 1, tall), tall), [8]);
});

test('entropy and max weight: uniform is ln N and 1/N, one-hot is 0 and 1', () => {
  const n = 5;
  const uniform = Array.from({ length: n }, () => Array<number>(n).fill(1 / n));
  const oneHot = Array.from({ length: n }, (_, q) => Array.from({ length: n }, (_, k) => (k === (q + 1) % n ? 1 : 0)));
  const att = flat([[uniform, oneHot]]);
  const dims: AttentionDims = { layers: 1, heads: 2, tokens: n, prefix: 1 };
  close(attentionEntropy(att, dims), [Math.log(n), 0]);
  close(maxWeight(att, dims), [1 / n, 1]);
});

test('entropy and max weight match -sum p ln p and max p (Math.log) for weights of every float32 magnitude', () => {
  // Rows mixing zeros, subnormals, tiny, mid and large weights with arbitrary mantissas (entropy uses a
  // table-based ln of the float32 bits, which must agree with Math.log); the attention is a view at an
  // offset into a larger buffer, as a tensor sliced out of a bigger one would be.
  const layers = 2, heads = 3, n = 37;
  let seed = 7;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const backing = new Float32Array(5 + layers * heads * n * n);
  const att = backing.subarray(5);
  for (let i = 0; i < att.length; i++) {
    const kind = i % 7;
    att[i] = kind === 0 ? 0 : kind === 1 ? rand() * 2 ** -140 : (0.5 + rand()) * 2 ** -Math.floor(rand() * 40 * kind / 6);
  }
  const dims: AttentionDims = { layers, heads, tokens: n };
  const entropy = attentionEntropy(att, dims);
  const max = maxWeight(att, dims);
  for (let lh = 0; lh < layers * heads; lh++) {
    let e = 0;
    let m = 0;
    for (let q = 0; q < n; q++) {
      let rowMax = 0;
      for (let k = 0; k < n; k++) {
        const v = att[(lh * n + q) * n + k];
        if (v > 0) e -= v * Math.log(v);
        rowMax = Math.max(rowMax, v);
      }
      m += rowMax;
    }
    assert.ok(Math.abs(entropy[lh] - e / n) <= 1e-6 * Math.abs(e / n), `head ${lh}: entropy ${entropy[lh]} vs ${e / n}`);
    assert.equal(max[lh], Math.fround(m / n));
  }
});

test('softmaxRows is stable and gives exact zeros for -Infinity', () => {
  const s = Float32Array.from([0, Math.log(2), -Infinity, 1000, 1000, -Infinity, -Infinity, -Infinity, -Infinity]);
  const p = softmaxRows(s, 3);
  close(p, [1 / 3, 2 / 3, 0, 0.5, 0.5, 0, 0, 0, 0]);
  assert.equal(p[2], 0);
  close(softmaxRows(Float32Array.from([0, Math.log(3) / 2]), 2, 2), [0.25, 0.75]);
});

test('compareScaling: scaled scores vs softmax(QK^T) = softmax(scores * sqrt(d_k))', () => {
  // d_k = 4 so the unscaled scores are twice the exposed ones. Rows: [0, ln(3)/2] and [0, 0].
  const scores = Float32Array.from([0, Math.log(3) / 2, 0, 0]);
  const dims: AttentionDims = { layers: 1, heads: 1, tokens: 2, prefix: 0 };
  const { scaled, unscaled } = compareScaling(scores, dims, 4);
  const h = (p: number[]) => -p.reduce((a, v) => a + v * Math.log(v), 0);
  const s3 = Math.sqrt(3);
  // scaled row 0 = [1, sqrt3] / (1 + sqrt3); unscaled row 0 = [1/4, 3/4]; row 1 is [1/2, 1/2] in both
  close(scaled.maxWeight, [(s3 / (1 + s3) + 0.5) / 2]);
  close(unscaled.maxWeight, [(0.75 + 0.5) / 2]);
  close(scaled.entropy, [(h([1 / (1 + s3), s3 / (1 + s3)]) + Math.log(2)) / 2]);
  close(unscaled.entropy, [(h([0.25, 0.75]) + Math.log(2)) / 2]);
});

test('dinoMask keeps the top weights until their mass reaches keepMass', () => {
  // descending 4, 3, 2, 1 of total 10: 4 (cum 4 < 6) and 3 (cum 4 < 6) are kept, then cum 7 >= 6 stops
  assert.deepEqual([...dinoMask(Float32Array.from([1, 4, 2, 3]), 0.6)], [0, 1, 0, 1]);
  // reaching exactly 0.7 (4 + 3) stops there; a hair more needs the 2
  assert.deepEqual([...dinoMask(Float32Array.from([1, 4, 2, 3]), 0.7)], [0, 1, 0, 1]);
  assert.deepEqual([...dinoMask(Float32Array.from([1, 4, 2, 3]), 0.71)], [0, 1, 1, 1]);
  assert.deepEqual([...dinoMask(Float32Array.from([0.1, 0.9]), 0.6)], [0, 1]);
  assert.deepEqual([...dinoMask(Float32Array.from([0, 0]), 0.6)], [0, 0]);
});

test('rolloutRow is the same row as the full rollout, for any fusion, discard ratio and query', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const dims = { layers: 3, heads: 2, tokens: 5 };
  const att = new Float32Array(3 * 2 * 25);
  for (let r = 0; r < 3 * 2 * 5; r++) {
    let sum = 0;
    for (let j = 0; j < 5; j++) sum += att[r * 5 + j] = rand() + 0.01;
    for (let j = 0; j < 5; j++) att[r * 5 + j] /= sum;
  }
  for (const fusion of ['mean', 'max', 'min'] as const) {
    for (const discardRatio of [0, 0.3]) {
      const joint = rollout(att, dims, { fusion, discardRatio });
      for (const q of [0, 3]) {
        const row = rolloutRow(att, dims, { fusion, discardRatio }, q);
        for (let j = 0; j < 5; j++) assert.ok(Math.abs(row[j] - joint[q * 5 + j]) < 1e-6, `${fusion} ${discardRatio} q${q} k${j}`);
      }
    }
  }
});

test('discardLowest zeroes exactly what sorting by (value, index) and zeroing the first k does, index 0 kept', () => {
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const [n, levels] of [[50, 0], [400, 5], [1000, 3], [37, 1]] as const) {
    for (const ratio of [0, 0.1, 0.5, 0.9, 0.99, 1]) {
      // levels > 0: few distinct values, so that ties decide (by index, as a stable sort would)
      const a = Float32Array.from({ length: n }, () => (levels ? Math.floor(rand() * levels) / levels : rand()));
      const k = Math.floor(n * ratio);
      const expected = a.slice();
      const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[x] - a[y] || x - y);
      for (let i = 0; i < k; i++) if (order[i] !== 0) expected[order[i]] = 0;
      const got = a.slice();
      discardLowest(got, k);
      assert.deepEqual(Array.from(got), Array.from(expected), `n ${n}, levels ${levels}, ratio ${ratio}`);
    }
  }
});

test('rolloutRowOf over rolloutLayers equals the rows of rollout(), with fusion, discard and switched-off heads', () => {
  const dims = { layers: 3, heads: 2, tokens: 6 };
  let seed = 3;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const att = new Float32Array(3 * 2 * 6 * 6);
  for (let r = 0; r < 3 * 2 * 6; r++) {
    let sum = 0;
    for (let k = 0; k < 6; k++) sum += (att[r * 6 + k] = rand());
    for (let k = 0; k < 6; k++) att[r * 6 + k] /= sum;
  }
  const cases: RolloutOptions[] = [{ fusion: 'mean', discardRatio: 0 }, { fusion: 'max', discardRatio: 0.9, heads: [true, false, true, true, false, true] }];
  for (const opts of cases) {
    const joint = rollout(att, dims, opts);
    const layers = rolloutLayers(att, dims, opts);
    for (let q = 0; q < 6; q++) {
      const row = rolloutRowOf(layers, dims, q);
      for (let k = 0; k < 6; k++) assert.ok(Math.abs(row[k] - joint[q * 6 + k]) < 1e-6, `${opts.fusion} q ${q} k ${k}`);
    }
    const map = rolloutRowMap(rolloutRowOf(layers, dims, 0), 1);
    assert.equal(Math.max(...map), 1);
  }
});
