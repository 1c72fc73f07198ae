/**
 * Where the 256-entry RGBA LUTs come from. Until src/core/colormap.ts lands this samples d3-scale-chromatic
 * directly (same source); then it only forwards.
 */
import { interpolateCividis, interpolateInferno, interpolateMagma, interpolatePlasma, interpolateTurbo, interpolateViridis } from 'd3-scale-chromatic';
import type { PanelSettings } from '../../src/protocol';

const interpolators: Record<PanelSettings['colormap'], (t: number) => string> = {
  viridis: interpolateViridis, inferno: interpolateInferno, magma: interpolateMagma,
  plasma: interpolatePlasma, turbo: interpolateTurbo, cividis: interpolateCividis,
};

function parseColour(s: string): [number, number, number] {
  if (s.startsWith('#')) {
    const n = parseInt(s.slice(1, 7), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const m = s.match(/-?[\d.]+/g) ?? ['0', '0', '0'];
  return [Number(m[0]), Number(m[1]), Number(m[2])].map((v) => Math.max(0, Math.min(255, Math.round(v)))) as [number, number, number];
}

/** 256 RGBA entries (1024 bytes). */
export function colormapLut(name: PanelSettings['colormap']): Uint8Array {
  const f = interpolators[name] ?? interpolateViridis;
  const out = new Uint8Array(1024);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = parseColour(f(i / 255));
    out.set([r, g, b, 255], i * 4);
  }
  return out;
}
