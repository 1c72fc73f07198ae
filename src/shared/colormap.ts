/**
 * Perceptual colormaps as 256-entry RGB lookup tables, sampled from d3-scale-chromatic once per name.
 * No Node APIs: the webview bundles this file too.
 */
import { interpolateCividis, interpolateInferno, interpolateMagma, interpolatePlasma, interpolateTurbo, interpolateViridis } from 'd3-scale-chromatic';

export const COLORMAP_NAMES = ['viridis', 'inferno', 'magma', 'plasma', 'turbo', 'cividis'] as const;
export type ColormapName = (typeof COLORMAP_NAMES)[number];

const INTERPOLATORS: Record<ColormapName, (t: number) => string> = {
  viridis: interpolateViridis,
  inferno: interpolateInferno,
  magma: interpolateMagma,
  plasma: interpolatePlasma,
  turbo: interpolateTurbo,
  cividis: interpolateCividis,
};

const luts = new Map<ColormapName, Uint8Array>();

export function isColormapName(name: unknown): name is ColormapName {
  return typeof name === 'string' && (COLORMAP_NAMES as readonly string[]).includes(name);
}

/** [r, g, b] × 256 for values 0..255. Unknown names fall back to viridis. */
export function colormapLut(name: string = 'viridis'): Uint8Array {
  const key: ColormapName = isColormapName(name) ? name : 'viridis';
  let lut = luts.get(key);
  if (!lut) {
    lut = new Uint8Array(256 * 3);
    const interpolate = INTERPOLATORS[key];
    for (let i = 0; i < 256; i++) lut.set(parseColor(interpolate(i / 255)), i * 3);
    luts.set(key, lut);
  }
  return lut;
}

/** The colour of a value in [0, 1] (clamped). */
export function colorAt(lut: Uint8Array, t: number): [number, number, number] {
  const i = Math.max(0, Math.min(255, Math.round((Number.isFinite(t) ? t : 0) * 255))) * 3;
  return [lut[i], lut[i + 1], lut[i + 2]];
}

/** d3 returns "#rrggbb" for the ramp schemes and "rgb(r, g, b)" for turbo and cividis. */
function parseColor(css: string): [number, number, number] {
  if (css.startsWith('#')) return [1, 3, 5].map((i) => parseInt(css.slice(i, i + 2), 16)) as [number, number, number];
  const m = css.match(/rgb\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)/);
  if (!m) throw new Error(`colormap: unexpected colour ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
