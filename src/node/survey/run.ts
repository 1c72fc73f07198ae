/**
 * A survey: every image of a folder (or one shard of it) through the ViT, in `jobs` supervised inference
 * processes at once, each image's per-head values appended to results.jsonl as soon as it is done. A run
 * that was stopped (killed, cancelled, the machine lost) resumes where it stopped: images already in
 * results.jsonl are not run again. summary.json and summary.csv are computed from results.jsonl alone
 * (src/shared/survey.ts), which is what makes merged shards equal one run.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { InspectorError, isInspectorError, type ErrorCode } from '../../shared/errors';
import { IMAGE_EXTENSIONS } from '../../shared/imageFormats';
import { isFailed, summarise, uniqueSorted, type CnnErfProtocol, type SurveyRecord, type SurveySummary } from '../../shared/survey';
import { CNN_ERF_DELTA, CNN_ERF_UNIT, ERF_FRACTIONS, SURVEY_CNN_CELL_PX } from './cnnErf';
import { InferenceClient } from '../inferenceClient';
import { listImages, selectImages, type Shard } from './files';

export const RESULTS = 'results.jsonl';
export const MANIFEST = 'survey.json';
export const SUMMARY = 'summary.json';
export const SUMMARY_CSV = 'summary.csv';
export const SUMMARY_CNN_CSV = 'summary-cnn.csv';

export interface SurveyOptions {
  modelPath: string;
  /** The CNN whose measured ERF is surveyed beside the ViT (absent: none). */
  cnn?: { modelPath: string; cellPx?: number; batchSize?: number };
  imagesDir: string;
  outDir: string;
  limit?: number;
  shard?: Shard;
  jobs?: number; // inference processes; default: the core count
  threads?: number; // onnxruntime threads per process; default: cores / jobs
  maxModelMB?: number;
  workerPath: string; // dist/worker.js
  signal?: AbortSignal;
  onProgress?: (p: SurveyProgress) => void;
  log?: (line: string) => void;
}

export interface SurveyProgress {
  total: number; // images in this run's selection
  done: number; // with a record (including those found from an earlier run)
  failed: number;
  resumed: number; // records found from an earlier run
  elapsedMs: number;
  /** Images per second over this run's new images; 0 before the first. */
  rate: number;
  etaMs: number | null;
  last?: string;
}

export interface Manifest {
  version: 1;
  model: { name: string; sha256: string };
  images: string;
  limit: number | null;
  shard: Shard | null;
  total: number;
  /** The CNN's ERF protocol; null (or absent, in surveys made before it existed) without one. */
  cnn?: CnnErfProtocol | null;
}

/** Failures that concern the model, not one image: the whole survey stops on these. */
const FATAL: ErrorCode[] = ['not-onnx', 'truncated-model', 'not-a-vit', 'fused-attention', 'unsupported-model', 'external-data', 'model-too-large', 'bad-config', 'cancelled'];

