import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { preprocessingFrom, toInputTensor } from '../../src/node/preprocess';
import { loadImage, previewSide } from '../../src/node/imageLoad';
import { isInspectorError } from '../../src/shared/errors';

const VIT = join(__dirname, '..', 'fixtures', 'vit');
const NAMES = ['vit_hf_style', 'vit_timm_style', 'vit_torchvision', 'deit_style'];
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

for (const name of NAMES) {
  test(`${name}: the tensor is RGB, x/255, (x-0.5)/0.5 of the fixture image`, async () => {
    const ref = readJson(join(VIT, `${name}.json`));
    const [, , h, w] = ref.input.shape as number[];
    const { preprocessing: prep, notes } = preprocessingFrom(readJson(join(VIT, name, 'preprocessor_config.json')), [h, w]);
    assert.deepEqual(notes, []);
    assert.equal(prep.source, 'preprocessor_config.json');
    assert.deepEqual(prep.size, [h, w]);
    assert.deepEqual(prep.mean, ref.input.mean);
    assert.deepEqual(prep.std, ref.input.std);

    const img = await loadImage(join(VIT, `${name}.png`), prep);
    const raw = await sharp(join(VIT, `${name}.png`)).removeAlpha().raw().toBuffer();
    assert.equal(img.model.width, w);
    assert.equal(img.model.height, h);
    assert.deepEqual(Buffer.from(img.model.rgb), raw, 'an image already at the input size is not resampled');

    const t = toInputTensor(img.model.rgb, h, w, prep);
    assert.equal(t.length, 3 * h * w);
    for (const [y, x] of [[0, 0], [h - 1, w - 1], [h >> 1, w >> 2], [3, w - 5]]) {
      for (let c = 0; c < 3; c++) {
        const expected = (raw[(y * w + x) * 3 + c] / 255 - 0.5) / 0.5;
        assert.ok(Math.abs(t[c * h * w + y * w + x] - expected) < 1e-6, `${name} c${c} y${y} x${x}`);
      }
    }
  });
}

test('size variants: int, {height, width}, {shortest_edge} + crop_size, crop_pct', () => {
  assert.deepEqual(preprocessingFrom({ size: 224 }, null).preprocessing.size, [224, 224]);
  const hw = preprocessingFrom({ size: { height: 384, width: 256 } }, null).preprocessing;
  assert.deepEqual(hw.size, [384, 256]);
  assert.deepEqual(hw.resizeTo, { height: 384, width: 256 });
  assert.equal(hw.centerCrop, null);
  const se = preprocessingFrom({ size: { shortest_edge: 256 }, do_center_crop: true, crop_size: { height: 224, width: 224 } }, [224, 224]).preprocessing;
  assert.deepEqual(se.resizeTo, { shortestEdge: 256 });
  assert.deepEqual(se.centerCrop, [224, 224]);
  assert.deepEqual(se.size, [224, 224]);
  const deit = preprocessingFrom({ size: 256, do_center_crop: true, crop_size: 224 }, null).preprocessing;
  assert.deepEqual([deit.resizeTo, deit.centerCrop, deit.size], [{ height: 256, width: 256 }, [224, 224], [224, 224]]);
  const convnext = preprocessingFrom({ size: { shortest_edge: 224 }, crop_pct: 0.875 }, null).preprocessing;
  assert.deepEqual([convnext.resizeTo, convnext.size], [{ shortestEdge: 256 }, [224, 224]]);
});

test('a model input that disagrees with the config wins, with a note', () => {
  const { preprocessing: prep, notes } = preprocessingFrom({ size: 224 }, [384, 384]);
  assert.deepEqual(prep.size, [384, 384]);
  assert.match(notes.join(' '), /model takes 384×384/);
});

test('resample codes, rescale, scalar mean/std, normalisation off', () => {
  const kinds = [0, 1, 2, 3, 4, 5].map((r) => preprocessingFrom({ size: 8, resample: r }, null).preprocessing.resample);
  assert.deepEqual(kinds, ['nearest', 'lanczos', 'bilinear', 'bicubic', 'bilinear', 'bilinear']);
  const p = preprocessingFrom({ size: 8, image_mean: 0.25, image_std: 0.5, rescale_factor: 0.5 }, null).preprocessing;
  assert.deepEqual([p.mean, p.std, p.rescaleFactor], [[0.25, 0.25, 0.25], [0.5, 0.5, 0.5], 0.5]);
  const off = preprocessingFrom({ size: 8, do_rescale: false, do_normalize: false, image_mean: [9, 9, 9] }, null).preprocessing;
  assert.deepEqual([off.mean, off.std, off.rescaleFactor], [[0, 0, 0], [1, 1, 1], 1]);
  const t = toInputTensor(new Uint8Array([10, 20, 30, 40, 50, 60]), 1, 2, off);
  assert.deepEqual([...t], [10, 40, 20, 50, 30, 60], 'NCHW planes');
});

