import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distanceChart, erfDescription, erfSides, linearScale, niceDomain, niceTicks, topCells } from '../../webview/logic/chart';
import type { ErfReport } from '../../src/shared/explainTypes';
import { FNV_SEED, HeadsPainter, colorizeMap, greyLut, lutIndex, packLut, packRGBA, paintMap, range, unpackRGBA } from '../../webview/logic/colorize';
import { sheetLayout } from '../../webview/logic/geometry';
import { packedLut } from '../../webview/logic/palette';

test('value -> LUT index: ends, middle, clamping, NaN and flat ranges', () => {
  assert.equal(lutIndex(0, 0, 1), 0);
  assert.equal(lutIndex(1, 0, 1), 255);
  assert.equal(lutIndex(0.5, 0, 1), 128);
  assert.equal(lutIndex(0.25, 0, 1), 64);
  assert.equal(lutIndex(-3, 0, 1), 0);
  assert.equal(lutIndex(3, 0, 1), 255);
  assert.equal(lutIndex(NaN, 0, 1), 0);
  assert.equal(lutIndex(0.5, 0.5, 0.5), 0);
  assert.equal(lutIndex(3, 1, 5), 128);
  // monotone
  let prev = -1;
  for (let v = 0; v <= 1; v += 0.01) {
    const i = lutIndex(v, 0, 1);
    assert.ok(i >= prev);
    prev = i;
  }
});

test('LUTs pack to the uint32 an ImageData view holds (RGBA byte order)', () => {
  const p = packRGBA(10, 20, 30, 40);
  const bytes = new Uint8Array(new Uint32Array([p]).buffer);
  assert.deepEqual(Array.from(bytes), [10, 20, 30, 40]);
  assert.deepEqual(unpackRGBA(p), [10, 20, 30, 40]);
  const rgba = new Uint8Array(1024);
  for (let i = 0; i < 256; i++) rgba.set([i, 255 - i, 7, 255], i * 4);
  const lut = packLut(rgba, 128);
  assert.deepEqual(unpackRGBA(lut[0]), [0, 255, 7, 128]);
  assert.deepEqual(unpackRGBA(lut[255]), [255, 0, 7, 128]);
  assert.throws(() => packLut(new Uint8Array(10)));
  const grey = greyLut(255, 0, 255);
  assert.deepEqual(unpackRGBA(grey[100]), [100, 100, 100, 255]);
  // the colormap setting gives 256 opaque colours, dark to bright for viridis
  const v = packedLut('viridis');
  assert.equal(v.length, 256);
  const [r0, g0, b0, a0] = unpackRGBA(v[0]);
  const [r1, g1] = unpackRGBA(v[255]);
  assert.equal(a0, 255);
  assert.ok(r1 + g1 > r0 + g0 + b0 / 2);
  assert.equal(packedLut('viridis'), v, 'cached');
  assert.notEqual(packedLut('turbo')[128], v[128]);
});

test('a map colours into an RGBA buffer, each patch a block of the LUT colour of its value', () => {
  const lut = new Uint32Array(256).map((_, i) => packRGBA(i, 0, 0, 255));
  const map = new Float32Array([0, 1, 2, 3]); // 2 x 2, normalised to its own range
  const buf = colorizeMap(map, 2, 2, lut);
  assert.deepEqual(Array.from(buf.subarray(0, 4)), [0, 0, 0, 255]);
  assert.equal(buf[4], 85);
  assert.equal(buf[8], 170);
  assert.equal(buf[12], 255);
  // fixed lo/hi
  assert.equal(colorizeMap(map, 2, 2, lut, 0, 6)[12], 128);
  // into a larger buffer at an offset, 3 px per patch
  const W = 10;
  const out = new Uint32Array(W * 8);
  paintMap(out, W, 2, 1, map, 0, 2, 2, 3, 3, lut);
  const px = (x: number, y: number) => unpackRGBA(out[y * W + x])[0];
  assert.equal(out[0], 0, 'outside untouched');
  assert.equal(px(2, 1), 0);
  assert.equal(px(4, 3), 0);
  assert.equal(px(5, 1), 85);
  assert.equal(px(7, 3), 85);
  assert.equal(px(2, 4), 170);
  assert.equal(px(7, 6), 255);
  assert.equal(out[7 * W + 2], 0, 'below the map untouched');
  assert.deepEqual(range([3, -1, 2]), [-1, 3]);
});

