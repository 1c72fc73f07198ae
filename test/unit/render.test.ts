import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { interpolateInferno, interpolateViridis } from 'd3-scale-chromatic';
import { composeHeadSheet, composePatchGrid, renderHeadSheet, renderOverlay, renderPatchGrid, SHEET_GAP } from '../../src/node/render';
import { colorAt, colormapLut, COLORMAP_NAMES } from '../../src/shared/colormap';
import { isInspectorError } from '../../src/shared/errors';
import type { TokenLayout } from '../../src/shared/types';

const VIT = join(__dirname, '..', 'fixtures', 'vit');
const layout = (grid: [number, number], patch: number, prefixTokens: string[]): TokenLayout => ({
  patchSize: [patch, patch], grid, inputSize: [grid[0] * patch, grid[1] * patch], prefixTokens, tokens: prefixTokens.length + grid[0] * grid[1],
});
const grey = (w: number, h: number, v = 128) => ({ width: w, height: h, rgb: new Uint8Array(w * h * 3).fill(v) });
const HEAT_ALPHA = 0.6;
const blended = (g: number, lutColor: number[]) => lutColor.map((c) => g * (1 - HEAT_ALPHA) + c * HEAT_ALPHA);

async function decode(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return { w: info.width, h: info.height, at: (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)] };
}

function near(actual: number[], expected: number[], tol = 1.01, what = '') {
  assert.ok(actual.every((v, i) => Math.abs(v - expected[i]) <= tol), `${what}: ${actual} vs ${expected.map((v) => v.toFixed(1))}`);
}

test('colormaps are 256-entry LUTs sampled from d3, built once per name', () => {
  for (const name of COLORMAP_NAMES) {
    const lut = colormapLut(name);
    assert.equal(lut.length, 256 * 3);
    assert.equal(colormapLut(name), lut, 'cached');
  }
  const hex = (s: string) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));
  assert.deepEqual(colorAt(colormapLut('viridis'), 0), hex(interpolateViridis(0)));
  assert.deepEqual(colorAt(colormapLut('viridis'), 1), hex(interpolateViridis(1)));
  assert.deepEqual(colorAt(colormapLut('inferno'), 0.5), hex(interpolateInferno(128 / 255)));
  assert.deepEqual(colormapLut('no-such-map'), colormapLut('viridis'));
});

test('patch grid: a small image is upscaled with nearest neighbour and the grid drawn on patch borders', async () => {
  const src = readFileSync(`${VIT}/vit_hf_style.png`);
  const { data } = await sharp(src).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const image = { width: 64, height: 64, rgb: new Uint8Array(data) };
  const out = await decode(await renderPatchGrid(image, layout([4, 4], 16, [])));
  assert.equal(out.w, 256);
  assert.ok(out.h >= 256);
  const orig = (x: number, y: number) => [...data.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)];
  for (const [x, y] of [[1, 1], [30, 9], [63, 62], [17, 50]]) assert.deepEqual(out.at(x * 4 + 2, y * 4 + 1), orig(x, y), `pixel ${x},${y}`);
  // 80% of the grid colour over the image on a patch border (x = 16 → 64 upscaled).
  near(out.at(64, 10), orig(16, 2).map((v, i) => v * 0.2 + [255, 215, 0][i] * 0.8), 1.01, 'grid line');
  // With prefix tokens, swatches are drawn above the image, so it grows taller and shows their colours.
  const withPrefix = await decode(await renderPatchGrid(image, layout([4, 4], 16, ['cls', 'dist'])));
  assert.ok(withPrefix.h > out.h);
  let swatches = 0;
  for (let x = 0; x < 120; x++) if (String(withPrefix.at(x, 10)) === '230,120,30' || String(withPrefix.at(x, 10)) === '150,80,200') swatches++;
  assert.ok(swatches > 20, 'cls and dist swatches above the grid');
});

test('head sheet: layers × heads cells, each the query row over the patches scaled to its own max', async () => {
  const ref = JSON.parse(readFileSync(`${VIT}/deit_style.json`, 'utf8'));
  const lay = layout(ref.grid, ref.patch_size, ref.prefix_tokens);
  const L = ref.layers, H = ref.heads, N = ref.tokens;
  const attention = Float32Array.from((ref.attention as number[][][][]).flat(3));
  assert.equal(attention.length, L * H * N * N);
  const cell = 64;
  const png = await renderHeadSheet(grey(32, 32), attention, lay, { layers: L, heads: H, query: 0, colormap: 'viridis', cellSize: cell });
  const out = await decode(png);
  assert.equal(out.w, H * (cell + SHEET_GAP) + SHEET_GAP);
  const lut = colormapLut('viridis');
  const [rows, cols] = lay.grid;
  const prefix = lay.prefixTokens.length;
  const step = cell / cols; // pixels per patch in a cell
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
    const row = (ref.attention[l][h][0] as number[]).slice(prefix);
    const max = Math.max(...row);
    const x0 = SHEET_GAP + h * (cell + SHEET_GAP);
    const y0 = out.h - (L - l) * (cell + SHEET_GAP);
    for (let p = 0; p < rows * cols; p++) {
      const cx = x0 + Math.floor((p % cols) * step + step / 2);
      const cy = y0 + Math.floor(Math.floor(p / cols) * step + step / 2);
      near(out.at(cx, cy), blended(128, colorAt(lut, row[p] / max)), 1.01, `layer ${l} head ${h} patch ${p}`);
    }
  }
  const inferno = await renderHeadSheet(grey(32, 32), attention, lay, { heads: H, colormap: 'inferno', cellSize: cell });
  assert.notDeepEqual(inferno, png);
  await assert.rejects(renderHeadSheet(grey(32, 32), attention, lay, { heads: H, query: N }),
    (e: unknown) => isInspectorError(e) && e.code === 'bad-input' && /0 = cls, 1 = dist/.test(e.message));
  await assert.rejects(renderHeadSheet(grey(32, 32), attention.subarray(1), lay, { heads: H }), /not \[/);
});

