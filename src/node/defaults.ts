/** The embedded default models shipped in media/models (trained by training/train.py). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The package root: the nearest folder above this file (dist/ when bundled, src/node/ under tsx) with media/models. */
export function packageRoot(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'media', 'models'))) return dir;
    if (dirname(dir) === dir) return join(from, '..');
  }
}

export function defaultModels(root = packageRoot()): { vit: string; cnn: string } {
  return { vit: join(root, 'media', 'models', 'vit-cifar10'), cnn: join(root, 'media', 'models', 'cnn-cifar10') };
}
