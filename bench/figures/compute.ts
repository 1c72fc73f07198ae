/**
 * Compute efficiency: achieved GFLOP/s of ViT inference next to the machine's fp32 peak, found two ways:
 * a large SGEMM through onnxruntime's MatMul (what the same kernels reach on this machine) and the
 * theoretical peak from the CPU flags, clock and cores.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { summarize, type Summary } from '../lib/stats';
import { sessionOptions, THREADS } from './overhead';

export interface VitConfig {
  name: string;
  d_model: number;
  layers: number;
  heads: number;
  mlp: number;
  patch: number;
  image: number;
  classes: number;
  tokens: number;
  parameters: number;
}

export function readConfig(onnxPath: string): VitConfig {
  return JSON.parse(readFileSync(onnxPath.replace(/\.onnx$/, '.json'), 'utf8'));
}

/**
 * Forward FLOPs (a multiply-add = 2) of the matrix products, which are > 99% of the work; LayerNorm,
 * softmax, GELU and the residual adds are left out.
 *   patch embedding 2·(N−1)·(3·P²)·D; per layer: qkv 6·N·D², QKᵀ 2·N²·D, attn·V 2·N²·D, proj 2·N·D²,
 *   MLP 4·N·D·M; head 2·D·C (class token only).
 */
export function vitFlops(c: VitConfig): { flops: number; formula: string } {
  const { tokens: N, d_model: D, mlp: M, patch: P, classes: C, layers: L } = c;
  const perLayer = 6 * N * D * D + 4 * N * N * D + 2 * N * D * D + 4 * N * D * M;
  const flops = 2 * (N - 1) * 3 * P * P * D + L * perLayer + 2 * D * C;
  return {
    flops,
    formula: `2·(N−1)·3P²·D + L·(8·N·D² + 4·N²·D + 4·N·D·M) + 2·D·C with N=${N}, D=${D}, M=${M}, P=${P}, L=${L}, C=${C} = ${(flops / 1e9).toFixed(2)} GFLOP`,
  };
}

export interface SgemmResult {
  size: number;
  threads: number;
  time: Summary;
  gflops: number; // at the median time
  gflopsBest: number; // at the fastest run
}

export async function measureSgemm(path: string, size: number, runs: number): Promise<SgemmResult> {
  const session = await ort.InferenceSession.create(path, sessionOptions(THREADS));
  const a = new Float32Array(size * size).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(size * size).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const feeds = { a: new ort.Tensor('float32', a, [size, size]), b: new ort.Tensor('float32', b, [size, size]) };
  const times: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (i >= 2) times.push(performance.now() - t0);
  }
  await session.release();
  const time = summarize(times);
  const flops = 2 * size ** 3;
  return { size, threads: THREADS, time, gflops: flops / (time.median * 1e6), gflopsBest: flops / (time.min * 1e6) };
}
