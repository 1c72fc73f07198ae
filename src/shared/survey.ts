/**
 * Survey statistics: per head, mean and spread over images of per-image values (mean attention distance,
 * entropy), computed from the per-image records in one fixed order (sorted by image path, two passes in
 * double precision), so that shards merged afterwards give the very same numbers as one run, bit for bit.
 */

/** One image's values: per layer and head, [layers * heads] row-major. */
export interface ImageRecord {
  image: string; // path relative to the images folder, '/'-separated
  layers: number;
  heads: number;
  distance: number[]; // mean attention distance, input pixels
  entropy: number[]; // mean row entropy, nats
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

export interface SurveySummary {
  model: string;
  images: number; // images with values
  failed: number;
  layers: number;
  heads: number;
  distance: HeadStat;
  entropy: HeadStat;
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
    else if (!isFailed(seen) && !isFailed(r) && (seen.distance.some((v, i) => v !== r.distance[i]) || seen.entropy.some((v, i) => v !== r.entropy[i]))) {
      throw new Error(`${r.image} has two different results; were the shards run with different models?`);
    }
  }
  return [...byImage.values()].sort((a, b) => compare(a.image, b.image));
}

export function summarise(model: string, records: SurveyRecord[]): SurveySummary {
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
  };
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
