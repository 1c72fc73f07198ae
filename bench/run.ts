/**
 * ViT Inspector benchmarks: `npm run bench` (builds, then runs every figure and writes BENCHMARKS.md).
 *
 *   npm run bench                         all figures, writes BENCHMARKS.md
 *   npm run bench -- --json               the same, and prints every figure as one JSON object (last line of stdout)
 *   npm run bench -- --only overhead,peer some figures; writes BENCHMARKS.md only with --write
 *   npm run bench -- --quick              few repetitions (a smoke test); writes to the temp folder unless --write
 *   npm run bench -- --out FILE           write the Markdown elsewhere
 *   node --import tsx bench/run.ts --render saved.json [OUT.md]   re-render a saved --json output
 *
 * Figures: overhead, e2e, vscode, large, panel, preprocess, compute, memory, peer, queries. Progress goes to stderr.
 * Not a test: CI does not run it. Inputs (models, photo) are made on demand into the git-ignored bench/models/.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ensureLargeModels, ensureModels, ensurePhoto, ensureSgemm, type ModelName } from './lib/assets';
import { machine, theoreticalPeak, type Machine } from './lib/machine';
import { measureOverhead, OVERHEAD_RUNS, THREADS, type OverheadResult } from './figures/overhead';
import { inferenceProcessEnv } from '../src/node/allocatorEnv';
import { measureEndToEnd, type EndToEndResult } from './figures/endToEnd';
import { measurePanel, type PanelResult } from './figures/panel';
import { measurePreprocess, type PreprocessResult } from './figures/preprocess';
import { measureSgemm, readConfig, vitFlops, type SgemmResult } from './figures/compute';
import { measureMemory, type MemoryResult } from './figures/memory';
import { measurePeer, type PeerResult } from './figures/peer';
import { measureVsCode, mirroredCopy, type VsCodeResult } from './figures/vscode';
import { measureLarge, type LargeModelResult } from './figures/vscodeLarge';
import { renderMarkdown } from './report';

export const FIGURES = ['overhead', 'e2e', 'vscode', 'large', 'panel', 'preprocess', 'compute', 'memory', 'peer', 'queries'] as const;
export type Figure = (typeof FIGURES)[number];

export interface Results {
  date: string;
  command: string;
  quick: boolean;
  machine: Machine;
  threads: number;
  peak: { theoretical: ReturnType<typeof theoreticalPeak>; sgemm?: SgemmResult };
  models: Record<string, { path: string; config: ReturnType<typeof readConfig>; flops: ReturnType<typeof vitFlops> }>;
  overhead?: Record<string, OverheadResult>;
  e2e?: Record<string, EndToEndResult>;
  vscode?: VsCodeResult;
  /** Issue 12 in real VS Code at ViT-B/16 and ViT-L/16 at 384 px: CLI cold, click → first heatmap, query moves. */
  large?: Record<string, LargeModelResult>;
  panel?: PanelResult;
  preprocess?: PreprocessResult;
  compute?: { sgemm: SgemmResult; models: Record<string, { flops: number; logitsMs: number; attentionMs: number; gflopsLogits: number; gflopsAttention: number }> };
  memory?: MemoryResult;
  peer?: Record<string, PeerResult>;
  /** bench/queries.ts: the data flow at ViT-B/16 and ViT-L/16 at 384 px (its Markdown table and JSON). */
  queries?: { markdown: string; json: unknown };
  errors: Record<string, string>;
  durationS: number;
}

const root = resolve(__dirname, '..');

