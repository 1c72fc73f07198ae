/**
 * Runs a ViT with its attention exposed: open the model, find the attention softmaxes, add their inputs and
 * outputs as graph outputs (in memory), preprocess the image, run, and split the attention per head.
 * One cached onnxruntime session per model (and one more with the key mask, made on first use).
 */
import { promises as fsp, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import * as ort from 'onnxruntime-node';
import { findAttention, type AttentionSite } from './attention';
import { InspectorError } from '../shared/errors';
import { loadImage } from './imageLoad';
import { tokenLayout } from './layout';
import { readModelBytes, resolveModelSource, type ModelSource } from './modelSource';
import { ElemType, type OnnxModel } from '../shared/graph';
import { parseOnnx, resolveExternalData } from './onnx/parse';
import { ProtoReader } from './onnx/protobuf';
import { withExtraOutputs, withKeyMask } from './onnx/surgery';
import { preprocessingFrom, toChannelsLast, toInputTensor } from './preprocess';
import { receptiveFields } from '../shared/receptiveField';
import type { Inspection, ModelSummary, Prediction, Preprocessing, ReceptiveFieldReport } from '../shared/types';
import type { InspectRequest } from './workerProtocol';

const MASK_INPUT = 'vit_inspector_key_mask';
/** Sessions kept at once (least recently used released first): a ViT, a CNN and a couple to switch between. */
const MAX_CACHED_MODELS = 4;

interface LoadedModel {
  key: string;
  signature: string; // size and mtime of the files read: a re-exported model is loaded again
  source: ModelSource;
  model: OnnxModel;
  sites: AttentionSite[];
  inputName: string;
  channelsLast: boolean; // the input is NHWC [1, H, W, 3] (TensorFlow/Keras exports) rather than NCHW
  logitsName: string;
  prep: Preprocessing;
  notes: string[];
  threads: number;
  session: ort.InferenceSession;
  masked?: ort.InferenceSession;
  summary?: ModelSummary; // known after the first run (heads and tokens come from the tensors' shapes)
}

/**
 * Float32Arrays handed back for reuse, given out again by exact length. Fresh 20–40 MB attention arrays on
 * every run cost page faults inside onnxruntime's kernels, about a fifth of a ViT-S run (BENCHMARKS.md,
 * "Attention extraction overhead"); recycled ones do not. Keeps at most `max` arrays.
 */
export class ArrayPool {
  private readonly arrays: Float32Array[] = [];

  constructor(private readonly max = 4) {}

  /** A spare array of exactly n elements, or a new one. A spare's contents are stale: onnxruntime overwrites every element. */
  take = (n: number): Float32Array => {
    const i = this.arrays.findIndex((a) => a.length === n);
    return i >= 0 ? this.arrays.splice(i, 1)[0] : new Float32Array(n);
  };

  give(...arrays: Float32Array[]): void {
    for (const a of arrays) {
      // Whole arrays only (a view's buffer is shared with something else), each once.
      if (a.length === 0 || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength || this.arrays.includes(a)) continue;
      this.arrays.push(a);
      if (this.arrays.length > this.max) this.arrays.shift();
    }
  }
}

export class Engine {
  private readonly models = new Map<string, LoadedModel>();
  private readonly spare = new ArrayPool();

  async inspect(req: InspectRequest, progress: (message: string) => void = () => undefined): Promise<Inspection> {
    const t0 = performance.now();
    const loaded = await this.load(req.modelPath, req.threads ?? 0, req.maxModelMB, progress);
    const tLoad = performance.now();
    progress('Reading the image…');
    const image = await loadImage(req.image, loaded.prep);
    const input = toInputTensor(image.model.rgb, image.model.height, image.model.width, loaded.prep);
    const tPre = performance.now();
    progress('Running the model…');
    const masked = req.maskedTokens ?? [];
    if (masked.length > 0 && !loaded.summary) {
      // The mask needs the token count, which the first plain run tells.
      const first = await this.run(loaded, input, []);
      loaded.summary = this.summarise(loaded, ...headsTokens(loaded, first));
      this.spare.give(first.attention, first.scores);
    }
    const outputs = await this.run(loaded, input, masked);
    const tRun = performance.now();

    const logits = toFloat32(outputs.outputs[loaded.logitsName], loaded.logitsName);
    const { attention, scores, heads, tokens } = stackAttention(loaded, outputs);
    const summary = loaded.summary ?? (loaded.summary = this.summarise(loaded, heads, tokens));
    if (summary.heads !== heads || summary.tokens !== tokens) {
      throw new InspectorError('unsupported-model', `${loaded.source.name} changed its attention shape between runs; export it with a fixed input size.`);
    }
    if (masked.some((t) => t >= tokens)) throw new InspectorError('bad-input', `A masked token is outside 0…${tokens - 1}.`);
    return {
      summary,
      predictions: topK(logits, loaded.source.labels, req.topK ?? 5),
      logits,
      attention,
      scores,
      modelImage: image.model,
      preview: image.preview,
      maskedTokens: [...masked],
      timings: { load: tLoad - t0, preprocess: tPre - tLoad, run: tRun - tPre, total: performance.now() - t0 },
    };
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
    const sites = findAttention(model);
    const input = model.graph.inputs[0];
    if (!input) throw new InspectorError('unsupported-model', `${source.name} has no input. Choose an image classification model.`);
    if (input.elemType !== ElemType.FLOAT) {
      throw new InspectorError('unsupported-model', `${source.name} takes ${elemName(input.elemType)} input; ViT Inspector feeds float32 pixels. Export the model with a float32 input.`);
    }
    const logitsName = pickLogits(model, sites);
    const modelHW = staticHW(input.dims);
    const { preprocessing: prep, notes } = preprocessingFrom(source.preprocessorConfig, modelHW, source.config);
    const exposed = withExtraOutputs(model, sites.flatMap((s) => [s.scores, s.probs]));
    const session = await createSession(exposed, threads, source.name, modelDir);
    const channelsLast = isChannelsLast(input.dims);
    const loaded: LoadedModel = { key, signature, source, model, sites, inputName: input.name, channelsLast, logitsName, prep, notes, threads, session };
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

  private async run(loaded: LoadedModel, input: Float32Array, masked: number[]): Promise<AttentionRun> {
    const [h, w] = loaded.prep.size;
    checkFeed(loaded, input);
    const pixels = loaded.channelsLast ? new ort.Tensor('float32', toChannelsLast(input, h, w), [1, h, w, 3]) : new ort.Tensor('float32', input, [1, 3, h, w]);
    const feeds: Record<string, ort.Tensor> = { [loaded.inputName]: pixels };
    let session = loaded.session;
    if (masked.length > 0) {
      const n = loaded.summary!.tokens;
      session = loaded.masked ??= await createSession(withKeyMask(loaded.model, loaded.sites, MASK_INPUT), loaded.threads, loaded.source.name, dirname(loaded.source.onnxPath));
      const mask = new Float32Array(n);
      for (const t of masked) if (t >= 0 && t < n) mask[t] = -Infinity;
      feeds[MASK_INPUT] = new ort.Tensor('float32', mask, [1, n]);
    }
    try {
      return withoutPoolingSites(loaded, await runWithAttention(session, feeds, loaded.logitsName, loaded.sites, { allocate: this.spare.take }));
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

  private summarise(loaded: LoadedModel, heads: number, tokens: number): ModelSummary {
    const { model, source, prep } = loaded;
    const layout = tokenLayout(model, { inputSize: prep.size, config: source.config ?? undefined, tokens });
    const dModel = layout.dModel ?? 0;
    let parameters = 0;
    for (const t of model.graph.initializers.values()) parameters += t.dims.reduce((a, b) => a * b, 1);
    return {
      name: source.name,
      path: source.onnxPath,
      layers: loaded.sites.length,
      heads,
      dModel,
      headDim: dModel && heads ? dModel / heads : 0,
      tokens,
      parameters,
      opset: model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 0,
      producer: model.producer,
      layout: layout.layout,
      preprocessing: prep,
      attentionNodes: loaded.sites.map((s) => ({ node: s.node, scores: s.scores, probs: s.probs, layout: s.rank === 3 ? 'BH_NN' : 'BHNN' })),
      notes: loaded.notes,
    };
  }
}

/**
 * The parsed model. Where its weights were left in the file and the graph does not parse, the whole file
 * is parsed instead, so that the message names what is wrong with the file (where it was cut, say).
 */
async function parseSource(source: ModelSource): Promise<OnnxModel> {
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
    join(modelPath, 'preprocessor_config.json'), join(dir, 'config.json'), join(dir, 'preprocessor_config.json')];
  const stats = await Promise.all(files.map((f) => fsp.stat(f).then((st) => `${st.size}:${st.mtimeMs}`, () => '-')));
  return stats.join('|');
}

/**
 * Every external-data file the model names must lie inside the model's own folder (resolveExternalData
 * refuses absolute paths, '..' and symlinks out) and exist; with them, the model must stay under the size
 * limit. Checked before onnxruntime sees the model, so nothing outside the folder is ever opened.
 */
function checkExternalData(model: OnnxModel, modelDir: string, name: string, maxModelMB = 2048): void {
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
  if (files.size > 0 && total > maxModelMB * 1024 * 1024) {
    throw new InspectorError('model-too-large', `${name} is ${Math.round(total / 1024 / 1024)} MB with its external data, over the ${maxModelMB} MB limit. Use a smaller model or raise the limit.`);
  }
}

/**
 * A session from in-memory bytes. `modelDir`: the folder external data is read from (onnxruntime would
 * otherwise resolve it against the working directory); onnxruntime also refuses paths that leave it.
 */
export async function createSession(bytes: Uint8Array, threads: number, name: string, modelDir?: string): Promise<ort.InferenceSession> {
  try {
    // Errors reach the user as one-line messages; onnxruntime's own log lines would add a second copy on stderr.
    const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionMode: 'sequential', logSeverityLevel: 4 };
    if (threads > 0) options.intraOpNumThreads = threads;
    if (modelDir) options.extra = { session: { model_external_initializers_file_folder_path: modelDir } };
    return await ort.InferenceSession.create(bytes, options);
  } catch (e) {
    throw new InspectorError('unsupported-model', `onnxruntime could not load ${name}: ${firstLine(e)}. Check that the file is a complete ONNX model.`);
  }
}

/** Whether ModelProto.functions (field 25) is present: model-local functions, as torch's dynamo exporter writes. */
function hasLocalFunctions(bytes: Uint8Array): boolean {
  try {
    const r = new ProtoReader(bytes);
    while (!r.done) {
      const t = r.tag();
      if (t.field === 25) return true;
      r.skip(t.wire);
    }
  } catch {
    // parseOnnx has read the model already; anything odd here just means no inlining.
  }
  return false;
}

/**
 * The model with its local functions inlined, as onnxruntime itself inlines them when it loads a model
 * (with graph optimisations off, nothing else changes). Exporters that wrap each module in a function
 * (torch.onnx.dynamo_export: one function per nn.Module) hide the attention softmaxes, and the patch Conv,
 * inside function bodies, where they can neither be found nor made graph outputs.
 */
async function inlineLocalFunctions(bytes: Uint8Array, name: string, modelDir: string): Promise<Uint8Array> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'vit-inspector-inline-'));
  const file = join(dir, 'inlined.onnx');
  try {
    const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'disabled', optimizedModelFilePath: file, logSeverityLevel: 4 };
    options.extra = { session: { model_external_initializers_file_folder_path: modelDir } };
    const session = await ort.InferenceSession.create(bytes, options).catch((e) => {
      throw new InspectorError('unsupported-model', `onnxruntime could not load ${name}: ${firstLine(e)}. Check that the file is a complete ONNX model.`);
    });
    await session.release();
    return new Uint8Array(await fsp.readFile(file));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/**
 * The classifier output: one named exactly 'logits', else one whose name holds 'logits' (the first: HF's
 * distilled DeiT has logits, cls_logits, distillation_logits), else the first output that is not an attention
 * softmax's input or output (graphs exported with their attentions as outputs may list those first).
 */
