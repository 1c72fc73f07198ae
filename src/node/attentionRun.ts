/**
 * One attention run: the logits and every attention site's scores and probabilities, written into stacked
 * [layers, heads, N, N] arrays, and the checks on their shapes. Pure functions of the session and the sites.
 */
import * as ort from 'onnxruntime-node';
import type { AttentionSite } from './attention';
import { InspectorError } from '../shared/errors';
import { halfToFloat32 } from '../shared/float16';
import type { Prediction } from '../shared/types';
import { concat } from '../shared/concat';

/** What the run helpers read of a loaded model: its name and its attention sites. */
export interface SitesOwner {
  source: { name: string };
  sites: AttentionSite[];
}

/** Each site's softmax output shape where onnxruntime's shape inference knows all of them statically, else null. */
export function staticSiteDims(session: ort.InferenceSession, sites: AttentionSite[]): number[][] | null {
  const shapes = new Map(session.outputMetadata.map((m) => [m.name, m.isTensor ? m.shape : undefined]));
  const dims = sites.map((s) => shapes.get(s.probs));
  const isStatic = (d: unknown): d is number[] => Array.isArray(d) && d.length > 0 && d.every((v) => typeof v === 'number' && v > 0);
  return dims.every(isStatic) ? (dims as number[][]) : null;
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

/**
 * Which attention sites are self-attention between the tokens. Attention-pooling softmaxes (a learned probe:
 * SigLIP's MAP head, timm's global_pool='map'; or the class token alone: CaiT's class-attention) attend over
 * the tokens with [B, H, Q, N], Q ≠ N. Those are left out of the layers (with a note), as long as some square
 * [B, H, N, N] softmaxes remain. Pure: the engine decides once per loaded model (from onnxruntime's static
 * output shapes at load, else from the first run's shapes) and keeps the answer; a run never changes it.
 */
export function selfAttentionSites(sites: AttentionSite[], dims: number[][]): { sites: AttentionSite[]; keep: boolean[]; note: string | null } {
  const square = dims.map((d) => d.length >= 3 && d[d.length - 1] === d[d.length - 2]);
  if (square.every(Boolean) || !square.some(Boolean)) return { sites, keep: square.map(() => true), note: null };
  const dropped = sites.map((s, i) => (square[i] ? '' : `${s.node} [${dims[i].join(', ')}]`)).filter(Boolean);
  const note = `Left out ${dropped.length} attention-pooling softmax${dropped.length > 1 ? 'es' : ''} (${dropped.join('; ')}): its queries are not the tokens`;
  return { sites: sites.filter((_, i) => square[i]), keep: square, note };
}

/** The run with only the kept sites' tensors (a new AttentionRun; `run` is not changed). */
export function keepSites(run: AttentionRun, keep: boolean[]): AttentionRun {
  if (keep.every(Boolean)) return run;
  const sizes = run.dims.map((d) => d.reduce((a, b) => a * b, 1));
  const pick = (a: Float32Array) => {
    if (a.length === 0) return a;
    const parts: Float32Array[] = [];
    let offset = 0;
    sizes.forEach((n, i) => {
      if (keep[i]) parts.push(a.subarray(offset, offset + n));
      offset += n;
    });
    return concat(parts, Float32Array);
  };
  return { outputs: run.outputs, attention: pick(run.attention), scores: pick(run.scores), dims: run.dims.filter((_, i) => keep[i]) };
}

/** Checks the stacked attention's per-layer shapes ([layers, heads, tokens, tokens] once stacked) and reads heads and tokens. */
export function stackAttention(loaded: SitesOwner, run: AttentionRun) {
  const { heads, tokens } = checkSiteDims(loaded, run.dims);
  return { attention: run.attention, scores: run.scores, heads, tokens };
}

/** Heads and tokens from the sites' softmax output dims; a one-line error unless every site is [B, H, N, N] (or [B*H, N, N]) alike. */
export function checkSiteDims(loaded: SitesOwner, dims: number[][]): { heads: number; tokens: number } {
  let heads = 0;
  let tokens = 0;
  loaded.sites.forEach((site, i) => {
    const d = dims[i];
    // [B, H, N, N] or, as nn.MultiheadAttention exports it, [B*H, N, N]; the batch is 1.
    const h = d.length === 4 ? d[0] * d[1] : d.length === 3 ? d[0] : 0;
    const n = d[d.length - 1];
    if (!h || d[d.length - 2] !== n) {
      throw new InspectorError('not-a-vit', `${loaded.source.name}: the softmax ${site.node} has shape [${d.join(', ')}], not [batch, heads, tokens, tokens]. Choose a ViT image classifier.`);
    }
    if (heads && (h !== heads || n !== tokens)) {
      throw new InspectorError('unsupported-model', `${loaded.source.name}: layers differ in heads or tokens (${heads}×${tokens} vs ${h}×${n}) and no Swin-style window partition was found; ViT Inspector reads plain ViTs and Swin-style windowed ViTs.`);
    }
    heads = h;
    tokens = n;
  });
  return { heads, tokens };
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
  opts: { scores?: boolean; allocate?: (n: number) => Float32Array; extra?: string[] } = {},
): Promise<AttentionRun> {
  const extra = opts.extra ?? [];
  const withScores = opts.scores !== false;
  const allocate = opts.allocate ?? ((n: number) => new Float32Array(n));
  const names = sites.flatMap((s) => (withScores ? [s.scores, s.probs] : [s.probs]));
  const shapes = new Map(session.outputMetadata.map((m) => [m.name, m.isTensor ? m.shape : undefined]));
  const dims = sites.map((s) => shapes.get(s.probs));
  const isStatic = (d: unknown): d is number[] => Array.isArray(d) && d.length > 0 && d.every((v) => typeof v === 'number' && v > 0);
  const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
  // Float16 and float64 models' outputs are converted after the run, so only float32 ones are written in place.
  const float32 = new Map(session.outputMetadata.map((m) => [m.name, m.isTensor && m.type === 'float32']));
  const preallocate =
    names.every((n) => float32.get(n)) &&
    dims.every(isStatic) &&
    new Set([logitsName, ...names, ...extra]).size === names.length + extra.length + 1 &&
    (!withScores || sites.every((s, i) => { const d = shapes.get(s.scores); return isStatic(d) && size(d) === size(dims[i] as number[]); }));
  if (preallocate) {
    const shape = dims as number[][];
    const total = shape.reduce((a, d) => a + size(d), 0);
    const attention = allocate(total);
    const scores = withScores ? allocate(total) : new Float32Array(0);
    const fetches: Record<string, ort.Tensor | null> = { [logitsName]: null };
    for (const e of extra) fetches[e] = null;
    let offset = 0;
    sites.forEach((s, i) => {
      const n = size(shape[i]);
      fetches[s.probs] = new ort.Tensor('float32', attention.subarray(offset, offset + n), shape[i]);
      if (withScores) fetches[s.scores] = new ort.Tensor('float32', scores.subarray(offset, offset + n), shape[i]);
      offset += n;
    });
    const outputs = await session.run(feeds, fetches);
    return { outputs: Object.fromEntries([logitsName, ...extra].map((e) => [e, outputs[e]])), attention, scores, dims: shape };
  }
  const outputs = await session.run(feeds, [...new Set([logitsName, ...names, ...extra])]);
  return {
    outputs,
    attention: concat(sites.map((s) => toFloat32(outputs[s.probs], s.probs)), Float32Array),
    scores: withScores ? concat(sites.map((s) => toFloat32(outputs[s.scores], s.scores)), Float32Array) : new Float32Array(0),
    dims: sites.map((s) => [...outputs[s.probs].dims]),
  };
}

/** A float output as float32: float16 (fp16 exports) and float64 ones converted. */
export function toFloat32(t: ort.Tensor | undefined, name: string): Float32Array {
  if (t?.data instanceof Float32Array) return t.data;
  if (t?.type === 'float16' && t.data instanceof Uint16Array) return halfToFloat32(t.data);
  if (t?.data instanceof Float64Array) return Float32Array.from(t.data);
  throw new InspectorError('unsupported-model', `Output ${name} is ${t ? t.type : 'missing'}, not a float tensor; ViT Inspector reads float32, float16 and float64 models.`);
}

/** The element type onnxruntime gives a tensor output (ONNX TensorProto type number): what a mask added to it must be. */
export function outputElemType(session: ort.InferenceSession, name: string): number {
  const m = session.outputMetadata.find((o) => o.name === name);
  const type = m?.isTensor ? m.type : 'float32';
  return type === 'float16' ? 10 : type === 'float64' ? 11 : 1;
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

