/** Paths to the shared, read-only fixtures (PyTorch's own numbers); never copied into the repository. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The shared fixtures folder: beside the checkout, or where VIT_SHARED says (a git worktree lives elsewhere). */
export const SHARED = process.env.VIT_SHARED ? resolve(process.env.VIT_SHARED) : resolve(__dirname, '..', '..', '..', 'shared');
export const FIXTURES = join(SHARED, 'fixtures');
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

/** Largest absolute difference between two equally long number sequences. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
