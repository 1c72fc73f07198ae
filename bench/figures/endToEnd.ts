/**
 * End to end, image file to report: the CLI (`node dist/cli.js inspect`) in a fresh process each time
 * (cold), against a bare script (bench/bare.mjs) that loads the same model with onnxruntime-node,
 * preprocesses the same photo with sharp and runs once; and the same work repeated in a warm inference
 * process (the extension's case after the first image).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { attentionEntropy, meanAttentionDistance, rollout, rolloutMap } from '../../src/core/analytics';
import { findAttention } from '../../src/core/attention';
import { createSession } from '../../src/core/engine';
import { InferenceClient } from '../../src/core/inferenceClient';
import { encodeNpy } from '../../src/core/npy';
import { parseOnnx } from '../../src/core/onnx/parse';
import { withExtraOutputs } from '../../src/core/onnx/surgery';
import { renderHeadSheet, renderOverlay, renderPatchGrid } from '../../src/core/render';
import { writeReport } from '../../src/core/report';
import type { Inspection } from '../../src/core/types';
import { interleaveMeasured, summarize, type Interleaved, type Summary } from '../lib/stats';

export interface EndToEndResult {
  model: string;
  image: string;
  threads: number;
  cold: Interleaved; // variants: bare, cli; ratio cli / bare
  coldCommand: { cli: string; bare: string };
  /** In-process breakdown of one cold inspection (fresh inference process). */
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
  const t: Record<string, number[]> = { readFile: [], parse: [], findAttention: [], addOutputs: [], createSessionExposed: [], engineTotal: [], bareCreateFromPath: [] };
  for (let i = 0; i < reps; i++) {
    let s = performance.now();
    const bytes = new Uint8Array(readFileSync(model));
    const t1 = performance.now();
    const m = parseOnnx(bytes, model);
    const t2 = performance.now();
    const sites = findAttention(m);
    const t3 = performance.now();
    const exposed = withExtraOutputs(m, sites.flatMap((x) => [x.scores, x.probs]));
    const t4 = performance.now();
    const session = await createSession(exposed, threads, model);
    const t5 = performance.now();
    await session.release();
    t.readFile.push(t1 - s);
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

/** What writeReport spends its time on (src/core/report.ts buildReport + the files), on a real inspection. */
async function reportParts(ins: Inspection, reps: number): Promise<Record<string, Summary>> {
  const s = ins.summary;
  const dims = { layers: s.layers, heads: s.heads, tokens: s.tokens };
  const t: Record<string, number[]> = { meanDistance: [], entropy: [], rollout: [], npy: [], patchesPng: [], headsPng: [], rolloutPng: [] };
  const time = async (k: string, f: () => unknown) => {
    const t0 = performance.now();
    await f();
    t[k].push(performance.now() - t0);
  };
  for (let i = 0; i < reps; i++) {
    let map: Float32Array = new Float32Array(0);
    await time('meanDistance', () => meanAttentionDistance(ins.attention, dims, s.layout));
    await time('entropy', () => attentionEntropy(ins.attention, dims));
    await time('rollout', () => (map = rolloutMap(rollout(ins.attention, dims, { fusion: 'mean', discardRatio: 0 }), s.layout, 0)));
    await time('npy', () => encodeNpy(ins.attention, [s.layers, s.heads, s.tokens, s.tokens]));
    await time('patchesPng', () => renderPatchGrid(ins.modelImage, s.layout));
    await time('headsPng', () => renderHeadSheet(ins.modelImage, ins.attention, s.layout, { layers: s.layers, heads: s.heads, query: 0 }));
    await time('rolloutPng', () => renderOverlay(ins.modelImage, map, s.layout, {}));
  }
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

    // Where a cold CLI run's time goes, in process: start the inference process, load, preprocess, run, transfer, write.
    const breakdown: Record<string, number[]> = { spawnToReady: [], load: [], preprocess: [], run: [], workerTotal: [], transfer: [], report: [], total: [] };
    const warmParts: Record<string, number[]> = { preprocess: [], run: [], workerTotal: [], transfer: [], report: [] };
    const warm: number[] = [];
    let sample: Inspection | undefined;
    for (let r = 0; r < Math.max(1, Math.ceil(rounds / 2)); r++) {
      const client = new InferenceClient({ workerPath: join(root, 'dist', 'worker.js') });
      try {
        const t0 = performance.now();
        await client.receptiveFields('/nonexistent.onnx').catch(() => undefined); // starts the process: a cheap round trip
        const t1 = performance.now();
        const ins = await client.inspect({ modelPath: model, image, threads });
        const t2 = performance.now();
        await writeReport(join(work, `bd-${r}`), ins, { query: 0 });
        const t3 = performance.now();
        breakdown.spawnToReady.push(t1 - t0);
        breakdown.load.push(ins.timings.load);
        breakdown.preprocess.push(ins.timings.preprocess);
        breakdown.run.push(ins.timings.run);
        breakdown.workerTotal.push(ins.timings.total);
        breakdown.transfer.push(t2 - t1 - ins.timings.total);
        breakdown.report.push(t3 - t2);
        breakdown.total.push(t3 - t0);
        if (r === 0) {
          // Warm: the same process and session, image file to report files each time.
          for (let w = 0; w < warmRounds + 1; w++) {
            const s = performance.now();
            const again = await client.inspect({ modelPath: model, image, threads });
            const m = performance.now();
            await writeReport(join(work, `warm-${w}`), again, { query: 0 });
            const e = performance.now();
            sample = again;
            if (w === 0) continue;
            warm.push(e - s);
            warmParts.preprocess.push(again.timings.preprocess);
            warmParts.run.push(again.timings.run);
            warmParts.workerTotal.push(again.timings.total);
            warmParts.transfer.push(m - s - again.timings.total);
            warmParts.report.push(e - m);
          }
        }
      } finally {
        client.dispose();
      }
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
      coldBreakdown: sum(breakdown),
      warm: summarize(warm),
      warmBreakdown: sum(warmParts),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
