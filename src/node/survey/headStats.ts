/** One image's per-head survey values, computed in the inference process so that only numbers cross to the parent. */
import { attentionDims, attentionEntropy, meanAttentionDistance } from '../../shared/analytics';
import type { Inspection } from '../../shared/types';

export interface HeadStats {
  layers: number;
  heads: number;
  distance: number[]; // [layers * heads], input pixels
  entropy: number[]; // [layers * heads], nats
  /** The CNN's measured ERF sides, [layer][20/50/99 %] in pixels, where the request named a CNN. */
  cnnErf?: number[][];
}

export function headStats(inspection: Pick<Inspection, 'summary' | 'attention'>): HeadStats {
  const { layers, heads, layout } = inspection.summary;
  const dims = attentionDims(layers, heads, layout);
  return {
    layers,
    heads,
    distance: Array.from(meanAttentionDistance(inspection.attention, dims, layout)),
    entropy: Array.from(attentionEntropy(inspection.attention, dims)),
  };
}
