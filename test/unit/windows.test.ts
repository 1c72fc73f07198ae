/**
 * Windowed attention mapped back to the grid (src/shared/windows.ts), on small cases worked out by hand:
 * which grid token each window token is, with shifts and padding in either order, the scatter into a dense
 * map, and the grouping of blocks into stages.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  denseStages, groupStages, paddedGrid, scatterWindows, shiftOf, stageForReport, stageQuery, windowTokenPositions, type WindowGeometry,
} from '../../src/shared/windows';

const positions = (g: WindowGeometry) => Array.from(windowTokenPositions(g));

test('4×4 grid, 2×2 windows, no shift: windows in raster order, tokens in raster order inside each', () => {
  assert.deepEqual(positions({ grid: [4, 4], window: [2, 2], steps: [] }), [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
});

test('shift by 1 (torch.roll(x, -1) on rows and columns): window (0, 0) holds grid tokens (1..2, 1..2); the last window wraps', () => {
  const g: WindowGeometry = { grid: [4, 4], window: [2, 2], steps: [{ op: 'roll', axis: 0, start: 1 }, { op: 'roll', axis: 1, start: 1 }] };
  const p = positions(g);
  assert.deepEqual(p.slice(0, 4), [5, 6, 9, 10]);
  // window 1: shifted rows 0-1, cols 2-3 -> original rows 1-2, cols 3, 0
  assert.deepEqual(p.slice(4, 8), [7, 4, 11, 8]);
  // window 3: shifted (2,2),(2,3),(3,2),(3,3) -> original (3,3),(3,0),(0,3),(0,0)
  assert.deepEqual(p.slice(12, 16), [15, 12, 3, 0]);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i), 'every token exactly once');
  assert.deepEqual(shiftOf(g), [1, 1]);
});

test('rectangular windows and a shift on columns only', () => {
  // 2×4 grid, 1×2 windows, columns rolled by 1: shifted col C holds original (C + 1) mod 4
  const g: WindowGeometry = { grid: [2, 4], window: [1, 2], steps: [{ op: 'roll', axis: 1, start: 1 }] };
  assert.deepEqual(positions(g), [1, 2, 3, 0, 5, 6, 7, 4]);
  assert.deepEqual(shiftOf(g), [0, 1]);
});

test('padding: a 3×3 grid padded to 4×4 for 2×2 windows; padded tokens are -1', () => {
  const g: WindowGeometry = { grid: [3, 3], window: [2, 2], steps: [{ op: 'pad', axis: 0, begin: 0, end: 1 }, { op: 'pad', axis: 1, begin: 0, end: 1 }] };
  assert.deepEqual(paddedGrid(g), [4, 4]);
  assert.deepEqual(positions(g), [0, 1, 3, 4, 2, -1, 5, -1, 6, 7, -1, -1, 8, -1, -1, -1]);
});

test('pad then roll (transformers) and roll then pad (timm) differ, and each is undone in its own order', () => {
  const pad = [{ op: 'pad', axis: 0, begin: 0, end: 1 }, { op: 'pad', axis: 1, begin: 0, end: 1 }] as const;
  const roll = [{ op: 'roll', axis: 0, start: 1 }, { op: 'roll', axis: 1, start: 1 }] as const;
  // transformers: pad to 4, then roll on 4: shifted index i holds padded (i + 1) mod 4, i.e. rows 1, 2, pad, 0
  const hf = positions({ grid: [3, 3], window: [2, 2], steps: [...pad, ...roll] });
  assert.deepEqual(hf.slice(0, 4), [4, 5, 7, 8]); // (1,1) (1,2) (2,1) (2,2)
  assert.deepEqual(hf.slice(12, 16), [-1, -1, -1, 0]); // shifted (2..3, 2..3): pad rows/cols, then (0,0)
  // timm: roll on 3, then pad: shifted index i < 3 holds (i + 1) mod 3, i.e. rows 1, 2, 0, pad
  const timm = positions({ grid: [3, 3], window: [2, 2], steps: [...roll, ...pad] });
  assert.deepEqual(timm.slice(0, 4), [4, 5, 7, 8]);
  assert.deepEqual(timm.slice(12, 16), [0, -1, -1, -1]); // shifted (2,2) -> (0,0); the rest is padding
});

test('scatterWindows: a 2×4 grid in two 2×2 windows, 1 head: weights land at their tokens, zero across windows', () => {
  const g: WindowGeometry = { grid: [2, 4], window: [2, 2], steps: [] };
  const pos = windowTokenPositions(g); // [0,1,4,5, 2,3,6,7]
  const windowed = Float32Array.from({ length: 2 * 16 }, (_, i) => i + 1); // [window, head, q, k]
  const dense = new Float32Array(64);
  scatterWindows(windowed, 1, pos, 8, dense);
  // window 0, query 1 (token 1), key 2 (token 4): windowed[0*16 + 1*4 + 2] = 7
  assert.equal(dense[1 * 8 + 4], 7);
  // window 1, query 3 (token 7), key 0 (token 2): windowed[16 + 12 + 0] = 29
  assert.equal(dense[7 * 8 + 2], 29);
  // token 0 and token 2 are in different windows
  assert.equal(dense[0 * 8 + 2], 0);
  assert.equal(dense.filter((v) => v !== 0).length, 32, 'each window weight once, nothing else');
});

test('scatterWindows: with padding, padded queries and keys are dropped', () => {
  const g: WindowGeometry = { grid: [1, 3], window: [1, 2], steps: [{ op: 'pad', axis: 1, begin: 0, end: 1 }] };
  const pos = windowTokenPositions(g); // [0, 1, 2, -1]
  const windowed = Float32Array.from([0.6, 0.4, 0.3, 0.7, 0.9, 0.1, 0.2, 0.8]); // 2 windows × 1 head × 2 × 2
  const dense = new Float32Array(9);
  scatterWindows(windowed, 1, pos, 3, dense);
  assert.deepEqual(Array.from(dense), [0.6, 0.4, 0, 0.3, 0.7, 0, 0, 0, 0.9].map(Math.fround));
});

test('groupStages: consecutive blocks on one grid form a stage; a new grid (patch merging) starts the next', () => {
  const plain = (n: number, w: number): WindowGeometry => ({ grid: [n, n], window: [w, w], steps: [] });
  const shifted = (n: number, w: number, s: number): WindowGeometry => ({ grid: [n, n], window: [w, w], steps: [{ op: 'roll', axis: 0, start: s }, { op: 'roll', axis: 1, start: s }] });
  const groups = groupStages([
    { geometry: plain(8, 4), heads: 2 }, { geometry: shifted(8, 4, 2), heads: 2 },
    { geometry: plain(4, 4), heads: 4 }, { geometry: plain(4, 4), heads: 4 },
  ]);
  assert.deepEqual(groups.map((g) => g.blocks), [[0, 1], [2, 3]]);
  assert.deepEqual(groups[0].stage, { layers: 2, heads: 2, grid: [8, 8], window: [4, 4], shifts: [[0, 0], [2, 2]] });
  assert.deepEqual(stageForReport(groups[1].stage), { layers: 2, heads: 4, grid: [4, 4], window: 4, shifts: [0, 0] });
  assert.deepEqual(stageForReport({ layers: 1, heads: 1, grid: [4, 6], window: [2, 3], shifts: [[1, 0]] }).shifts, [[1, 0]]);
});

test('denseStages: rows of the dense map sum to 1 per query, scores are -Infinity across windows', () => {
  const geometries: WindowGeometry[] = [
    { grid: [4, 4], window: [2, 2], steps: [] },
    { grid: [4, 4], window: [2, 2], steps: [{ op: 'roll', axis: 0, start: 1 }, { op: 'roll', axis: 1, start: 1 }] },
    { grid: [2, 2], window: [2, 2], steps: [] },
  ];
  const dims = [[4, 1, 4, 4], [4, 1, 4, 4], [1, 3, 4, 4]];
  const total = dims.reduce((a, d) => a + d[0] * d[1] * d[2] * d[3], 0);
  const attention = new Float32Array(total).fill(0.25);
  const scores = new Float32Array(total).fill(1);
  const { summaries, stages } = denseStages(attention, scores, dims, geometries);
  assert.deepEqual(summaries.map((s) => [s.layers, s.heads, s.grid]), [[2, 1, [4, 4]], [1, 3, [2, 2]]]);
  assert.equal(stages[0].attention.length, 2 * 16 * 16);
  for (let row = 0; row < 32; row++) {
    const r = stages[0].attention.subarray(row * 16, row * 16 + 16);
    assert.ok(Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.equal(r.filter((v) => v !== 0).length, 4, 'four keys per query: its window');
  }
  // block 2 (shifted): token 5 (1,1) shares shifted window 0 with tokens 6, 9, 10
  const shiftedRow = stages[0].attention.subarray(256 + 5 * 16, 256 + 6 * 16);
  assert.deepEqual([...shiftedRow.keys()].filter((k) => shiftedRow[k] > 0), [5, 6, 9, 10]);
  assert.equal(stages[0].scores[1 * 16 + 2], -Infinity); // unshifted block: tokens 1 and 2 in different windows
  assert.equal(stages[0].scores[1 * 16 + 5], 1);
  assert.equal(stages[1].attention.length, 3 * 4 * 4);
});

test('stageQuery: a token carried to a coarser or finer grid lands on the token covering its centre', () => {
  assert.equal(stageQuery(0, [8, 8], [4, 4]), 0);
  assert.equal(stageQuery(9, [8, 8], [4, 4]), 0); // (1,1) -> (0,0)
  assert.equal(stageQuery(63, [8, 8], [4, 4]), 15);
  assert.equal(stageQuery(18, [8, 8], [4, 4]), 5); // (2,2) -> (1,1)
  assert.equal(stageQuery(5, [4, 4], [8, 8]), 27); // (1,1): centre at 1.5 × 2 = 3 -> (3,3)
});
