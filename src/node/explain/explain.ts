/**
 * `explain`: for a ViT (and optionally a CNN), the class-specific map by forward passes, the faithfulness
 * (deletion and insertion) of every map shown, and the measured effective receptive field. Runs in the CLI's
 * process or in the inference child process (worker.ts); cancellable between onnxruntime runs.
 */
import { rollout, rolloutRow } from '../../shared/analytics';
import { InspectorError } from '../../shared/errors';
import { FILL, FILL_MEANING, PROTOCOL_TEXT, randomMap } from '../../shared/faithfulness';
import type { ExplainRequest, Explanation, FaithfulnessScore, ModelExplanation } from '../../shared/explainTypes';
import { topK } from '../attentionRun';
import { loadImage } from '../imageLoad';
import { toInputTensor } from '../preprocess';
import { cnnErf, vitErf } from './erf';
import { faithfulness } from './faithfulness';
import { makeGrid, type Grid } from './grid';
import { inputTensor, loadExplainModel, openCnn, openVit, runOrExplain, unmaskedFeeds, type ExplainModel, type LoadedForExplain, type VitModel } from './model';
import { DEFAULT_PASSES, riseMap, tisMap } from './saliency';

export type { ExplainRequest, Explanation, FaithfulnessBlock, ModelExplanation } from '../../shared/explainTypes';

export type ExplainProgress = (message: string, fraction?: number) => void;

const RANDOM_SEED = 13;

/** Default step: ⌈n / 64⌉ patches, so at most 65 points per curve (1 for the default 8×8 grid, 4 for ViT-B/16's 14×14). */
export function defaultStep(cells: number): number {
  return Math.max(1, Math.ceil(cells / 64));
}

export async function explain(req: ExplainRequest, progress: ExplainProgress = () => undefined, signal?: AbortSignal): Promise<Explanation> {
  const erf = req.erf !== false;
  progress('Loading the ViT…');
  const vitLoaded = await loadExplainModel(req.modelPath, req.maxModelMB);
  const vitImage = await imageTensor(vitLoaded, req.image);
  const vit = await openVit(vitLoaded, vitImage, req.threads ?? 0);
  const [rows, cols] = vit.layout.grid;
  const grid = makeGrid(vit.layout.inputSize, rows, cols);
  let vitResult: ModelExplanation;
  try {
    vitResult = await explainOne(vit, vitImage, grid, req, erf, progress, signal, 'ViT');
  } finally {
    await vit.session.release();
  }
  let cnnResult: ModelExplanation | null = null;
  if (req.cnnPath) {
    progress('Loading the CNN…');
    const cnnLoaded = await loadExplainModel(req.cnnPath, req.maxModelMB);
    const cnnImage = await imageTensor(cnnLoaded, req.image);
    const cnn = await openCnn(cnnLoaded, req.threads ?? 0);
    try {
      // The CNN's cells: the ViT's grid over the CNN's own input size, so that both maps cover the same regions.
      cnnResult = await explainOne(cnn, cnnImage, makeGrid(cnn.prep.size, rows, cols), req, erf, progress, signal, 'CNN');
    } finally {
      await cnn.session.release();
    }
  }
  return { vit: vitResult, cnn: cnnResult };
}

/** The image as the model's preprocessing makes it: NCHW float32. */
async function imageTensor(loaded: LoadedForExplain, image: string | Uint8Array): Promise<Float32Array> {
  const img = await loadImage(image, loaded.common.prep);
  return toInputTensor(img.model.rgb, img.model.height, img.model.width, loaded.common.prep);
}

