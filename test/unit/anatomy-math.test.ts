/** The anatomy's arithmetic (src/shared/anatomy.ts) and operand layouts (headGraph.layoutPermutation) on hand-checked cases. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asHeads, broadcastAt, dotRows, headRow, linear, permute, softmax, topContributors, unravel, weightedSum } from '../../src/shared/anatomy';
import { layoutPermutation } from '../../src/node/anatomy/headGraph';

const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

test('permute transposes like numpy.transpose', () => {
  // a[i][j][k] = 100 i + 10 j + k, dims [2, 3, 4]
  const data = new Float32Array(24);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) data[(i * 3 + j) * 4 + k] = 100 * i + 10 * j + k;
  const t = permute({ data, dims: [2, 3, 4] }, [2, 0, 1]);
  assert.deepEqual(t.dims, [4, 2, 3]);
  for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) assert.equal(t.data[(k * 2 + i) * 3 + j], 100 * i + 10 * j + k);
  assert.throws(() => permute({ data, dims: [2, 3, 4] }, [0, 0, 1]), RangeError);
});

test('broadcastAt follows NumPy broadcasting: [1,1,1,N] masks, [H,N,N] biases, scalars', () => {
  const target = [1, 2, 3, 3];
  const mask = { data: Float32Array.from([5, 6, 7]), dims: [1, 1, 1, 3] };
  assert.equal(broadcastAt(mask, target, [0, 1, 2, 1]), 6);
  const bias = { data: iota(18), dims: [2, 3, 3] };
  assert.equal(broadcastAt(bias, target, [0, 1, 2, 0]), 9 + 6);
  assert.equal(broadcastAt({ data: Float32Array.of(4), dims: [] }, target, [0, 1, 1, 1]), 4);
  assert.throws(() => broadcastAt({ data: iota(4), dims: [4] }, target, [0, 0, 0, 0]), RangeError);
  assert.deepEqual(unravel(5, [2, 3]), [1, 2]);
});

test('operand layouts: MatMul Kᵀ, FusedMatMul transBatch, Einsum subscripts', () => {
  assert.deepEqual(layoutPermutation({ kind: 'matmul', transBatch: false, swapLast: true }, 4), [0, 1, 3, 2]);
  // [N, B*H, d] read as [B*H, N, d]
  assert.deepEqual(layoutPermutation({ kind: 'matmul', transBatch: true, swapLast: false }, 3), [1, 0, 2]);
  assert.deepEqual(layoutPermutation({ kind: 'matmul', transBatch: true, swapLast: true }, 3), [1, 2, 0]);
  assert.deepEqual(layoutPermutation({ kind: 'einsum', subscripts: 'bkhd', order: 'bhkd' }, 4), [0, 2, 1, 3]);
});

test('dot products, softmax, weighted sum, contributors and linear maps', () => {
  const K = Float32Array.from([1, 0, 0, 1, 1, 1]); // 3 keys, d = 2
  assert.deepEqual([...dotRows([2, 3], K, 2)], [2, 3, 5]);
  const p = softmax([0, Math.log(3)]);
  assert.ok(Math.abs(p[0] - 0.25) < 1e-15 && Math.abs(p[1] - 0.75) < 1e-15);
  assert.deepEqual([...softmax([-Infinity, -Infinity])], [0, 0]);
  assert.deepEqual([...weightedSum([0.5, 0, 0.5], K, 2)], [1, 0.5]);
  assert.deepEqual(topContributors([0.1, 0.2, 0.7], K, 2, 2).map((c) => c.token), [2, 1]);
  // W [in=2, out=3] vs the same map transposed
  const W = Float32Array.from([1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...linear([1, 1], W, Float32Array.from([0, 0, 1]), 2, 3, false)], [5, 7, 10]);
  assert.deepEqual([...linear([1, 1, 1], W, null, 3, 2, true)], [6, 15]);
  const h = asHeads({ data: iota(12), dims: [1, 2, 2, 3] });
  assert.deepEqual([h.heads, h.rows, h.cols], [2, 2, 3]);
  assert.deepEqual([...headRow(h, 1, 0)], [6, 7, 8]);
});
