/**
 * vit-inspector survey end to end: per-head values (and per CNN layer the measured ERF) over a folder, shards
 * merged equal to one run bit for bit, a killed run resumed where it stopped, the values equal to those of a
 * plain inspection and of explain's ERF measurement.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Engine } from '../../src/node/engine';
import { defaultModels } from '../../src/node/defaults';
import { headStats } from '../../src/node/survey/headStats';
import { cnnErf } from '../../src/node/explain/erf';
import { loadExplainModel, openCnn } from '../../src/node/explain/model';
import { loadImage } from '../../src/node/imageLoad';
import { toInputTensor } from '../../src/node/preprocess';
import { SURVEY_CNN_CELL_PX } from '../../src/node/survey/cnnErf';
import { runSurvey } from '../../src/node/survey/run';
import { isInspectorError } from '../../src/shared/errors';
import { CLI, REPO } from '../helpers/fixtures';

const work = mkdtempSync(join(tmpdir(), 'vit-survey-'));
after(() => rmSync(work, { recursive: true, force: true }));
const images = join(work, 'images');
mkdirSync(join(images, 'nested'), { recursive: true });
const variants = join(REPO, 'test', 'fixtures', 'variants');
const names = readdirSync(variants).filter((v) => existsSync(join(variants, v, 'image.png'))).sort().slice(0, 9);
names.forEach((v, i) => copyFileSync(join(variants, v, 'image.png'), join(images, i % 3 === 0 ? 'nested' : '', `${v}.png`)));
writeFileSync(join(images, 'broken.png'), 'not a png');
writeFileSync(join(images, 'notes.txt'), 'not an image');
const TOTAL = names.length + 1;

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'survey', ...args], { encoding: 'utf8' });
const summaryText = (dir: string) => readFileSync(join(dir, 'summary.json'), 'utf8');
const lines = (dir: string) => readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean);
// Same onnxruntime thread count everywhere, so that every run computes each image identically.
const SAME = ['--threads', '1'];

test('survey: per-head mean and spread over the folder; a broken image is counted as failed, not fatal', () => {
  const out = join(work, 'single');
  const r = cli('--images', images, '--out', out, '--jobs', '2', ...SAME);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${TOTAL - 1} images surveyed \\(1 failed`));
  assert.match(r.stderr, /\[#+\] 10\/10 images \(1 failed\) .* img\/s {2}ETA/);
  const s = JSON.parse(summaryText(out));
  assert.equal(s.images, TOTAL - 1);
  assert.equal(s.failed, 1);
  assert.equal(s.distance.n, TOTAL - 1);
  assert.equal(lines(out).length, TOTAL);
  // the mean over the records, summed in path order
  const recs = lines(out).map((l) => JSON.parse(l)).filter((x) => !x.error).sort((a, b) => (a.image < b.image ? -1 : 1));
  let sum = 0;
  for (const x of recs) sum += x.distance[s.heads + 1];
  assert.equal(s.distance.mean[1][1], sum / recs.length);
  const csv = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + s.layers * s.heads);
  // the CNN's measured ERF (default: the embedded CNN, 2 px cells), per layer: mean and std over the same images
  const c = s.cnnErf;
  assert.equal(c.protocol.model, 'cnn-cifar10');
  assert.equal(c.protocol.cellPx, SURVEY_CNN_CELL_PX);
  assert.deepEqual(c.protocol.fractions, [0.2, 0.5, 0.99]);
  assert.equal(c.n, TOTAL - 1);
  assert.ok(c.layers >= 4, `${c.layers} CNN layers`);
  for (const x of recs) assert.equal(x.cnnErf.length, c.layers);
  const last = c.layers - 1;
  const sides = recs.map((x) => x.cnnErf[last][1]);
  const m = sides.reduce((a, b) => a + b, 0) / sides.length;
  assert.equal(c.mean['0.5'][last], m);
  assert.equal(c.std['0.5'][last], Math.sqrt(sides.reduce((a, v) => a + (v - m) * (v - m), 0) / (sides.length - 1)));
  // deeper layers see further: the 99 % side grows from the first layer to the last
  assert.ok(c.mean['0.99'][last] > c.mean['0.99'][0]);
  const cnnCsv = readFileSync(join(out, 'summary-cnn.csv'), 'utf8').trim().split('\n');
  assert.equal(cnnCsv[0], 'depth,n,erf20_mean,erf20_std,erf50_mean,erf50_std,erf99_mean,erf99_std');
  assert.equal(cnnCsv.length, 1 + c.layers);
});

test('survey: an image\'s CNN sides are those explain\'s ERF measurement gives at the survey\'s cell size', async () => {
  const rec = lines(join(work, 'single')).map((l) => JSON.parse(l)).find((x) => x.image === names[1] + '.png');
  const loaded = await loadExplainModel(defaultModels().cnn);
  const cnn = await openCnn(loaded, 1);
  try {
    const img = await loadImage(join(images, `${names[1]}.png`), loaded.common.prep);
    const report = await cnnErf(cnn, toInputTensor(img.model.rgb, img.model.height, img.model.width, loaded.common.prep), { cellPx: SURVEY_CNN_CELL_PX });
    assert.equal(report.cellPx[0], SURVEY_CNN_CELL_PX);
    assert.deepEqual(rec.cnnErf, report.layers.map((l) => [l.sides['0.2'], l.sides['0.5'], l.sides['0.99']]));
  } finally {
    await cnn.session.release();
  }
});

test('survey --cnn none: the ViT alone; a folder surveyed with the CNN is not resumed without it, and such shards do not merge', () => {
  const out = join(work, 'vit-only');
  const r = cli('--images', images, '--out', out, '--jobs', '2', '--cnn', 'none', ...SAME);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(summaryText(out));
  assert.equal(s.cnnErf, undefined);
  assert.ok(lines(out).every((l) => !('cnnErf' in JSON.parse(l))));
  assert.ok(!existsSync(join(out, 'summary-cnn.csv')));
  // the ViT's numbers do not depend on the CNN
  const full = JSON.parse(summaryText(join(work, 'single')));
  assert.deepEqual(s.distance, full.distance);
  const other = cli('--images', images, '--out', join(work, 'single'), '--cnn', 'none', ...SAME);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /holds another survey \(model vit-cifar10, CNN cnn-cifar10 at 2 px cells/);
  const coarser = cli('--images', images, '--out', join(work, 'single'), '--cnn-cell', '4', ...SAME);
  assert.equal(coarser.status, 2);
  assert.match(coarser.stderr, /holds another survey/);
  const mixed = cli('merge', join(work, 'single'), out, '--out', join(work, 'mixed'));
  assert.equal(mixed.status, 2);
  assert.match(mixed.stderr, /measured the CNN's receptive field differently/);
});

test('survey: an image\'s values are those of a plain inspection of it (mean attention distance, entropy)', async () => {
  const recs = lines(join(work, 'single')).map((l) => JSON.parse(l));
  const rec = recs.find((x) => x.image === `nested/${names[0]}.png`);
  const engine = new Engine();
  try {
    const stats = headStats(await engine.inspect({ modelPath: defaultModels().vit, image: join(images, 'nested', `${names[0]}.png`), threads: 1 }));
    assert.deepEqual(rec.distance, stats.distance);
    assert.deepEqual(rec.entropy, stats.entropy);
  } finally {
    await engine.dispose();
  }
});

test('survey merge: three shards merged give summary.json identical, byte for byte, to one run', () => {
  const shards = [0, 1, 2].map((i) => join(work, `shard${i}`));
  shards.forEach((dir, i) => {
    const r = cli('--images', images, '--out', dir, '--shard', `${i}/3`, '--jobs', '1', ...SAME);
    assert.equal(r.status, 0, r.stderr);
  });
  assert.deepEqual(shards.map((d) => lines(d).length).reduce((a, b) => a + b, 0), TOTAL);
  const merged = join(work, 'merged');
  const r = cli('merge', ...shards.reverse(), '--out', merged);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(summaryText(merged), summaryText(join(work, 'single')));
  assert.equal(readFileSync(join(merged, 'summary.csv'), 'utf8'), readFileSync(join(work, 'single', 'summary.csv'), 'utf8'));
  assert.equal(readFileSync(join(merged, 'summary-cnn.csv'), 'utf8'), readFileSync(join(work, 'single', 'summary-cnn.csv'), 'utf8'));
  assert.ok(JSON.parse(summaryText(merged)).cnnErf.n === TOTAL - 1);
});

test('survey: a killed run resumes where it stopped (a cut last line is dropped) and ends equal to one run', async () => {
  const out = join(work, 'resumed');
  const child = spawn(process.execPath, [CLI, 'survey', '--images', images, '--out', out, '--jobs', '1', ...SAME], { stdio: 'ignore' });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !(existsSync(join(out, 'results.jsonl')) && lines(out).length >= 3)) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const before = lines(out).length;
  assert.ok(before >= 3 && before < TOTAL, `${before} records before the kill`);
  appendFileSync(join(out, 'results.jsonl'), '{"image":"cut-off mid-wri');
  const r = cli('--images', images, '--out', out, '--jobs', '2', ...SAME);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${before} from an earlier run, ${TOTAL - before} new`));
  assert.equal(lines(out).length, TOTAL);
  assert.equal(summaryText(out), summaryText(join(work, 'single'))); // the CNN's block included
  assert.equal(readFileSync(join(out, 'summary-cnn.csv'), 'utf8'), readFileSync(join(work, 'single', 'summary-cnn.csv'), 'utf8'));
});

test('docs/examples/survey-slurm.sh: array tasks then the merge give one run\'s summary', () => {
  const results = join(work, 'slurm');
  const env = { ...process.env, VIT_INSPECTOR: `${process.execPath} ${CLI}` /* word-split by the script, as "node /opt/…/cli.js" is */, IMAGES: images, RESULTS: results, SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '1', SLURM_CPUS_PER_TASK: '1' };
  const script = join(REPO, 'docs', 'examples', 'survey-slurm.sh');
  for (const task of ['0', '1']) {
    const r = spawnSync('bash', [script], { encoding: 'utf8', env: { ...env, SLURM_ARRAY_TASK_ID: task } });
    assert.equal(r.status, 0, r.stderr);
  }
  const m = spawnSync('bash', [script], { encoding: 'utf8', env: { ...env, MERGE: '1' } });
  assert.equal(m.status, 0, m.stderr);
  // --jobs 1 gives each inference process all cores, as the single run above did not: compare the values, not the text
  const a = JSON.parse(summaryText(join(results, 'merged')));
  const b = JSON.parse(summaryText(join(work, 'single')));
  assert.equal(a.images, b.images);
  for (const k of ['distance', 'entropy'] as const) for (let l = 0; l < a.layers; l++) for (let h = 0; h < a.heads; h++) assert.ok(Math.abs(a[k].mean[l][h] - b[k].mean[l][h]) < 1e-5);
  assert.equal(a.cnnErf.n, b.cnnErf.n);
  assert.equal(a.cnnErf.layers, b.cnnErf.layers);
});

