/**
 * The effective receptive field (Luo et al., NeurIPS 2016) measured by finite differences with forward passes:
 * each input cell in turn gets +DELTA (one standard deviation of the data, in normalised units) on all three
 * channels, and the change of one unit at the image centre is recorded as Σ_channels |Δ|:
 *   CNN: a reported layer's feature map at its centre position (all channels), cells of ceil(max(H, W) / 64) px;
 *   ViT: the centre patch token's block output (the residual stream after block ℓ), cells = patches; with it,
 *        that token's attention row at block ℓ (mean over heads) from the model's plain run (openVit's).
 * Sides at 20/50/99 % of the total change as RepLKNet reports them (src/shared/erf.ts).
 */
import { sidesAt } from '../../shared/erf';
import type { ErfLayer, ErfReport } from '../../shared/explainTypes';
import { inputTensor, runPasses, unmaskedFeeds, type CnnModel, type RunOptions, type VitModel } from './model';
import { makeGrid, paintCell, type Grid } from './grid';

export const DELTA = 1;

export type { ErfLayer, ErfReport };

/** Base image plus one perturbed copy per cell: passes index 0 = base, 1 + cell = that cell perturbed. */
function perturbed(image: Float32Array, g: Grid, index: number): Float32Array {
  if (index === 0) return image;
  const out = image.slice();
  paintCell(out, g, index - 1, DELTA, 'add');
  return out;
}

/** The CNN's default cell side: ⌈max(H, W) / 64⌉ px (1 px for CIFAR's 32×32, so one pass per pixel). */
export function defaultCnnCell(size: [number, number]): number {
  return Math.max(1, Math.ceil(Math.max(...size) / 64));
}

/** `cellPx`: the perturbed cells' side in pixels (default defaultCnnCell); coarser cells, fewer passes (the survey's choice). */
export async function cnnErf(m: CnnModel, image: Float32Array, opts: RunOptions & { cellPx?: number } = {}): Promise<ErfReport> {
  const [h, w] = m.prep.size;
  const cell = Math.max(1, Math.floor(opts.cellPx ?? defaultCnnCell([h, w])));
  const g = makeGrid([h, w], Math.ceil(h / cell), Math.ceil(w / cell));
  if (cell > 1) {
    g.ys = Array.from({ length: g.rows + 1 }, (_, i) => Math.min(h, i * cell));
    g.xs = Array.from({ length: g.cols + 1 }, (_, i) => Math.min(w, i * cell));
  }
  const cells = g.rows * g.cols;
  const layers = m.layers;
  const base: Float32Array[] = [];
  const maps = layers.map(() => new Float64Array(cells));
  const centres: [number, number][] = [];
  await runPasses(m, cells + 1, (start, b) => ({
    [m.inputName]: inputTensor(m, Array.from({ length: b }, (_, i) => perturbed(image, g, start + i)), b),
  }), layers.map((l) => l.output), (out, start, b) => {
    layers.forEach((l, li) => {
      const t = out[l.output];
      if (t.dims.length !== 4) return; // not an NCHW feature map: left out below
      const [, c, hm, wm] = t.dims;
      const data = t.data as Float32Array;
      const ry = Math.floor(hm / 2), rx = Math.floor(wm / 2);
      centres[li] = [ry, rx];
      for (let i = 0; i < b; i++) {
        const unit = new Float32Array(c);
        for (let ch = 0; ch < c; ch++) unit[ch] = data[((i * c + ch) * hm + ry) * wm + rx];
        if (start + i === 0) base[li] = unit;
        else {
          let d = 0;
          for (let ch = 0; ch < c; ch++) d += Math.abs(unit[ch] - base[li][ch]);
          maps[li][start + i - 1] = d;
        }
      }
    });
  }, opts);
  return {
    unit: 'the centre position (row ⌊h/2⌋, column ⌊w/2⌋) of the layer’s feature map, Σ over channels of |Δ|',
    perturbation: `+${DELTA} (normalised units) on all channels of one ${cell}×${cell} px cell at a time`,
    cellPx: [cell, cell], grid: [g.rows, g.cols],
    layers: layers.flatMap((l, li) => {
      if (!centres[li]) return [];
      const [ry, rx] = centres[li];
      const cy = l.start[0] + ry * l.jump[0], cx = l.start[1] + rx * l.jump[1];
      const s = sidesAt(maps[li], g.rows, g.cols, cy / cell, cx / cell);
      return [{
        depth: li + 1, output: l.output, op: l.op,
        sides: Object.fromEntries(Object.entries(s).map(([f, v]) => [f, Math.min(v * cell, Math.max(h, w))])),
        theoretical: l.rf, centre: [cy, cx] as [number, number], map: Array.from(maps[li]),
      }];
    }),
  };
}

