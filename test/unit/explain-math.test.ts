/** The pure parts of `explain`: patch order and steps (ties), the trapezoid, the ERF square sides, the sampling estimator. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sideAtFraction, sidesAt } from '../../src/shared/erf';
import { patchOrder, randomMap, stepCounts, trapezoid } from '../../src/shared/faithfulness';
import { samplingEstimate, samplingMasks } from '../../src/node/explain/saliency';

test('patch order: value descending, ties by index ascending', () => {
  assert.deepEqual(patchOrder([0.1, 0.5, 0.1, 0.9, 0.5]), [3, 1, 4, 0, 2]);
  assert.deepEqual(patchOrder([2, 2, 2]), [0, 1, 2]);
});

test('steps: k patches at a time, a run of equal values taken whole', () => {
  assert.deepEqual(stepCounts([4, 3, 2, 1, 0], 1), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(stepCounts([4, 3, 2, 1, 0], 2), [0, 2, 4, 5]);
  // values 9, 5, 5, 5, 1: the step that reaches the first 5 takes all three
  assert.deepEqual(stepCounts([5, 9, 5, 1, 5], 1), [0, 1, 4, 5]);
  // a constant map: one step from nothing to everything, whatever k
  assert.deepEqual(stepCounts([0.3, 0.3, 0.3, 0.3], 1), [0, 4]);
  assert.deepEqual(stepCounts(new Float32Array(64).fill(1), 5), [0, 64]);
  // compared as float32: 0.1 + 0.2 and 0.3 are the same float32
  assert.deepEqual(stepCounts([0.1 + 0.2, 0.3], 1), [0, 2]);
});

test('trapezoid', () => {
  assert.equal(trapezoid([0, 1], [1, 0]), 0.5);
  assert.equal(trapezoid([0, 0.25, 1], [1, 1, 0]), 0.25 + 0.375);
  assert.equal(trapezoid([0, 1, 1], [0.8, 0.2, 0.2]), 0.5);
});

test('random baseline is seeded', () => {
  assert.deepEqual(randomMap(10, 13), randomMap(10, 13));
  assert.notDeepEqual(randomMap(10, 13), randomMap(10, 14));
  for (const v of randomMap(100, 1)) assert.ok(v >= 0 && v < 1);
});

test('ERF sides: a single cell, a uniform map, a field centred on a cell boundary', () => {
  const one = new Float32Array(81);
  one[4 * 9 + 4] = 1;
  assert.deepEqual(sidesAt(one, 9, 9, 4.5, 4.5), { '0.2': 1, '0.5': 1, '0.99': 1 });
  // uniform 9×9 centred: side s holds s²/81; > 0.2 needs s ≥ 5 (25/81), > 0.5 needs 7 (49/81), > 0.99 needs 9
  assert.deepEqual(sidesAt(new Float32Array(81).fill(1), 9, 9, 4.5, 4.5), { '0.2': 5, '0.5': 7, '0.99': 9 });
  // uniform over a 6×6 block of pixels 13..18 (a field of side 6 centred on the boundary 16.0): side 6, never 7
  const map = new Float32Array(32 * 32);
  for (let y = 13; y <= 18; y++) for (let x = 13; x <= 18; x++) map[y * 32 + x] = 1;
  assert.equal(sideAtFraction(map, 32, 32, 16, 16, 0.99), 6);
  assert.equal(sideAtFraction(new Float32Array(4), 2, 2, 1, 1, 0.5), 0);
});

test('sampling estimator: mean score kept minus mean score left out', () => {
  const masks = [Uint8Array.of(1, 0), Uint8Array.of(1, 1), Uint8Array.of(0, 1)];
  const est = samplingEstimate(masks, [0.9, 0.7, 0.1], 2);
  assert.ok(Math.abs(est[0] - (0.8 - 0.1)) < 1e-6);
  assert.ok(Math.abs(est[1] - (0.4 - 0.9)) < 1e-6);
  const drawn = samplingMasks(16, 200, 0.5, 3);
  assert.equal(drawn.length, 200);
  for (const m of drawn) assert.ok(m.some(Boolean), 'every mask keeps a cell');
  const share = drawn.reduce((a, m) => a + m.reduce((s, v) => s + v, 0), 0) / (200 * 16);
  assert.ok(share > 0.45 && share < 0.55, `keep share ${share}`);
});