test('the heads painter fills every cell from the query\'s rows; the checksum follows the query and disabled heads', () => {
  const L = 2, H = 3, T = 5, grid: [number, number] = [2, 2];
  const att = new Float32Array(L * H * T * T);
  for (let i = 0; i < att.length; i++) att[i] = ((i * 7919) % 101) / 101;
  // what the inference process answers for a query: every head's row of that token, [L, H, T]
  const rowsOf = (q: number) => {
    const out = new Float32Array(L * H * T);
    for (let lh = 0; lh < L * H; lh++) out.set(att.subarray((lh * T + q) * T, (lh * T + q + 1) * T), lh * T);
    return out;
  };
  const sheet = sheetLayout(L, H, grid, 60, { gap: 1, left: 2, top: 2, maxPatchPx: 3 });
  const lut = new Uint32Array(256).map((_, i) => packRGBA(0, i, 0, 255));
  const p = new HeadsPainter(sheet, { rows: rowsOf(1), tokens: T, prefix: 1, grid }, lut);
  const c1 = p.paint(1, () => false);
  assert.equal(p.paint(1, () => false), c1, 'deterministic');
  p.setInput({ rows: rowsOf(2), tokens: T, prefix: 1, grid });
  const c2 = p.paint(2, () => false);
  assert.notEqual(c1, c2);
  const c3 = p.paint(2, (lh) => lh === 4);
  assert.notEqual(c2, c3, 'a disabled head is painted with another LUT');
  // cell (layer 1, head 2), patch (1, 1) of query 2 is value att[((1*3+2)*5+2)*5 + 1 + 3]
  p.paint(2, () => false);
  const row = ((1 * H + 2) * T + 2) * T + 1;
  const vals = Array.from(att.subarray(row, row + 4));
  const idx = lutIndex(vals[3], Math.min(...vals), Math.max(...vals));
  const x = sheet.left + 2 * (sheet.cellW + sheet.gap) + 1 * sheet.patchPx;
  const y = sheet.top + 1 * (sheet.cellH + sheet.gap) + 1 * sheet.patchPx;
  const px32 = new Uint32Array(p.pixels.buffer);
  assert.equal(unpackRGBA(px32[y * sheet.width + x])[1], idx);
  assert.equal(px32[0], 0, 'labels area untouched');
  assert.equal(FNV_SEED >>> 0, FNV_SEED);
});

