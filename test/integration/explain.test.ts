/**
 * `explain` on the embedded default ViT and CNN (media/models) and CIFAR-10 test images
 * (test/fixtures/cifar10-explain): the faithfulness invariants, the ERF inside the theoretical field, the CLI's
 * files recomputed by a second, straightforward implementation (a plain onnxruntime session on the model
 * file, no graph surgery), and the class-specific maps beating the random baseline over 20 images.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { defaultModels } from '../../src/node/defaults';
import { Engine } from '../../src/node/engine';
import { cnnErf, vitErf } from '../../src/node/explain/erf';
import { explain } from '../../src/node/explain/explain';
import { faithfulness } from '../../src/node/explain/faithfulness';
import { makeGrid } from '../../src/node/explain/grid';
import { loadExplainModel, openCnn, openVit, type CnnModel, type VitModel } from '../../src/node/explain/model';
import { loadImage } from '../../src/node/imageLoad';
import { decodeNpy } from '../../src/node/npy';
import { toInputTensor } from '../../src/node/preprocess';
import { CLI } from '../helpers/fixtures';
import { cifarImages } from '../helpers/cifar';

const models = defaultModels();
const work = mkdtempSync(join(tmpdir(), 'vit-explain-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function tensorFor(path: string, image: string): Promise<Float32Array> {
  const loaded = await loadExplainModel(path);
  const img = await loadImage(image, loaded.common.prep);
  return toInputTensor(img.model.rgb, img.model.height, img.model.width, loaded.common.prep);
}

describe('faithfulness and ERF invariants on the default models', () => {
  const image = cifarImages()[6].path;
  let vit: VitModel;
  let cnn: CnnModel;
  let vitImage: Float32Array;
  let cnnImage: Float32Array;
  before(async () => {
    vitImage = await tensorFor(models.vit, image);
    cnnImage = await tensorFor(models.cnn, image);
    vit = await openVit(await loadExplainModel(models.vit), vitImage);
    cnn = await openCnn(await loadExplainModel(models.cnn));
  });
  after(async () => {
    await vit?.session.release();
    await cnn?.session.release();
  });

  test('a constant map: deletion equals insertion (tied patches move together), both (p(image) + p(blank)) / 2', async () => {
    for (const [m, img] of [[vit, vitImage], [cnn, cnnImage]] as const) {
      const grid = makeGrid(m.prep.size, 8, 8);
      const constant = new Float32Array(64).fill(0.5);
      const f = await faithfulness(m, img, grid, constant, 1, 3);
      assert.equal(f.deletionCurve.length, 2);
      assert.ok(Math.abs(f.deletion - f.insertion) < 1e-6, `${m.source.name}: ${f.deletion} vs ${f.insertion}`);
      const [pFull, pBlank] = [f.deletionCurve[0][1], f.deletionCurve[1][1]];
      assert.ok(Math.abs(f.deletion - (pFull + pBlank) / 2) < 1e-6);
      assert.ok(Math.abs(f.insertionCurve[0][1] - pBlank) < 1e-5 && Math.abs(f.insertionCurve[1][1] - pFull) < 1e-5);
      // and a ranking map does not give equal scores (the invariant is not trivially true)
      const ranked = await faithfulness(m, img, grid, Float32Array.from({ length: 64 }, (_, i) => i), 1, 3);
      assert.equal(ranked.deletionCurve.length, 65);
      assert.notEqual(ranked.deletion.toFixed(4), ranked.insertion.toFixed(4));
    }
  });

  test('CNN ERF: no change outside the theoretical field of the centre unit, sides within it', async () => {
    const r = await cnnErf(cnn, cnnImage);
    assert.equal(r.layers.length, cnn.layers.length);
    const [rows, cols] = r.grid;
    for (const l of r.layers) {
      const [cy, cx] = l.centre;
      let inside = 0;
      let outside = 0;
      for (let y = 0; y < rows; y++) {
        for (let x = 0; x < cols; x++) {
          const within = y >= cy - l.theoretical[0] / 2 && y + 1 <= cy + l.theoretical[0] / 2 && x >= cx - l.theoretical[1] / 2 && x + 1 <= cx + l.theoretical[1] / 2;
          if (within) inside += l.map[y * cols + x];
          else outside += l.map[y * cols + x];
        }
      }
      assert.ok(inside > 0, `${l.output}: the unit changes`);
      assert.ok(outside <= 1e-6 * inside, `${l.output}: ${outside} of change outside the theoretical field`);
      const s = l.sides;
      assert.ok(s['0.2'] <= s['0.5'] && s['0.5'] <= s['0.99'], JSON.stringify(s));
      assert.ok(s['0.99'] <= Math.min(l.theoretical[0], l.theoretical[1]), `${l.output}: measured ${s['0.99']} > theoretical ${l.theoretical}`);
    }
    // the deepest layer's field is smaller than its theoretical one (Luo et al.)
    const last = r.layers[r.layers.length - 1];
    assert.ok(last.sides['0.5'] < last.theoretical[0], JSON.stringify(last));
  });

  test('ViT ERF: one entry per block, sides within the image and growing with the fraction', async () => {
    const r = await vitErf(vit, vitImage);
    assert.deepEqual(r.layers.map((l) => l.depth), [1, 2, 3, 4, 5, 6]);
    for (const l of r.layers) {
      assert.ok(l.map.every((v) => v >= 0) && l.map.some((v) => v > 0));
      assert.ok(l.sides['0.2'] <= l.sides['0.5'] && l.sides['0.5'] <= l.sides['0.99'] && l.sides['0.99'] <= 32, JSON.stringify(l.sides));
      assert.ok(l.sides['0.2'] >= 4 && l.sides['0.2'] % 4 === 0, 'sides are whole patches');
    }
  });

  test('ViT ERF: each block carries the centre token\'s attention, the engine\'s rows [layer][head][centre] averaged over heads', async () => {
    const r = await vitErf(vit, vitImage);
    const inspection = await new Engine().inspect({ modelPath: models.vit, image, threads: 1, scores: false });
    const { grid: [rows, cols], prefixTokens, tokens: n } = inspection.summary.layout;
    const heads = inspection.summary.heads;
    const prefix = prefixTokens.length;
    const centre = prefix + Math.floor(rows / 2) * cols + Math.floor(cols / 2);
    assert.equal(r.layers.length, inspection.summary.layers);
    for (const l of r.layers) {
      const att = l.attention!;
      assert.ok(att instanceof Float32Array && att.length === rows * cols, `block ${l.depth}: ${att?.length} values`);
      let worst = 0;
      let total = 0;
      for (let k = 0; k < rows * cols; k++) {
        let mean = 0;
        for (let hd = 0; hd < heads; hd++) mean += inspection.attention[(((l.depth - 1) * heads + hd) * n + centre) * n + prefix + k] / heads;
        worst = Math.max(worst, Math.abs(att[k] - mean));
        total += att[k];
      }
      assert.ok(worst <= 1e-5, `block ${l.depth}: attention differs from the engine's by ${worst}`);
      assert.ok(total > 0.05 && total <= 1 + 1e-5, `block ${l.depth}: ${total} of the row on the patches`);
    }
  });
});

/** Deletion and insertion recomputed from a saved map, written from the protocol text alone. */
async function recompute(modelFile: string, image: Float32Array, map: Float32Array, k: number, target: number): Promise<{ deletion: number; insertion: number }> {
  const session = await ort.InferenceSession.create(modelFile);
  const n = map.length;
  const [rows, cols] = [Math.sqrt(n), Math.sqrt(n)];
  const idx = [...Array(n).keys()].sort((a, b) => (map[a] === map[b] ? a - b : map[a] > map[b] ? -1 : 1));
  const counts = [0];
  for (let c = 0; c < n; ) {
    c = Math.min(n, c + k);
    while (c < n && map[idx[c]] === map[idx[c - 1]]) c++;
    counts.push(c);
  }
  const prob = async (present: Set<number>) => {
    const x = image.slice();
    for (let p = 0; p < n; p++) {
      if (present.has(p)) continue;
      const [r, c] = [Math.floor(p / cols), p % cols];
      for (let ch = 0; ch < 3; ch++) for (let y = r * (32 / rows); y < (r + 1) * (32 / rows); y++) for (let xx = c * (32 / cols); xx < (c + 1) * (32 / cols); xx++) x[ch * 1024 + y * 32 + xx] = 0;
    }
    const out = await session.run({ pixel_values: new ort.Tensor('float32', x, [1, 3, 32, 32]) });
    const logits = Array.from(out.logits.data as Float32Array);
    const e = logits.map((v) => Math.exp(v - Math.max(...logits)));
    return e[target] / e.reduce((a, b) => a + b, 0);
  };
  let deletion = 0;
  let insertion = 0;
  let prev: [number, number, number] | null = null;
  for (const c of counts) {
    const first = new Set(idx.slice(0, c));
    const rest = new Set(idx.slice(c));
    const point: [number, number, number] = [c / n, await prob(rest), await prob(first)];
    if (prev) {
      deletion += (point[0] - prev[0]) * (point[1] + prev[1]) * 0.5;
      insertion += (point[0] - prev[0]) * (point[2] + prev[2]) * 0.5;
    }
    prev = point;
  }
  await session.release();
  return { deletion, insertion };
}