test('head sheet: a patch query is outlined in white in every cell; captions sit on the white margins; PNGs are lossless', async () => {
  const ref = JSON.parse(readFileSync(`${VIT}/deit_style.json`, 'utf8'));
  const lay = layout(ref.grid, ref.patch_size, ref.prefix_tokens); // 4 × 4 patches of 8 px on a 32 × 32 input
  const L = ref.layers, H = ref.heads;
  const attention = Float32Array.from((ref.attention as number[][][][]).flat(3));
  const cell = 64; // 16 px per patch
  const opts = { layers: L, heads: H, query: lay.prefixTokens.length + 5, cellSize: cell }; // patch row 1, column 1
  const pic = await composeHeadSheet(grey(32, 32), attention, lay, opts);
  const png = await renderHeadSheet(grey(32, 32), attention, lay, opts);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [pic.width, pic.height, 3]);
  assert.ok(data.equals(pic.rgb), 'the PNG holds exactly the composed pixels');
  const out = await decode(png);
  const white = [255, 255, 255];
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
    const x0 = SHEET_GAP + h * (cell + SHEET_GAP);
    const y0 = out.h - (L - l) * (cell + SHEET_GAP);
    for (const [x, y] of [[16, 20], [31, 24], [20, 16], [24, 31], [16, 16], [31, 31]]) {
      assert.deepEqual(out.at(x0 + x, y0 + y), white, `layer ${l} head ${h}: outline at ${x},${y}`);
    }
    for (const [x, y] of [[24, 24], [15, 20], [32, 24], [20, 15], [24, 32]]) {
      assert.notDeepEqual(out.at(x0 + x, y0 + y), white, `layer ${l} head ${h}: no outline at ${x},${y}`);
    }
  }
  // Where a font is available the caption is drawn above the cells: dark text on white, gaps left white.
  const cellsTop = out.h - L * (cell + SHEET_GAP);
  if (cellsTop > SHEET_GAP) {
    let dark = 0;
    for (let y = SHEET_GAP; y < cellsTop - SHEET_GAP; y++) for (let x = 0; x < out.w; x++) if (out.at(x, y)[0] < 100) dark++;
    assert.ok(dark > 20, `caption text: ${dark} dark pixels`);
    for (let x = 0; x < out.w; x++) for (const y of [0, cellsTop - 1]) assert.deepEqual(out.at(x, y), white, `margin at ${x},${y}`);
  }
  const grid = await composePatchGrid(grey(32, 32), lay);
  const gridPng = await sharp(await renderPatchGrid(grey(32, 32), lay)).raw().toBuffer();
  assert.ok(gridPng.equals(grid.rgb), 'patch grid: the PNG holds exactly the composed pixels');
  const below = 32 * 8 + 40 + 2 * SHEET_GAP; // image upscaled ×8 below the swatches (40 px)
  if (grid.height > below) {
    let dark = 0;
    for (let i = below * grid.width * 3; i < grid.rgb.length; i += 3) if (grid.rgb[i] < 100) dark++;
    assert.ok(dark > 20, `patch grid caption: ${dark} dark pixels`);
  }
});

test('overlay: the hottest patch gets the top colour, zero gets the bottom, on the upscaled image', async () => {
  const lay = layout([4, 4], 8, ['cls']);
  const values = new Float32Array(16);
  values[6] = 0.02; // row 1, col 2
  values[0] = 0.01;
  const out = await decode(await renderOverlay(grey(32, 32, 100), values, lay, { colormap: 'magma' }));
  assert.deepEqual([out.w, out.h], [256, 256]);
  const lut = colormapLut('magma');
  near(out.at(2 * 64 + 32, 1 * 64 + 32), blended(100, colorAt(lut, 1)), 1.01, 'max');
  near(out.at(32, 32), blended(100, colorAt(lut, 0.5)), 1.01, 'half');
  near(out.at(3 * 64 + 10, 3 * 64 + 10), blended(100, colorAt(lut, 0)), 1.01, 'zero');
  await assert.rejects(renderOverlay(grey(32, 32), new Float32Array(15), lay), /4 × 4 grid/);
});
