/**
 * Cost of `explain` (issue 13): passes and wall time of the class-specific map (Transformer Input Sampling),
 * deletion/insertion and the measured ERF, and what batching the passes gains. Not part of `npm run bench`
 * (run it by hand; it prints Markdown rows for BENCHMARKS.md):
 *
 *   node --import tsx bench/explain.ts [--passes N] [--big-passes N] [--repeats R] [--threads T] [VIT.onnx ...]
 *
 * Always measures the embedded default ViT and CNN; extra ViTs (a ViT-B/16 from bench/torch_vit.py, exported with
 * a dynamic batch axis) are measured for the ViT passes only. Each figure: the median of 3 runs.
 */
import { defaultModels } from '../src/node/defaults';
import { faithfulness } from '../src/node/explain/faithfulness';
import { makeGrid } from '../src/node/explain/grid';
import { loadExplainModel, openCnn, openVit } from '../src/node/explain/model';
import { riseMap, tisMap } from '../src/node/explain/saliency';
import { vitErf, cnnErf } from '../src/node/explain/erf';
import { randomMap } from '../src/shared/faithfulness';

const args = process.argv.slice(2);
const flag = (name: string, d: number) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return d;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const passes = flag('passes', 256);
const threads = flag('threads', 0);
const bigPasses = flag('big-passes', 64);
const repeats = flag('repeats', 3);
const extra = args;

async function median(f: () => Promise<unknown>, n = repeats): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[Math.floor(n / 2)];
}

async function vitRow(path: string, name: string, n: number): Promise<void> {
  const loaded = await loadExplainModel(path);
  const [h, w] = loaded.common.prep.size;
  const image = Float32Array.from({ length: 3 * h * w }, (_, i) => Math.sin(i * 0.01));
  const m = await openVit(loaded, image, threads);
  const [rows, cols] = m.layout.grid;
  for (const batch of m.batchable ? (name === 'default ViT' ? [1, 8, 32] : [1, 16]) : [1]) {
    const ms = await median(() => tisMap(m, image, 0, { passes: n, batchSize: batch }));
    process.stdout.write(`| ${name} | TIS, ${n} passes (${rows}×${cols} tokens) | ${batch} | ${(ms / 1000).toFixed(2)} s | ${(ms / n).toFixed(2)} ms |\n`);
  }
  if (name === 'default ViT') {
    const grid = makeGrid(m.layout.inputSize, rows, cols);
    for (const batch of [1, 32]) {
      const ms = await median(() => faithfulness(m, image, grid, randomMap(rows * cols, 1), 1, 0, { batchSize: batch }));
      process.stdout.write(`| ${name} | deletion + insertion of one map (${2 * (rows * cols + 1)} passes) | ${batch} | ${(ms / 1000).toFixed(2)} s | ${(ms / (2 * (rows * cols + 1))).toFixed(2)} ms |\n`);
      const erf = await median(() => vitErf(m, image, { batchSize: batch }));
      process.stdout.write(`| ${name} | ERF, every block (${rows * cols + 1} passes) | ${batch} | ${(erf / 1000).toFixed(2)} s | ${(erf / (rows * cols + 1)).toFixed(2)} ms |\n`);
    }
  }
  await m.session.release();
}

async function cnnRows(): Promise<void> {
  const loaded = await loadExplainModel(defaultModels().cnn);
  const [h, w] = loaded.common.prep.size;
  const image = Float32Array.from({ length: 3 * h * w }, (_, i) => Math.sin(i * 0.01));
  const m = await openCnn(loaded, threads);
  const grid = makeGrid([h, w], 8, 8);
  for (const batch of [1, 32]) {
    const ms = await median(() => riseMap(m, image, grid, 0, { passes, batchSize: batch }));
    process.stdout.write(`| default CNN | RISE, ${passes} passes (8×8 cells) | ${batch} | ${(ms / 1000).toFixed(2)} s | ${(ms / passes).toFixed(2)} ms |\n`);
    const erf = await median(() => cnnErf(m, image, { batchSize: batch }));
    process.stdout.write(`| default CNN | ERF, every layer (${h * w + 1} passes) | ${batch} | ${(erf / 1000).toFixed(2)} s | ${(erf / (h * w + 1)).toFixed(2)} ms |\n`);
  }
  await m.session.release();
}

(async () => {
  process.stdout.write('| Model | Work | Batch | Wall time | Per pass |\n|---|---|---|---|---|\n');
  await vitRow(defaultModels().vit, 'default ViT', passes);
  await cnnRows();
  for (const p of extra) await vitRow(p, p.split(/[\\/]/).pop()!.replace(/\.onnx$/, ''), bigPasses);
})();
