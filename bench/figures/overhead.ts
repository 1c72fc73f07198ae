/**
 * Attention extraction overhead: the same model and session options, a run that returns every layer's
 * attention probabilities as [layers, heads, N, N] arrays (what the inference process fetches for an
 * inspection; the scores come in a second run only when the Scaling view asks), divided by a run that returns
 * the logits only. All variants run interleaved in this process, each in its own session.
 */
import { readFileSync, rmSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { findAttention, type AttentionSite } from '../../src/node/attention';
import * as attentionRun from '../../src/node/attentionRun';
import * as session from '../../src/node/session';

const engine = { ...attentionRun, ...session };
import { parseOnnx } from '../../src/node/onnx/parse';
import { withExtraOutputs } from '../../src/node/onnx/surgery';
import { interleave, sleep, summarize, type Interleaved, type Summary } from '../lib/stats';
import { concat } from '../../src/shared/concat';

export const THREADS = 2;
/** Full runs of the figure (bench/run.ts, each in a process of its own); the figure is the median of their medians. */
export const OVERHEAD_RUNS = 3;
/**
 * Untimed pause before each run. Every variant has its own session, hence its own intra-op thread pool,
 * whose workers keep spinning for tens of ms after a run: back to back, the next session's run shares the
 * 2 cores with them (measured: a logits-only run took about 1.3× as long as in a single session).
 */
export const GAP_MS = 50;

/** The engine's session options (src/node/engine.ts createSession), for the sessions built here. */
export function sessionOptions(threads = THREADS, extra: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, graphOptimizationLevel: 'all', executionMode: 'sequential', ...extra };
}

export interface Prepared {
  bytes: Uint8Array;
  exposed: Uint8Array;
  probsOnly: Uint8Array;
  sites: AttentionSite[];
  inputName: string;
  logitsName: string;
  feeds: Record<string, ort.Tensor>;
}

export function prepare(path: string): Prepared {
  const bytes = new Uint8Array(readFileSync(path));
  const model = parseOnnx(bytes, path);
  const sites = findAttention(model);
  const input = model.graph.inputs[0];
  const dims = (input.dims ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.001) * 0.9; // deterministic, image-like range
  return {
    bytes,
    exposed: withExtraOutputs(model, sites.flatMap((s) => [s.scores, s.probs])),
    probsOnly: withExtraOutputs(model, sites.map((s) => s.probs)),
    sites,
    inputName: input.name,
    logitsName: model.graph.outputs.find((o) => /logits/i.test(o.name))?.name ?? model.graph.outputs[0].name,
    feeds: { [input.name]: new ort.Tensor('float32', x, dims) },
  };
}

/** Before this benchmark: fetch the outputs by name (onnxruntime allocates, the binding copies), then concatenate. */
async function naiveRun(s: ort.InferenceSession, p: Prepared, names: string[], stack = true) {
  const out = await s.run(p.feeds, [p.logitsName, ...names]);
  if (!stack) return out;
  const probs = concat(p.sites.map((site) => out[site.probs].data as Float32Array), Float32Array);
  const scores = names.length > p.sites.length ? concat(p.sites.map((site) => out[site.scores].data as Float32Array), Float32Array) : null;
  return { logits: out[p.logitsName].data, probs, scores };
}

/** Per variant: minor page faults and CPU time (all threads of this process) per run. */
export type ResourceUse = Record<string, { minorFaults: number; cpuMs: number; sysMs: number; runs: number }>;

