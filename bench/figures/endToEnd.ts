/**
 * End to end, image file to report: the CLI (`node dist/cli.js inspect`) in a fresh process each time
 * (cold), against a bare script (bench/bare.mjs) that loads the same model with onnxruntime-node,
 * preprocesses the same photo with sharp and runs once; and the same work repeated in one process with
 * the session up (warm).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { attentionEntropy, meanAttentionDistance, rolloutMap, rolloutRow } from '../../src/shared/analytics';
import { findAttention } from '../../src/node/attention';
import { Engine } from '../../src/node/engine';
import { createSession } from '../../src/node/session';
import { resolveModelSource } from '../../src/node/modelSource';
import { npyParts } from '../../src/node/npy';
import { parseOnnx } from '../../src/node/onnx/parse';
import { withExtraOutputs } from '../../src/node/onnx/surgery';
import { renderHeadSheet, renderOverlay, renderPatchGrid } from '../../src/node/render';
import { writeReport } from '../../src/node/report';
import type { Inspection } from '../../src/shared/types';
import { interleaveMeasured, summarize, type Interleaved, type Summary } from '../lib/stats';

export interface EndToEndResult {
  model: string;
  image: string;
  threads: number;
  cold: Interleaved; // variants: bare, cli; ratio cli / bare
  coldCommand: { cli: string; bare: string };
  /** Fixed process costs, spawn to exit: Node with the CLI's modules (\`cli.js --help\`), Node with onnxruntime-node and sharp only. */
  startup: Interleaved; // variants: cliModules, bareModules
  /** In-process breakdown of one cold inspection (fresh Engine: no session cached). */
  coldBreakdown: Record<string, Summary>;
  warm: Summary; // image file → report files, inference process and session already up
  warmBreakdown: Record<string, Summary>;
  /** The engine's model load taken apart, next to the bare script's session creation (in this process). */
  loadParts: Record<string, Summary>;
  /** writeReport taken apart: the analytics buildReport computes and each file's rendering. */
  reportParts: Record<string, Summary>;
}

/** Model load steps as Engine.load does them, and onnxruntime's plain create from the path (the bare script). */
async function loadParts(model: string, threads: number, reps: number): Promise<Record<string, Summary>> {
  const t: Record<string, number[]> = { readLean: [], parse: [], findAttention: [], addOutputs: [], createSessionExposed: [], engineTotal: [], bareCreateFromPath: [] };
  for (let i = 0; i < reps; i++) {
    let s = performance.now();
    const source = await resolveModelSource(model, { weightsByReference: true });
    const t1 = performance.now();
    const m = parseOnnx(source.bytes, model);
    const t2 = performance.now();
    const sites = findAttention(m);
    const t3 = performance.now();
    const exposed = withExtraOutputs(m, sites.flatMap((x) => [x.scores, x.probs]));
    const t4 = performance.now();
    const session = await createSession(exposed, threads, model, dirname(source.onnxPath));
    const t5 = performance.now();
    await session.release();
    t.readLean.push(t1 - s);
    t.parse.push(t2 - t1);
    t.findAttention.push(t3 - t2);
    t.addOutputs.push(t4 - t3);
    t.createSessionExposed.push(t5 - t4);
    t.engineTotal.push(t5 - s);
    s = performance.now();
    const bare = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', intraOpNumThreads: threads });
    t.bareCreateFromPath.push(performance.now() - s);
    await bare.release();
  }
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, summarize(v)]));
}

/** What writeReport spends its time on (src/node/report.ts buildReport + the files), on a real inspection. */
async function reportParts(ins: Inspection, reps: number): Promise<Record<string, Summary>> {
  const s = ins.summary;
  const dims = { layers: s.layers, heads: s.heads, tokens: s.tokens };
  const t: Record<string, number[]> = { meanDistance: [], entropy: [], rollout: [], npy: [], patchesPng: [], headsPng: [], rolloutPng: [] };
  const time = async (k: string, f: () => unknown) => {
    const t0 = performance.now();
    await f();
    t[k].push(performance.now() - t0);
  };
  const dir = mkdtempSync(join(tmpdir(), 'vit-bench-npy-'));
  for (let i = 0; i < reps; i++) {
    let map: Float32Array = new Float32Array(0);
    await time('meanDistance', () => meanAttentionDistance(ins.attention, dims, s.layout));
    await time('entropy', () => attentionEntropy(ins.attention, dims));
    await time('rollout', () => (map = rolloutMap(rolloutRow(ins.attention, dims, { fusion: 'mean', discardRatio: 0 }, 0), s.layout, 0)));
    await time('npy', () => writeFile(join(dir, 'attention.npy'), npyParts(ins.attention, [s.layers, s.heads, s.tokens, s.tokens])));
    await time('patchesPng', () => renderPatchGrid(ins.modelImage, s.layout));
    await time('headsPng', () => renderHeadSheet(ins.modelImage, ins.attention, s.layout, { layers: s.layers, heads: s.heads, query: 0 }));
    await time('rolloutPng', () => renderOverlay(ins.modelImage, map, s.layout, {}));
  }
  rmSync(dir, { recursive: true, force: true });
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, summarize(v)]));
}

