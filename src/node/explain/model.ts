/**
 * A model loaded for forward-pass explanations: one onnxruntime session that runs batches. For a ViT the
 * session carries the batched key mask (and the masked mean pool for average-pooled ViTs), and exposes the
 * attention and the candidate block outputs; for a CNN it exposes every reported layer's feature map.
 * The user's file is never written: all edits are in memory (onnx/tokenMask.ts, onnx/surgery.ts).
 */
import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { findAttention, type AttentionSite } from '../attention';
import { checkExternalData, isChannelsLast, parseSource, pickLogits, staticHW } from '../engine';
import { InspectorError } from '../../shared/errors';
import { ElemType, type OnnxModel } from '../../shared/graph';
import { tokenLayout } from '../layout';
import { resolveModelSource, type ModelSource } from '../modelSource';
import { constantOf, parseOnnx } from '../onnx/parse';
import { withExtraOutputs } from '../onnx/surgery';
import { findTokenPool, KEY_MASK_INPUT, POOL_SCALE_INPUT, POOL_WEIGHT_INPUT, withBatchedTokenMask, type TokenPool } from '../onnx/tokenMask';
import { preprocessingFrom, toChannelsLast } from '../preprocess';
import { receptiveFields, type RfLayer } from '../../shared/receptiveField';
import { createSession, elemName, firstLine, hasLocalFunctions, inlineLocalFunctions } from '../session';
import type { Preprocessing, TokenLayout } from '../../shared/types';

export interface RunOptions {
  /** Images per onnxruntime run where the model has a dynamic batch axis (1: one pass per run). */
  batchSize?: number;
  signal?: AbortSignal;
  /** Called after each run with (passes done, passes in all). */
  onPasses?: (done: number, total: number) => void;
}

interface Common {
  source: ModelSource;
  model: OnnxModel;
  prep: Preprocessing;
  inputName: string;
  logitsName: string;
  channelsLast: boolean;
  /** The input's batch axis is dynamic: passes can be batched. */
  batchable: boolean;
  session: ort.InferenceSession;
}

export interface VitModel extends Common {
  kind: 'vit';
  sites: AttentionSite[];
  layout: TokenLayout;
  heads: number;
  /** Attention laid out as [B, H, N, N] (4) or [B·H, N, N] (3): the key mask's shape follows it. */
  siteRank: 3 | 4;
  pool: TokenPool | null;
  /** Tokens averaged by the pool: the last `pooled` tokens. */
  pooled: number;
  /** Each block's output [1, N, D] (the residual stream after block ℓ), by layer; '' where none was found. */
  blockOutputs: string[];
  /** [layers, heads, N, N] attention of the unmasked image, from the first run. */
  attention: Float32Array;
  logits: Float32Array;
}

export interface CnnModel extends Common {
  kind: 'cnn';
  layers: RfLayer[];
}

export type ExplainModel = VitModel | CnnModel;

export interface LoadedForExplain {
  common: Omit<Common, 'session'>;
  sites: AttentionSite[];
  /** Why no attention was found (fused attention, …): openVit reports it. */
  sitesError?: unknown;
  modelDir: string;
}

