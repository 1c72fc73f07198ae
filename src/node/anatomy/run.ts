/**
 * One head taken apart: the model runs once with Q, K, V, the attention output, the head merge, the output
 * projection and the patch embedding of every layer exposed as outputs (in memory), and the head's arithmetic
 * is then redone in TypeScript on those tensors (src/shared/anatomy.ts) and checked against the model's own.
 * The session and the last run are kept, so another head, query or layer of the same image costs no run.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { findAttention, type AttentionSite } from '../attention';
import { checkExternalData, isChannelsLast, parseSource, staticHW } from '../engine';
import { loadImage } from '../imageLoad';
import { tokenLayout } from '../layout';
import { resolveModelSource, type ModelSource } from '../modelSource';
import { constantOf, parseOnnx, resolveExternalData } from '../onnx/parse';
import { withExtraOutputs } from '../onnx/surgery';
import { preprocessingFrom, toChannelsLast, toInputTensor } from '../preprocess';
import { createSession, firstLine, hasLocalFunctions, inlineLocalFunctions } from '../session';
import { InspectorError } from '../../shared/errors';
import { ElemType, type OnnxModel, type TensorData } from '../../shared/graph';
import type { Preprocessing } from '../../shared/types';
import type { HeadAnatomy } from '../../shared/anatomyTypes';
import { headGraph, type HeadGraph } from './headGraph';
import { patchGraph, type PatchGraph } from './patchGraph';
import { computeHead, type TensorSource } from './compute';
import type { Tensor } from '../../shared/anatomy';

export interface AnatomyRequest {
  modelPath: string;
  image: string | Uint8Array;
  layer: number; // 0-based
  head: number; // 0-based
  query: number; // token index
  threads?: number;
  maxModelMB?: number;
  top?: number; // contributors listed (default 5)
}

interface LoadedAnatomyModel {
  key: string;
  signature: string;
  source: ModelSource;
  model: OnnxModel;
  modelDir: string;
  sites: AttentionSite[];
  graphs: (HeadGraph | InspectorError)[];
  patch: PatchGraph | null;
  inputName: string;
  channelsLast: boolean;
  prep: Preprocessing;
  session: ort.InferenceSession;
  exposed: string[];
}

interface AnatomyRun {
  key: string;
  outputs: Map<string, Tensor>;
  input: Tensor;
  modelImage: { width: number; height: number; rgb: Uint8Array };
}

export class AnatomyEngine {
  private loaded: LoadedAnatomyModel | undefined;
  private last: AnatomyRun | undefined;
  private readonly weights = new Map<string, Tensor>();

  async anatomy(req: AnatomyRequest): Promise<HeadAnatomy> {
    const m = await this.load(req.modelPath, req.threads ?? 0, req.maxModelMB);
    const run = await this.run(m, req.image);
    const source = this.tensors(m, run);
    // The layers as the panel counts them (engine.ts): attention-pooling softmaxes ([.., Q, N], Q ≠ N) left out.
    const square = m.graphs.filter((g, i) => isSquare(source.get(m.sites[i].probs)?.dims));
    const notes: string[] = [];
    const dropped = m.graphs.length - square.length;
    if (dropped > 0) notes.push(`${dropped} attention-pooling softmax(es) left out: their queries are not the tokens`);
    if (square.length === 0) throw new InspectorError('not-a-vit', `${m.source.name} has no self-attention layer.`);
    if (!Number.isInteger(req.layer) || req.layer < 0 || req.layer >= square.length) {
      throw new InspectorError('bad-input', `Layer ${req.layer} does not exist: ${m.source.name} has ${square.length} attention layers (0…${square.length - 1}).`);
    }
    const g = square[req.layer];
    if (g instanceof InspectorError) throw g;
    const probs = source.get(g.site.probs)!;
    const tokens = probs.dims[probs.dims.length - 1];
    const layout = safeLayout(m, tokens);
    const result = computeHead({
      graph: g, patch: m.patch, tensor: (name) => source.get(name), weight: (name) => this.weight(m, name),
      layer: req.layer, layers: square.length, head: req.head, query: req.query, top: req.top ?? 5,
      layout, modelImage: run.modelImage, modelName: m.source.name, isFirstLayer: req.layer === 0,
    });
    result.notes.unshift(...notes);
    return result;
  }

  async dispose(): Promise<void> {
    const s = this.loaded?.session;
    this.loaded = undefined;
    this.last = undefined;
    this.weights.clear();
    await s?.release().catch(() => undefined);
  }

  private async load(modelPath: string, threads: number, maxModelMB?: number): Promise<LoadedAnatomyModel> {
    const key = `${modelPath}\u0000${threads}`;
    const signature = signatureOf(modelPath);
    if (this.loaded?.key === key && this.loaded.signature === signature) return this.loaded;
    await this.dispose();
    const source = await resolveModelSource(modelPath, { maxModelMB, weightsByReference: true });
    let model = await parseSource(source);
    const modelDir = dirname(source.onnxPath);
    checkExternalData(model, modelDir, source.name, maxModelMB);
    if (hasLocalFunctions(model.bytes)) model = parseOnnx(await inlineLocalFunctions(model.bytes, source.name, modelDir), source.name);
    const sites = findAttention(model);
    const graphs = sites.map((s) => {
      try {
        return headGraph(model.graph, s, source.name);
      } catch (e) {
        if (e instanceof InspectorError) return e;
        throw e;
      }
    });
    const input = model.graph.inputs[0];
    if (!input || input.elemType !== ElemType.FLOAT) throw new InspectorError('unsupported-model', `${source.name} does not take a float32 image input.`);
    const patch = patchGraph(model);
    const { preprocessing: prep } = preprocessingFrom(source.preprocessorConfig, staticHW(input.dims), source.config);
    const exposed = exposedNames(model, sites, graphs, patch, input.name);
    const session = await createSession(withExtraOutputs(model, exposed), threads, source.name, modelDir);
    this.loaded = { key, signature, source, model, modelDir, sites, graphs, patch, inputName: input.name, channelsLast: isChannelsLast(input.dims), prep, session, exposed };
    return this.loaded;
  }

  private async run(m: LoadedAnatomyModel, image: string | Uint8Array): Promise<AnatomyRun> {
    const key = `${m.key}\u0000${imageKey(image)}`;
    if (this.last?.key === key) return this.last;
    this.last = undefined;
    const loadedImage = await loadImage(image, m.prep);
    const [h, w] = m.prep.size;
    const planar = toInputTensor(loadedImage.model.rgb, loadedImage.model.height, loadedImage.model.width, m.prep);
    const input: Tensor = m.channelsLast ? { data: toChannelsLast(planar, h, w), dims: [1, h, w, 3] } : { data: planar, dims: [1, 3, h, w] };
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await m.session.run({ [m.inputName]: new ort.Tensor('float32', input.data, input.dims) }, m.exposed);
    } catch (e) {
      throw new InspectorError('inference-failed', `onnxruntime could not run ${m.source.name}: ${firstLine(e)}. Check that the model takes a [1, 3, H, W] image.`);
    }
    const outputs = new Map<string, Tensor>();
    for (const [name, t] of Object.entries(results)) {
      if (t.data instanceof Float32Array) outputs.set(name, { data: t.data, dims: [...t.dims] });
    }
    this.last = { key, outputs, input, modelImage: loadedImage.model };
    return this.last;
  }

  /** Tensors by name: the run's outputs, the fed input, and small constants of the graph. */
  private tensors(m: LoadedAnatomyModel, run: AnatomyRun): { get(name: string): Tensor | undefined } {
    return {
      get: (name: string) => {
        if (name === m.inputName) return run.input;
        const out = run.outputs.get(name);
        if (out) return out;
        const c = constantOf(m.model.graph, name);
        return c && c.dataType === ElemType.FLOAT ? this.weight(m, name) : undefined;
      },
    };
  }

  /** A float32 initializer or Constant, read from the model (from the file where its data was left there). */
  private weight(m: LoadedAnatomyModel, name: string): Tensor | undefined {
    const cached = this.weights.get(name);
    if (cached) return cached;
    const t = constantOf(m.model.graph, name);
    if (!t || t.dataType !== ElemType.FLOAT) return undefined;
    const tensor = { data: readFloats(t, m.modelDir), dims: t.dims };
    this.weights.set(name, tensor);
    return tensor;
  }
}

