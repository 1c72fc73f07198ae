/**
 * Seeded, deterministic mutations of file bytes for fuzz tests: the same seed always gives the same bytes,
 * so a failing case is reproduced from its printed seed alone.
 */

/** mulberry32: a small, fast 32-bit PRNG; next() is uniform in [0, 1). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length)];
  }
}

export type MutationKind = 'bitflip' | 'truncate' | 'shuffle' | 'overwrite' | 'duplicate';
export const MUTATION_KINDS: readonly MutationKind[] = ['bitflip', 'truncate', 'shuffle', 'overwrite', 'duplicate'];

export interface Mutation {
  kind: MutationKind;
  bytes: Uint8Array;
  /** What was done, for the failure message. */
  detail: string;
}

/**
 * One mutation of `input` (never modified), chosen and placed by `rng`:
 * - bitflip: 1 to 16 random bits flipped
 * - truncate: cut at a random length (0 to length - 1)
 * - shuffle: 2 to 8 random pairs of bytes swapped, or two blocks of up to 256 bytes swapped
 * - overwrite: a block of up to 64 bytes set to random values or to 0x00 / 0xff
 * - duplicate: a block of up to 512 bytes repeated in place (shifts everything after it)
 */
export function mutate(input: Uint8Array, rng: Rng, kind: MutationKind = rng.pick(MUTATION_KINDS)): Mutation {
  const n = input.length;
  const b = Uint8Array.from(input);
  switch (kind) {
    case 'bitflip': {
      const flips = rng.int(1, 17);
      const at: number[] = [];
      for (let i = 0; i < flips; i++) {
        const o = rng.int(0, n);
        b[o] ^= 1 << rng.int(0, 8);
        at.push(o);
      }
      return { kind, bytes: b, detail: `flipped bits at ${at.slice(0, 6).join(', ')}${at.length > 6 ? ', …' : ''}` };
    }
    case 'truncate': {
      const len = rng.int(0, n);
      return { kind, bytes: b.subarray(0, len), detail: `cut to ${len} of ${n} bytes` };
    }
    case 'shuffle': {
      if (rng.next() < 0.5) {
        const pairs = rng.int(2, 9);
        for (let i = 0; i < pairs; i++) {
          const x = rng.int(0, n);
          const y = rng.int(0, n);
          [b[x], b[y]] = [b[y], b[x]];
        }
        return { kind, bytes: b, detail: `${pairs} byte pairs swapped` };
      }
      const len = rng.int(1, Math.min(256, Math.floor(n / 2)) + 1);
      const x = rng.int(0, n - 2 * len + 1);
      const y = rng.int(x + len, n - len + 1);
      const tmp = b.slice(x, x + len);
      b.copyWithin(x, y, y + len);
      b.set(tmp, y);
      return { kind, bytes: b, detail: `blocks of ${len} bytes at ${x} and ${y} swapped` };
    }
    case 'overwrite': {
      const len = rng.int(1, Math.min(64, n) + 1);
      const o = rng.int(0, n - len + 1);
      const mode = rng.int(0, 3);
      for (let i = o; i < o + len; i++) b[i] = mode === 0 ? rng.int(0, 256) : mode === 1 ? 0 : 0xff;
      return { kind, bytes: b, detail: `${len} bytes at ${o} set to ${['random', '0x00', '0xff'][mode]}` };
    }
    case 'duplicate': {
      const len = rng.int(1, Math.min(512, n) + 1);
      const o = rng.int(0, n - len + 1);
      const out = new Uint8Array(n + len);
      out.set(b.subarray(0, o + len));
      out.set(b.subarray(o), o + len);
      return { kind, bytes: out, detail: `${len} bytes at ${o} repeated` };
    }
  }
}
