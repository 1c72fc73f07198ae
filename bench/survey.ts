/**
 * Survey throughput: `vit-inspector survey` over a folder of generated 224×224 JPEGs, for the default ViT and
 * ViT-B/16 (bench/torch_vit.py), with --jobs 1 and --jobs 2. Writes its own section of BENCHMARKS.md
 * (between the survey markers; bench/run.ts keeps that section when it rewrites the file).
 *
 *   npm run build && node --import tsx bench/survey.ts [--images N] [--vitb-images N] [--rounds R] [--write]
 *
 * Images per second = images ÷ the CLI's wall time from process start to exit (model loads, child process
 * starts included: what a user waits for), and the steady rate without the first image of each job.
 * The ViT alone (--cnn none): the CNN's measured ERF costs a pass per cell (docs/survey-at-scale.md gives its cost).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { machine } from './lib/machine';
import { python } from './lib/assets';

const root = resolve(__dirname, '..');
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
export const START = '<!-- survey-bench:start -->';
export const END = '<!-- survey-bench:end -->';

async function makeImages(dir: string, n: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let k = 0; k < n; k++) {
    const file = join(dir, `img${String(k).padStart(4, '0')}.jpg`);
    if (existsSync(file)) continue;
    const px = Buffer.alloc(224 * 224 * 3);
    const [a, b, c] = [rand(), rand(), rand()];
    for (let i = 0; i < 224 * 224; i++) {
      const x = (i % 224) / 224;
      const y = Math.floor(i / 224) / 224;
      px[i * 3] = 255 * Math.abs(Math.sin(6 * a * x + 3 * y));
      px[i * 3 + 1] = 255 * Math.abs(Math.cos(5 * b * y + x));
      px[i * 3 + 2] = 255 * ((c + 0.5 * rand()) % 1);
    }
    await sharp(px, { raw: { width: 224, height: 224, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
  }
}

interface Row { model: string; jobs: number; images: number; seconds: number[]; }

function survey(model: string | null, images: string, jobs: number): number {
  const out = mkdtempSync(join(tmpdir(), 'vit-survey-bench-'));
  try {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'survey', ...(model ? ['--model', model] : []), '--images', images, '--out', out, '--jobs', String(jobs), '--cnn', 'none'], { encoding: 'utf8' });
    const s = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(r.stderr);
    process.stderr.write(`  ${r.stdout.trim()}  [${s.toFixed(1)} s wall]\n`);
    return s;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const models = join(root, 'bench', 'models');
  const vitb = join(models, 'vit_b16.onnx');
  if (!existsSync(vitb)) {
    const r = spawnSync(python(), [join(root, 'bench', 'torch_vit.py'), 'export', models, 'vit_b16'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not export ViT-B/16');
  }
  const nSmall = flag('images', 400);
  const nBig = flag('vitb-images', 40);
  const rounds = flag('rounds', 2);
  const small = join(models, `survey-images-${nSmall}`);
  const big = join(models, `survey-images-${nBig}`);
  await makeImages(small, nSmall);
  await makeImages(big, nBig);
  const loadStart = loadavg();
  const rows: Row[] = [];
  for (const [name, model, dir, n] of [['default ViT (vit-cifar10, 32×32, 6 layers × 4 heads)', null, small, nSmall], ['ViT-B/16 (224×224, 12 layers × 12 heads)', vitb, big, nBig]] as const) {
    for (const jobs of [1, 2]) {
      const row: Row = { model: name, jobs, images: n, seconds: [] };
      for (let r = 0; r < rounds; r++) {
        process.stderr.write(`${name}, --jobs ${jobs}, round ${r + 1}\n`);
        row.seconds.push(survey(model, dir, jobs));
      }
      rows.push(row);
    }
  }
  const m = machine(root);
  const la = (v: number[]) => v.map((x) => x.toFixed(2)).join(', ');
  const section = [
    START,
    '## Survey throughput (`vit-inspector survey`)',
    '',
    `Measured by \`node --import tsx bench/survey.ts\` on ${new Date().toISOString()} (${m.cpu}, ${m.logicalCpus} logical CPUs). The machine was shared with other work: load average ${la(loadStart)} at the start and ${la(loadavg())} at the end (1, 5, 15 minutes), so these are contended numbers, not the machine's best.`,
    'Generated 224×224 JPEGs (resized to 32×32 for the default ViT); each run is a fresh CLI process into an empty --out folder, so model loads and the start of the inference processes are included. Images per second = images ÷ wall time of the whole command; best and worst of the rounds.',
    '',
    '| model | --jobs | images | wall time, s (best … worst) | images/s (best … worst) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => {
      const best = Math.min(...r.seconds);
      const worst = Math.max(...r.seconds);
      return `| ${r.model} | ${r.jobs} | ${r.images} | ${best.toFixed(1)} … ${worst.toFixed(1)} | ${(r.images / best).toPrecision(3)} … ${(r.images / worst).toPrecision(3)} |`;
    }),
    '',
    '--jobs 2 starts two inference processes with one onnxruntime thread each (threads default to cores ÷ jobs); --jobs 1 one process with two threads.',
    END,
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (args.includes('--write')) {
    const file = join(root, 'BENCHMARKS.md');
    const text = readFileSync(file, 'utf8');
    const i = text.indexOf(START);
    const j = text.indexOf(END);
    writeFileSync(file, i >= 0 && j > i ? `${text.slice(0, i)}${section}${text.slice(j + END.length)}` : `${text.trimEnd()}\n\n${section}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
