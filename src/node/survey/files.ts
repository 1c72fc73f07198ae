/** The images of a survey: every image file under a folder, sorted, optionally cut to a limit and a shard. */
import { promises as fsp } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { InspectorError } from '../../shared/errors';
import { IMAGE_EXTENSIONS } from '../../shared/imageFormats';

export interface Shard {
  index: number; // 0-based
  count: number;
}

const EXTENSIONS = new Set<string>(IMAGE_EXTENSIONS);

/**
 * Image files under `root` (recursively, hidden folders skipped) as '/'-separated paths relative to it, in
 * code-unit order: the same list on every machine, whatever the file system's own order.
 */
export async function listImages(root: string): Promise<string[]> {
  const st = await fsp.stat(root).catch(() => null);
  if (!st?.isDirectory()) throw new InspectorError('file-not-found', `${root} is not a folder. Give --images a folder of images.`);
  const out: string[] = [];
  const seen = new Set<string>(); // real paths of the folders walked: symlinked folders are followed once, never in a cycle
  const walk = async (dir: string) => {
    const real = await fsp.realpath(dir).catch(() => dir);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      throw new InspectorError('unreadable', `${dir} cannot be read (${e.code ?? e.message}). Check its permissions.`);
    });
    // in name order, so that which path a folder reached twice is listed under does not depend on the file system
    for (const e of entries.sort((a, b) => compareCodeUnits(a.name, b.name))) {
      if (e.name.startsWith('.')) continue;
      const path = join(dir, e.name);
      // datasets are often folders of symlinks: follow them (a broken link is skipped)
      const st = e.isSymbolicLink() ? await fsp.stat(path).catch(() => null) : e;
      if (st?.isDirectory()) await walk(path);
      else if (st?.isFile() && EXTENSIONS.has(e.name.split('.').pop()!.toLowerCase())) out.push(relative(root, path).split(sep).join('/'));
    }
  };
  await walk(root);
  return out.sort(compareCodeUnits);
}

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "i/n" with 0 ≤ i < n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new InspectorError('bad-input', `--shard must be i/n with 0 ≤ i < n (e.g. 0/4), not "${text}".`);
  return { index, count };
}

/** The first `limit` images, then shard `index` of `count` contiguous slices (sizes differ by at most one). */
export function selectImages(all: string[], limit: number | undefined, shard: Shard | undefined): string[] {
  const limited = limit === undefined ? all : all.slice(0, limit);
  if (!shard) return limited;
  const start = Math.floor((shard.index * limited.length) / shard.count);
  const end = Math.floor(((shard.index + 1) * limited.length) / shard.count);
  return limited.slice(start, end);
}
