/**
 * Writes what `vit-inspector inspect` and the panel's Export produce: report.json, attention.npy
 * ([layers, heads, tokens, tokens] float32, always split per head) and three PNGs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attentionEntropy, meanAttentionDistance, rolloutMap, rolloutRow } from '../shared/analytics';
import { npyParts } from './npy';
import { composeHeadSheet, composeOverlay, composePatchGrid, encodePng } from './render';
import type { Inspection } from '../shared/types';

import { REPORT_FILES } from './reportFiles';

export { REPORT_FILES };

export interface ReportOptions {
  colormap?: string;
  query?: number;
}

export function buildReport(inspection: Inspection) {
  const { summary: s } = inspection;
  const dims = { layers: s.layers, heads: s.heads, tokens: s.tokens };
  return reportWith(inspection, clsRollout(inspection), meanAttentionDistance(inspection.attention, dims, s.layout), attentionEntropy(inspection.attention, dims));
}

/** The rollout of the CLS token (query 0) over the patch grid, divided by its max: report.json's `rollout`. */
function clsRollout(inspection: Inspection): Float32Array {
  const { summary: s } = inspection;
  const dims = { layers: s.layers, heads: s.heads, tokens: s.tokens };
  return rolloutMap(rolloutRow(inspection.attention, dims, { fusion: 'mean', discardRatio: 0 }, 0), s.layout, 0);
}

/** report.json's object from the analytics: the rollout map, mean distance and entropy per head. */
function reportWith(inspection: Inspection, map: Float32Array, distance: Float32Array, entropy: Float32Array) {
  const { summary: s } = inspection;
  const [rows, cols] = s.layout.grid;
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
  const dims = { layers: s.layers, heads: s.heads, tokens: s.tokens };
  const image = inspection.modelImage;
  await mkdir(dir, { recursive: true });
  // Work for two cores. Encoding the head sheet is the longest step, so its pixels come first: sharp prepares
  // its grey base and caption on libuv's thread pool while this thread computes the rollout, this thread blends
  // the cells, and the encode then runs on the pool while this thread composes the other two pictures and
  // computes the other analytics. Nothing is written until every picture is composed (a bad query writes nothing).
  const sheet = handled(composeHeadSheet(image, inspection.attention, s.layout, { layers: s.layers, heads: s.heads, query: options.query ?? 0, colormap: options.colormap }));
  const map = clsRollout(inspection);
  const heads = handled(encodePng(await sheet));
  const others = handled(Promise.all([composePatchGrid(image, s.layout), composeOverlay(image, map, s.layout, { colormap: options.colormap })]));
  const distance = meanAttentionDistance(inspection.attention, dims, s.layout);
  const [grid, overlay] = await others;
  const path = (name: (typeof REPORT_FILES)[number]) => join(dir, name);
  const written = [
    writeFile(path('attention.npy'), npyParts(inspection.attention, [s.layers, s.heads, s.tokens, s.tokens])),
    ...([['patches.png', encodePng(grid)], ['heads.png', heads], ['rollout.png', encodePng(overlay)]] as const)
      .map(async ([name, png]) => writeFile(path(name), await png)),
  ].map(handled);
  const report = reportWith(inspection, map, distance, attentionEntropy(inspection.attention, dims));
  await Promise.all([...written, writeFile(path('report.json'), JSON.stringify(report, null, 2))]);
  return REPORT_FILES.map(path);
}

/** `p` with a rejection marked as handled: it is awaited later, and a throw in between must not leave it unobserved. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
