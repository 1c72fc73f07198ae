/** The heatmap LUTs the panel uses, packed for a Uint32Array view over ImageData (from the colormap setting). */
import type { PanelSettings } from '../../src/shared/protocol';
import { colormapLut } from './colormapSource';
import { packLut } from './colorize';

export type ColormapName = PanelSettings['colormap'];

const cache = new Map<string, Uint32Array>();

/** Packed LUT for a colormap name and alpha (0..255), cached. */
export function packedLut(name: ColormapName, alpha = 255): Uint32Array {
  const key = `${name}|${alpha}`;
  let lut = cache.get(key);
  if (!lut) {
    lut = packLut(colormapLut(name), alpha);
    cache.set(key, lut);
  }
  return lut;
}
