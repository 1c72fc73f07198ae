/**
 * Windowed attention (Swin and kin) mapped back to the image. A windowed block attends within windows of a
 * padded, cyclically shifted copy of its stage's token map: the softmax is [windows, heads, T, T] with
 * T = window height × window width. Here each window token is traced back to its token in the stage's grid
 * (undoing the shift and dropping the padding), and the windows are scattered into one dense
 * [heads, N, N] map in raster order of the grid, zero between tokens of different windows.
 */
import { InspectorError } from './errors';
import type { Inspection, ModelSummary, StageAttention, StageSummary, TokenLayout } from './types';

/**
 * One edit between the stage's [H, W] map and the map cut into windows, in the model's order.
 * roll: out[i] = in[(i + start) mod n] on that axis (torch.roll(x, -start)); pad: `begin` tokens before and
 * `end` after on that axis (zeros the model attends to; they have no place in the grid).
 */
export type WindowStep = { op: 'roll'; axis: 0 | 1; start: number } | { op: 'pad'; axis: 0 | 1; begin: number; end: number };

export interface WindowGeometry {
  grid: [number, number]; // the stage's token map [H, W]
  window: [number, number]; // [window height, window width]
  steps: WindowStep[]; // from the [H, W] map to the windowed map
}

/** The windowed map's size after the steps. */
export function paddedGrid(g: WindowGeometry): [number, number] {
  const size: [number, number] = [g.grid[0], g.grid[1]];
  for (const s of g.steps) if (s.op === 'pad') size[s.axis] += s.begin + s.end;
  return size;
}

/** The cyclic shift on each axis (0 when none), as torch.roll(x, -shift) would give it: the sum of the rolls. */
export function shiftOf(g: WindowGeometry): [number, number] {
  const size: [number, number] = [g.grid[0], g.grid[1]];
  const shift: [number, number] = [0, 0];
  for (const s of g.steps) {
    if (s.op === 'pad') size[s.axis] += s.begin + s.end;
    else shift[s.axis] = mod(shift[s.axis] + s.start, size[s.axis]);
  }
  return shift;
}

/**
 * For every window token, in the softmax's order (window-major: windows in raster order of the windowed map,
 * tokens in raster order inside a window), its raster index in the stage's [H, W] grid, or -1 for padding.
 */
export function windowTokenPositions(g: WindowGeometry): Int32Array {
  const [hp, wp] = paddedGrid(g);
  const [wh, ww] = g.window;
  if (hp % wh || wp % ww) throw new Error(`a ${hp}×${wp} map does not split into ${wh}×${ww} windows`);
  // Sizes on each axis before each step, so that a roll wraps at the size it saw.
  const sizes: [number, number][] = [];
  const size: [number, number] = [g.grid[0], g.grid[1]];
  for (const s of g.steps) {
    sizes.push([size[0], size[1]]);
    if (s.op === 'pad') size[s.axis] += s.begin + s.end;
  }
  const back = (axis: 0 | 1, i: number): number => {
    for (let k = g.steps.length - 1; k >= 0 && i >= 0; k--) {
      const s = g.steps[k];
      if (s.axis !== axis) continue;
      if (s.op === 'roll') i = mod(i + s.start, sizes[k][axis]);
      else {
        i -= s.begin;
        if (i >= sizes[k][axis]) i = -1;
      }
    }
    return i;
  };
  const rows = Int32Array.from({ length: hp }, (_, r) => back(0, r));
  const cols = Int32Array.from({ length: wp }, (_, c) => back(1, c));
  const nWw = wp / ww;
  const t = wh * ww;
  const out = new Int32Array(hp * wp);
  for (let k = 0; k < out.length / t; k++) {
    const r0 = Math.floor(k / nWw) * wh;
    const c0 = (k % nWw) * ww;
    for (let a = 0; a < wh; a++) {
      for (let b = 0; b < ww; b++) {
        const r = rows[r0 + a];
        const c = cols[c0 + b];
        out[k * t + a * ww + b] = r < 0 || c < 0 ? -1 : r * g.grid[1] + c;
      }
    }
  }
  return out;
}

/**
 * Scatters one block's windowed softmax [windows, heads, T, T] into `dense` ([heads, N, N], N = H·W), which
 * must hold `fill` outside the windows already (0 for probabilities, -Infinity for scores).
 */
export function scatterWindows(windowed: Float32Array, heads: number, positions: Int32Array, n: number, dense: Float32Array): void {
  const tokens = positions.length; // windows × T
  const perWindow = windowed.length / heads / tokens; // = T (tokens of one window)
  const nW = tokens / perWindow;
  if (!Number.isInteger(perWindow) || !Number.isInteger(nW) || dense.length !== heads * n * n) {
    throw new Error(`windowed attention of ${windowed.length} values does not fit ${heads} heads × ${tokens} window tokens into ${n} tokens`);
  }
  for (let k = 0; k < nW; k++) {
    for (let h = 0; h < heads; h++) {
      const src = ((k * heads + h) * perWindow) * perWindow;
      const plane = h * n * n;
      for (let q = 0; q < perWindow; q++) {
        const pq = positions[k * perWindow + q];
        if (pq < 0) continue;
        const row = plane + pq * n;
        const srcRow = src + q * perWindow;
        for (let j = 0; j < perWindow; j++) {
          const pk = positions[k * perWindow + j];
          if (pk >= 0) dense[row + pk] = windowed[srcRow + j];
        }
      }
    }
  }
}