async function explainOne(m: ExplainModel, image: Float32Array, grid: Grid, req: ExplainRequest, erf: boolean, progress: ExplainProgress, signal: AbortSignal | undefined, what: string): Promise<ModelExplanation> {
  const t0 = performance.now();
  const labels = m.source.labels;
  const logits = m.kind === 'vit' ? m.logits : await plainLogits(m, image);
  const classes = logits.length;
  const target = req.target ?? topK(logits, labels, 1)[0].index;
  if (!Number.isInteger(target) || target < 0 || target >= classes) {
    throw new InspectorError('bad-input', `Class ${target} is outside 0…${classes - 1} (${m.source.name} has ${classes} classes).`);
  }
  const opts = { batchSize: req.batchSize, signal };
  const passes = req.passes ?? DEFAULT_PASSES;
  const cells = grid.rows * grid.cols;
  const step = req.stepPatches ?? defaultStep(cells);
  const report = (stage: string) => (done: number, total: number) => progress(`${what}: ${stage} (${done}/${total} passes)`, done / total);

  const sampling = { ...opts, passes, seed: req.seed ?? 0, onPasses: report(m.kind === 'vit' ? 'token sampling' : 'RISE') };
  const cls = m.kind === 'vit' ? await tisMap(m, image, target, sampling) : await riseMap(m, image, grid, target, sampling);
  const tMap = performance.now();
  const maps: Record<string, Float32Array> = { classSpecific: cls.map };
  if (m.kind === 'vit') Object.assign(maps, attentionMaps(m));
  maps.random = randomMap(cells, RANDOM_SEED);
  const scores: Record<string, FaithfulnessScore> = {};
  for (const [name, map] of Object.entries(maps)) {
    if (req.scoreMaps && !req.scoreMaps.includes(name)) continue;
    scores[name] = await faithfulness(m, image, grid, map, step, target, { ...opts, onPasses: report(`deletion and insertion of ${name}`) });
  }
  const tFaith = performance.now();
  const erfReport = erf ? await (m.kind === 'vit' ? vitErf(m, image, { ...opts, onPasses: report('effective receptive field') }) : cnnErf(m, image, { ...opts, onPasses: report('effective receptive field') })) : null;
  const tErf = performance.now();
  return {
    model: m.source.name,
    kind: m.kind,
    method: m.kind === 'vit'
      ? 'Transformer Input Sampling (Englebert et al., ICCV-W 2023): random token subsets, left-out tokens masked with −∞ keys in every layer (and left out of a mean pool)'
      : 'RISE (Petsiuk et al., BMVC 2018) on the ViT’s patch grid: left-out cells set to the fill',
    passes: cls.passes,
    grid: [grid.rows, grid.cols],
    inputSize: m.prep.size,
    labels: Array.from({ length: classes }, (_, i) => labels?.[i] ?? `class ${i}`),
    cellPx: [grid.ys[1] - grid.ys[0], grid.xs[1] - grid.xs[0]],
    predictions: topK(logits, labels, 5),
    target,
    maps,
    faithfulness: {
      protocol: { stepPatches: step, fill: FILL, fillMeaning: FILL_MEANING, target, targetLabel: labels?.[target] ?? `class ${target}`, cells, grid: [grid.rows, grid.cols], ...PROTOCOL_TEXT },
      maps: scores,
    },
    erf: erfReport,
    timings: { classSpecific: tMap - t0, faithfulness: tFaith - tMap, erf: tErf - tFaith, total: tErf - t0 },
  };
}

async function plainLogits(m: ExplainModel, image: Float32Array): Promise<Float32Array> {
  const feeds = { ...(m.kind === 'vit' ? unmaskedFeeds(m) : {}), [m.inputName]: inputTensor(m, image, 1) };
  const out = await runOrExplain(m.session, feeds, [m.logitsName], m.source.name);
  return Float32Array.from(out[m.logitsName].data as Float32Array);
}

/** Raw last-layer CLS attention (mean over heads) and the CLS rollout, over the patch grid. Without a prefix token: the mean over all queries. */
function attentionMaps(m: VitModel): { attention: Float32Array; rollout: Float32Array } {
  const n = m.layout.tokens;
  const prefix = m.layout.prefixTokens.length;
  const layers = m.attention.length / (m.heads * n * n);
  const dims = { layers, heads: m.heads, tokens: n };
  const queries = prefix > 0 ? [0] : Array.from({ length: n }, (_, i) => i);
  const attention = new Float32Array(n - prefix);
  for (let h = 0; h < m.heads; h++) {
    for (const q of queries) {
      const row = (((layers - 1) * m.heads + h) * n + q) * n;
      for (let k = prefix; k < n; k++) attention[k - prefix] += m.attention[row + k] / (m.heads * queries.length);
    }
  }
  const opts = { fusion: 'mean' as const, discardRatio: 0 };
  let roll: Float32Array;
  if (prefix > 0) roll = rolloutRow(m.attention, dims, opts, 0).slice(prefix);
  else {
    const full = rollout(m.attention, dims, opts);
    roll = new Float32Array(n);
    for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) roll[k] += full[q * n + k] / n;
  }
  return { attention, rollout: roll };
}
