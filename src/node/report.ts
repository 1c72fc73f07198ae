/**
 * Writes what `vit-inspector inspect` and the panel's Export produce: report.json, attention.npy
 * ([layers, heads, tokens, tokens] float32, always split per head) and three PNGs. Windowed models (Swin)
 * get attention-stage<S>.npy per stage instead ([layers of the stage, heads, N_S, N_S], dense over the
 * stage's grid), report.json's model.stages, and pictures of stage 1.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attentionEntropy, meanAttentionDistance, rolloutMap, rolloutRow } from '../shared/analytics';
import { npyParts } from './npy';
import { composeHeadSheet, composeOverlay, composePatchGrid, encodePng } from './render';
import type { Inspection } from '../shared/types';
import { stageForReport, stageView } from '../shared/windows';

import { REPORT_FILES, reportFiles, stageFile } from './reportFiles';

export { REPORT_FILES, reportFiles };

export interface ReportOptions {
  colormap?: string;
  query?: number;
}

export function buildReport(inspection: Inspection) {
  const { summary: s } = inspection;
  const dims = { layers: s.layers, heads: s.heads, tokens: s.tokens };
  return reportWith(inspection, clsRollout(inspection), ...headStats(inspection, dims));
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
  const stages = s.stages;
  return {
    model: {
      name: s.name,
      layers: stages ? stages.reduce((a, st) => a + st.layers, 0) : s.layers,
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
      embedding: !!s.embedding, // true: no classes, the output is an embedding (predictions empty)
      ...(stages ? { stages: stages.map((st, i) => ({ ...stageForReport(st), tokens: st.grid[0] * st.grid[1], file: stageFile(i) })) } : {}),
    },
    preprocessing: s.preprocessing,
    notes: s.notes,
    predictions: inspection.predictions,
    logits: Array.from(inspection.logits),
    layers: stages ? stageLayers(inspection) : Array.from({ length: s.layers }, (_, l) => ({
      heads: Array.from({ length: s.heads }, (_, h) => ({ meanDistance: distance[l * s.heads + h], entropy: entropy[l * s.heads + h] })),
    })),
    ...(stages ? { rolloutNote: 'Windowed model: rollout is of stage 1 only (rollout across patch-merging stages is not defined by attention alone).' } : {}),
    rollout: Array.from({ length: rows }, (_, r) => Array.from(map.subarray(r * cols, (r + 1) * cols))),
    timings: inspection.timings,
  };
}

/** Mean distance and entropy per head of a plain ViT; windowed models get theirs per stage (stageLayers). */
function headStats(inspection: Inspection, dims: { layers: number; heads: number; tokens: number }): [Float32Array, Float32Array] {
  if (inspection.summary.stages) return [new Float32Array(0), new Float32Array(0)];
  return [meanAttentionDistance(inspection.attention, dims, inspection.summary.layout), attentionEntropy(inspection.attention, dims)];
}

/** Windowed models: every block of every stage, with its stage (from 1), mean distance and entropy per head over the stage's grid. */
function stageLayers(inspection: Inspection) {
  return inspection.summary.stages!.flatMap((_, i) => {
    const view = stageView(inspection, i);
    const v = view.summary;
    const dims = { layers: v.layers, heads: v.heads, tokens: v.tokens };
    const distance = meanAttentionDistance(view.attention, dims, v.layout);
    const entropy = attentionEntropy(view.attention, dims);
    return Array.from({ length: v.layers }, (_, l) => ({
      stage: i + 1,
      heads: Array.from({ length: v.heads }, (_, h) => ({ meanDistance: distance[l * v.heads + h], entropy: entropy[l * v.heads + h] })),
    }));
  });
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
  const [distance, entropy] = headStats(inspection, dims);
  const [grid, overlay] = await others;
  const path = (name: string) => join(dir, name);
  const arrays = s.stages && inspection.stages
    ? s.stages.map((st, i) => {
      const n = st.grid[0] * st.grid[1];
      return writeFile(path(stageFile(i)), npyParts(inspection.stages![i].attention, [st.layers, st.heads, n, n]));
    })
    : [writeFile(path('attention.npy'), npyParts(inspection.attention, [s.layers, s.heads, s.tokens, s.tokens]))];
  const written = [
    ...arrays,
    ...([['patches.png', encodePng(grid)], ['heads.png', heads], ['rollout.png', encodePng(overlay)]] as const)
      .map(async ([name, png]) => writeFile(path(name), await png)),
  ].map(handled);
  const report = reportWith(inspection, map, distance, entropy);
  await Promise.all([...written, writeFile(path('report.json'), JSON.stringify(report, null, 2))]);
  return reportFiles(inspection).map(path);
}

/** `p` with a rejection marked as handled: it is awaited later, and a throw in between must not leave it unobserved. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
