/**
 * vit-inspector survey end to end: per-head values over a folder, shards merged equal to one run bit for bit,
 * a killed run resumed where it stopped, the values equal to those of a plain inspection.
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
  assert.equal(summaryText(out), summaryText(join(work, 'single')));
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
});

test('runSurvey: cancelled through its AbortSignal (as the VS Code notification does) it stops, keeps what it wrote, and resumes', async () => {
  const out = join(work, 'cancelled');
  const ac = new AbortController();
  const base = { modelPath: defaultModels().vit, imagesDir: images, outDir: out, jobs: 1, threads: 1, workerPath: join(REPO, 'dist', 'worker.js') };
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
