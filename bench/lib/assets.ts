/**
 * Benchmark inputs, made on demand into the git-ignored bench/models/: the ViT-S/16 and ViT-B/16 size
 * models with random weights (bench/torch_vit.py, Debian's torch), the SGEMM probe, and a 12-megapixel
 * JPEG drawn with sharp from gradients and noise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export const MODEL_NAMES = ['vit_s16', 'vit_b16'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** The interpreter with torch: $VIT_BENCH_PYTHON, else Debian's /usr/bin/python3 (python3-torch), else python3. */
export function python(): string {
  if (process.env.VIT_BENCH_PYTHON) return process.env.VIT_BENCH_PYTHON;
  for (const p of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(p, ['-c', 'import torch, onnx'], { stdio: 'ignore' });
    if (r.status === 0) return p;
  }
  throw new Error('No Python with torch and onnx found: apt-get install python3-torch python3-onnx (Debian), or set VIT_BENCH_PYTHON.');
}

function runPy(args: string[], log: (s: string) => void): void {
  const py = python();
  log(`$ ${py} ${args.join(' ')}`);
  const r = spawnSync(py, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${py} ${args.join(' ')} failed:\n${r.stderr.slice(-2000)}`);
}

export function ensureModels(root: string, dir: string, log: (s: string) => void): Record<ModelName, string> {
  const missing = MODEL_NAMES.filter((n) => ['.onnx', '.pt', '.json'].some((ext) => !existsSync(join(dir, `${n}${ext}`))));
  if (missing.length) runPy([join(root, 'bench', 'torch_vit.py'), 'export', dir, ...missing], log);
  return Object.fromEntries(MODEL_NAMES.map((n) => [n, join(dir, `${n}.onnx`)])) as Record<ModelName, string>;
}

/** ViT-B/16 and ViT-L/16 at 384 px (577 tokens; 0.35 and 1.2 GB) for bench/queries.ts. */
export const LARGE_MODEL_NAMES = ['vit_b16_384', 'vit_l16_384'] as const;

export function ensureLargeModels(root: string, dir: string, log: (s: string) => void): void {
  const missing = LARGE_MODEL_NAMES.filter((n) => !existsSync(join(dir, `${n}.onnx`)));
  if (missing.length) runPy([join(root, 'bench', 'torch_vit.py'), 'export', dir, ...missing], log);
}

export function ensureSgemm(root: string, dir: string, size: number, log: (s: string) => void): string {
  const path = join(dir, `sgemm_${size}.onnx`);
  if (!existsSync(path)) runPy([join(root, 'bench', 'torch_vit.py'), 'sgemm', dir, String(size)], log);
  return path;
}

/** A 4000×3000 (12 MP) baseline JPEG, quality 90, 4:2:0, with photo-like structure (gradients, shapes, grain). */
export async function ensurePhoto(dir: string, width = 4000, height = 3000): Promise<string> {
  const path = join(dir, `photo_${width}x${height}.jpg`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const px = Buffer.alloc(width * height * 3);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const u = x / width;
      const v = y / height;
      const blob = Math.hypot(u - 0.6, v - 0.45) < 0.18 ? 80 : 0; // a bright disc, like a subject
      const stripe = Math.sin(u * 40 + v * 7) * 20; // texture
      const grain = (rand() - 0.5) * 24; // sensor noise
      px[i] = clamp(60 + 150 * u + blob + stripe + grain);
      px[i + 1] = clamp(90 + 100 * v + blob * 0.5 + grain);
      px[i + 2] = clamp(200 - 120 * v - stripe + grain);
    }
  }
  await sharp(px, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling: '4:2:0' }).toFile(`${path}.tmp`);
  const { renameSync } = await import('node:fs');
  renameSync(`${path}.tmp`, path);
  return path;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
