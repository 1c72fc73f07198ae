/**
 * PNGs for the CLI's report: the patch grid, a layers × heads sheet of one query's attention, and an overlay
 * (rollout). Pixels are composed in JavaScript into one raw RGB buffer per picture (compose*), which sharp
 * encodes once (encodePng); sharp also resizes the grey base and renders the captions.
 */
import sharp from 'sharp';
import { colormapLut } from '../shared/colormap';
import { InspectorError } from '../shared/errors';
import type { TokenLayout } from '../shared/types';

export interface RgbImage { width: number; height: number; rgb: Uint8Array }
export interface HeadSheetOptions { heads: number; layers?: number; query?: number; colormap?: string; cellSize?: number }
export interface OverlayRenderOptions { colormap?: string; alpha?: number }

const MIN_SIDE = 256; // small model inputs are upscaled (nearest) to at least this long side
const GRID_COLOR = [255, 215, 0];
const PREFIX_COLORS = [[230, 120, 30], [150, 80, 200], [110, 110, 110]];
export const SHEET_GAP = 4; // pixels between and around the head sheet's cells
const GAP = SHEET_GAP;
const HEAT_ALPHA = 0.6;
/**
 * zlib level 1 (sharp's default is 6), row filters off (as sharp's default): still lossless. A ViT-S head sheet
 * of a photo encodes in about half the time (57 vs 117 ms) for ~15% more bytes; smooth pictures grow more.
 */
const PNG_OPTIONS = { compressionLevel: 1, adaptiveFiltering: false } as const;

/** A canvas of RGB pixels, white to start. */
class Canvas {
  readonly rgb: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.rgb = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, r: number, g: number, b: number, a = 1) {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.rgb[i] = Math.round(this.rgb[i] * (1 - a) + r * a);
    this.rgb[i + 1] = Math.round(this.rgb[i + 1] * (1 - a) + g * a);
    this.rgb[i + 2] = Math.round(this.rgb[i + 2] * (1 - a) + b * a);
  }
  rect(x0: number, y0: number, w: number, h: number, [r, g, b]: number[], a = 1, outline = false) {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) {
      if (!outline || y === y0 || y === y0 + h - 1 || x === x0 || x === x0 + w - 1) this.set(x, y, r, g, b, a);
    }
  }
  /** Copies an RGB block (a caption) in at (left, top), clipped to the canvas. */
  paste(block: RgbImage, left: number, top: number) {
    const w = Math.min(block.width, this.width - left);
    const h = Math.min(block.height, this.height - top);
    if (w <= 0 || h <= 0) return;
    for (let y = 0; y < h; y++) {
      const from = y * block.width * 3;
      this.rgb.set(block.rgb.subarray(from, from + w * 3), ((top + y) * this.width + left) * 3);
    }
  }
  image(): RgbImage {
    return { width: this.width, height: this.height, rgb: this.rgb };
  }
}

/** A composed picture as a PNG (lossless). */
export async function encodePng(image: RgbImage): Promise<Buffer> {
  return sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } }).png(PNG_OPTIONS).toBuffer();
}

/** The model image, upscaled, with the patch grid drawn and the prefix tokens shown as swatches above it. */
export async function renderPatchGrid(image: RgbImage, layout: TokenLayout): Promise<Buffer> {
  return encodePng(await composePatchGrid(image, layout));
}

/** renderPatchGrid's pixels, before encoding. */
export async function composePatchGrid(image: RgbImage, layout: TokenLayout): Promise<RgbImage> {
  const k = upscale(image);
  const [rows, cols] = layout.grid;
  const [ph, pw] = layout.patchSize;
  const swatch = Math.min(40, Math.max(16, ph * k));
  const top = layout.prefixTokens.length ? swatch + 2 * GAP : 0;
  const caption = await text(
    `${rows} × ${cols} patches of ${ph} × ${pw} px` +
      (layout.prefixTokens.length ? ` + ${layout.prefixTokens.join(', ')} (swatches above, in token order)` : '') +
      ` = ${layout.tokens} tokens`,
    image.width * k,
  );
  const c = new Canvas(image.width * k, top + image.height * k + (caption ? caption.height + 2 * GAP : 0));
  layout.prefixTokens.forEach((_, i) => c.rect(GAP + i * (swatch + GAP), GAP, swatch, swatch, PREFIX_COLORS[Math.min(i, 2)]));
  drawScaled(c, image, k, 0, top);
  for (let r = 0; r <= rows; r++) c.rect(0, top + Math.min(r * ph * k, image.height * k - 1), c.width, 1, GRID_COLOR, 0.8);
  for (let q = 0; q <= cols; q++) c.rect(Math.min(q * pw * k, image.width * k - 1), top, 1, image.height * k, GRID_COLOR, 0.8);
  if (caption) c.paste(caption, 0, top + image.height * k + GAP);
  return c.image();
}