export async function vitErf(m: VitModel, image: Float32Array, opts: RunOptions = {}): Promise<ErfReport> {
  const [rows, cols] = m.layout.grid;
  const [ph, pw] = m.layout.patchSize;
  const g = makeGrid(m.layout.inputSize, rows, cols);
  g.ys = Array.from({ length: rows + 1 }, (_, i) => i * ph);
  g.xs = Array.from({ length: cols + 1 }, (_, i) => i * pw);
  const cells = rows * cols;
  const ry = Math.floor(rows / 2), rx = Math.floor(cols / 2);
  const token = m.layout.prefixTokens.length + ry * cols + rx;
  const outputs = m.blockOutputs.map((o, l) => [o, l] as const).filter(([o]) => o);
  const maps = outputs.map(() => new Float64Array(cells));
  const base: Float32Array[] = [];
  await runPasses(m, cells + 1, (start, b) => ({
    ...unmaskedFeeds(m),
    [m.inputName]: inputTensor(m, Array.from({ length: b }, (_, i) => perturbed(image, g, start + i)), b),
  }), outputs.map(([o]) => o), (out, start, b) => {
    outputs.forEach(([o], li) => {
      const t = out[o];
      const [, n, d] = t.dims;
      const data = t.data as Float32Array;
      for (let i = 0; i < b; i++) {
        const unit = data.subarray((i * n + token) * d, (i * n + token + 1) * d);
        if (start + i === 0) base[li] = unit.slice();
        else {
          let s = 0;
          for (let c = 0; c < d; c++) s += Math.abs(unit[c] - base[li][c]);
          maps[li][start + i - 1] = s;
        }
      }
    });
  }, opts);
  const [h, w] = m.layout.inputSize;
  return {
    unit: `the centre patch token (row ${ry}, column ${rx}) of the block output, Σ over channels of |Δ|`,
    perturbation: `+${DELTA} (normalised units) on all channels of one ${ph}×${pw} px patch at a time`,
    cellPx: [ph, pw], grid: [rows, cols],
    layers: outputs.map(([o, l], li) => {
      const s = sidesAt(maps[li], rows, cols, ry + 0.5, rx + 0.5);
      return {
        depth: l + 1, output: o,
        sides: Object.fromEntries(Object.entries(s).map(([f, v]) => [f, Math.min(v * ph, Math.max(h, w))])),
        theoretical: [h, w], centre: [(ry + 0.5) * ph, (rx + 0.5) * pw], map: Array.from(maps[li]),
        attention: centreAttention(m, l, token),
      };
    }),
  };
}

/** Layer `l`'s attention row of query `token` in the unmasked run, averaged over heads, over the patch tokens. */
export function centreAttention(m: Pick<VitModel, 'attention' | 'heads' | 'layout'>, l: number, token: number): Float32Array {
  const n = m.layout.tokens;
  const prefix = m.layout.prefixTokens.length;
  const out = new Float32Array(n - prefix);
  const sum = new Float64Array(n - prefix);
  for (let hd = 0; hd < m.heads; hd++) {
    const row = ((l * m.heads + hd) * n + token) * n;
    for (let k = prefix; k < n; k++) sum[k - prefix] += m.attention[row + k];
  }
  for (let k = 0; k < sum.length; k++) out[k] = sum[k] / m.heads;
  return out;
}
