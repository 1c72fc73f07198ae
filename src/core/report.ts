/**
 * Writes what `vit-inspector inspect` and the panel's Export produce: report.json, attention.npy
 * ([layers, heads, tokens, tokens] float32, always split per head) and three PNGs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attentionEntropy, meanAttentionDistance, rolloutMap, rolloutRow } from './analytics';
import { encodeNpy } from './npy';
import { renderHeadSheet, renderOverlay, renderPatchGrid } from './render';
import type { Inspection } from './types';

export const REPORT_FILES = ['report.json', 'attention.npy', 'patches.png', 'heads.png', 'rollout.png'] as const;

export interface ReportOptions {
  colormap?: string;
  query?: number;
}

export function buildReport(inspection: Inspection) {
  const { summary: s } = inspection;
  const dims = { layers: s.layers, heads: s.heads, tokens: s.tokens };
  const distance = meanAttentionDistance(inspection.attention, dims, s.layout);
  const entropy = attentionEntropy(inspection.attention, dims);
  const [rows, cols] = s.layout.grid;
  const map = rolloutMap(rolloutRow(inspection.attention, dims, { fusion: 'mean', discardRatio: 0 }, 0), s.layout, 0);
  const square = s.layout.patchSize[0] === s.layout.patchSize[1];
  return {
    model: {
      name: s.name,
      layers: s.layers,
      heads: s.heads,
      tokens: s.tokens,
      dModel: s.dModel,
      headDim: s.headDim,
      patchSize: square ? s.layout.patchSize[0] : s.layout.patchSize,
      grid: s.layout.grid,
      prefixTokens: s.layout.prefixTokens,
      inputSize: s.layout.inputSize,
      parameters: s.parameters,
      opset: s.opset,
      producer: s.producer,
      attentionNodes: s.attentionNodes,
    },
    preprocessing: s.preprocessing,
    notes: s.notes,
    predictions: inspection.predictions,
    logits: Array.from(inspection.logits),
    layers: Array.from({ length: s.layers }, (_, l) => ({
      heads: Array.from({ length: s.heads }, (_, h) => ({ meanDistance: distance[l * s.heads + h], entropy: entropy[l * s.heads + h] })),
    })),
    rollout: Array.from({ length: rows }, (_, r) => Array.from(map.subarray(r * cols, (r + 1) * cols))),
    timings: inspection.timings,
  };
}

export async function writeReport(dir: string, inspection: Inspection, options: ReportOptions = {}): Promise<string[]> {
  const { summary: s } = inspection;
  await mkdir(dir, { recursive: true });
  const report = buildReport(inspection);
  const image = inspection.modelImage;
  const map = Float32Array.from(report.rollout.flat());
  const files: [string, string | Uint8Array][] = [
    ['report.json', JSON.stringify(report, null, 2)],
    ['attention.npy', encodeNpy(inspection.attention, [s.layers, s.heads, s.tokens, s.tokens])],
    ['patches.png', await renderPatchGrid(image, s.layout)],
    ['heads.png', await renderHeadSheet(image, inspection.attention, s.layout, { layers: s.layers, heads: s.heads, query: options.query ?? 0, colormap: options.colormap })],
    ['rollout.png', await renderOverlay(image, map, s.layout, { colormap: options.colormap })],
  ];
  await Promise.all(files.map(([name, data]) => writeFile(join(dir, name), data)));
  return files.map(([name]) => join(dir, name));
}
