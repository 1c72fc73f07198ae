/**
 * Class-specific maps from forward passes only (no gradients, so any ONNX file works).
 *
 * ViT: Transformer Input Sampling (Englebert, Cioppa, De Vleeschouwer, "Explaining through Transformer Input
 * sampling", ICCV Workshops 2023): the ViT is run on random subsets of its patch tokens, a left-out token being
 * removed from the computation (here: its key set to −∞ before every attention softmax, and, for average-
 * pooled ViTs, its weight set to 0 in the token pool, onnx/tokenMask.ts), and each token is scored by the
 * target class's probability over the subsets that keep it. Our subsets are Bernoulli(keep) draws per token
 * (TIS draws them from clusters of the tokens' features; we keep plain random draws so that the ViT and the
 * CNN use the very same masks), and the score is mean(p | kept) − mean(p | left out).
 *
 * CNN: RISE (Petsiuk, Das, Saenko, BMVC 2018) on the same grid, the same masks and the same estimator, a
 * left-out cell being set to the fill (zero after normalisation, the dataset mean): the two maps compare on
 * equal terms. Our masks are the binary grid masks themselves (RISE also upsamples them bilinearly with random
 * shifts; we keep them on the grid the faithfulness protocol uses).
 */
import * as ort from 'onnxruntime-node';
import { seededRandom, softmaxAt } from '../../shared/faithfulness';
import { inputTensor, runPasses, type CnnModel, type RunOptions, type VitModel } from './model';
import { keepCells, type Grid } from './grid';
import { KEY_MASK_INPUT, POOL_SCALE_INPUT, POOL_WEIGHT_INPUT } from '../onnx/tokenMask';

export interface SamplingOptions extends RunOptions {
  passes?: number; // default 256
  keep?: number; // probability that a cell is kept, default 0.5
  seed?: number; // default 0
}

export const DEFAULT_PASSES = 256;

/** passes × cells binary masks (1 kept), each keeping at least one cell. */
export function samplingMasks(cells: number, passes: number, keep: number, seed: number): Uint8Array[] {
  const rand = seededRandom(seed + 0x9e3779b9);
  return Array.from({ length: passes }, () => {
    const m = new Uint8Array(cells);
    let kept = 0;
    for (let i = 0; i < cells; i++) kept += m[i] = rand() < keep ? 1 : 0;
    if (kept === 0) m[Math.floor(rand() * cells)] = 1;
    return m;
  });
}

/** mean(score | kept) − mean(score | left out), per cell. */
export function samplingEstimate(masks: Uint8Array[], scores: ArrayLike<number>, cells: number): Float32Array {
  const out = new Float32Array(cells);
  for (let c = 0; c < cells; c++) {
    let sIn = 0, nIn = 0, sOut = 0, nOut = 0;
    masks.forEach((m, i) => {
      if (m[c]) { sIn += scores[i]; nIn++; } else { sOut += scores[i]; nOut++; }
    });
    out[c] = (nIn ? sIn / nIn : 0) - (nOut ? sOut / nOut : 0);
  }
  return out;
}

/** Target-class probabilities of a batch of logits [n, classes]. */
function probabilities(logits: ort.Tensor, target: number, n: number, into: Float32Array, at: number): void {
  const data = logits.data as Float32Array;
  const classes = data.length / n;
  for (let i = 0; i < n; i++) into[at + i] = softmaxAt(data, target, i * classes, classes);
}

/** The ViT's class-specific map over its patch grid (TIS), [rows · cols]. */
export async function tisMap(m: VitModel, image: Float32Array, target: number, opts: SamplingOptions = {}): Promise<{ map: Float32Array; passes: number }> {
  const cells = m.layout.grid[0] * m.layout.grid[1];
  const masks = samplingMasks(cells, opts.passes ?? DEFAULT_PASSES, opts.keep ?? 0.5, opts.seed ?? 0);
  const scores = new Float32Array(masks.length);
  await runPasses(m, masks.length, (start, b) => ({
    ...tokenMaskFeeds(m, masks.slice(start, start + b)),
    [m.inputName]: inputTensor(m, Array(b).fill(image), b),
  }), [m.logitsName], (out, start, b) => probabilities(out[m.logitsName], target, b, scores, start), opts);
  return { map: samplingEstimate(masks, scores, cells), passes: masks.length };
}

/**
 * The feeds that leave out, for batch item i, the patch tokens where masks[i] is 0: −∞ on their keys in every
 * attention, and weight 0 in a mean pool (the pool's mean then runs over the kept tokens only).
 */
export function tokenMaskFeeds(m: VitModel, masks: Uint8Array[]): Record<string, ort.Tensor> {
  const [rows, cols] = m.layout.grid;
  const cells = rows * cols;
  const prefix = m.layout.prefixTokens.length;
  const n = m.layout.tokens;
  const b = masks.length;
  const perItem = m.siteRank === 4 ? 1 : m.heads; // [B·H, 1, N] masks repeat per head
  const key = new Float32Array(b * perItem * n);
  const weight = new Float32Array(b * m.pooled);
  const scale = new Float32Array(b);
  masks.forEach((mask, i) => {
    for (let h = 0; h < perItem; h++) for (let c = 0; c < cells; c++) if (!mask[c]) key[(i * perItem + h) * n + prefix + c] = -Infinity;
    let sum = 0;
    for (let p = 0; p < m.pooled; p++) {
      const token = n - m.pooled + p;
      const w = token < prefix || mask[token - prefix] ? 1 : 0;
      weight[i * m.pooled + p] = w;
      sum += w;
    }
    scale[i] = sum > 0 ? m.pooled / sum : 0;
  });
  const feeds: Record<string, ort.Tensor> = { [KEY_MASK_INPUT]: new ort.Tensor('float32', key, m.siteRank === 4 ? [b, 1, 1, n] : [b * perItem, 1, n]) };
  if (m.pool) {
    feeds[POOL_WEIGHT_INPUT] = new ort.Tensor('float32', weight, [b, m.pooled, 1]);
    feeds[POOL_SCALE_INPUT] = new ort.Tensor('float32', scale, m.pool.keepdims ? [b, 1, 1] : [b, 1]);
  }
  return feeds;
}

/** The CNN's class-specific map over `grid` (RISE with the same masks), [rows · cols]. */
export async function riseMap(m: CnnModel, image: Float32Array, grid: Grid, target: number, opts: SamplingOptions = {}): Promise<{ map: Float32Array; passes: number }> {
  const cells = grid.rows * grid.cols;
  const masks = samplingMasks(cells, opts.passes ?? DEFAULT_PASSES, opts.keep ?? 0.5, opts.seed ?? 0);
  const scores = new Float32Array(masks.length);
  await runPasses(m, masks.length, (start, b) => ({
    [m.inputName]: inputTensor(m, masks.slice(start, start + b).map((mask) => keepCells(image, grid, mask)), b),
  }), [m.logitsName], (out, start, b) => probabilities(out[m.logitsName], target, b, scores, start), opts);
  return { map: samplingEstimate(masks, scores, cells), passes: masks.length };
}

export { probabilities };