function pickLogits(model: OnnxModel, sites: AttentionSite[]): string {
  const outs = model.graph.outputs;
  const attention = new Set(sites.flatMap((s) => [s.scores, s.probs]));
  return (outs.find((o) => o.name === 'logits') ?? outs.find((o) => /logits/i.test(o.name)) ?? outs.find((o) => !attention.has(o.name)) ?? outs[0]).name;
}

/** NHWC: a 4-D input whose last axis is 3 and whose axis 1 is not (TensorFlow/Keras models via tf2onnx). */
function isChannelsLast(dims: (number | string | null)[] | null): boolean {
  return !!dims && dims.length === 4 && dims[3] === 3 && dims[1] !== 3;
}

function staticHW(dims: (number | string | null)[] | null): [number, number] | null {
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

/**
 * Drops attention-pooling softmaxes: a learned probe (SigLIP's MAP head, timm's global_pool='map') or the
 * class token alone (CaiT's class-attention) attending over the tokens gives [B, H, Q, N] with Q ≠ N. Those
 * are not self-attention between the tokens, so they are left out of the layers (with a note), as long as
 * some square [B, H, N, N] softmaxes remain. Decided on the first run, from the shapes onnxruntime returns;
 * later runs (and the key-mask session) use the remaining sites only.
 */
function withoutPoolingSites(loaded: LoadedModel, run: AttentionRun): AttentionRun {
  const square = run.dims.map((d) => d.length >= 3 && d[d.length - 1] === d[d.length - 2]);
  if (square.every(Boolean) || !square.some(Boolean)) return run;
  const sizes = run.dims.map((d) => d.reduce((a, b) => a * b, 1));
  const keep = (a: Float32Array) => {
    if (a.length === 0) return a;
    const parts: Float32Array[] = [];
    let offset = 0;
    sizes.forEach((n, i) => {
      if (square[i]) parts.push(a.subarray(offset, offset + n));
      offset += n;
    });
    return concat(parts);
  };
  const dropped = loaded.sites.map((s, i) => (square[i] ? '' : `${s.node} [${run.dims[i].join(', ')}]`)).filter(Boolean);
  loaded.notes.push(`Left out ${dropped.length} attention-pooling softmax${dropped.length > 1 ? 'es' : ''} (${dropped.join('; ')}): its queries are not the tokens`);
  loaded.sites = loaded.sites.filter((_, i) => square[i]);
  return { outputs: run.outputs, attention: keep(run.attention), scores: keep(run.scores), dims: run.dims.filter((_, i) => square[i]) };
}

function headsTokens(loaded: LoadedModel, outputs: AttentionRun): [number, number] {
  const { heads, tokens } = stackAttention(loaded, outputs);
  return [heads, tokens];
}

/** Checks the stacked attention's per-layer shapes ([layers, heads, tokens, tokens] once stacked) and reads heads and tokens. */
function stackAttention(loaded: LoadedModel, run: AttentionRun) {
  let heads = 0;
  let tokens = 0;
  loaded.sites.forEach((site, i) => {
    const d = run.dims[i];
    // [B, H, N, N] or, as nn.MultiheadAttention exports it, [B*H, N, N]; the batch is 1.
    const h = d.length === 4 ? d[0] * d[1] : d.length === 3 ? d[0] : 0;
    const n = d[d.length - 1];
    if (!h || d[d.length - 2] !== n) {
      throw new InspectorError('not-a-vit', `${loaded.source.name}: the softmax ${site.node} has shape [${d.join(', ')}], not [batch, heads, tokens, tokens]. Choose a ViT image classifier.`);
    }
    if (heads && (h !== heads || n !== tokens)) {
      throw new InspectorError('unsupported-model', `${loaded.source.name}: layers differ in heads or tokens (${heads}×${tokens} vs ${h}×${n}); ViT Inspector needs a plain ViT.`);
    }
    heads = h;
    tokens = n;
  });
  return { attention: run.attention, scores: run.scores, heads, tokens };
}

export interface AttentionRun {
  /** What was fetched by name: the logits (and, on the fallback path, the attention tensors). */
  outputs: ort.InferenceSession.OnnxValueMapType;
  /** Every site's softmax output, one after another in site order: [layers, heads, N, N] for batch 1. */
  attention: Float32Array;
  /** Every site's softmax input (the scores), stacked the same way; empty when not asked for. */
  scores: Float32Array;
  /** Each site's tensor dims as onnxruntime gives them ([B, H, N, N] or [B*H, N, N]). */
  dims: number[][];
}

/**
 * One run that returns the logits and every attention site's scores and probabilities, stacked by layer.
 *
 * Why not simply `session.run(feeds, names)` (measured in BENCHMARKS.md, "Attention extraction
 * overhead"): fetched by name, each softmax input and output is allocated by onnxruntime, copied by
 * onnxruntime-node into a new ArrayBuffer, and then copied a third time when the layers are
 * concatenated. Here, where onnxruntime's shape inference knows every site's shape (outputMetadata),
 * each site's scores and probabilities are fetched into a view of the final stacked array (a
 * preallocated output): onnxruntime's kernels write the attention straight into the arrays returned, and
 * no concatenation happens. onnxruntime-node 1.30 still copies each fetched output once more into the
 * tensor it hands back; those copies are dropped unused. Models whose attention shapes are dynamic take
 * the fetch-by-name path.
 */
export async function runWithAttention(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  logitsName: string,
  sites: AttentionSite[],
  opts: { scores?: boolean; allocate?: (n: number) => Float32Array } = {},
): Promise<AttentionRun> {
  const withScores = opts.scores !== false;
  const allocate = opts.allocate ?? ((n: number) => new Float32Array(n));
  const names = sites.flatMap((s) => (withScores ? [s.scores, s.probs] : [s.probs]));
  const shapes = new Map(session.outputMetadata.map((m) => [m.name, m.isTensor ? m.shape : undefined]));
  const dims = sites.map((s) => shapes.get(s.probs));
  const isStatic = (d: unknown): d is number[] => Array.isArray(d) && d.length > 0 && d.every((v) => typeof v === 'number' && v > 0);
  const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
  const preallocate =
    dims.every(isStatic) &&
    new Set([logitsName, ...names]).size === names.length + 1 &&
    (!withScores || sites.every((s, i) => { const d = shapes.get(s.scores); return isStatic(d) && size(d) === size(dims[i] as number[]); }));
  if (preallocate) {
    const shape = dims as number[][];
    const total = shape.reduce((a, d) => a + size(d), 0);
    const attention = allocate(total);
    const scores = withScores ? allocate(total) : new Float32Array(0);
    const fetches: Record<string, ort.Tensor | null> = { [logitsName]: null };
    let offset = 0;
    sites.forEach((s, i) => {
      const n = size(shape[i]);
      fetches[s.probs] = new ort.Tensor('float32', attention.subarray(offset, offset + n), shape[i]);
      if (withScores) fetches[s.scores] = new ort.Tensor('float32', scores.subarray(offset, offset + n), shape[i]);
      offset += n;
    });
    const outputs = await session.run(feeds, fetches);
    return { outputs: { [logitsName]: outputs[logitsName] }, attention, scores, dims: shape };
  }
  const outputs = await session.run(feeds, [...new Set([logitsName, ...names])]);
  return {
    outputs,
    attention: concat(sites.map((s) => toFloat32(outputs[s.probs], s.probs))),
    scores: withScores ? concat(sites.map((s) => toFloat32(outputs[s.scores], s.scores))) : new Float32Array(0),
    dims: sites.map((s) => [...outputs[s.probs].dims]),
  };
}

function toFloat32(t: ort.Tensor | undefined, name: string): Float32Array {
  if (!t || !(t.data instanceof Float32Array)) throw new InspectorError('unsupported-model', `Output ${name} is not float32; ViT Inspector reads float32 models.`);
  return t.data;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function topK(logits: Float32Array, labels: string[] | null, k: number): Prediction[] {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  const p = Array.from(logits, (v) => {
    const e = Math.exp(v - max);
    sum += e;
    return e;
  });
  return p
    .map((e, index) => ({ index, label: labels?.[index] ?? `class ${index}`, probability: e / sum }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, Math.max(1, k));
}

function elemName(t: number): string {
  const names: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 10: 'float16', 11: 'float64' };
  return names[t] ?? `type ${t}`;
}

function firstLine(e: unknown): string {
  return withoutNativeLocations((e instanceof Error ? e.message : String(e)).split('\n')[0]).slice(0, 200).replace(/\.+$/, '');
}

/**
 * onnxruntime prefixes some messages with its C++ source location and function ("/onnxruntime_src/…/
 * tensorprotoutils.cc:2183 onnxruntime::common::Status onnxruntime::utils::F(const onnx::NodeProto&, …)
 * Unsupported attribute …"): of no use to the user, and it pushes the reason past the cut. Keep the reason.
 */
export function withoutNativeLocations(message: string): string {
  let s = message;
  for (let m = /\S+\.(?:cc|cpp|cxx|h|hpp):\d+\s+/.exec(s); m; m = /\S+\.(?:cc|cpp|cxx|h|hpp):\d+\s+/.exec(s)) {
    let rest = s.slice(m.index + m[0].length);
    if (/^[\w:<>~&*, ]+\(/.test(rest)) {
      // a C++ signature: skip to its closing parenthesis
      let depth = 0;
      let i = rest.indexOf('(');
      for (; i < rest.length; i++) {
        if (rest[i] === '(') depth++;
        else if (rest[i] === ')' && --depth === 0) break;
      }
      rest = rest.slice(i + 1).replace(/^\s*(const\s*)?/, '');
    } else rest = rest.replace(/^[A-Z]\w*\s+/, ''); // a bare function name
    s = s.slice(0, m.index) + rest;
  }
  return s.trim();
}
