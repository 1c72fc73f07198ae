/**
 * vit-inspector survey: the ViT paper's figure 7 over a folder. Per head, mean attention distance and
 * entropy over the images (mean, standard deviation, n), and per CNN layer the measured effective receptive
 * field (--cnn, default the embedded CNN); --shard for a slice, `survey merge` to combine.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultModels } from '../node/defaults';
import { parseShard } from '../node/survey/files';
import { SURVEY_CNN_CELL_PX } from '../node/survey/cnnErf';
import { mergeSurveys, runSurvey, SUMMARY, type SurveyProgress } from '../node/survey/run';
import { InspectorError } from '../shared/errors';
import { intFlag, optional, parseFlags, required } from './args';

export const usage = `vit-inspector survey [--model MODEL] --images DIR --out DIR [--limit N] [--shard i/n] [--jobs J] [--threads T] [--cnn CNN|none] [--cnn-cell PX] [--batch B]
  vit-inspector survey merge SURVEY_DIR… --out DIR`;

export async function surveyCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'merge') return merge(argv.slice(1));
  const { values } = parseFlags(argv, {
    model: { type: 'string' }, images: { type: 'string' }, out: { type: 'string' }, limit: { type: 'string' }, shard: { type: 'string' },
    jobs: { type: 'string' }, threads: { type: 'string' }, 'max-model-mb': { type: 'string' },
    cnn: { type: 'string' }, 'cnn-cell': { type: 'string' }, batch: { type: 'string' },
  });
  const cnnFlag = optional(values, 'cnn');
  const shardText = optional(values, 'shard');
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  const bar = progressBar();
  try {
    const { summary, progress } = await runSurvey({
      modelPath: resolve(optional(values, 'model') ?? defaultModels().vit),
      cnn: cnnFlag === 'none' ? undefined : {
        modelPath: resolve(cnnFlag ?? defaultModels().cnn),
        cellPx: intFlag(values, 'cnn-cell', SURVEY_CNN_CELL_PX, 1),
        batchSize: values.batch === undefined ? undefined : intFlag(values, 'batch', 32, 1),
      },
      imagesDir: resolve(required(values, 'images')),
      outDir: resolve(required(values, 'out')),
      limit: values.limit === undefined ? undefined : intFlag(values, 'limit', 0, 1),
      shard: shardText === undefined ? undefined : parseShard(shardText),
      jobs: intFlag(values, 'jobs', availableParallelism(), 1),
      threads: values.threads === undefined ? undefined : intFlag(values, 'threads', 1, 1),
      maxModelMB: intFlag(values, 'max-model-mb', 2048, 1),
      workerPath: join(__dirname, 'worker.js'),
      signal: controller.signal,
      onProgress: bar.update,
      log: process.env.VIT_INSPECTOR_DEBUG ? (l) => process.stderr.write(`${l}\n`) : undefined,
    });
    bar.finish();
    const fresh = progress.done - progress.resumed;
    const speed = fresh > 0 ? `, ${fresh} new in ${(progress.elapsedMs / 1000).toFixed(1)} s (${(fresh / (progress.elapsedMs / 1000)).toFixed(2)} images/s)` : '';
    process.stdout.write(`${summary.images} images surveyed (${summary.failed} failed${progress.resumed ? `, ${progress.resumed} from an earlier run` : ''}${speed}) — wrote ${join(resolve(required(values, 'out')), SUMMARY)}\n`);
    return 0;
  } catch (e) {
    bar.finish();
    if (e instanceof InspectorError && e.code === 'cancelled') {
      process.stderr.write(`vit-inspector: ${e.message}\n`);
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

async function merge(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { out: { type: 'string' } }, true);
  const out = resolve(required(values, 'out'));
  const summary = await mergeSurveys(positionals.map((p) => resolve(p)), out);
  process.stdout.write(`${positionals.length} surveys merged: ${summary.images} images (${summary.failed} failed) — wrote ${join(out, SUMMARY)}\n`);
  return 0;
}

/** A one-line bar redrawn on a terminal; elsewhere (logs of a cluster job) a line about every 10%. */
function progressBar() {
  const tty = process.stderr.isTTY === true;
  let lastDecile = -1;
  let drawn = false;
  return {
    update(p: SurveyProgress) {
      const share = p.total ? p.done / p.total : 1;
      const width = 30;
      const filled = Math.round(share * width);
      const eta = p.etaMs === null ? '--' : duration(p.etaMs);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} images${p.failed ? ` (${p.failed} failed)` : ''}  ${p.rate.toFixed(2)} img/s  ETA ${eta}`;
      if (tty) {
        process.stderr.write(`\r${line}\u001b[K`);
        drawn = true;
      } else if (Math.floor(share * 10) > lastDecile) {
        lastDecile = Math.floor(share * 10);
        process.stderr.write(`${line}\n`);
      }
    },
    finish() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