export async function runSurvey(opts: SurveyOptions): Promise<{ summary: SurveySummary; progress: SurveyProgress }> {
  const started = performance.now();
  const imagesDir = resolve(opts.imagesDir);
  const all = await listImages(imagesDir);
  if (all.length === 0) throw new InspectorError('bad-input', `${imagesDir} has no images (${IMAGE_EXTENSIONS.join(', ')}), in it or in its subfolders. Choose a folder of images.`);
  const selected = selectImages(all, opts.limit, opts.shard);
  const manifest: Manifest = {
    version: 1,
    model: { name: basename(resolve(opts.modelPath)), sha256: await modelHash(opts.modelPath) },
    images: imagesDir,
    limit: opts.limit ?? null,
    shard: opts.shard ?? null,
    total: selected.length,
    cnn: opts.cnn ? await cnnProtocol(opts.cnn.modelPath, opts.cnn.cellPx ?? SURVEY_CNN_CELL_PX) : null,
  };
  const cnnRequest = opts.cnn && manifest.cnn ? { modelPath: opts.cnn.modelPath, cellPx: manifest.cnn.cellPx, batchSize: opts.cnn.batchSize } : undefined;
  await fsp.mkdir(opts.outDir, { recursive: true });
  await checkManifest(opts.outDir, manifest);
  const wanted = new Set(selected);
  const records = (await readResults(opts.outDir, true)).filter((r) => wanted.has(r.image));
  const done = new Set(records.map((r) => r.image));
  const todo = selected.filter((i) => !done.has(i));
  const progress: SurveyProgress = { total: selected.length, done: done.size, failed: records.filter(isFailed).length, resumed: done.size, elapsedMs: 0, rate: 0, etaMs: null };
  opts.onProgress?.({ ...progress });

  const cores = availableParallelism();
  const jobs = Math.max(1, Math.min(opts.jobs ?? cores, todo.length || 1));
  const threads = opts.threads ?? Math.max(1, Math.floor(cores / jobs));
  const clients = Array.from({ length: jobs }, () => new InferenceClient({ workerPath: opts.workerPath, log: opts.log }));
  const out = await fsp.open(join(opts.outDir, RESULTS), 'a');
  let writing = Promise.resolve();
  const append = (r: SurveyRecord) => (writing = writing.then(() => out.write(`${JSON.stringify(r)}\n`).then(() => undefined)));
  let next = 0;
  let fresh = 0;
  let fatal: unknown;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const worker = async (client: InferenceClient) => {
    while (!stop.signal.aborted && next < todo.length) {
      const image = todo[next++];
      let record: SurveyRecord;
      try {
        const stats = await withRetry(() => client.headStats({ modelPath: opts.modelPath, image: join(imagesDir, image), topK: 1, threads, maxModelMB: opts.maxModelMB }, { signal: stop.signal, cnn: cnnRequest }));
        record = { image, ...stats };
      } catch (e) {
        if (stop.signal.aborted) return;
        if (!isInspectorError(e) || FATAL.includes(e.code)) {
          fatal ??= e;
          stop.abort();
          return;
        }
        record = { image, error: e.message };
        progress.failed++;
      }
      records.push(record);
      await append(record);
      fresh++;
      progress.done++;
      progress.elapsedMs = performance.now() - started;
      progress.rate = fresh / (progress.elapsedMs / 1000);
      progress.etaMs = progress.rate > 0 ? ((progress.total - progress.done) / progress.rate) * 1000 : null;
      progress.last = image;
      opts.onProgress?.({ ...progress });
    }
  };
  try {
    await Promise.all(clients.map(worker));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await writing.catch(() => undefined);
    await out.close();
    for (const c of clients) c.dispose();
  }
  if (fatal) throw fatal;
  if (opts.signal?.aborted) {
    throw new InspectorError('cancelled', `Stopped after ${progress.done} of ${progress.total} images; run the same survey again to resume.`);
  }
  const summary = summarise(manifest.model.name, records, manifest.cnn ?? undefined);
  await writeSummary(opts.outDir, summary);
  progress.elapsedMs = performance.now() - started;
  return { summary, progress };
}

/** A crashed inference process restarts on the next request: one more try before the image counts as failed. */
async function withRetry<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isInspectorError(e) && e.code === 'worker-crashed') return f();
    throw e;
  }
}

/**
 * Shard results combined: the union of their records (one per image), summarised exactly as one run would
 * be. All shards must come from the same model file (by SHA-256).
 */