/** Layers (rows, first on top) × heads (columns): where `query` looks among the patches, each cell scaled to its own max. */
export async function renderHeadSheet(image: RgbImage, attention: Float32Array, layout: TokenLayout, opts: HeadSheetOptions): Promise<Buffer> {
  return encodePng(await composeHeadSheet(image, attention, layout, opts));
}

/** renderHeadSheet's pixels, before encoding. */
export async function composeHeadSheet(image: RgbImage, attention: Float32Array, layout: TokenLayout, opts: HeadSheetOptions): Promise<RgbImage> {
  const n = layout.tokens;
  const heads = opts.heads;
  const layers = opts.layers ?? attention.length / (heads * n * n);
  if (!Number.isInteger(layers) || layers * heads * n * n !== attention.length) {
    throw new Error(`renderHeadSheet: ${attention.length} values are not [${layers}, ${heads}, ${n}, ${n}]`);
  }
  const query = opts.query ?? 0;
  if (!Number.isInteger(query) || query < 0 || query >= n) {
    throw new InspectorError('bad-input', `Query token ${query} is out of range: this model has ${n} tokens (${describeTokens(layout)}). Pick 0 to ${n - 1}.`);
  }
  const lut = colormapLut(opts.colormap);
  const target = opts.cellSize ?? 128;
  const s = target / Math.max(image.width, image.height);
  const cw = Math.max(1, Math.round(image.width * s));
  const ch = Math.max(1, Math.round(image.height * s));
  const [base, caption] = await Promise.all([
    greyAt(image, cw, ch),
    text(`query token ${query} (${tokenName(layout, query)}): rows are layers 0–${layers - 1}, columns heads 0–${heads - 1}`, heads * (cw + GAP) + GAP),
  ]);
  const patchOf = patchIndexMap(layout, image, cw, ch);
  const runs = patchRuns(patchOf, cw, ch);
  const prefix = layout.prefixTokens.length;
  const qPatch = query >= prefix ? query - prefix : -1;
  const outline = qPatch >= 0 ? patchOutline(cw, ch, patchOf, qPatch) : new Int32Array(0);
  const top = caption ? caption.height + 2 * GAP : GAP;
  const c = new Canvas(heads * (cw + GAP) + GAP, top + layers * (ch + GAP));
  const heat = new Float32Array(layout.grid[0] * layout.grid[1]);
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const row = ((l * heads + h) * n + query) * n;
      heat.set(attention.subarray(row + prefix, row + n));
      const left = GAP + h * (cw + GAP);
      const y0 = top + l * (ch + GAP);
      blendHeat(c, left, y0, cw, base, normalised(heat), runs, lut, HEAT_ALPHA);
      for (let i = 0; i < outline.length; i++) {
        const p = ((y0 + Math.floor(outline[i] / cw)) * c.width + left + (outline[i] % cw)) * 3;
        c.rgb[p] = c.rgb[p + 1] = c.rgb[p + 2] = 255;
      }
    }
  }
  if (caption) c.paste(caption, GAP, GAP);
  return c.image();
}

/** A patch-grid map (e.g. rollout, rows × cols) blended over the upscaled image, scaled to its own max. */
export async function renderOverlay(image: RgbImage, values: Float32Array, layout: TokenLayout, opts: OverlayRenderOptions = {}): Promise<Buffer> {
  return encodePng(await composeOverlay(image, values, layout, opts));
}

