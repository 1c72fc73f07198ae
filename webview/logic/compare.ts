/** DOM-free ViT-vs-CNN geometry: the CNN unit under a ViT patch and its theoretical receptive field box. */
import type { ReceptiveFieldLayer, ReceptiveFieldReport, TokenLayout } from '../../src/shared/types';
import type { RfLayer } from '../../src/shared/receptiveField';
import { unitBox, unitForPixel } from '../../src/shared/receptiveField';
import { patchCentre } from './geometry';

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A layer with its output grid; payloads that lost `grid` get the units whose centres fall inside the input. */
export function withGrid(layer: ReceptiveFieldLayer | RfLayer, inputSize: [number, number]): RfLayer {
  const g = (layer as RfLayer).grid;
  if (Array.isArray(g) && g.length === 2 && g[0] > 0 && g[1] > 0) return layer as RfLayer;
  const n = (a: 0 | 1) => Math.max(1, Math.ceil((inputSize[a] - layer.start[a]) / layer.jump[a]));
  return { ...layer, grid: [n(0), n(1)] };
}

/**
 * The receptive field of the CNN unit at the same place as a ViT token: the token's patch centre is carried
 * to the CNN's input by relative position, the nearest unit of layer `depth` is taken, and its box is carried
 * back to ViT input pixels (the image both panels show).
 */
export function rfBoxForToken(cnn: ReceptiveFieldReport, depth: number, layout: TokenLayout, token: number): { unit: { row: number; col: number }; box: Box; cnnBox: Box; layer: ReceptiveFieldLayer } | null {
  const layer0 = cnn.layers[depth];
  if (!layer0) return null;
  const [vh, vw] = layout.inputSize;
  const [ch, cw] = cnn.inputSize;
  const layer = withGrid(layer0, cnn.inputSize);
  const c = patchCentre(layout, token);
  const unit = unitForPixel(layer, (c.x * cw) / vw, (c.y * ch) / vh);
  const cnnBox = unitBox(layer, unit.row, unit.col, cnn.inputSize);
  const box = { x0: (cnnBox.x0 * vw) / cw, y0: (cnnBox.y0 * vh) / ch, x1: (cnnBox.x1 * vw) / cw, y1: (cnnBox.y1 * vh) / ch };
  return { unit, box, cnnBox, layer: layer0 };
}

/** One number per CNN layer for the chart: sqrt(rf_h * rf_w) in ViT input pixels (theoretical, unclipped). */
export function cnnRfSizes(cnn: ReceptiveFieldReport, layout: TokenLayout): number[] {
  const sy = layout.inputSize[0] / cnn.inputSize[0];
  const sx = layout.inputSize[1] / cnn.inputSize[1];
  return cnn.layers.map((l) => Math.sqrt(l.rf[0] * sy * l.rf[1] * sx));
}
