/**
 * DOM-free colouring: a value -> LUT index, patch maps -> RGBA pixels, and the heads sheet painter that fills
 * every head's map into ONE RGBA buffer without allocating per repaint.
 */
import type { SheetLayout } from './geometry';

/** Index into a 256-entry LUT for v in [lo, hi]; NaN and a flat range give 0. */
export function lutIndex(v: number, lo: number, hi: number): number {
  if (!(hi > lo) || !(v === v)) return 0;
  const t = ((v - lo) / (hi - lo)) * 255 + 0.5;
  return t <= 0 ? 0 : t >= 255 ? 255 : t | 0;
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Packs one RGBA colour into the uint32 that a Uint32Array view over ImageData.data holds. */
export function packRGBA(r: number, g: number, b: number, a: number): number {
  return littleEndian ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

export function unpackRGBA(p: number): [number, number, number, number] {
  return littleEndian ? [p & 255, (p >>> 8) & 255, (p >>> 16) & 255, p >>> 24] : [p >>> 24, (p >>> 16) & 255, (p >>> 8) & 255, p & 255];
}

/** A 256-entry LUT (RGBA bytes, 1024 long, or packed uint32) as packed uint32 with the given alpha. */
export function packLut(lut: ArrayLike<number>, alpha = 255): Uint32Array {
  const out = new Uint32Array(256);
  if (lut.length === 256) {
    for (let i = 0; i < 256; i++) {
      const [r, g, b] = unpackRGBA(lut[i] >>> 0);
      out[i] = packRGBA(r, g, b, alpha);
    }
  } else if (lut.length >= 768) {
    const stride = lut.length >= 1024 ? 4 : 3;
    for (let i = 0; i < 256; i++) out[i] = packRGBA(lut[i * stride], lut[i * stride + 1], lut[i * stride + 2], alpha);
  } else {
    throw new RangeError(`a LUT needs 256 RGBA entries, got ${lut.length} values`);
  }
  return out;
}

/** A grey ramp LUT (used for switched-off heads). */
export function greyLut(alpha = 255, from = 40, to = 140): Uint32Array {
  const out = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const g = Math.round(from + ((to - from) * i) / 255);
    out[i] = packRGBA(g, g, g, alpha);
  }
  return out;
}

/** Min and max of map[start, start+len). */
export function range(map: ArrayLike<number>, start = 0, len = map.length - start): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = start; i < start + len; i++) {
    const v = map[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

/** FNV-1a step on a 32-bit hash. */
export function fnv(h: number, v: number): number {
  return Math.imul(h ^ (v & 0xff), 16777619) >>> 0;
}
export const FNV_SEED = 2166136261;

/**
 * Paints a rows x cols map (values src[srcStart + r*cols + c]) into a packed-pixel buffer of width `stride`
 * at (x0, y0), `px` pixels per patch, normalised to the map's own min/max (or lo/hi when given).
 * Returns the FNV hash of the LUT indices, continued from `hash`.
 */
export function paintMap(
  out: Uint32Array, stride: number, x0: number, y0: number,
  src: ArrayLike<number>, srcStart: number, rows: number, cols: number, pxW: number, pxH: number,
  lut: Uint32Array, hash = FNV_SEED, lo?: number, hi?: number,
): number {
  if (lo === undefined || hi === undefined) [lo, hi] = range(src, srcStart, rows * cols);
  const flat = !(hi > lo);
  const k = flat ? 0 : 255 / (hi - lo);
  const rowW = cols * pxW;
  for (let r = 0; r < rows; r++) {
    const rowBase = srcStart + r * cols;
    const first = (y0 + r * pxH) * stride + x0;
    // one pixel row of this patch row, written directly ...
    let p = first;
    for (let c = 0; c < cols; c++) {
      // lutIndex(v, lo, hi), inlined
      const v = src[rowBase + c];
      let idx = flat || !(v === v) ? 0 : (v - lo) * k + 0.5;
      idx = idx <= 0 ? 0 : idx >= 255 ? 255 : idx | 0;
      hash = Math.imul(hash ^ idx, 16777619) >>> 0; // fnv(hash, idx)
      const colour = lut[idx];
      for (let x = 0; x < pxW; x++) out[p++] = colour;
    }
    // ... then copied to the patch's other pixel rows (memmove)
    for (let y = 1; y < pxH; y++) out.copyWithin(first + y * stride, first, first + rowW);
  }
  return hash;
}

/** Colours a map into a fresh rows x cols RGBA buffer (one pixel per patch), normalised to its own range. */
export function colorizeMap(map: ArrayLike<number>, rows: number, cols: number, lut: Uint32Array, lo?: number, hi?: number): Uint8ClampedArray {
  const buf = new Uint8ClampedArray(rows * cols * 4);
  paintMap(new Uint32Array(buf.buffer), cols, 0, 0, map, 0, rows, cols, 1, 1, lut, FNV_SEED, lo, hi);
  return buf;
}

export interface HeadsPaintInput {
  rows: Float32Array; // the query's rows [layers, heads, tokens] (what the inference process answers for a query)
  tokens: number;
  prefix: number;
  grid: [number, number];
}

/**
 * Paints every head's attention row for a query (its rows [layers, heads, tokens]) into one RGBA buffer laid out by `sheet`. The buffer, its
 * uint32 view and the LUTs are made once; `paint` allocates nothing and returns a checksum of the colours.
 */
export class HeadsPainter {
  readonly pixels: Uint8ClampedArray;
  private readonly px32: Uint32Array;
  private lut: Uint32Array;
  private readonly offLut: Uint32Array;
  constructor(readonly sheet: SheetLayout, private input: HeadsPaintInput, lut: Uint32Array, pixels?: Uint8ClampedArray) {
    const size = sheet.width * sheet.height * 4;
    this.pixels = pixels && pixels.length === size ? pixels : new Uint8ClampedArray(size);
    this.px32 = new Uint32Array(this.pixels.buffer, this.pixels.byteOffset, sheet.width * sheet.height);
    this.lut = lut;
    this.offLut = greyLut(lut.length ? unpackRGBA(lut[255])[3] : 255);
  }
  setLut(lut: Uint32Array): void {
    this.lut = lut;
  }
  setInput(input: HeadsPaintInput): void {
    this.input = input;
  }
  /** Fills every cell; `disabled(lh)` heads use a grey ramp. Returns the FNV checksum of all LUT indices. */
  paint(query: number, disabled: (lh: number) => boolean): number {
    const { rows: attention, tokens: n, prefix, grid } = this.input;
    const [rows, cols] = grid;
    const s = this.sheet;
    let hash = fnv(FNV_SEED, query);
    for (let l = 0; l < s.layers; l++) {
      for (let h = 0; h < s.heads; h++) {
        const lh = l * s.heads + h;
        const start = lh * n + prefix;
        const x0 = s.left + h * (s.cellW + s.gap); // = cellOrigin(s, l, h), inlined: no allocation per cell
        const y0 = s.top + l * (s.cellH + s.gap);
        const off = disabled(lh);
        if (off) hash = fnv(hash, 0xd1); // the checksum also tells switched-off heads apart
        hash = paintMap(this.px32, s.width, x0, y0, attention, start, rows, cols, s.patchPx, s.patchPx, off ? this.offLut : this.lut, hash);
      }
    }
    return hash;
  }
}