/** Names to expose: Q, K, V (and their unscaled forms), the softmax's input and output, the attention output, merge and projection, patch embedding. */
function exposedNames(model: OnnxModel, sites: AttentionSite[], graphs: (HeadGraph | InspectorError)[], patch: PatchGraph | null, inputName: string): string[] {
  const names: string[] = sites.map((s) => s.probs); // every site's, to count the layers as the panel does
  for (const g of graphs) {
    if (g instanceof InspectorError) continue;
    names.push(g.q.tensor, g.q.raw, g.k.tensor, g.k.raw, g.v.tensor, g.out.tensor, g.site.scores, g.site.probs);
    names.push(...g.chain.map((s) => s.other));
    if (g.merge) names.push(g.merge.concat, g.merge.output);
  }
  if (patch) {
    names.push(patch.input, patch.output);
    if (patch.position) names.push(patch.position.output);
  }
  // Constants and initializers are read from the model; the input is what was fed.
  return [...new Set(names)].filter((n) => n && n !== inputName && !constantOf(model.graph, n));
}

function readFloats(t: TensorData, modelDir: string): Float32Array {
  if (!t.external) return Float32Array.from(t.values());
  const file = resolveExternalData(modelDir, t.external.location);
  const count = t.dims.reduce((a, b) => a * b, 1);
  const bytes = Buffer.alloc(count * 4);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, bytes, 0, bytes.length, t.external.offset);
  } finally {
    closeSync(fd);
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

function isSquare(dims: number[] | undefined): boolean {
  return !!dims && dims.length >= 3 && dims[dims.length - 1] === dims[dims.length - 2];
}

function safeLayout(m: LoadedAnatomyModel, tokens: number) {
  try {
    return tokenLayout(m.model, { inputSize: m.prep.size, config: m.source.config ?? undefined, tokens }).layout;
  } catch {
    return null;
  }
}

function signatureOf(path: string): string {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return '-';
  }
}

function imageKey(image: string | Uint8Array): string {
  if (typeof image === 'string') return `${image}\u0000${signatureOf(image)}`;
  return createHash('sha1').update(image).digest('hex');
}