function timeProcess(cmd: string, args: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim().slice(-500)}`));
    });
  });
}

export async function measureEndToEnd(root: string, model: string, image: string, rounds: number, warmRounds: number, threads: number, log: (s: string) => void): Promise<EndToEndResult> {
  const work = mkdtempSync(join(tmpdir(), 'vit-bench-e2e-'));
  const cli = join(root, 'dist', 'cli.js');
  const bare = join(root, 'bench', 'bare.mjs');
  const cliArgs = (out: string) => [cli, 'inspect', '--model', model, '--image', image, '--out', out, '--threads', String(threads)];
  try {
    let i = 0;
    const cold = await interleaveMeasured(
      {
        bare: () => timeProcess(process.execPath, [bare, model, image, String(threads)], root),
        cli: () => timeProcess(process.execPath, cliArgs(join(work, `cold-${i++}`)), root),
      },
      rounds,
      1,
    );
    log(`  cold: CLI ${cold.times.cli.median.toFixed(0)} ms, bare ${cold.times.bare.median.toFixed(0)} ms`);

    const startup = await interleaveMeasured(
      {
        cliModules: () => timeProcess(process.execPath, [cli, '--help'], root),
        bareModules: () => timeProcess(process.execPath, ['-e', "require('onnxruntime-node'); require('sharp')"], root),
      },
      rounds,
      1,
    );

    // Where a cold CLI run's time goes, in process as the CLI does it: load, preprocess, run, write the report.
    const breakdown: Record<string, number[]> = { load: [], preprocess: [], run: [], inspect: [], report: [], total: [] };
    const warmParts: Record<string, number[]> = { preprocess: [], run: [], inspect: [], report: [] };
    const warm: number[] = [];
    let sample: Inspection | undefined;
    for (let r = 0; r < Math.max(1, Math.ceil(rounds / 2)); r++) {
      const engine = new Engine();
      const t0 = performance.now();
      const ins = await engine.inspect({ modelPath: model, image, threads });
      const t1 = performance.now();
      await writeReport(join(work, `bd-${r}`), ins, { query: 0 });
      const t2 = performance.now();
      breakdown.load.push(ins.timings.load);
      breakdown.preprocess.push(ins.timings.preprocess);
      breakdown.run.push(ins.timings.run);
      breakdown.inspect.push(t1 - t0);
      breakdown.report.push(t2 - t1);
      breakdown.total.push(t2 - t0);
      if (r === 0) {
        // Warm: the same engine and session, image file to report files each time.
        for (let w = 0; w < warmRounds + 1; w++) {
          const s = performance.now();
          const again = await engine.inspect({ modelPath: model, image, threads });
          const m = performance.now();
          await writeReport(join(work, `warm-${w}`), again, { query: 0 });
          const e = performance.now();
          sample = again;
          if (w === 0) continue;
          warm.push(e - s);
          warmParts.preprocess.push(again.timings.preprocess);
          warmParts.run.push(again.timings.run);
          warmParts.inspect.push(m - s);
          warmParts.report.push(e - m);
        }
      }
      await engine.dispose();
    }
    const sum = (o: Record<string, number[]>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, summarize(v)]));
    const reps = Math.max(3, Math.ceil(rounds / 2));
    return {
      loadParts: await loadParts(model, threads, reps),
      reportParts: sample ? await reportParts(sample, reps) : {},
      model,
      image,
      threads,
      cold,
      coldCommand: { cli: `node ${cliArgs('OUT').slice(0).join(' ')}`, bare: `node bench/bare.mjs ${model} ${image} ${threads}` },
      startup,
      coldBreakdown: sum(breakdown),
      warm: summarize(warm),
      warmBreakdown: sum(warmParts),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