function metered(variants: Record<string, () => Promise<unknown>>, use: ResourceUse): Record<string, () => Promise<unknown>> {
  return Object.fromEntries(
    Object.entries(variants).map(([name, fn]) => [
      name,
      async () => {
        const r0 = process.resourceUsage();
        const out = await fn();
        const r1 = process.resourceUsage();
        const u = (use[name] ??= { minorFaults: 0, cpuMs: 0, sysMs: 0, runs: 0 });
        u.minorFaults += r1.minorPageFault - r0.minorPageFault;
        u.cpuMs += (r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / 1000;
        u.sysMs += (r1.systemCPUTime - r0.systemCPUTime) / 1000;
        u.runs++;
        return out;
      },
    ]),
  );
}

export interface OverheadResult {
  model: string;
  threads: number;
  rounds: number;
  /** The figure: the engine's attention run ÷ logits only. */
  ratio: Summary;
  times: Record<string, Summary>;
  ratios: Record<string, Summary>;
  variants: Record<string, string>;
  attentionMB: number;
  sites: number;
  /** Per run, averaged over all rounds (warm-up included). */
  resources: ResourceUse;
  /** JavaScript copying the same bytes, output by output, into new arrays: what onnxruntime-node does per fetched output. */
  copyMs: Summary;
  profile?: ProfileBreakdown;
  /** Node counts by op type of onnxruntime's optimized graph (optimizedModelFilePath), without and with the extra outputs. */
  optimized?: { logits: Record<string, number>; engine: Record<string, number>; same: boolean };
  /** Set by bench/run.ts: each full run's median ratio (this result is the median run), and a run with glibc's default allocator settings. */
  runMedians?: number[];
  defaultAllocator?: OverheadResult;
}

export const VARIANT_DOC: Record<string, string> = {
  logits: 'original model, fetch logits only (the baseline)',
  logitsAgain: 'a second session of the original model, logits only (A/A control: should be 1.00×)',
  engine: "the engine's run as the inference process makes it for an inspection: probabilities + logits (scores: false; the session exposes scores and probabilities), as [layers, heads, N, N] arrays (src/node/attentionRun.ts runWithAttention), written into the arrays of a released inspection (handed back to the pool by the store)",
  engineWithScores: "the engine's run with the scores too (what the Scaling view's scores run, and the CLI's whole inspection, fetch), recycled arrays",
  engineFresh: 'as engineWithScores, into new arrays every run (what an in-process caller that keeps every result gets)',
  naive: 'before: fetch scores + probabilities by name (onnxruntime allocates each, the binding copies each into a new ArrayBuffer), then concatenate per layer',
  naiveNoConcat: 'diagnostic: as naive, without the concatenation',
  exposedLogitsOnly: 'diagnostic: the model with the extra outputs, fetching logits only (cost of the graph change alone)',
  probsOnly: 'diagnostic: probabilities only (no scores), engine-style preallocated',
};

export async function measureOverhead(path: string, rounds: number, log: (s: string) => void, withProfile = true): Promise<OverheadResult> {
  const p = prepare(path);
  const opts = sessionOptions();
  const plain = await ort.InferenceSession.create(p.bytes, opts);
  const plain2 = await ort.InferenceSession.create(p.bytes, opts);
  const exposed = await engine.createSession(p.exposed, THREADS, path);
  const naiveSession = await ort.InferenceSession.create(p.exposed, opts);
  const probsOnly = await ort.InferenceSession.create(p.probsOnly, opts);
  const allNames = p.sites.flatMap((s) => [s.scores, s.probs]);
  const check = await engine.runWithAttention(exposed, p.feeds, p.logitsName, p.sites);
  const attentionMB = (check.attention.byteLength + check.scores.byteLength) / 2 ** 20;
  const d = check.dims[0];
  log(`  ${p.sites.length} attention sites of [${d.join(', ')}]: ${attentionMB.toFixed(1)} MB of scores + probabilities per run`);

  // As in the inference process: each result's arrays go back to the pool once used, and the next run takes them.
  const pool = new engine.ArrayPool();
  const recycledRun = async (scores: boolean) => {
    const out = await engine.runWithAttention(exposed, p.feeds, p.logitsName, p.sites, { scores, allocate: pool.take });
    pool.give(out.attention, out.scores);
    return out;
  };
  const resources: ResourceUse = {};
  const r: Interleaved = await interleave(
    metered({
      logits: () => plain.run(p.feeds, [p.logitsName]),
      logitsAgain: () => plain2.run(p.feeds, [p.logitsName]),
      engine: () => recycledRun(false),
      engineWithScores: () => recycledRun(true),
      engineFresh: () => engine.runWithAttention(exposed, p.feeds, p.logitsName, p.sites),
      naive: () => naiveRun(naiveSession, p, allNames),
      naiveNoConcat: () => naiveRun(naiveSession, p, allNames, false),
      exposedLogitsOnly: () => naiveSession.run(p.feeds, [p.logitsName]),
      probsOnly: () => engine.runWithAttention(probsOnly, p.feeds, p.logitsName, p.sites, { scores: false }),
    }, resources),
    rounds,
    2,
    GAP_MS,
  );
  const copy: number[] = [];
  const src = new Float32Array(check.attention.length);
  const per = check.dims.map((d) => d.reduce((a, b) => a * b, 1));
  for (let i = 0; i < 17; i++) {
    await sleep(5);
    const t0 = performance.now();
    for (let k = 0; k < 2; k++) {
      let o = 0;
      for (const n of per) {
        new Float32Array(n).set(src.subarray(o, o + n));
        o += n;
      }
    }
    if (i >= 2) copy.push(performance.now() - t0);
  }
  const result: OverheadResult = {
    copyMs: summarize(copy),
    sites: p.sites.length,
    model: path,
    threads: THREADS,
    rounds,
    ratio: r.ratios.engine,
    times: r.times,
    ratios: r.ratios,
    variants: VARIANT_DOC,
    attentionMB,
    resources,
  };
  if (withProfile) {
    result.profile = await profileBreakdown(p, Math.min(20, rounds), log);
    result.optimized = await optimizedGraphs(p);
  }
  return result;
}

/** onnxruntime's optimized graph with and without the extra outputs: were any fusions lost? */
async function optimizedGraphs(p: Prepared): Promise<OverheadResult['optimized']> {
  const dir = mkdtempSync(join(tmpdir(), 'vit-bench-opt-'));
  try {
    const counts = async (name: string, bytes: Uint8Array) => {
      const file = join(dir, `${name}.onnx`);
      const s = await ort.InferenceSession.create(bytes, sessionOptions(THREADS, { optimizedModelFilePath: file, logSeverityLevel: 3 }));
      await s.release();
      const model = parseOnnx(new Uint8Array(readFileSync(file)), file);
      const c: Record<string, number> = {};
      for (const n of model.graph.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
      return Object.fromEntries(Object.entries(c).sort());
    };
    const logits = await counts('logits', p.bytes);
    const engineCounts = await counts('engine', p.exposed);
    return { logits, engine: engineCounts, same: JSON.stringify(logits) === JSON.stringify(engineCounts) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ProfileBreakdown {
  runs: number;
  /** Per variant: median ms per run spent in onnxruntime's graph execution, and per op type. */
  variants: Record<string, { wallMs: number; modelRunMs: number; outsideMs: number; byOp: Record<string, number> }>;
}

/**
 * onnxruntime's own profiler (enableProfiling) on the baseline and on the engine's run: how much of each
 * run is graph execution (model_run), which op types grew, and how much is outside onnxruntime (output
 * copies in the binding and in JavaScript).
 */
async function profileBreakdown(p: Prepared, runs: number, log: (s: string) => void): Promise<ProfileBreakdown> {
  const dir = mkdtempSync(join(tmpdir(), 'vit-bench-prof-'));
  const variants: ProfileBreakdown['variants'] = {};
  const pool = new engine.ArrayPool();
  try {
    const make = async (name: string, bytes: Uint8Array) =>
      ort.InferenceSession.create(bytes, sessionOptions(THREADS, { enableProfiling: true, profileFilePrefix: join(dir, name) }));
    const base = await make('logits', p.bytes);
    const exp = await make('engine', p.exposed);
    const walls: Record<string, number[]> = { logits: [], engine: [] };
    for (let i = 0; i < runs + 2; i++) {
      await sleep(GAP_MS);
      let t = performance.now();
      await base.run(p.feeds, [p.logitsName]);
      if (i >= 2) walls.logits.push(performance.now() - t);
      await sleep(GAP_MS);
      t = performance.now();
      const out = await engine.runWithAttention(exp, p.feeds, p.logitsName, p.sites, { allocate: pool.take });
      if (i >= 2) walls.engine.push(performance.now() - t);
      pool.give(out.attention, out.scores);
    }
    base.endProfiling();
    exp.endProfiling();
    for (const name of ['logits', 'engine']) {
      const file = readdirSync(dir).find((f) => f.startsWith(name) && f.endsWith('.json'));
      if (!file) continue;
      const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
      const runsDur = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.dur / 1000).slice(2);
      const perRun: Record<string, number> = {};
      for (const e of events) {
        if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
        const op = e.args?.op_name ?? '?';
        perRun[op] = (perRun[op] ?? 0) + e.dur / 1000;
      }
      const total = Math.max(1, events.filter((e) => e.cat === 'Session' && e.name === 'model_run').length);
      const byOp = Object.fromEntries(Object.entries(perRun).map(([k, v]): [string, number] => [k, v / total]).sort((a, b) => b[1] - a[1]));
      const wall = summarize(walls[name]).median;
      const modelRun = summarize(runsDur).median;
      variants[name] = { wallMs: wall, modelRunMs: modelRun, outsideMs: wall - modelRun, byOp };
    }
  } catch (e) {
    log(`  profiling failed: ${(e as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { runs, variants };
}
