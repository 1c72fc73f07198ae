import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import type { Color } from 'sharp';
import { loadImage } from '../../src/node/imageLoad';
import { preprocessingFrom } from '../../src/node/preprocess';
import { isInspectorError } from '../../src/shared/errors';

let dir = '';
before(async () => { dir = await fs.mkdtemp(join(tmpdir(), 'vit-image-input-')); });

const nearest = (h: number, w: number) => preprocessingFrom({ size: { height: h, width: w }, resample: 0 }, null).preprocessing;
const pixel = (img: { width: number; rgb: Uint8Array }, x: number, y: number) => [...img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
const solid = (width: number, height: number, background: Color, channels: 3 | 4 = 3) => sharp({ create: { width, height, channels, background } });

async function write(name: string, data: Uint8Array | string): Promise<string> {
  const p = join(dir, name);
  await fs.writeFile(p, data);
  return p;
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isInspectorError(e), `expected InspectorError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes('\n'), 'one line');
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

test('a PNG header claiming 100,000 × 100,000 is refused before decoding', async () => {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100000, 0);
  ihdr.writeUInt32BE(100000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const png = Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(16))), pngChunk('IEND', Buffer.alloc(0)),
  ]);
  const p = await write('photo.png', png);
  await rejectsWith(loadImage(p, nearest(8, 8)), 'image-too-large',
    /^photo\.png claims 100000 × 100000 pixels, over the 268-megapixel limit\. Resize it first\.$/);
  await rejectsWith(loadImage(await solid(100, 100, 'red').png().toBuffer(), nearest(8, 8), { maxMegapixels: 0.001, name: 'small.png' }),
    'image-too-large', /small\.png claims 100 × 100 pixels, over the 0\.001-megapixel limit/);
});

test('broken files: corrupt, truncated PNG and JPEG, zero bytes', async () => {
  const noise = solid(64, 64, 'black').composite([{ input: { create: { width: 64, height: 64, channels: 3, background: 'red', noise: { type: 'gaussian', mean: 128, sigma: 60 } } } }]);
  const png = await noise.clone().png().toBuffer();
  const jpg = await noise.clone().jpeg().toBuffer();
  const corrupt = Buffer.from(png);
  corrupt.fill(0xff, 100, Math.min(400, corrupt.length - 20));
  await rejectsWith(loadImage(await write('corrupt.png', corrupt), nearest(8, 8)), 'bad-image', /^corrupt\.png could not be decoded \(.+\)\. /);
  await rejectsWith(loadImage(await write('cut.png', png.subarray(0, png.length * 0.6)), nearest(8, 8)), 'bad-image', /cut\.png/);
  await rejectsWith(loadImage(await write('cut.jpg', jpg.subarray(0, jpg.length * 0.6)), nearest(8, 8)), 'bad-image', /cut\.jpg.*corrupt or truncated/);
  await rejectsWith(loadImage(await write('empty.jpg', ''), nearest(8, 8)), 'empty-file', /empty\.jpg is empty/);
  await rejectsWith(loadImage(new Uint8Array(0), nearest(8, 8)), 'empty-file');
});

test('not images, or formats outside the supported list, are unsupported-image listing the formats', async () => {
  const formats = /png, jpg, jpeg, webp, gif, tif, tiff, avif/;
  await rejectsWith(loadImage(await write('notes.png', 'just some text, not a picture\n'), nearest(8, 8)), 'unsupported-image', formats);
  await rejectsWith(loadImage(await write('notes.txt', 'hello'), nearest(8, 8)), 'unsupported-image', formats);
  const ppm = Buffer.concat([Buffer.from('P6\n2 2\n255\n'), Buffer.alloc(12, 200)]);
  await rejectsWith(loadImage(await write('scan.ppm', ppm), nearest(8, 8)), 'unsupported-image', /scan\.ppm.*avif/);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
  await rejectsWith(loadImage(await write('logo.svg', svg), nearest(8, 8)), 'unsupported-image', /logo\.svg is in SVG format.*png, jpg/);
  await rejectsWith(loadImage(dir, nearest(8, 8)), 'unsupported-image', /folder/);
  await rejectsWith(loadImage(join(dir, 'missing.png'), nearest(8, 8)), 'file-not-found');
});

test('a 1×1 image is upscaled to the model size; the preview stays 1×1 RGBA', async () => {
  const img = await loadImage(await solid(1, 1, { r: 10, g: 200, b: 30 }).png().toBuffer(), preprocessingFrom({ size: 16 }, null).preprocessing);
  assert.deepEqual([img.model.width, img.model.height, img.model.rgb.length], [16, 16, 16 * 16 * 3]);
  assert.deepEqual(pixel(img.model, 7, 9), [10, 200, 30]);
  assert.deepEqual([img.preview.width, img.preview.height, ...img.preview.rgba], [1, 1, 10, 200, 30, 255]);
  assert.deepEqual(img.original, { width: 1, height: 1, format: 'png' });
});

test('grayscale, 16-bit and CMYK images become 8-bit sRGB', async () => {
  const grey = await solid(6, 4, { r: 90, g: 90, b: 90 }).toColourspace('b-w').png().toBuffer();
  assert.equal((await sharp(grey).metadata()).channels, 1);
  assert.deepEqual(pixel((await loadImage(grey, nearest(4, 6))).model, 2, 2), [90, 90, 90]);

  const deep = await solid(4, 4, { r: 128, g: 64, b: 32 }).toColourspace('rgb16').png().toBuffer();
  assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  assert.deepEqual(pixel((await loadImage(deep, nearest(4, 4))).model, 1, 1), [128, 64, 32]);

  const cmyk = await solid(16, 16, { r: 255, g: 0, b: 0 }).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
  const [r, g, b] = pixel((await loadImage(cmyk, nearest(16, 16))).model, 8, 8);
  assert.ok(r > 200 && g < 50 && b < 50, `CMYK red came out as ${r},${g},${b}`);
});

test('transparency is flattened on white', async () => {
  const rgba = Buffer.from([0, 0, 0, 0, /* */ 0, 0, 255, 255, /* */ 255, 0, 0, 128, /* */ 0, 0, 0, 0]);
  const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
  const img = await loadImage(png, nearest(2, 2));
  assert.deepEqual(pixel(img.model, 0, 0), [255, 255, 255], 'fully transparent → white');
  assert.deepEqual(pixel(img.model, 1, 0), [0, 0, 255], 'opaque unchanged');
  const [r, g, b] = pixel(img.model, 0, 1);
  assert.ok(r === 255 && Math.abs(g - 127) <= 1 && Math.abs(b - 127) <= 1, `half-transparent red over white: ${r},${g},${b}`);
  assert.deepEqual([...img.preview.rgba.subarray(0, 4)], [255, 255, 255, 255]);
});

test('EXIF orientation 6 is applied: a landscape JPEG displays as portrait, left side on top', async () => {
  // Stored 40 wide × 20 tall: left half red, right half blue. Orientation 6 rotates 90° clockwise for display.
  const px = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) px[(y * 40 + x) * 3 + (x < 20 ? 0 : 2)] = 255;
  const jpg = await sharp(px, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(jpg).metadata()).orientation, 6);
  const img = await loadImage(jpg, nearest(40, 20));
  assert.deepEqual(img.original, { width: 20, height: 40, format: 'jpeg' });
  assert.deepEqual([img.preview.width, img.preview.height], [20, 40]);
  const top = pixel(img.model, 10, 5);
  const bottom = pixel(img.model, 10, 34);
  assert.ok(top[0] > 200 && top[2] < 50, `top should be red: ${top}`);
  assert.ok(bottom[2] > 200 && bottom[0] < 50, `bottom should be blue: ${bottom}`);
});

for (const format of ['gif', 'webp'] as const) {
  test(`an animated ${format.toUpperCase()} uses its first frame`, async () => {
    const frames = await Promise.all([{ r: 255, g: 0, b: 0 }, { r: 0, g: 0, b: 255 }].map((c) => solid(8, 8, c).png().toBuffer()));
    const anim = await sharp(frames, { join: { animated: true } })[format]({ loop: 0 }).toBuffer();
    assert.equal((await sharp(anim).metadata()).pages, 2);
    const img = await loadImage(await write(`anim.${format}`, anim), nearest(8, 8));
    assert.deepEqual([img.original.width, img.original.height], [8, 8]);
    const [r, , b] = pixel(img.model, 4, 4);
    assert.ok(r > 200 && b < 50, `first frame is red: ${r},${b}`);
  });
}
