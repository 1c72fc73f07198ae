/**
 * What `vit-inspector explain` writes: saliency.npy (the ViT's class-specific map, float32 [rows, cols]),
 * cnn-saliency.npy (the CNN's, same grid), erf.json (measured and theoretical fields per depth, both models)
 * and report.json (predictions, every map, and the faithfulness block with its protocol).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeNpy } from '../npy';
import type { Explanation, ModelExplanation } from './explain';
import type { ErfReport } from './erf';

const grid2d = (map: Float32Array, [rows, cols]: [number, number]) => Array.from({ length: rows }, (_, r) => Array.from(map.subarray(r * cols, (r + 1) * cols)));

function modelBlock(e: ModelExplanation) {
  return {
    model: e.model,
    method: e.method,
    passes: e.passes,
    grid: e.grid,
    cellPx: e.cellPx,
    target: e.target,
    targetLabel: e.faithfulness.protocol.targetLabel,
    predictions: e.predictions,
    faithfulness: e.faithfulness,
    maps: Object.fromEntries(Object.entries(e.maps).map(([k, v]) => [k, grid2d(v, e.grid)])),
    timings: e.timings,
  };
}

export function explanationReport(x: Explanation, files: { saliency: string; cnnSaliency?: string }) {
  const { faithfulness, ...vit } = modelBlock(x.vit);
  return {
    ...vit,
    saliency: files.saliency,
    faithfulness,
    cnn: x.cnn ? { ...modelBlock(x.cnn), saliency: files.cnnSaliency } : null,
    erf: 'erf.json',
  };
}

function erfBlock(r: ErfReport | null) {
  if (!r) return null;
  const { layers, ...rest } = r;
  return { ...rest, layers: layers.map(({ map, attention, ...l }) => ({
    ...l, map: grid2d(Float32Array.from(map), r.grid), ...(attention ? { attention: grid2d(attention, r.grid) } : {}),
  })) };
}

export async function writeExplanation(dir: string, x: Explanation): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, Buffer | string][] = [['saliency.npy', encodeNpy(x.vit.maps.classSpecific, x.vit.grid)]];
  if (x.cnn) files.push(['cnn-saliency.npy', encodeNpy(x.cnn.maps.classSpecific, x.cnn.grid)]);
  files.push(['erf.json', JSON.stringify({ vit: erfBlock(x.vit.erf), cnn: erfBlock(x.cnn?.erf ?? null) }, null, 2)]);
  const report = explanationReport(x, { saliency: 'saliency.npy', cnnSaliency: x.cnn ? 'cnn-saliency.npy' : undefined });
  files.push(['report.json', JSON.stringify(report, null, 2)]);
  await Promise.all(files.map(([name, data]) => writeFile(join(dir, name), data)));
  return files.map(([name]) => join(dir, name));
}