/** renderOverlay's pixels, before encoding. */
export async function composeOverlay(image: RgbImage, values: Float32Array, layout: TokenLayout, opts: OverlayRenderOptions = {}): Promise<RgbImage> {
  const [rows, cols] = layout.grid;
  if (values.length !== rows * cols) throw new Error(`renderOverlay: ${values.length} values for a ${rows} × ${cols} grid`);
  const k = upscale(image);
  const w = image.width * k;
  const h = image.height * k;
  const c = new Canvas(w, h);
  const runs = patchRuns(patchIndexMap(layout, image, w, h), w, h);
  blendHeat(c, 0, 0, w, await greyAt(image, w, h), normalised(values), runs, colormapLut(opts.colormap), opts.alpha ?? HEAT_ALPHA);
  return c.image();
}

function upscale(image: RgbImage): number {
  return Math.max(1, Math.ceil(MIN_SIDE / Math.max(image.width, image.height)));
}

function drawScaled(c: Canvas, image: RgbImage, k: number, left: number, top: number) {
  const w = Math.min(image.width * k, c.width - left);
  const h = Math.min(image.height * k, c.height - top);
  for (let y = 0; y < h; y++) {
    const src = Math.floor(y / k) * image.width;
    let o = ((top + y) * c.width + left) * 3;
    for (let x = 0; x < w; x++, o += 3) {
      const i = (src + Math.floor(x / k)) * 3;
      c.rgb[o] = image.rgb[i];
      c.rgb[o + 1] = image.rgb[i + 1];
      c.rgb[o + 2] = image.rgb[i + 2];
    }
  }
}

/** Luminance of the image at w × h (nearest when enlarging, so patches stay sharp). A grey base lets the heat colours read. */
async function greyAt(image: RgbImage, w: number, h: number): Promise<Uint8Array> {
  const kernel = w >= image.width ? 'nearest' : 'lanczos3';
  const data = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(w, h, { fit: 'fill', kernel }).greyscale().raw().toBuffer();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** For each pixel of a w × h rendering of the model input: the patch it falls in, or -1 past the grid. */
function patchIndexMap(layout: TokenLayout, image: RgbImage, w: number, h: number): Int32Array {
  const [rows, cols] = layout.grid;
  const [ph, pw] = layout.patchSize;
  const map = new Int32Array(w * h);
  for (let y = 0; y < h; y++) {
    const r = Math.floor(Math.floor(((y + 0.5) * image.height) / h) / ph);
    for (let x = 0; x < w; x++) {
      const q = Math.floor(Math.floor(((x + 0.5) * image.width) / w) / pw);
      map[y * w + x] = r < rows && q < cols ? r * cols + q : -1;
    }
  }
  return map;
}

/**
 * Runs of pixels in the same patch along the rows of a w × h patch map: [start, end, patch] triples of pixel
 * offsets (y * w + x, end exclusive), patch -1 past the grid.
 */
function patchRuns(patchOf: Int32Array, w: number, h: number): Int32Array {
  const runs: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w;) {
      const i = y * w + x;
      const p = patchOf[i];
      let end = x + 1;
      while (end < w && patchOf[y * w + end] === p) end++;
      runs.push(i, y * w + end, p);
      x = end;
    }
  }
  return Int32Array.from(runs);
}

/**
 * A w × h block at (left, top), which must lie on the canvas: each pixel its grey past the grid, else
 * round(grey * (1 - alpha) + colour(heat of its patch) * alpha) per channel, from a table of every
 * (colour, grey) pair. `runs` is patchRuns of the block's patch map.
 */