export async function mergeSurveys(dirs: string[], outDir: string): Promise<SurveySummary> {
  if (dirs.length === 0) throw new InspectorError('bad-input', 'survey merge needs at least one survey folder. Run vit-inspector --help.');
  // Writing into a shard's own folder would replace its manifest, and that shard could no longer be resumed.
  if (dirs.some((d) => resolve(d) === resolve(outDir))) throw new InspectorError('bad-input', `--out ${outDir} is one of the folders being merged; choose a new folder.`);
  const manifests = await Promise.all(dirs.map(readManifest));
  const models = new Set(manifests.map((m) => m.model.sha256));
  if (models.size > 1) throw new InspectorError('bad-input', `The surveys were made with different models (${[...new Set(manifests.map((m) => m.model.name))].join(', ')}); merge only shards of one survey.`);
  const cnns = new Set(manifests.map((m) => JSON.stringify(m.cnn ?? null)));
  if (cnns.size > 1) throw new InspectorError('bad-input', 'The surveys measured the CNN\'s receptive field differently (another CNN, cell size, or none); merge only shards of one survey.');
  const cnn = manifests[0].cnn ?? undefined;
  const all: SurveyRecord[] = [];
  for (const d of dirs) all.push(...(await readResults(d, false)));
  let records: SurveyRecord[];
  try {
    records = uniqueSorted(all);
  } catch (e) {
    throw new InspectorError('bad-input', `${(e as Error).message}`);
  }
  await fsp.mkdir(outDir, { recursive: true });
  await fsp.writeFile(join(outDir, RESULTS), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const merged = { version: 1, model: manifests[0].model, cnn: cnn ?? null, merged: dirs.map((d) => resolve(d)), shards: manifests.map((m) => m.shard), total: records.length };
  await fsp.writeFile(join(outDir, MANIFEST), `${JSON.stringify(merged, null, 2)}\n`);
  let summary: SurveySummary;
  try {
    summary = summarise(manifests[0].model.name, records, cnn);
  } catch (e) {
    throw new InspectorError('bad-input', `${(e as Error).message}; merge only shards of one survey.`);
  }
  await writeSummary(outDir, summary);
  return summary;
}

async function writeSummary(dir: string, summary: SurveySummary): Promise<void> {
  await fsp.writeFile(join(dir, SUMMARY), `${JSON.stringify(summary, null, 2)}\n`);
  const rows = ['layer,head,n,distance_mean,distance_std,entropy_mean,entropy_std'];
  for (let l = 0; l < summary.layers; l++) {
    for (let h = 0; h < summary.heads; h++) {
      rows.push([l, h, summary.distance.n, summary.distance.mean[l][h], summary.distance.std[l][h], summary.entropy.mean[l][h], summary.entropy.std[l][h]].join(','));
    }
  }
  await fsp.writeFile(join(dir, SUMMARY_CSV), `${rows.join('\n')}\n`);
  const c = summary.cnnErf;
  if (!c) return;
  const fs = c.protocol.fractions.map(String);
  const cnnRows = [['depth', 'n', ...fs.flatMap((f) => [`erf${Math.round(Number(f) * 100)}_mean`, `erf${Math.round(Number(f) * 100)}_std`])].join(',')];
  for (let l = 0; l < c.layers; l++) cnnRows.push([l + 1, c.n, ...fs.flatMap((f) => [c.mean[f][l], c.std[f][l]])].join(','));
  await fsp.writeFile(join(dir, SUMMARY_CNN_CSV), `${cnnRows.join('\n')}\n`);
}

async function cnnProtocol(modelPath: string, cellPx: number): Promise<CnnErfProtocol> {
  if (!Number.isInteger(cellPx) || cellPx < 1) throw new InspectorError('bad-input', `The CNN's cell size must be a whole number of pixels ≥ 1 (got ${cellPx}).`);
  return {
    model: basename(resolve(modelPath)), sha256: await modelHash(modelPath, 'the CNN (--cnn)'), cellPx, delta: CNN_ERF_DELTA,
    unit: CNN_ERF_UNIT, fractions: [...ERF_FRACTIONS],
  };
}

/**
 * Records of results.jsonl. A run killed mid-write leaves a cut last line: it is dropped (the image runs
 * again) and, with `repair`, the file is rewritten without it before anything is appended.
 */
export async function readResults(dir: string, repair: boolean): Promise<SurveyRecord[]> {
  const file = join(dir, RESULTS);
  if (!existsSync(file)) {
    if (repair) return [];
    throw new InspectorError('file-not-found', `${dir} has no ${RESULTS}: is it a survey's output folder?`);
  }
  const text = await fsp.readFile(file, 'utf8');
  const records: SurveyRecord[] = [];
  let bad = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const r = JSON.parse(line) as SurveyRecord;
      if (typeof r.image !== 'string' || (!isFailed(r) && !(Array.isArray(r.distance) && Array.isArray(r.entropy)))) throw new Error('not a record');
      records.push(r);
    } catch {
      bad++;
    }
  }
  if (bad > 0 && repair) await fsp.writeFile(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  else if (repair && text.length > 0 && !text.endsWith('\n')) await fsp.appendFile(file, '\n');
  return records;
}

async function readManifest(dir: string): Promise<Manifest> {
  try {
    return JSON.parse(await fsp.readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    throw new InspectorError('file-not-found', `${dir} has no readable ${MANIFEST}: give survey merge the --out folders of survey runs.`);
  }
}

/** A folder holding another survey (another model, folder, limit or shard) is not resumed into. */
async function checkManifest(dir: string, m: Manifest): Promise<void> {
  const file = join(dir, MANIFEST);
  if (existsSync(file)) {
    const old = await readManifest(dir);
    const same = old.model?.sha256 === m.model.sha256 && old.limit === m.limit && JSON.stringify(old.shard) === JSON.stringify(m.shard)
      && JSON.stringify(old.cnn ?? null) === JSON.stringify(m.cnn ?? null);
    const cnn = old.cnn ? `${old.cnn.model} at ${old.cnn.cellPx} px cells` : 'none';
    if (!same) throw new InspectorError('bad-input', `${dir} holds another survey (model ${old.model?.name}, CNN ${cnn}, shard ${old.shard ? `${old.shard.index}/${old.shard.count}` : 'none'}, limit ${old.limit ?? 'none'}). Choose another --out folder.`);
  }
  await fsp.writeFile(file, `${JSON.stringify(m, null, 2)}\n`);
}

/** SHA-256 over the model's files: the .onnx and, for a folder, its configs (preprocessing changes the values too). */
async function modelHash(modelPath: string, what = '--model'): Promise<string> {
  const path = resolve(modelPath);
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new InspectorError('file-not-found', `${path} does not exist. Give ${what} an .onnx file or a model folder.`);
  const files = st.isDirectory()
    ? ['model.onnx', join('onnx', 'model.onnx'), 'config.json', 'preprocessor_config.json'].map((f) => join(path, f)).filter((f) => existsSync(f))
    : [path];
  const hash = createHash('sha256');
  for (const f of files) {
    hash.update(`${basename(f)}\u0000`);
    for await (const chunk of createReadStream(f)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
