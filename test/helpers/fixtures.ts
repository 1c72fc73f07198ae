/** Paths to the test fixtures in test/fixtures (PyTorch's own numbers; see test/fixtures/README.md). */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const FIXTURES = resolve(__dirname, '..', 'fixtures');
export const VIT_NAMES = ['vit_hf_style', 'vit_timm_style', 'vit_torchvision', 'deit_style'] as const;
export const REPO = resolve(__dirname, '..', '..');
export const CLI = join(REPO, 'dist', 'cli.js');

export interface VitReference {
  input: { name: string; shape: number[]; mean: number[]; std: number[] };
  patch_size: number;
  grid: [number, number];
  prefix_tokens: string[];
  layers: number;
  heads: number;
  tokens: number;
  labels: string[];
  logits: number[];
  attention: number[][][][];
}

export function vitReference(name: string): VitReference {
  return JSON.parse(readFileSync(join(FIXTURES, 'vit', `${name}.json`), 'utf8'));
}

/**
 * CIFAR-10 test images committed in test/fixtures/cifar10/<class>/NNNN.jpg (the first `perClass` of each
 * class), keyed as in the CIFAR-10 JPEG archive and the model card: `test/<class>/NNNN.jpg`.
 */
export function cifar10TestImages(perClass: number): Map<string, Buffer> {
  const root = join(FIXTURES, 'cifar10');
  const images = new Map<string, Buffer>();
  for (const label of readdirSync(root).filter((d) => !d.includes('.')).sort()) {
    for (const file of readdirSync(join(root, label)).filter((f) => /^\d{4}\.jpg$/.test(f) && Number(f.slice(0, 4)) < perClass).sort()) {
      images.set(`test/${label}/${file}`, readFileSync(join(root, label, file)));
    }
  }
  return images;
}

/** Largest absolute difference between two equally long number sequences. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
