/**
 * Memory: peak resident set (VmHWM) of the inference child process (dist/worker.js, the process that
 * owns onnxruntime) after loading a model and inspecting one photo, in a fresh process each time.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceClient } from '../../src/node/inferenceClient';
import { summarize, type Summary } from '../lib/stats';

export interface MemoryResult {
  model: string;
  modelMB: number;
  runs: number;
  peakRssMB: Summary; // VmHWM after the inspection
  rssAfterMB: Summary; // VmRSS after the inspection (what stays)
  attentionMB: number; // scores + probabilities held per inspection
}

function statusMB(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  if (!m) throw new Error(`no ${key} for ${pid}`);
  return Number(m[1]) / 1024;
}

export async function measureMemory(root: string, model: string, image: string, runs: number, threads: number): Promise<MemoryResult> {
  const peak: number[] = [];
  const after: number[] = [];
  let attentionMB = 0;
  for (let r = 0; r < runs; r++) {
    const client = new InferenceClient({ workerPath: join(root, 'dist', 'worker.js') });
    try {
      const ins = await client.inspect({ modelPath: model, image, threads });
      attentionMB = (ins.attention.byteLength + ins.scores.byteLength) / 2 ** 20;
      const pid = client.pid;
      if (!pid) throw new Error('no inference process');
      peak.push(statusMB(pid, 'VmHWM'));
      after.push(statusMB(pid, 'VmRSS'));
    } finally {
      client.dispose();
    }
  }
  return { model, modelMB: statSync(model).size / 2 ** 20, runs, peakRssMB: summarize(peak), rssAfterMB: summarize(after), attentionMB };
}
