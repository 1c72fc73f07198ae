/**
 * Runs a ViT with its attention exposed: open the model, find the attention softmaxes, add their inputs and
 * outputs as graph outputs (in memory), preprocess the image, run, and split the attention per head.
 * One cached onnxruntime session per model (and one more with the key mask, made on first use): the model
 * cache and the orchestration; sessions are made in session.ts and the attention run is attentionRun.ts.
 */
import { promises as fsp, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as ort from 'onnxruntime-node';
import { findAttention, type AttentionSite } from './attention';
import { InspectorError } from '../shared/errors';
import { loadImage } from './imageLoad';
import { tokenLayout } from './layout';
import { readModelBytes, resolveModelSource, type ModelSource } from './modelSource';
import { ElemType, type OnnxModel } from '../shared/graph';
import { parseOnnx, resolveExternalData } from './onnx/parse';
import { exposeFusedAttention } from './onnx/fusedAttention';
import { checkModelSize, sizeLimit } from './modelSize';
import { EMBEDDING_NOTE, isEmbeddingOutput } from './outputKind';
import { shapeProbeName, withExtraOutputs, withKeyMask, withShapeProbes } from './onnx/surgery';
import { findWindowSites, probedTensors, windowGeometry, type WindowSite } from './windowSites';
import { denseStages } from '../shared/windows';
import { preprocessingFrom, toChannelsLast, toInputTensor } from './preprocess';
import { receptiveFields } from '../shared/receptiveField';
import type { Inspection, ModelSummary, Preprocessing, ReceptiveFieldReport, StageAttention, StageSummary } from '../shared/types';
import { ArrayPool, checkSiteDims, keepSites, outputElemType, runWithAttention, selfAttentionSites, stackAttention, staticSiteDims, toFloat32, topK, type AttentionRun } from './attentionRun';
import { float32ToHalf } from '../shared/float16';
import { createSession, elemName, firstLine, hasLocalFunctions, inlineLocalFunctions } from './session';
import type { InspectRequest } from './workerProtocol';

const MASK_INPUT = 'vit_inspector_key_mask';
/** Sessions kept at once (least recently used released first): a ViT, a CNN and a couple to switch between. */
const MAX_CACHED_MODELS = 4;

interface LoadedModel {
  key: string;
  signature: string; // size and mtime of the files read: a re-exported model is loaded again
  source: ModelSource;
  model: OnnxModel;
  /** Every softmax found in the graph. */
  found: AttentionSite[];
  /** Windowed models (Swin): each site's window partition; null for plain ViTs. */
  windows: WindowSite[] | null;
  inputName: string;
  channelsLast: boolean; // the input is NHWC [1, H, W, 3] (TensorFlow/Keras exports) rather than NCHW
  halfInput: boolean; // the input is float16 (fp16 exports): pixels are fed as float16
  logitsName: string;
  /** The output is an embedding, not class logits (outputKind.ts). */
  embedding: boolean;
  prep: Preprocessing;
  threads: number;
  session: ort.InferenceSession;
  masked?: ort.InferenceSession;
  /**
   * The self-attention sites (pooling softmaxes left out), the notes and the summary: decided once, at load
   * from onnxruntime's static output shapes, or where those are dynamic after the first run. Never changed after.
   */
  decided?: { keep: boolean[]; sites: AttentionSite[]; summary: ModelSummary };
}

export class Engine {
  private readonly models = new Map<string, LoadedModel>();
  private readonly spare = new ArrayPool();
  /** Preprocessing notes of loaded models whose summary waits for their first run. */
  private readonly notes = new WeakMap<LoadedModel, string[]>();

  /** The whole inspection (attention and, unless req.scores is false, scores). */
  async inspect(req: InspectRequest, progress: (message: string) => void = () => undefined): Promise<Inspection> {
    return (await this.inspectWithInput(req, progress)).inspection;
  }

  /** inspect(), and the input tensor it fed (kept by the worker for a later scores run). */
  async inspectWithInput(req: InspectRequest, progress: (message: string) => void = () => undefined): Promise<{ inspection: Inspection; input: Float32Array }> {
    const t0 = performance.now();
    const loaded = await this.load(req.modelPath, req.threads ?? 0, req.maxModelMB, progress);
    const tLoad = performance.now();
    progress('Reading the image…');
    const image = await loadImage(req.image, loaded.prep);
    const input = toInputTensor(image.model.rgb, image.model.height, image.model.width, loaded.prep);
    const tPre = performance.now();
    progress('Running the model…');
    const masked = req.maskedTokens ?? [];
    if (masked.length > 0 && loaded.windows) {
      throw new InspectorError('unsupported-model', `Masking tokens is not available for windowed models such as ${loaded.source.name}: each block attends within its own shifted windows. Clear the mask to see its attention.`);
    }
    if (masked.length > 0 && !loaded.decided) {
      // The mask needs the token count, which the first plain run tells (dynamic shapes only).
      const first = await this.run(loaded, input, [], false);
      this.spare.give(first.attention, first.scores);
    }
    const outputs = await this.run(loaded, input, masked, req.scores !== false);
    const tRun = performance.now();

    const logits = toFloat32(outputs.outputs[loaded.logitsName], loaded.logitsName);
    const windowed = loaded.windows ? this.stages(loaded, outputs) : null;
    const tWindows = performance.now();
    const summary = loaded.decided!.summary;
    const { attention, scores, heads, tokens } = windowed ? windowed.first : stackAttention({ source: loaded.source, sites: loaded.decided!.sites }, outputs);
    if (summary.heads !== heads || summary.tokens !== tokens) {
      throw new InspectorError('unsupported-model', `${loaded.source.name} changed its attention shape between runs; export it with a fixed input size.`);
    }
    if (masked.some((t) => t >= tokens)) throw new InspectorError('bad-input', `A masked token is outside 0…${tokens - 1}.`);
    const inspection: Inspection = {
      summary,
      predictions: loaded.embedding ? [] : topK(logits, loaded.source.labels, req.topK ?? 5),
      logits,
      attention,
      scores,
      modelImage: image.model,
      preview: image.preview,
      maskedTokens: [...masked],
      ...(windowed ? { stages: windowed.stages } : {}),
      timings: { load: tLoad - t0, preprocess: tPre - tLoad, run: tRun - tPre, ...(windowed ? { windows: tWindows - tRun } : {}), total: performance.now() - t0 },
    };
    return { inspection, input };
  }

  /** The softmax inputs of the run `req` made on `input`: the same run again, with the scores fetched (windowed models: stage `stage`'s, dense). */
  async scoresFor(req: InspectRequest, input: Float32Array, stage = 0): Promise<Float32Array> {
    const loaded = await this.load(req.modelPath, req.threads ?? 0, req.maxModelMB, () => undefined);
    const run = await this.run(loaded, input, req.maskedTokens ?? [], true);
    if (loaded.windows) return this.stages(loaded, run).stages[stage].scores;
    this.spare.give(run.attention);
    return run.scores;
  }

  /**
   * The model's summary. Heads and tokens come from onnxruntime's shape inference on the graph with the
   * attention exposed; only a model whose attention shapes stay dynamic needs one run (on a grey input).
   */
  async summary(modelPath: string, threads = 0, maxModelMB?: number, progress: (m: string) => void = () => undefined): Promise<ModelSummary> {
    const loaded = await this.load(modelPath, threads, maxModelMB, progress);
    if (!loaded.decided) {
      const [h, w] = loaded.prep.size;
      const run = await this.run(loaded, new Float32Array(3 * h * w), [], false);
      if (loaded.windows) this.stages(loaded, run);
      else this.spare.give(run.attention, run.scores);
    }
    return loaded.decided!.summary;
  }

  /**
   * A windowed model's run made dense per stage (shapes of the windows and padding read from the run's
   * Shape probes). The windowed arrays go back to the pool; stage 1 stands for the model's attention. The
   * first such run decides the model's summary (its stages).
   */
  private stages(loaded: LoadedModel, run: AttentionRun): { summaries: StageSummary[]; stages: StageAttention[]; first: { attention: Float32Array; scores: Float32Array; heads: number; tokens: number } } {
    const name = loaded.source.name;
    const shapes = new Map<string, number[]>();
    for (const t of probedTensors(loaded.windows!)) {
      const v = run.outputs[shapeProbeName(t)];
      if (v) shapes.set(t, Array.from(v.data as BigInt64Array, Number));
    }
    const geometries = loaded.windows!.map((w) => windowGeometry(w, shapes, name));
    const { summaries, stages } = denseStages(run.attention, run.scores, run.dims, geometries);
    this.spare.give(run.attention, run.scores);
    const [rows, cols] = summaries[0].grid;
    const first = { ...stages[0], heads: summaries[0].heads, tokens: rows * cols };
    if (!loaded.decided) {
      loaded.decided = { keep: loaded.found.map(() => true), sites: loaded.found, summary: summarise(loaded, loaded.found, first.heads, first.tokens, this.notes.get(loaded) ?? [], summaries) };
      this.notes.delete(loaded);
    }
    return { summaries, stages, first };
  }

  /**
   * Hands back an inspection's attention and scores once the caller is done with them (the worker: as soon
   * as process.send has serialized the result, which it does synchronously), so that the next run writes
   * into them. Never read them afterwards.
   */
  recycle(inspection: Pick<Inspection, 'attention' | 'scores'>): void {
    this.spare.give(inspection.attention, inspection.scores);
  }

  async receptiveFields(modelPath: string, maxModelMB?: number): Promise<ReceptiveFieldReport> {
    const source = await resolveModelSource(modelPath, { maxModelMB, weightsByReference: true });
    // Named after the file or folder the user chose, not the exporter's graph name (often 'torch_jit').
    return { ...receptiveFields(await parseSource(source)), model: source.name };
  }

  private async load(modelPath: string, threads: number, maxModelMB: number | undefined, progress: (m: string) => void): Promise<LoadedModel> {
    const key = `${modelPath}\u0000${threads}`;
    const signature = await fileSignature(modelPath);
    const cached = this.models.get(key);
    if (cached?.signature === signature) {
      this.models.delete(key); // most recently used last
      this.models.set(key, cached);
      return cached;
    }
    if (cached) await this.evict(key);
    progress('Loading the model…');
    const source = await resolveModelSource(modelPath, { maxModelMB, weightsByReference: true });
    let model = await parseSource(source);
    const modelDir = dirname(source.onnxPath);
    checkExternalData(model, modelDir, source.name, maxModelMB);
    if (hasLocalFunctions(model.bytes)) model = parseOnnx(await inlineLocalFunctions(model.bytes, source.name, modelDir), source.name);
    const unfused = exposeFusedAttention(model, source.name);
    if (unfused) model = parseOnnx(unfused, source.name);
    const found = findAttention(model);
    const windows = findWindowSites(model, found, source.name);
    const input = model.graph.inputs[0];
    if (!input) throw new InspectorError('unsupported-model', `${source.name} has no input. Choose an image classification model.`);
    if (input.elemType !== ElemType.FLOAT && input.elemType !== ElemType.FLOAT16) {
      throw new InspectorError('unsupported-model', `${source.name} takes ${elemName(input.elemType)} input; ViT Inspector feeds float32 or float16 pixels. Export the model with a float input.`);
    }
    const logitsName = pickLogits(model, found);
    const embedding = isEmbeddingOutput(source, model, logitsName);
    const modelHW = staticHW(input.dims);
    const { preprocessing: prep, notes } = preprocessingFrom(source.preprocessorConfig, modelHW, source.config, source.preprocessorFile);
    notes.unshift(...source.preprocessorNotes);
    if (embedding) notes.push(EMBEDDING_NOTE(logitsName));
    let exposed = withExtraOutputs(model, found.flatMap((s) => [s.scores, s.probs]));
    if (windows) exposed = withShapeProbes(exposed, probedTensors(windows));
    const session = await createSession(exposed, threads, source.name, modelDir);
    const channelsLast = isChannelsLast(input.dims);
    const loaded: LoadedModel = { key, signature, source, model, found, windows, inputName: input.name, channelsLast, halfInput: input.elemType === ElemType.FLOAT16, logitsName, embedding, prep, threads, session };
    // Windowed models: the summary (their stages) needs the first run's window shapes.
    const dims = windows ? null : staticSiteDims(session, found);
    try {
      if (dims) loaded.decided = decide(loaded, dims, notes);
      else this.notes.set(loaded, notes);
    } catch (e) {
      await session.release().catch(() => undefined);
      throw e;
    }
    this.models.set(key, loaded);
    while (this.models.size > MAX_CACHED_MODELS) await this.evict(this.models.keys().next().value!);
    return loaded;
  }

  /** Releases every cached session. */
  async dispose(): Promise<void> {
    for (const key of [...this.models.keys()]) await this.evict(key);
  }

  /** How many models have a cached session (for tests: it stays bounded). */
  get cachedModels(): number {
    return this.models.size;
  }

  private async evict(key: string): Promise<void> {
    const m = this.models.get(key);
    this.models.delete(key);
    // Requests run one at a time, so no run uses these sessions now.
    await Promise.all([m?.session.release(), m?.masked?.release()].map((p) => p?.catch(() => undefined)));
  }

  /** One run. The first run of a model with dynamic attention shapes decides its sites and summary (once). */
  private async run(loaded: LoadedModel, input: Float32Array, masked: number[], scores: boolean): Promise<AttentionRun> {
    const [h, w] = loaded.prep.size;
    checkFeed(loaded, input);
    const data = loaded.channelsLast ? toChannelsLast(input, h, w) : input;
    const shape = loaded.channelsLast ? [1, h, w, 3] : [1, 3, h, w];
    const pixels = loaded.halfInput ? new ort.Tensor('float16', float32ToHalf(data), shape) : new ort.Tensor('float32', data, shape);
    const feeds: Record<string, ort.Tensor> = { [loaded.inputName]: pixels };
    let session = loaded.session;
    const decided = loaded.decided;
    if (masked.length > 0) {
      const n = decided!.summary.tokens;
      // The mask is added to the scores (or given to fused Attention), so it takes their type: float16 in fp16 exports.
      const maskType = outputElemType(loaded.session, decided!.sites[0].scores);
      session = loaded.masked ??= await createSession(withKeyMask(loaded.model, decided!.sites, MASK_INPUT, true, maskType), loaded.threads, loaded.source.name, dirname(loaded.source.onnxPath));
      const mask = new Float32Array(n);
      for (const t of masked) if (t >= 0 && t < n) mask[t] = -Infinity;
      feeds[MASK_INPUT] = maskType === ElemType.FLOAT16 ? new ort.Tensor('float16', float32ToHalf(mask), [1, n])
        : maskType === ElemType.DOUBLE ? new ort.Tensor('float64', Float64Array.from(mask), [1, n]) : new ort.Tensor('float32', mask, [1, n]);
    }
    try {
      if (loaded.windows) {
        // Every site is kept (stages differ in heads and tokens); stages() makes the run dense per stage.
        const extra = probedTensors(loaded.windows).map(shapeProbeName);
        return await runWithAttention(session, feeds, loaded.logitsName, loaded.found, { scores, allocate: this.spare.take, extra });
      }
      if (decided) return await runWithAttention(session, feeds, loaded.logitsName, decided.sites, { scores, allocate: this.spare.take });
      const run = await runWithAttention(session, feeds, loaded.logitsName, loaded.found, { scores, allocate: this.spare.take });
      const first = decide(loaded, run.dims, this.notes.get(loaded) ?? []);
      const kept = keepSites(run, first.keep);
      stackAttention({ source: loaded.source, sites: first.sites }, kept); // checks the shapes before anything is kept
      loaded.decided = first;
      this.notes.delete(loaded);
      return kept;
    } catch (e) {
      if (e instanceof InspectorError) throw e;
      // A dynamic input with no size from preprocessor_config.json ran at an assumed size: most likely the cause.
      const assumed = !staticHW(loaded.model.graph.inputs[0].dims) && !loaded.source.preprocessorConfig && loaded.source.config?.image_size === undefined;
      const hint = assumed
        ? `Its input size is dynamic and ${h}×${w} was assumed: put a preprocessor_config.json with "size" next to the model (a folder with model.onnx).`
        : 'Check that the model takes a [1, 3, H, W] image.';
      throw new InspectorError('inference-failed', `onnxruntime could not run ${loaded.source.name}: ${firstLine(e)}. ${hint}`);
    }
  }

}

/** The self-attention sites and the summary, from every found site's softmax output dims. */
function decide(loaded: LoadedModel, dims: number[][], notes: string[]): NonNullable<LoadedModel['decided']> {
  const { sites, keep, note } = selfAttentionSites(loaded.found, dims);
  const { heads, tokens } = checkSiteDims({ source: loaded.source, sites }, dims.filter((_, i) => keep[i]));
  return { keep, sites, summary: summarise(loaded, sites, heads, tokens, note ? [...notes, note] : notes) };
}

function summarise(loaded: LoadedModel, sites: AttentionSite[], heads: number, tokens: number, notes: string[], stages?: StageSummary[]): ModelSummary {
  const { model, source, prep } = loaded;
  const layout = tokenLayout(model, { inputSize: prep.size, config: source.config ?? undefined, tokens });
  if (stages && (layout.layout.grid[0] !== stages[0].grid[0] || layout.layout.grid[1] !== stages[0].grid[1])) {
    // No patch Conv matched stage 1's grid: the grid the windows were laid out on is the truth.
    const [rows, cols] = stages[0].grid;
    layout.layout = { ...layout.layout, grid: [rows, cols], prefixTokens: [], tokens: rows * cols,
      patchSize: [Math.round(prep.size[0] / rows), Math.round(prep.size[1] / cols)] };
  }
  const dModel = layout.dModel ?? 0;
  let parameters = 0;
  for (const t of model.graph.initializers.values()) parameters += t.dims.reduce((a, b) => a * b, 1);
  return {
    name: source.name,
    path: source.onnxPath,
    layers: stages ? stages[0].layers : sites.length,
    heads,
    dModel,
    headDim: dModel && heads ? dModel / heads : 0,
    tokens,
    parameters,
    opset: model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 0,
    producer: model.producer,
    layout: layout.layout,
    preprocessing: prep,
    attentionNodes: sites.map((s) => ({ node: s.node, scores: s.scores, probs: s.probs, layout: s.rank === 3 ? 'BH_NN' : 'BHNN' })),
    notes,
    ...(loaded.embedding ? { embedding: true } : {}),
    ...(stages ? { stages } : {}),
  };
}

/**
 * The parsed model. Where its weights were left in the file and the graph does not parse, the whole file
 * is parsed instead, so that the message names what is wrong with the file (where it was cut, say).
 */
export async function parseSource(source: ModelSource): Promise<OnnxModel> {
  try {
    return parseOnnx(source.bytes, source.name);
  } catch (e) {
    if (source.referencedBytes === 0) throw e;
    return parseOnnx(await readModelBytes(source.onnxPath), source.name);
  }
}

/** Size and modification time of the model file or folder's files: changes when the model is re-exported. */
async function fileSignature(modelPath: string): Promise<string> {
  const dir = dirname(modelPath);
  const files = [modelPath, join(modelPath, 'model.onnx'), join(modelPath, 'onnx', 'model.onnx'), join(modelPath, 'config.json'),
    join(modelPath, 'preprocessor_config.json'), join(dir, 'config.json'), join(dir, 'preprocessor_config.json'),
    join(modelPath, 'open_clip_config.json'), join(dir, 'open_clip_config.json')];
  const stats = await Promise.all(files.map((f) => fsp.stat(f).then((st) => `${st.size}:${st.mtimeMs}`, () => '-')));
  return stats.join('|');
}

/**
 * Every external-data file the model names must lie inside the model's own folder (resolveExternalData
 * refuses absolute paths, '..' and symlinks out) and exist; with them, the model must stay under the size
 * limit. Checked before onnxruntime sees the model, so nothing outside the folder is ever opened.
 */
export function checkExternalData(model: OnnxModel, modelDir: string, name: string, maxModelMB?: number): void {
  const files = new Set<string>();
  for (const t of model.graph.initializers.values()) if (t.external) files.add(resolveExternalData(modelDir, t.external.location));
  let total = model.bytes.length;
  for (const f of files) {
    const size = statSync(f, { throwIfNoEntry: false })?.size;
    if (size === undefined) {
      throw new InspectorError('external-data', `${name} needs the external data file "${relative(modelDir, f)}", which is missing from its folder. Copy it next to the .onnx file.`);
    }
    total += size;
  }
  if (files.size > 0) checkModelSize(total, sizeLimit(maxModelMB), name, ' with its external data');
}

/**
 * The classifier output: one named exactly 'logits', else one whose name holds 'logits' (the first: HF's
 * distilled DeiT has logits, cls_logits, distillation_logits), else the first output that is not an attention
 * softmax's input or output (graphs exported with their attentions as outputs may list those first).
 */
export function pickLogits(model: OnnxModel, sites: AttentionSite[]): string {
  const outs = model.graph.outputs;
  const attention = new Set(sites.flatMap((s) => [s.scores, s.probs]));
  return (outs.find((o) => o.name === 'logits') ?? outs.find((o) => /logits/i.test(o.name)) ?? outs.find((o) => !attention.has(o.name)) ?? outs[0]).name;
}

/** NHWC: a 4-D input whose last axis is 3 and whose axis 1 is not (TensorFlow/Keras models via tf2onnx). */
export function isChannelsLast(dims: (number | string | null)[] | null): boolean {
  return !!dims && dims.length === 4 && dims[3] === 3 && dims[1] !== 3;
}

export function staticHW(dims: (number | string | null)[] | null): [number, number] | null {
  if (!dims || dims.length !== 4) return null;
  const [h, w] = isChannelsLast(dims) ? dims.slice(1, 3) : dims.slice(2);
  return typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? [h, w] : null;
}

function checkFeed(loaded: LoadedModel, input: Float32Array): void {
  const [h, w] = loaded.prep.size;
  if (!(input instanceof Float32Array) || input.length !== 3 * h * w) {
    throw new InspectorError('bad-input', `The image tensor has ${input.length} values; ${loaded.source.name} needs 1×3×${h}×${w}.`);
  }
  const dims = loaded.model.graph.inputs[0].dims;
  if (dims && dims.length !== 4) throw new InspectorError('unsupported-model', `${loaded.source.name} takes a ${dims.length}-D input, not an NCHW image.`);
  const channels = dims?.[loaded.channelsLast ? 3 : 1];
  if (typeof channels === 'number' && channels !== 3) {
    throw new InspectorError('unsupported-model', `${loaded.source.name} takes ${channels} channels; ViT Inspector feeds RGB (3).`);
  }
}