/** Reads and parses the model (no session yet): its preprocessing is needed before the image is decoded. */
export async function loadExplainModel(path: string, maxModelMB = 2048): Promise<LoadedForExplain> {
  const source = await resolveModelSource(path, { maxModelMB, weightsByReference: true });
  let model = await parseSource(source);
  const modelDir = dirname(source.onnxPath);
  checkExternalData(model, modelDir, source.name, maxModelMB);
  if (hasLocalFunctions(model.bytes)) model = parseOnnx(await inlineLocalFunctions(model.bytes, source.name, modelDir), source.name);
  const input = model.graph.inputs[0];
  if (!input) throw new InspectorError('unsupported-model', `${source.name} has no input. Choose an image classification model.`);
  if (input.elemType !== ElemType.FLOAT) {
    throw new InspectorError('unsupported-model', `${source.name} takes ${elemName(input.elemType)} input; ViT Inspector feeds float32 pixels. Export the model with a float32 input.`);
  }
  let sites: AttentionSite[] = [];
  let sitesError: unknown;
  try {
    sites = findAttention(model);
  } catch (e) {
    sitesError = e; // a CNN has none; a ViT with fused attention says why in openVit
  }
  const { preprocessing: prep } = preprocessingFrom(source.preprocessorConfig, staticHW(input.dims), source.config);
  const batchDim = input.dims?.[0];
  const common = {
    source, model, prep, inputName: input.name, logitsName: pickLogits(model, sites), channelsLast: isChannelsLast(input.dims),
    batchable: batchDim === undefined || batchDim === null || typeof batchDim === 'string' || batchDim <= 0,
  };
  return { common, sites, sitesError, modelDir };
}

/** The ViT's session; `image` (the preprocessed NCHW tensor) is run once to learn the shapes and the attention. */
export async function openVit({ common, sites, sitesError, modelDir }: LoadedForExplain, image: Float32Array, threads = 0): Promise<VitModel> {
  if (sites.length === 0 && sitesError) throw sitesError;
  if (sites.length === 0) throw new InspectorError('not-a-vit', `${common.source.name} has no attention softmax. Choose a ViT image classifier for --model.`);
  const pool = findTokenPool(common.model, sites);
  const candidates = residualAdds(common.model, sites);
  const bytes = withBatchedTokenMask(common.model, sites, pool, [...sites.map((s) => s.probs), ...candidates, ...(pool ? [pool.input] : [])]);
  const session = await createSession(bytes, threads, common.source.name, modelDir);
  const siteRank = sites.every((s) => s.rank === 4) ? 4 : 3;
  const feeds: Record<string, ort.Tensor> = { ...unmaskedFeeds({ siteRank, pool }), [common.inputName]: inputTensor(common, image, 1) };
  const out = await runOrExplain(session, feeds, [common.logitsName, ...sites.map((s) => s.probs), ...candidates, ...(pool ? [pool.input] : [])], common.source.name)
    .catch(async (e) => {
      await session.release();
      throw e;
    });
  const d0 = out[sites[0].probs].dims;
  const tokens = d0[d0.length - 1];
  const heads = siteRank === 4 ? d0[1] : d0[0];
  const squares = sites.filter((s) => {
    const d = out[s.probs].dims;
    return d[d.length - 1] === tokens && d[d.length - 2] === tokens;
  });
  const attention = new Float32Array(squares.length * heads * tokens * tokens);
  squares.forEach((s, l) => attention.set(out[s.probs].data as Float32Array, l * heads * tokens * tokens));
  const { layout } = tokenLayout(common.model, { inputSize: common.prep.size, config: common.source.config ?? undefined, tokens });
  const blockOutputs = squares.map((s, l) => {
    const end = l + 1 < squares.length ? squares[l + 1].index : Infinity;
    const inBlock = candidates.filter((c) => {
      const node = common.model.graph.nodes.findIndex((n) => n.outputs[0] === c);
      const d = out[c]?.dims;
      return node > s.index && node < end && d?.length === 3 && d[1] === tokens && d[2] > 1;
    });
    return inBlock[inBlock.length - 1] ?? '';
  });
  return {
    ...common, kind: 'vit', session, sites: squares, layout, heads, siteRank, pool, pooled: pool ? out[pool.input].dims[1] : 0,
    blockOutputs, attention, logits: Float32Array.from(out[common.logitsName].data as Float32Array),
  };
}

export async function openCnn({ common, modelDir }: LoadedForExplain, threads = 0): Promise<CnnModel> {
  const layers = receptiveFields(common.model, { inputSize: common.prep.size }).layers;
  const session = await createSession(withExtraOutputs(common.model, layers.map((l) => l.output)), threads, common.source.name, modelDir);
  return { ...common, kind: 'cnn', session, layers };
}