test('linear scales map, invert and tick nicely', () => {
  const s = linearScale([0, 10], [100, 200]);
  assert.equal(s(0), 100);
  assert.equal(s(10), 200);
  assert.equal(s(2.5), 125);
  assert.equal(s.invert(150), 5);
  const y = linearScale([0, 400], [300, 0]); // inverted pixel axis
  assert.equal(y(0), 300);
  assert.equal(y(400), 0);
  assert.equal(y(100), 225);
  assert.equal(linearScale([5, 5], [0, 10])(5), 5, 'flat domain -> middle');
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 1, 4), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 437, 5), [0, 100, 200, 300, 400]);
  assert.deepEqual(niceDomain(0, 437, 5), [0, 500]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

test('the distance chart puts head dots and the CNN line on one pixel axis', () => {
  const distances = new Float32Array([10, 20, 100, 120]); // 2 layers x 2 heads
  const g = distanceChart({ vitLayers: 2, heads: 2, distances, cnnRf: [10, 50, 250, 400], inputPx: 224, disabled: (lh) => lh === 1 }, 400, 300);
  assert.equal(g.dots.length, 4);
  assert.equal(g.line.length, 4);
  assert.equal(g.dots[1].disabled, true);
  // same pixel axis: a dot at 100 px and the line at 250 px map through the same y scale
  assert.equal(g.dots[2].y, g.y(100));
  assert.equal(g.line[2].y, g.y(250));
  assert.ok(g.y(400) >= g.plot.y0 && g.y(0) === g.plot.y1);
  // the CNN's last layer sits at the ViT's last layer (same relative depth)
  assert.equal(g.line[3].x, g.x(2));
  assert.equal(g.line[1].x, g.x(1));
  // dots of one layer cluster around that layer
  assert.ok(Math.abs(g.dots[0].x - g.x(1)) < g.x(1.3) - g.x(1));
  assert.ok(g.dots[0].y > g.dots[1].y, 'larger distance is higher up');
  assert.equal(g.inputLineY, g.y(224));
  const noCnn = distanceChart({ vitLayers: 2, heads: 2, distances, cnnRf: null, inputPx: 224 }, 400, 300);
  assert.equal(noCnn.line.length, 0);
  assert.equal(noCnn.erf.length, 0, 'no measured ERF before an explanation');
});

const erfLayer = (depth: number, lo: number, mid: number, hi: number) => ({
  depth, output: `t${depth}`, sides: { '0.2': lo, '0.5': mid, '0.99': hi }, theoretical: [32, 32] as [number, number], centre: [16, 16] as [number, number], map: [],
});

test('measured ERF sides convert from a model\'s input pixels to the chart\'s (the ViT input) like the CNN line', () => {
  const report: ErfReport = { unit: 'u', perturbation: 'p', cellPx: [4, 4], grid: [8, 8], layers: [erfLayer(1, 4, 8, 20), erfLayer(2, 8, 12, 32)] };
  // same input: unchanged
  assert.deepEqual(erfSides(report, [32, 32], [32, 32]), [{ depth: 1, lo: 4, mid: 8, hi: 20 }, { depth: 2, lo: 8, mid: 12, hi: 32 }]);
  // a CNN on 64×64 drawn on a 32×32 ViT's axis: half; a 64×16 input onto 32×32: sqrt(1/2 · 2) = 1
  assert.deepEqual(erfSides(report, [64, 64], [32, 32])[1], { depth: 2, lo: 4, mid: 6, hi: 16 });
  assert.deepEqual(erfSides(report, [64, 16], [32, 32])[0], { depth: 1, lo: 4, mid: 8, hi: 20 });
});

test('the distance chart places the measured ERF: ViT per block, CNN at relative depth, whiskers 20–99%, on the pixel axis', () => {
  const distances = new Float32Array([4, 6, 10, 14, 12, 20]); // 3 layers x 2 heads
  const vit = [{ depth: 1, lo: 4, mid: 8, hi: 16 }, { depth: 2, lo: 4, mid: 12, hi: 24 }, { depth: 3, lo: 8, mid: 16, hi: 32 }];
  const cnn = [{ depth: 2, lo: 2, mid: 4, hi: 6 }, { depth: 4, lo: 4, mid: 10, hi: 18 }];
  const g = distanceChart({ vitLayers: 3, heads: 2, distances, cnnRf: [3, 7, 15, 40], inputPx: 32, erf: { vit, cnn, cnnLayers: 4 } }, 400, 300);
  assert.equal(g.erf.length, 5);
  const v = g.erf.filter((m) => m.model === 'vit');
  const c = g.erf.filter((m) => m.model === 'cnn');
  assert.deepEqual(v.map((m) => m.x), [g.x(1), g.x(2), g.x(3)], 'ViT block ℓ sits at layer ℓ, with its dots');
  assert.deepEqual(v.map((m) => [m.yLo, m.y, m.yHi]), vit.map((s) => [g.y(s.lo), g.y(s.mid), g.y(s.hi)]));
  assert.ok(v.every((m) => m.yLo > m.y && m.y > m.yHi), 'the 99% end of the whisker is higher up');
  // the CNN's layer 2 of 4 at half the ViT's depth, where the theoretical line has its second point
  assert.equal(c[0].x, g.x(1.5));
  assert.equal(c[0].x, g.line[1].x);
  assert.equal(c[1].x, g.line[3].x);
  assert.equal(c[1].y, g.y(10));
  // the axis grows to hold the largest 99% side
  const tall = distanceChart({ vitLayers: 3, heads: 2, distances, cnnRf: null, inputPx: 32, erf: { vit: [{ depth: 1, lo: 1, mid: 2, hi: 90 }], cnn: null, cnnLayers: 1 } }, 400, 300);
  assert.ok(tall.y.domain[1] >= 90 && tall.erf[0].yHi >= tall.plot.y0);
  assert.equal(tall.erf.length, 1);
});

test('the measured ERF in words (the chart\'s accessible label) and the top attention cells', () => {
  const text = erfDescription({ vit: [{ depth: 1, lo: 4, mid: 8.4, hi: 20 }], cnn: [{ depth: 3, lo: 2, mid: 5, hi: 9.6 }], cnnLayers: 5 });
  assert.match(text, /ViT measured ERF.*per block: 1: 8 px \(4–20\)\./);
  assert.match(text, /CNN measured ERF.*per layer: 3: 5 px \(2–10\)\./);
  assert.doesNotMatch(erfDescription({ vit: [], cnn: null, cnnLayers: 1 }), /CNN/);
  assert.deepEqual(topCells([0.1, 0.5, 0.2, 0.5, 0, 0, 0, 0, 0, 0.2], 0.2), [1, 3]);
  assert.deepEqual(topCells([0.3, 0.1], 0.1), [0], 'at least one cell');
});
