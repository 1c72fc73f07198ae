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
import { InferenceClient } from '../../src/core/inferenceClient';
import { writeReport } from '../../src/core/report';
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
    return {
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