function parseArgs(argv: string[]) {
  const flags = { json: false, quick: false, write: false, only: [...FIGURES] as Figure[], out: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') flags.json = true;
    else if (a === '--quick') flags.quick = true;
    else if (a === '--write') flags.write = true;
    else if (a === '--out') flags.out = argv[++i];
    else if (a === '--only') {
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      const bad = names.filter((n) => !(FIGURES as readonly string[]).includes(n));
      if (bad.length || names.length === 0) throw new Error(`--only takes a comma-separated list of: ${FIGURES.join(', ')}`);
      flags.only = names as Figure[];
    } else throw new Error(`Unknown argument ${a}. Usage: npm run bench -- [--json] [--only ${FIGURES.join(',')}] [--quick] [--write] [--out FILE]`);
  }
  return flags;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--render') {
    // Re-render a saved `--json` result (its last line) without measuring again.
    const lines = readFileSync(argv[1], 'utf8').trim().split('\n');
    const saved = JSON.parse(lines[lines.length - 1]) as Results;
    const out = argv[2] ? resolve(argv[2]) : join(root, 'BENCHMARKS.md');
    writeFileSync(out, withKeptSections(renderMarkdown(saved, root), out));
    log(`wrote ${out} from ${argv[1]}`);
    return;
  }
  const flags = parseArgs(argv);
  const q = flags.quick;
  const t0 = performance.now();
  const modelsDir = join(root, 'bench', 'models');
  const m = machine(root);
  log(`ViT Inspector benchmarks on ${m.cpu}, ${m.logicalCpus} CPUs, load average ${m.loadAverage.map((v) => v.toFixed(2)).join(' ')}`);
  if (m.loadAverage[0] > 0.5 * m.logicalCpus) log(`warning: the machine is busy (load ${m.loadAverage[0].toFixed(2)}); figures will be noisy`);

  const paths = ensureModels(root, modelsDir, log);
  const photo = await ensurePhoto(modelsDir);
  const results: Results = {
    date: new Date().toISOString(),
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    quick: q,
    machine: m,
    threads: THREADS,
    peak: { theoretical: theoreticalPeak(m) },
    models: {},
    errors: {},
    durationS: 0,
  };
  for (const [name, path] of Object.entries(paths)) {
    const config = readConfig(path);
    results.models[name] = { path: relative(root, path), config, flops: vitFlops(config) };
  }
  const want = (f: Figure) => flags.only.includes(f);
  const step = async (f: Figure, fn: () => Promise<void>) => {
    if (!want(f)) return;
    log(`\n== ${f}`);
    const s = performance.now();
    try {
      await fn();
    } catch (e) {
      results.errors[f] = (e as Error).message.split('\n').slice(0, 3).join(' ');
      log(`  ${f} failed: ${(e as Error).stack}`);
    }
    log(`  (${((performance.now() - s) / 1000).toFixed(0)} s)`);
  };

  await step('overhead', async () => {
    // Full runs, each in a fresh process with the inference process's allocator settings; the figure is the
    // median of their medians (issue 12). One more run with glibc's defaults shows what those settings change.
    const runs = q ? 1 : OVERHEAD_RUNS;
    const models = (['vit_s16', 'vit_b16'] as ModelName[]).map((n) => `${n}=${paths[n]}`);
    const once = (env: NodeJS.ProcessEnv, what: string) => {
      log(`  run ${what}`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'figures', 'overheadRun.ts'), q ? '3' : '40', q ? '3' : '30', ...models],
        { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000, maxBuffer: 64 * 2 ** 20 });
      if (r.status !== 0) throw new Error(`bench/figures/overheadRun.ts failed (${r.status ?? r.signal})`);
      const lines = r.stdout.trim().split('\n');
      return JSON.parse(lines[lines.length - 1]) as Record<string, OverheadResult>;
    };
    const tuned = Array.from({ length: runs }, (_, i) => once(inferenceProcessEnv(), `${i + 1} of ${runs} (inference process's allocator settings)`));
    const plainEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MALLOC_')));
    const defaults = q ? undefined : once(plainEnv, "with glibc's default allocator settings");
    results.overhead = {};
    for (const name of ['vit_s16', 'vit_b16'] as ModelName[]) {
      const byRatio = tuned.map((t) => t[name]).sort((a, b) => a.ratio.median - b.ratio.median);
      const mid = byRatio[Math.floor((byRatio.length - 1) / 2)];
      results.overhead[name] = { ...mid, runMedians: tuned.map((t) => t[name].ratio.median), defaultAllocator: defaults?.[name] };
      log(`  ${name}: engine ${mid.ratio.median.toFixed(3)}× (runs ${tuned.map((t) => t[name].ratio.median.toFixed(3)).join(', ')}; glibc defaults ${defaults?.[name].ratio.median.toFixed(3) ?? 'not run'})`);
    }
  });
  await step('peer', async () => {
    results.peer = {};
    for (const name of ['vit_s16', 'vit_b16'] as ModelName[]) {
      results.peer[name] = await measurePeer(root, paths[name], q ? 3 : name === 'vit_s16' ? 30 : 15);
      log(`  ${name}: PyTorch / onnxruntime ${results.peer[name].r.ratios.pytorch.median.toFixed(2)}×`);
    }
  });
  await step('compute', async () => {
    const sgemm = await measureSgemm(ensureSgemm(root, modelsDir, 2048, log), 2048, q ? 3 : 12);
    results.peak.sgemm = sgemm;
    const models: NonNullable<Results['compute']>['models'] = {};
    for (const name of ['vit_s16', 'vit_b16'] as ModelName[]) {
      let ov = results.overhead?.[name];
      if (!ov) ov = await measureOverhead(paths[name], q ? 3 : 10, log, false);
      const flops = results.models[name].flops.flops;
      const logitsMs = ov.times.logits.median;
      const attentionMs = ov.times.engine.median;
      models[name] = { flops, logitsMs, attentionMs, gflopsLogits: flops / (logitsMs * 1e6), gflopsAttention: flops / (attentionMs * 1e6) };
    }
    results.compute = { sgemm, models };
    log(`  SGEMM 2048: ${sgemm.gflops.toFixed(1)} GFLOP/s; ViT-B ${models.vit_b16.gflopsLogits.toFixed(1)} GFLOP/s`);
  });
  await step('preprocess', async () => {
    results.preprocess = await measurePreprocess(photo, q ? 3 : 30);
    log(`  12 MP JPEG → tensor: ${results.preprocess.r.times.engine.median.toFixed(1)} ms`);
  });
  await step('e2e', async () => {
    results.e2e = {};
    for (const name of ['vit_s16', 'vit_b16'] as ModelName[]) {
      results.e2e[name] = await measureEndToEnd(root, paths[name], photo, q ? 2 : name === 'vit_s16' ? 10 : 8, q ? 2 : 10, THREADS, log);
      log(`  ${name}: CLI cold / bare ${results.e2e[name].cold.ratios.cli.median.toFixed(2)}×, warm ${results.e2e[name].warm.median.toFixed(0)} ms`);
    }
  });
  await step('memory', async () => {
    results.memory = await measureMemory(root, paths.vit_b16, photo, q ? 1 : 3, THREADS);
    log(`  ViT-B/16 peak RSS ${results.memory.peakRssMB.median.toFixed(0)} MB`);
  });
  await step('panel', async () => {
    results.panel = await measurePanel(root, process.env.CHROMIUM ?? '/usr/bin/chromium', q ? 30 : 300, q ? 5 : 30);
    log(`  moveQuery p95 ${results.panel.moveMs.p95.toFixed(2)} ms`);
  });
  await step('vscode', async () => {
    const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
    results.vscode = await measureVsCode(root, paths.vit_s16, [photo, await mirroredCopy(photo)], q ? 1 : 3, chromium, log);
    if (results.vscode.coldMs) log(`  image → first heatmap in VS Code: cold ${results.vscode.coldMs.median.toFixed(0)} ms`);
  });

  await step('large', async () => {
    ensureLargeModels(root, modelsDir, log);
    const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
    const large = Object.fromEntries(['vit_b16_384', 'vit_l16_384'].map((n) => [n, join(modelsDir, `${n}.onnx`)]));
    results.large = await measureLarge(root, large, [photo, await mirroredCopy(photo)], q ? 1 : 3, q ? 10 : 40, chromium, log);
  });

  await step('queries', async () => {
    ensureLargeModels(root, modelsDir, log);
    // The CLI's cold run is figure "large"'s; here only when that figure is not run.
    const cliRuns = want('large') ? '0' : q ? '1' : '3';
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(root, 'bench', 'queries.ts'), '--moves', q ? '10' : '100', '--cli', cliRuns, '--panels', '2'],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 60 * 60_000 });
    if (r.status !== 0) throw new Error(`bench/queries.ts failed (${r.status ?? r.signal})`);
    const lines = r.stdout.trim().split('\n');
    results.queries = { markdown: lines.slice(0, -1).join('\n'), json: JSON.parse(lines[lines.length - 1]) };
  });

  results.durationS = (performance.now() - t0) / 1000;
  const md = renderMarkdown(results, root);
  const partial = flags.only.length < FIGURES.length;
  const out = flags.out ? resolve(flags.out) : (q || partial) && !flags.write ? join(tmpdir(), 'BENCHMARKS.md') : join(root, 'BENCHMARKS.md');
  writeFileSync(out, withKeptSections(md, out));
  log(`\nwrote ${out} (${results.durationS.toFixed(0)} s)`);
  if (flags.json) process.stdout.write(`${JSON.stringify(results)}\n`);
}

/**
 * Keeps the sections other scripts write or that are run by hand (bench/survey.ts, bench/explain.ts), each
 * between `<!-- NAME:start -->` and `<!-- NAME:end -->`, when this script rewrites the file.
 */
function withKeptSections(md: string, out: string): string {
  let old = '';
  try {
    old = readFileSync(out, 'utf8');
  } catch {
    return md;
  }
  const kept = [...old.matchAll(/<!-- ([a-z0-9-]+):start -->[\s\S]*?<!-- \1:end -->/g)].map((m) => m[0]);
  return kept.length ? `${md.trimEnd()}\n\n${kept.join('\n\n')}\n` : md;
}

main().catch((e) => {
  log(`bench failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
