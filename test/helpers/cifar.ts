/** The 20 CIFAR-10 test images the explain tests use (two per class), from test/fixtures/cifar10-explain. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CIFAR_DIR = join(__dirname, '..', 'fixtures', 'cifar10-explain');

export function cifarImages(): { path: string; label: number; name: string }[] {
  const labels: Record<string, { label: number; name: string }> = JSON.parse(readFileSync(join(CIFAR_DIR, 'labels.json'), 'utf8'));
  return Object.entries(labels).map(([file, l]) => ({ path: join(CIFAR_DIR, file), label: l.label, name: l.name }));
}