/**
 * Consecutive blocks on the same grid, with the same window and heads, form a stage (patch merging between
 * stages halves the grid). Returns each stage's summary and which blocks it holds.
 */
export function groupStages(blocks: { geometry: WindowGeometry; heads: number }[]): { stage: StageSummary; blocks: number[] }[] {
  const out: { stage: StageSummary; blocks: number[] }[] = [];
  blocks.forEach((b, i) => {
    const last = out[out.length - 1];
    const same = last && last.stage.heads === b.heads && sameGrid(last.stage.grid, b.geometry.grid) && sameGrid(last.stage.window, b.geometry.window);
    const shift = shiftOf(b.geometry);
    if (same) {
      last.stage.layers++;
      last.stage.shifts.push(shift);
      last.blocks.push(i);
    } else {
      out.push({ stage: { layers: 1, heads: b.heads, grid: [...b.geometry.grid], window: [...b.geometry.window], shifts: [shift] }, blocks: [i] });
    }
  });
  return out;
}

function sameGrid(a: [number, number], b: [number, number]): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/**
 * Every block's windowed softmax (one after another, as run: dims [windows·batch 1, heads, T, T] each) made
 * dense per stage. `scores` (same layout, may be empty) are made dense with -Infinity across windows, so that
 * a softmax over a dense row gives back the window's probabilities.
 */
export function denseStages(
  attention: Float32Array,
  scores: Float32Array,
  dims: number[][],
  geometries: WindowGeometry[],
): { summaries: StageSummary[]; stages: StageAttention[] } {
  const heads = dims.map((d) => (d.length === 4 ? d[1] : 0));
  const offsets: number[] = [];
  let offset = 0;
  for (const d of dims) {
    offsets.push(offset);
    offset += d.reduce((a, b) => a * b, 1);
  }
  const groups = groupStages(geometries.map((geometry, i) => ({ geometry, heads: heads[i] })));
  const stages = groups.map(({ stage, blocks }) => {
    const n = stage.grid[0] * stage.grid[1];
    const plane = stage.heads * n * n;
    const dense = new Float32Array(stage.layers * plane);
    const denseScores = scores.length ? new Float32Array(stage.layers * plane).fill(-Infinity) : new Float32Array(0);
    blocks.forEach((b, l) => {
      const positions = windowTokenPositions(geometries[b]);
      const [windows, , t] = dims[b];
      if (dims[b].length !== 4 || windows * t !== positions.length) {
        throw new InspectorError('unsupported-model', `A windowed softmax has shape [${dims[b].join(', ')}], not [windows, heads, ${positions.length / t} tokens per window…]: export the model with batch size 1 or a fixed input size.`);
      }
      const size = dims[b].reduce((a, c) => a * c, 1);
      scatterWindows(attention.subarray(offsets[b], offsets[b] + size), stage.heads, positions, n, dense.subarray(l * plane, (l + 1) * plane));
      if (scores.length) scatterWindows(scores.subarray(offsets[b], offsets[b] + size), stage.heads, positions, n, denseScores.subarray(l * plane, (l + 1) * plane));
    });
    return { attention: dense, scores: denseScores };
  });
  return { summaries: groups.map((g) => g.stage), stages };
}

/** Stage `s`'s token layout (0-based): its grid over the same input, each token covering input/grid pixels. */
export function stageLayout(summary: ModelSummary, s: number): TokenLayout {
  const stage = summary.stages![s];
  const [rows, cols] = stage.grid;
  const [h, w] = summary.layout.inputSize;
  return { patchSize: [h / rows, w / cols], grid: [rows, cols], inputSize: [h, w], prefixTokens: [], tokens: rows * cols };
}

/** The token of `toGrid` whose area holds the centre of token `query` of `fromGrid` (a query carried across stages). */
export function stageQuery(query: number, fromGrid: [number, number], toGrid: [number, number]): number {
  const r = Math.floor(query / fromGrid[1]);
  const c = query % fromGrid[1];
  const rr = Math.min(toGrid[0] - 1, Math.floor(((r + 0.5) * toGrid[0]) / fromGrid[0]));
  const cc = Math.min(toGrid[1] - 1, Math.floor(((c + 0.5) * toGrid[1]) / fromGrid[1]));
  return rr * toGrid[1] + cc;
}

/**
 * The inspection as seen from stage `s` (0-based): that stage's dense attention, with a summary whose layers,
 * heads, tokens and layout are the stage's, so that views made for plain ViTs show one stage at a time.
 * A plain ViT is returned as is.
 */
export function stageView(inspection: Inspection, s: number): Inspection {
  const { summary } = inspection;
  if (!summary.stages || !inspection.stages || s === 0) return inspection;
  const stage = summary.stages[s];
  const layout = stageLayout(summary, s);
  const dModel = summary.dModel * 2 ** s; // patch merging doubles the width at each stage
  return {
    ...inspection,
    attention: inspection.stages[s].attention,
    scores: inspection.stages[s].scores,
    summary: { ...summary, layers: stage.layers, heads: stage.heads, tokens: layout.tokens, layout, dModel, headDim: dModel / stage.heads },
  };
}

/** report.json's form of a stage: window and shifts as single numbers where rows and columns agree. */
export function stageForReport(stage: StageSummary) {
  const one = (p: [number, number]) => (p[0] === p[1] ? p[0] : p);
  return { layers: stage.layers, heads: stage.heads, grid: stage.grid, window: one(stage.window), shifts: stage.shifts.map(one) };
}
