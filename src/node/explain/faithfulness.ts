/**
 * Deletion and insertion curves of a map over a grid (protocol: src/shared/faithfulness.ts PROTOCOL_TEXT),
 * by forward passes of the plain model: removed cells are set to the fill in input space, for the ViT and the
 * CNN alike, so the scores are comparable across maps and models.
 */
import type { FaithfulnessScore } from '../../shared/explainTypes';
import { patchOrder, stepCounts, trapezoid } from '../../shared/faithfulness';
import { inputTensor, runPasses, unmaskedFeeds, type ExplainModel, type RunOptions } from './model';
import { keepCells, type Grid } from './grid';
import { probabilities } from './saliency';

export type { FaithfulnessScore };

export async function faithfulness(m: ExplainModel, image: Float32Array, grid: Grid, map: Float32Array, stepPatches: number, target: number, opts: RunOptions = {}): Promise<FaithfulnessScore> {
  const cells = grid.rows * grid.cols;
  const order = patchOrder(map);
  const counts = stepCounts(map, stepPatches, order);
  const keepFor = (c: number, insertion: boolean) => {
    const keep = new Uint8Array(cells).fill(insertion ? 0 : 1);
    for (let i = 0; i < c; i++) keep[order[i]] = insertion ? 1 : 0;
    return keep;
  };
  const images = [...counts.map((c) => keepFor(c, false)), ...counts.map((c) => keepFor(c, true))];
  const p = new Float32Array(images.length);
  await runPasses(m, images.length, (start, b) => ({
    ...(m.kind === 'vit' ? unmaskedFeeds(m) : {}),
    [m.inputName]: inputTensor(m, images.slice(start, start + b).map((keep) => keepCells(image, grid, keep)), b),
  }), [m.logitsName], (out, start, b) => probabilities(out[m.logitsName], target, b, p, start), opts);
  const xs = counts.map((c) => c / cells);
  const del = Array.from(p.subarray(0, counts.length));
  const ins = Array.from(p.subarray(counts.length));
  return {
    deletion: trapezoid(xs, del),
    insertion: trapezoid(xs, ins),
    deletionCurve: xs.map((x, i) => [x, del[i]]),
    insertionCurve: xs.map((x, i) => [x, ins[i]]),
  };
}
