/**
 * Survey statistics: per head, mean and spread over images of per-image values (mean attention distance,
 * entropy), and per CNN layer the measured effective receptive field's sides (20/50/99 %), computed from the per-image records in one fixed order (sorted by image path, two passes in
 * double precision), so that shards merged afterwards give the very same numbers as one run, bit for bit.
 */

/** One image's values: per layer and head, [layers * heads] row-major. */
export interface ImageRecord {
  image: string; // path relative to the images folder, '/'-separated
  layers: number;
  heads: number;
  distance: number[]; // mean attention distance, input pixels
  entropy: number[]; // mean row entropy, nats
  /** The CNN's measured ERF per reported layer: [side at 20 %, 50 %, 99 %] in input pixels (absent with --cnn none). */
  cnnErf?: number[][];
}

export interface FailedRecord {
  image: string;
  error: string;
}

export type SurveyRecord = ImageRecord | FailedRecord;

export interface HeadStat {
  mean: number[][]; // [layer][head]
  std: number[][]; // sample standard deviation (n − 1); 0 for n = 1
  n: number;
}

/** How the CNN's ERF was measured: recorded in survey.json (a resumed or merged survey must match) and summary.json. */
export interface CnnErfProtocol {
  model: string; // the CNN's file or folder name
  sha256: string;
  cellPx: number; // side of the perturbed cells
  delta: number; // added to all channels of a cell, normalised units
  unit: string;
  fractions: number[]; // ERF_FRACTIONS
}

/** Per CNN layer (depth 1 … layers), each side's mean and sample standard deviation over the images, in pixels. */
export interface CnnErfStat {
  protocol: CnnErfProtocol;
  layers: number;
  n: number;
  /** Keyed by fraction ("0.2", "0.5", "0.99"): [layer] values. */
  mean: Record<string, number[]>;
  std: Record<string, number[]>;
}

export interface SurveySummary {
  model: string;
  images: number; // images with values
  failed: number;
  layers: number;
  heads: number;
  distance: HeadStat;
  entropy: HeadStat;
  /** Present where the survey measured the CNN's ERF. */
  cnnErf?: CnnErfStat;
}

export function isFailed(r: SurveyRecord): r is FailedRecord {
  return 'error' in r;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The records with one entry per image, sorted by path. An image met twice (a shard run twice, overlapping
 * shards) keeps its first record with values; differing values for one image are an error, since the merged
 * numbers would then depend on which copy was read first.
 */
export function uniqueSorted(records: SurveyRecord[]): SurveyRecord[] {
  const byImage = new Map<string, SurveyRecord>();
  for (const r of records) {
    const seen = byImage.get(r.image);
    if (!seen || (isFailed(seen) && !isFailed(r))) byImage.set(r.image, r);
    else if (!isFailed(seen) && !isFailed(r) && (differ(seen.distance, r.distance) || differ(seen.entropy, r.entropy) || differ((seen.cnnErf ?? []).flat(), (r.cnnErf ?? []).flat()))) {
      throw new Error(`${r.image} has two different results; were the shards run with different models?`);
    }
  }
  return [...byImage.values()].sort((a, b) => compare(a.image, b.image));
}

function differ(a: number[], b: number[]): boolean {
  return a.length !== b.length || a.some((v, i) => v !== b[i]);
}

/** `cnn`: the protocol of the CNN's ERF where the survey measured it (every record with values must then carry it). */
export function summarise(model: string, records: SurveyRecord[], cnn?: CnnErfProtocol): SurveySummary {
  const sorted = uniqueSorted(records);
  const ok = sorted.filter((r): r is ImageRecord => !isFailed(r));
  const layers = ok[0]?.layers ?? 0;
  const heads = ok[0]?.heads ?? 0;
  for (const r of ok) {
    if (r.layers !== layers || r.heads !== heads || r.distance.length !== layers * heads || r.entropy.length !== layers * heads) {
      throw new Error(`${r.image} has ${r.layers}×${r.heads} heads where the others have ${layers}×${heads}`);
    }
  }
  return {
    model, images: ok.length, failed: sorted.length - ok.length, layers, heads,
    distance: stat(ok.map((r) => r.distance), layers, heads),
    entropy: stat(ok.map((r) => r.entropy), layers, heads),
    ...(cnn ? { cnnErf: cnnStat(ok, cnn) } : {}),
  };
}

/** Per layer and fraction: the same two-pass mean and standard deviation, in path order. */
function cnnStat(ok: ImageRecord[], protocol: CnnErfProtocol): CnnErfStat {
  const layers = ok[0]?.cnnErf?.length ?? 0;
  const k = protocol.fractions.length;
  for (const r of ok) {
    if (!r.cnnErf || r.cnnErf.length !== layers || r.cnnErf.some((s) => s.length !== k)) {
      throw new Error(`${r.image} has no CNN receptive field of ${layers} layers × ${k} sides where the others have`);
    }
  }
  const mean: Record<string, number[]> = {};
  const std: Record<string, number[]> = {};
  protocol.fractions.forEach((f, j) => {
    // layers × 1 "heads": stat() sums in the records' order, as for the ViT's values
    const s = stat(ok.map((r) => r.cnnErf!.map((sides) => sides[j])), layers, 1);
    mean[String(f)] = s.mean.map((row) => row[0]);
    std[String(f)] = s.std.map((row) => row[0]);
  });
  return { protocol, layers, n: ok.length, mean, std };
}

/** Mean and sample standard deviation per head, summing in the order given. */
function stat(values: number[][], layers: number, heads: number): HeadStat {
  const n = values.length;
  const mean: number[][] = [];
  const std: number[][] = [];
  for (let l = 0; l < layers; l++) {
    mean.push([]);
    std.push([]);
    for (let h = 0; h < heads; h++) {
      const i = l * heads + h;
      let sum = 0;
      for (const v of values) sum += v[i];
      const m = n ? sum / n : 0;
      let sq = 0;
      for (const v of values) sq += (v[i] - m) * (v[i] - m);
      mean[l].push(m);
      std[l].push(n > 1 ? Math.sqrt(sq / (n - 1)) : 0);
    }
  }
  return { mean, std, n };
}
