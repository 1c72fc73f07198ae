/** Order statistics and interleaved A/B timing for the benchmarks. */

export interface Summary {
  n: number;
  median: number;
  p25: number;
  p75: number;
  p95: number;
  min: number;
  max: number;
}

/** Linear-interpolated quantile of sorted values (q in 0..1). */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), p25: quantile(s, 0.25), p75: quantile(s, 0.75), p95: quantile(s, 0.95), min: s[0], max: s[s.length - 1] };
}

export type Timed = () => Promise<unknown> | unknown;

export interface Interleaved {
  /** Per-variant wall times in ms, one per round. */
  times: Record<string, Summary>;
  /** Per-round ratios variant / baseline (the first variant), each round's variants run back to back. */
  ratios: Record<string, Summary>;
  rounds: number;
}

/**
 * Runs every variant once per round, back to back, in an order that rotates each round (so no variant
 * always runs first or right after the same neighbour), and computes each round's ratio to the first
 * variant. Machine noise that lasts longer than one round cancels in the ratio. `gapMs`: an untimed pause
 * before each run, so that thread pools still spinning after the previous variant's run (onnxruntime's
 * intra-op workers spin for tens of ms after a run) do not compete with the next one for the cores.
 */
export async function interleave(variants: Record<string, Timed>, rounds: number, warmup = 2, gapMs = 0): Promise<Interleaved> {
  const names = Object.keys(variants);
  const base = names[0];
  const raw: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let w = 0; w < warmup; w++) for (const n of names) await variants[n]();
  for (let r = 0; r < rounds; r++) {
    const order = rotate(names, r);
    for (const n of order) {
      if (gapMs > 0) await sleep(gapMs);
      const t0 = performance.now();
      await variants[n]();
      raw[n].push(performance.now() - t0);
    }
  }
  const times = Object.fromEntries(names.map((n) => [n, summarize(raw[n])]));
  const ratios = Object.fromEntries(names.slice(1).map((n) => [n, summarize(raw[n].map((t, i) => t / raw[base][i]))]));
  return { times, ratios, rounds };
}

/** Same as interleave, but each variant reports its own duration (ms), e.g. timed inside another process. */
export async function interleaveMeasured(variants: Record<string, () => Promise<number>>, rounds: number, warmup = 2, gapMs = 0): Promise<Interleaved> {
  const names = Object.keys(variants);
  const base = names[0];
  const raw: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let w = 0; w < warmup; w++) for (const n of names) await variants[n]();
  for (let r = 0; r < rounds; r++) {
    for (const n of rotate(names, r)) {
      if (gapMs > 0) await sleep(gapMs);
      raw[n].push(await variants[n]());
    }
  }
  const times = Object.fromEntries(names.map((n) => [n, summarize(raw[n])]));
  const ratios = Object.fromEntries(names.slice(1).map((n) => [n, summarize(raw[n].map((t, i) => t / raw[base][i]))]));
  return { times, ratios, rounds };
}

/**
 * Round r: the list rotated by ⌊r/2⌋ and reversed on odd rounds, so every variant runs first and last
 * equally often and follows different neighbours (two variants: A B, B A, B A, A B, ...).
 */
export function rotate<T>(xs: T[], r: number): T[] {
  const k = Math.floor(r / 2) % xs.length;
  const rot = [...xs.slice(k), ...xs.slice(0, k)];
  return r % 2 === 1 ? rot.reverse() : rot;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function fmt(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

/** "12.3 ms (IQR 12.0–12.9, min–max 11.8–14.0, n 30)" */
export function describeMs(s: Summary, digits = 1): string {
  return `${fmt(s.median, digits)} ms (IQR ${fmt(s.p25, digits)}–${fmt(s.p75, digits)}, min–max ${fmt(s.min, digits)}–${fmt(s.max, digits)}, n ${s.n})`;
}

export function describeRatio(s: Summary): string {
  return `${fmt(s.median, 3)}× (IQR ${fmt(s.p25, 3)}–${fmt(s.p75, 3)}, min–max ${fmt(s.min, 3)}–${fmt(s.max, 3)}, n ${s.n})`;
}