test('CLI explain: the files, and deletion/insertion recomputed independently from saliency.npy and cnn-saliency.npy', async () => {
  const image = cifarImages()[10].path;
  const out = join(work, 'cli');
  const r = spawnSync(process.execPath, [CLI, 'explain', '--image', image, '--out', out, '--passes', '128'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  const erf = JSON.parse(readFileSync(join(out, 'erf.json'), 'utf8'));
  assert.deepEqual(Object.keys(report.faithfulness.maps).sort(), ['attention', 'classSpecific', 'random', 'rollout']);
  assert.deepEqual(Object.keys(report.cnn.faithfulness.maps).sort(), ['classSpecific', 'random']);
  const { stepPatches, fill, fillMeaning, target } = report.faithfulness.protocol;
  assert.equal(stepPatches, 1);
  assert.equal(fill, 0);
  assert.match(fillMeaning, /0 after normalisation/);
  assert.equal(target, report.predictions[0].index);
  for (const [file, model, block] of [['saliency.npy', models.vit, report], ['cnn-saliency.npy', models.cnn, report.cnn]] as const) {
    const npy = decodeNpy(readFileSync(join(out, file)));
    assert.deepEqual(npy.shape, [8, 8]);
    assert.deepEqual(Array.from(npy.data), block.maps.classSpecific.flat().map((v: number) => Math.fround(v)));
    const mine = block.faithfulness.maps.classSpecific;
    const again = await recompute(join(model, 'model.onnx'), await tensorFor(model, image), npy.data, stepPatches, block.faithfulness.protocol.target);
    assert.ok(Math.abs(again.deletion - mine.deletion) < 1e-3, `${file}: deletion ${mine.deletion} vs ${again.deletion}`);
    assert.ok(Math.abs(again.insertion - mine.insertion) < 1e-3, `${file}: insertion ${mine.insertion} vs ${again.insertion}`);
    assert.equal(mine.deletionCurve.length, 65);
  }
  assert.equal(erf.vit.layers.length, 6);
  assert.ok(erf.cnn.layers.length >= 5);
  for (const l of [...erf.vit.layers, ...erf.cnn.layers]) {
    for (const f of ['0.2', '0.5', '0.99']) assert.ok(l.sides[f] > 0 && l.sides[f] <= Math.min(...l.theoretical), JSON.stringify(l.sides));
  }
});

test('CLI explain --class by name, and one-line errors for a bad class', () => {
  const image = cifarImages()[0].path;
  const ok = spawnSync(process.execPath, [CLI, 'explain', '--image', image, '--out', join(work, 'ship'), '--class', 'ship', '--cnn', 'none', '--passes', '32', '--no-erf'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(readFileSync(join(work, 'ship', 'report.json'), 'utf8')).faithfulness.protocol.target, 8);
  for (const bad of ['zebra', '10']) {
    const r = spawnSync(process.execPath, [CLI, 'explain', '--image', image, '--out', join(work, 'bad'), '--class', bad, '--cnn', 'none'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /class/i);
  }
  // a CNN given as the ViT, and an image that is not one: one line each, exit code 2
  const notVit = spawnSync(process.execPath, [CLI, 'explain', '--model', models.cnn, '--image', image, '--out', join(work, 'bad')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(notVit.status, 2);
  assert.match(notVit.stderr, /^vit-inspector: .*attention.*ViT/);
  assert.equal(notVit.stderr.trim().split('\n').length, 1);
  const notImage = spawnSync(process.execPath, [CLI, 'explain', '--image', join(models.vit, 'config.json'), '--out', join(work, 'bad')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(notImage.status, 2);
  assert.equal(notImage.stderr.trim().split('\n').length, 1, notImage.stderr);
});

test('over 20 CIFAR-10 test images the class-specific maps beat the random baseline (ViT and CNN)', async () => {
  const sums = { vit: { cls: [0, 0], rnd: [0, 0] }, cnn: { cls: [0, 0], rnd: [0, 0] } };
  const images = cifarImages();
  assert.equal(images.length, 20);
  for (const { path } of images) {
    const x = await explain({ modelPath: models.vit, cnnPath: models.cnn, image: path, erf: false, scoreMaps: ['classSpecific', 'random'] });
    for (const [key, e] of [['vit', x.vit], ['cnn', x.cnn!]] as const) {
      const f = e.faithfulness.maps;
      sums[key].cls[0] += f.classSpecific.deletion / 20;
      sums[key].cls[1] += f.classSpecific.insertion / 20;
      sums[key].rnd[0] += f.random.deletion / 20;
      sums[key].rnd[1] += f.random.insertion / 20;
    }
  }
  for (const key of ['vit', 'cnn'] as const) {
    const s = sums[key];
    assert.ok(s.cls[0] < s.rnd[0], `${key}: deletion ${s.cls[0]} not below random ${s.rnd[0]}`);
    assert.ok(s.cls[1] > s.rnd[1], `${key}: insertion ${s.cls[1]} not above random ${s.rnd[1]}`);
  }
  process.stdout.write(`# mean over 20 images ${JSON.stringify(sums)}\n`);
});