test('runSurvey: cancelled through its AbortSignal (as the VS Code notification does) it stops, keeps what it wrote, and resumes', async () => {
  const out = join(work, 'cancelled');
  const ac = new AbortController();
  const base = { modelPath: defaultModels().vit, cnn: { modelPath: defaultModels().cnn }, imagesDir: images, outDir: out, jobs: 1, threads: 1, workerPath: join(REPO, 'dist', 'worker.js') };
  await assert.rejects(runSurvey({ ...base, signal: ac.signal, onProgress: (p) => { if (p.done >= 2) ac.abort(); } }),
    (e) => isInspectorError(e) && e.code === 'cancelled' && /run the same survey again to resume/.test(e.message));
  const kept = lines(out).length;
  assert.ok(kept >= 2 && kept < TOTAL, `${kept} records kept`);
  assert.ok(!existsSync(join(out, 'summary.json')));
  const { progress } = await runSurvey(base);
  assert.equal(progress.resumed, kept);
  assert.equal(summaryText(out), summaryText(join(work, 'single')));
});

test('survey: a model that is not a ViT stops the survey with its one-line error', () => {
  const notModel = join(work, 'not-a-model.onnx');
  writeFileSync(notModel, 'hello');
  const r = cli('--model', notModel, '--images', images, '--out', join(work, 'bad-model'), '--jobs', '1');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not an ONNX model/);
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('vit-inspector:')).length, 1);
});

test('survey: bad flags and a folder of another survey are one-line errors', () => {
  const bad = cli('--images', images, '--out', join(work, 'x'), '--shard', '3/3');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^vit-inspector: --shard must be i\/n/);
  const other = cli('--images', images, '--out', join(work, 'single'), '--limit', '2', ...SAME);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /holds another survey .* Choose another --out folder\.\n$/);
  const missing = cli('--images', join(work, 'nope'), '--out', join(work, 'y'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /is not a folder/);
  const intoShard = cli('merge', join(work, 'shard0'), join(work, 'shard1'), '--out', join(work, 'shard1'));
  assert.equal(intoShard.status, 2);
  assert.match(intoShard.stderr, /is one of the folders being merged; choose a new folder\.\n$/);
  mkdirSync(join(work, 'empty'));
  const empty = cli('--images', join(work, 'empty'), '--out', join(work, 'e'));
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /has no images \(png, jpg/);
  const notSurvey = cli('merge', images, '--out', join(work, 'z'));
  assert.equal(notSurvey.status, 2);
  assert.match(notSurvey.stderr, /no readable survey\.json/);
});
