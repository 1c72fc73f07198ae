/** Survey statistics and image selection: order-free, exact, shards that partition the list. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listImages, selectImages, parseShard } from '../../src/node/survey/files';
import { summarise, type CnnErfProtocol, type ImageRecord, type SurveyRecord } from '../../src/shared/survey';

function records(n: number, seed = 1): SurveyRecord[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 10;
  return Array.from({ length: n }, (_, i) => ({ image: `img${String(i).padStart(3, '0')}.png`, layers: 2, heads: 3, distance: Array.from({ length: 6 }, rnd), entropy: Array.from({ length: 6 }, rnd) }));
}

test('summarise: the same numbers, bit for bit, whatever order the records come in; a shard run twice counts once', () => {
  const rs = records(57);
  const shuffled = [...rs].sort((a, b) => (a.image.split('').reverse().join('') < b.image.split('').reverse().join('') ? -1 : 1));
  assert.deepEqual(summarise('m', shuffled), summarise('m', rs));
  assert.deepEqual(summarise('m', [...rs, ...rs.slice(10, 20)]), summarise('m', rs));
});

test('summarise: mean and sample standard deviation per head, failures counted apart', () => {
  const rs: SurveyRecord[] = [
    { image: 'a', layers: 1, heads: 2, distance: [1, 10], entropy: [0, 2] },
    { image: 'b', layers: 1, heads: 2, distance: [3, 10], entropy: [2, 2] },
    { image: 'c', error: 'bad image' },
  ];
  const s = summarise('m', rs);
  assert.equal(s.images, 2);
  assert.equal(s.failed, 1);
  assert.deepEqual(s.distance.mean, [[2, 10]]);
  assert.deepEqual(s.distance.std, [[Math.SQRT2, 0]]);
  assert.deepEqual(s.entropy.mean, [[1, 2]]);
  assert.throws(() => summarise('m', [...rs, { image: 'a', layers: 1, heads: 2, distance: [1, 11], entropy: [0, 2] }]), /two different results/);
});

test('shards partition the (limited) sorted list; --shard is i/n with 0 ≤ i < n', () => {
  const all = Array.from({ length: 23 }, (_, i) => `f${i}`);
  for (const n of [1, 2, 3, 7, 30]) {
    const parts = Array.from({ length: n }, (_, i) => selectImages(all, 20, { index: i, count: n }));
    assert.deepEqual(parts.flat(), all.slice(0, 20));
  }
  assert.deepEqual(parseShard('2/5'), { index: 2, count: 5 });
  for (const bad of ['5/5', '1/0', 'a/b', '1-2']) assert.throws(() => parseShard(bad), /--shard must be i\/n/);
});

test('listImages: images under the folder, sorted by path, symlinks followed once, hidden folders and other files skipped', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vit-list-'));
  try {
    mkdirSync(join(root, 'b', 'c'), { recursive: true });
    mkdirSync(join(root, '.hidden'));
    for (const f of ['b/c/z.PNG', 'b/a.jpg', 'A.webp', 'notes.txt', '.hidden/x.png']) writeFileSync(join(root, f), 'x');
    symlinkSync(join(root, 'b'), join(root, 'link')); // a symlinked folder
    symlinkSync(root, join(root, 'b', 'loop')); // a cycle
    symlinkSync(join(root, 'missing.png'), join(root, 'broken.png'));
    const list = await listImages(root);
    assert.deepEqual(list, ['A.webp', 'b/a.jpg', 'b/c/z.PNG']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const CNN: CnnErfProtocol = { model: 'cnn', sha256: 'x', cellPx: 2, delta: 1, unit: 'centre', fractions: [0.2, 0.5, 0.99] };

test('summarise with the CNN: per layer and side, mean and sample std over the images; bit for bit whatever the order', () => {
  const rs: SurveyRecord[] = [
    { image: 'b', layers: 1, heads: 1, distance: [1], entropy: [1], cnnErf: [[2, 4, 6], [4, 8, 12]] },
    { image: 'a', layers: 1, heads: 1, distance: [1], entropy: [1], cnnErf: [[4, 4, 8], [6, 10, 16]] },
    { image: 'c', error: 'bad image' },
  ];
  const s = summarise('m', rs, CNN);
  assert.equal(s.cnnErf?.layers, 2);
  assert.equal(s.cnnErf?.n, 2);
  assert.deepEqual(s.cnnErf?.protocol, CNN);
  assert.deepEqual(s.cnnErf?.mean, { '0.2': [3, 5], '0.5': [4, 9], '0.99': [7, 14] });
  assert.deepEqual(s.cnnErf?.std, { '0.2': [Math.SQRT2, Math.SQRT2], '0.5': [0, Math.SQRT2], '0.99': [Math.SQRT2, Math.SQRT2 * 2] });
  assert.equal(summarise('m', rs).cnnErf, undefined); // --cnn none: no CNN block
  // many images: the same bits in any order, a record met twice counted once
  const many = records(41).map((r, i) => ({ ...(r as ImageRecord), cnnErf: [[i % 5, 2 + (i % 7) / 3, 10 + i / 7], [1 / (i + 1), 3, 9]] }));
  const reversed = [...many].reverse();
  assert.deepEqual(summarise('m', reversed, CNN), summarise('m', many, CNN));
  assert.deepEqual(summarise('m', [...many, ...many.slice(3, 9)], CNN), summarise('m', many, CNN));
});

test('summarise with the CNN: a record without it, with other layers, or with other values for one image is an error', () => {
  const a: ImageRecord = { image: 'a', layers: 1, heads: 1, distance: [1], entropy: [1], cnnErf: [[2, 4, 6]] };
  assert.throws(() => summarise('m', [a, { ...a, image: 'b', cnnErf: undefined }], CNN), /b has no CNN receptive field/);
  assert.throws(() => summarise('m', [a, { ...a, image: 'b', cnnErf: [[2, 4, 6], [2, 4, 6]] }], CNN), /b has no CNN receptive field of 1 layers/);
  assert.throws(() => summarise('m', [a, { ...a, cnnErf: [[2, 4, 8]] }], CNN), /two different results/);
});