test('without a config: model input size, mean/std 0.5, 1/255, source defaults, and a note saying so', () => {
  const { preprocessing: p, notes } = preprocessingFrom(null, [48, 64]);
  assert.deepEqual([p.size, p.mean, p.std, p.rescaleFactor, p.source], [[48, 64], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 1 / 255, 'defaults']);
  assert.match(notes[0], /no preprocessor_config\.json: mean\/std 0\.5/);
  assert.deepEqual(preprocessingFrom(null, null, { image_size: 96 }).preprocessing.size, [96, 96]);
  assert.deepEqual(preprocessingFrom(null, null).preprocessing.size, [224, 224]);
});

test('a malformed preprocessor_config.json is bad-config', () => {
  for (const pc of [{ size: 'big' }, { size: { height: 0, width: 3 } }, { size: 8, image_std: [0, 1, 1] }, { size: 8, image_mean: [1, 2] }]) {
    assert.throws(() => preprocessingFrom(pc, null), (e: unknown) => isInspectorError(e) && e.code === 'bad-config' && /preprocessor_config\.json/.test(e.message));
  }
});

test('shortest_edge resize and center crop pick the middle of the photo, as transformers does', async () => {
  // 40 wide × 80 tall: left half red, right half blue, top quarter green band.
  const w = 40, h = 80;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    if (y < 20) px[i + 1] = 255; else if (x < 20) px[i] = 255; else px[i + 2] = 255;
  }
  const png = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const prep = preprocessingFrom({ size: { shortest_edge: 20 }, crop_size: 20, resample: 0 }, null).preprocessing;
  const img = await loadImage(png, prep);
  assert.deepEqual([img.model.width, img.model.height], [20, 20]);
  // resized to 20×40, crop rows 10..29 (source rows 20..59): no green; columns 0..9 red, 10..19 blue.
  const at = (x: number, y: number) => [...img.model.rgb.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3)];
  assert.deepEqual(at(0, 0), [255, 0, 0]);
  assert.deepEqual(at(19, 19), [0, 0, 255]);
  assert.deepEqual(at(5, 0), [255, 0, 0]);
  assert.deepEqual([img.preview.width, img.preview.height], [40, 80], 'the preview is never enlarged');
});

test('previewSide: a big JPEG gets a slightly smaller preview when that lets it decode at 1/8 scale', () => {
  assert.equal(previewSide('jpeg', 4000, 512), 444, '4000/9: sharp shrinks by 8 on load only from a shrink of 9');
  assert.equal(previewSide('jpeg', 5000, 512), 512, '5000/9 ≥ 512: the full preview already decodes at 1/8');
  assert.equal(previewSide('jpeg', 3000, 512), 512, '3000/9 is too small a preview; 1/4 scale reaches 512');
  assert.equal(previewSide('jpeg', 2400, 512), 480, '2400/5: 1/4 instead of 1/2');
  assert.equal(previewSide('png', 4000, 512), 512, 'no shrink-on-load outside JPEG');
  assert.equal(previewSide('jpeg', 300, 512), 512);
});

test('loadImage: the preview of a big JPEG follows previewSide; the same image as PNG keeps the full side', async () => {
  const w = 850, h = 600;
  const px = Buffer.alloc(w * h * 3, 128);
  const raw = () => sharp(px, { raw: { width: w, height: h, channels: 3 } });
  const prep = preprocessingFrom(null, [32, 32]).preprocessing;
  const jpeg = await loadImage(await raw().jpeg().toBuffer(), prep, { previewMaxSide: 100 });
  const png = await loadImage(await raw().png().toBuffer(), prep, { previewMaxSide: 100 });
  assert.equal(previewSide('jpeg', w, 100), 94);
  assert.equal(jpeg.preview.width, 94);
  assert.equal(png.preview.width, 100);
  for (const { preview } of [jpeg, png]) assert.ok(Math.abs(preview.height - (preview.width * h) / w) <= 1, 'aspect kept');
  assert.deepEqual([jpeg.model.width, jpeg.model.height, png.model.width], [32, 32, 32]);
});