/** Residual additions: Adds of two computed tensors (no weight, no constant), after the first attention. */
function residualAdds(model: OnnxModel, sites: AttentionSite[]): string[] {
  const g = model.graph;
  const first = Math.min(...sites.map((s) => s.index));
  const computed = (t: string) => !g.initializers.has(t) && !constantOf(g, t);
  return g.nodes.filter((n, i) => i > first && n.opType === 'Add' && n.inputs.length === 2 && n.inputs.every(computed)).map((n) => n.outputs[0]);
}

/** B images (each a 3·H·W NCHW tensor) as the model's input tensor. */
export function inputTensor(m: Omit<Common, 'session'>, images: Float32Array | Float32Array[], batch: number): ort.Tensor {
  const [h, w] = m.prep.size;
  const list = Array.isArray(images) ? images : [images];
  const data = new Float32Array(batch * 3 * h * w);
  list.forEach((img, i) => data.set(m.channelsLast ? toChannelsLast(img, h, w) : img, i * 3 * h * w));
  return new ort.Tensor('float32', data, m.channelsLast ? [batch, h, w, 3] : [batch, 3, h, w]);
}

export async function runOrExplain(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, fetch: string[], name: string): Promise<ort.InferenceSession.OnnxValueMapType> {
  try {
    return await session.run(feeds, [...new Set(fetch)]);
  } catch (e) {
    throw new InspectorError('inference-failed', `onnxruntime could not run ${name}: ${firstLine(e)}. Check that the model takes a [batch, 3, H, W] image.`);
  }
}

/**
 * Runs `count` passes in chunks of batchSize (1 where the model has a fixed batch of 1). `feedsFor(start, n)`
 * builds a chunk's feeds; `take(outputs, start, n)` reads them. Cancellation is checked between runs.
 */
export async function runPasses(
  m: ExplainModel, count: number, feedsFor: (start: number, n: number) => Record<string, ort.Tensor>, fetch: string[],
  take: (out: ort.InferenceSession.OnnxValueMapType, start: number, n: number) => void, opts: RunOptions = {},
): Promise<void> {
  const size = m.batchable ? Math.max(1, opts.batchSize ?? defaultBatch(m)) : 1;
  for (let start = 0; start < count; start += size) {
    if (opts.signal?.aborted) throw new InspectorError('cancelled', 'Cancelled.');
    const n = Math.min(size, count - start);
    take(await runOrExplain(m.session, feedsFor(start, n), fetch, m.source.name), start, n);
    opts.onPasses?.(start + n, count);
  }
}

/**
 * Default images per run: 32, fewer for large ViTs, keeping one batch's attention of a layer near 2 M floats
 * (4 for ViT-B/16, whose batches gained nothing on 2 busy cores; see README, "explain: cost").
 */
export function defaultBatch(m: ExplainModel): number {
  if (m.kind !== 'vit') return 32;
  const perImage = m.layout.tokens * m.layout.tokens * m.heads;
  return Math.max(1, Math.min(32, Math.floor(2 ** 21 / perImage)));
}

/** Feeds that leave every token in (zero key mask, all pool weights 1): the ViT session as a plain model. */
export function unmaskedFeeds(m: Pick<VitModel, 'siteRank' | 'pool'>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = { [KEY_MASK_INPUT]: new ort.Tensor('float32', new Float32Array(1), Array(m.siteRank).fill(1)) };
  if (m.pool) {
    feeds[POOL_WEIGHT_INPUT] = new ort.Tensor('float32', Float32Array.of(1), [1, 1, 1]);
    feeds[POOL_SCALE_INPUT] = new ort.Tensor('float32', Float32Array.of(1), m.pool.keepdims ? [1, 1, 1] : [1, 1]);
  }
  return feeds;
}