function blendHeat(c: Canvas, left: number, top: number, w: number, grey: Uint8Array, heat: Float32Array,
  runs: Int32Array, lut: Uint8Array, alpha: number) {
  const mix = blendTable(alpha);
  const px = c.rgb;
  // Per patch, where its colour's row of the table starts.
  const rowR = new Int32Array(heat.length);
  const rowG = new Int32Array(heat.length);
  const rowB = new Int32Array(heat.length);
  for (let p = 0; p < heat.length; p++) {
    const i = Math.round(heat[p] * 255) * 3;
    rowR[p] = lut[i] << 8;
    rowG[p] = lut[i + 1] << 8;
    rowB[p] = lut[i + 2] << 8;
  }
  for (let r = 0; r < runs.length; r += 3) {
    const start = runs[r];
    const end = runs[r + 1];
    const p = runs[r + 2];
    const y = Math.floor(start / w);
    let o = ((top + y) * c.width + left + start - y * w) * 3;
    if (p < 0) {
      for (let i = start; i < end; i++, o += 3) px[o] = px[o + 1] = px[o + 2] = grey[i];
      continue;
    }
    const tr = rowR[p];
    const tg = rowG[p];
    const tb = rowB[p];
    for (let i = start; i < end; i++, o += 3) {
      const g = grey[i];
      px[o] = mix[tr + g];
      px[o + 1] = mix[tg + g];
      px[o + 2] = mix[tb + g];
    }
  }
}

const blendTables = new Map<number, Uint8Array>();

/** [colour * 256 + grey] → round(grey * (1 - alpha) + colour * alpha), for every pair of 8-bit values. */
function blendTable(alpha: number): Uint8Array {
  let table = blendTables.get(alpha);
  if (!table) {
    table = new Uint8Array(256 * 256);
    for (let v = 0; v < 256; v++) for (let g = 0; g < 256; g++) table[v * 256 + g] = Math.round(g * (1 - alpha) + v * alpha);
    if (blendTables.size > 16) blendTables.clear();
    blendTables.set(alpha, table);
  }
  return table;
}

/** Pixel offsets (y * w + x) of the border of `patch` in a w × h patch map: its pixels with a neighbour outside it. */
function patchOutline(w: number, h: number, patchOf: Int32Array, patch: number): Int32Array {
  const edge: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (patchOf[y * w + x] !== patch) continue;
    if (x === 0 || y === 0 || x === w - 1 || y === h - 1 ||
      patchOf[y * w + x - 1] !== patch || patchOf[y * w + x + 1] !== patch || patchOf[(y - 1) * w + x] !== patch || patchOf[(y + 1) * w + x] !== patch) {
      edge.push(y * w + x);
    }
  }
  return Int32Array.from(edge);
}

/** Values scaled into [0, 1] by their own maximum; negatives and non-finite values count as 0. */
function normalised(values: Float32Array): Float32Array {
  let max = 0;
  for (const v of values) if (v > max && Number.isFinite(v)) max = v;
  return values.map((v) => (max > 0 && Number.isFinite(v) && v > 0 ? Math.min(1, v / max) : 0));
}

function tokenName(layout: TokenLayout, t: number): string {
  const prefix = layout.prefixTokens.length;
  if (t < prefix) return layout.prefixTokens[t];
  const p = t - prefix;
  return `patch row ${Math.floor(p / layout.grid[1])}, column ${p % layout.grid[1]}`;
}

function describeTokens(layout: TokenLayout): string {
  const prefix = layout.prefixTokens.map((name, i) => `${i} = ${name}`);
  return [...prefix, `${layout.prefixTokens.length}… = patches`].join(', ');
}

/**
 * A caption rendered by sharp's text input over white (as it is drawn on the white margin of a picture), or
 * null where no font is available (the picture still works).
 */
async function text(caption: string, maxWidth: number): Promise<RgbImage | null> {
  if (maxWidth < 40) return null;
  try {
    const { data, info } = await sharp({ text: { text: escapeMarkup(caption), font: 'sans 10', dpi: 96, width: maxWidth - 2 * GAP, rgba: true, wrap: 'word' } })
      .raw().toBuffer({ resolveWithObject: true });
    const white = { create: { width: info.width, height: info.height, channels: 4 as const, background: { r: 255, g: 255, b: 255, alpha: 1 } } };
    const rgb = await sharp(white).composite([{ input: data, raw: { width: info.width, height: info.height, channels: 4 } }])
      .removeAlpha().raw().toBuffer();
    return { width: info.width, height: info.height, rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength) };
  } catch {
    return null;
  }
}

function escapeMarkup(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
