/**
 * The data-flow figures of issue 12 at large models, without VS Code (the host's panel logic,
 * src/host/panelController.ts, with the real inference process, dist/worker.js; a fake webview port that
 * answers like the webview: it asks for what it paints):
 *   - the CLI's cold whole report (node dist/cli.js inspect, a fresh process), for reference;
 *   - "open → first heatmap's data": a fresh inference process, the panel's inspection, the payload posted,
 *     then the webview's first query (every head's row of the centre patch) answered;
 *   - query move round trip: the webview's queries of one move in the Heads view (rows + rollout row),
 *     posted → answers posted, p50/p95 over the moves;
 *   - bytes posted to the webview per query move (typed arrays plus JSON), against 4·L·H·N + 64 KB;
 *   - host RSS growth per open panel (this process is the host), and the inference process's RSS.
 *
 *   npm run build && node --import tsx bench/queries.ts [--models vit_b16_384,vit_l16_384] [--moves 60] [--cli 1]
 *
 * Models come from bench/models/ (node bench/torch_vit.py export bench/models vit_b16_384 vit_l16_384).
 * Prints Markdown, then one JSON line. Not a test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceClient } from '../src/node/inferenceClient';
import { bufferBytes, PanelController, type PanelDeps } from '../src/host/panelController';
import type { TensorQuery } from '../src/shared/queries';
import { ensurePhoto } from './lib/assets';
import { FakePort } from '../test/helpers/fakePort';
import { cliCold } from './figures/vscodeLarge';
import { summarize, type Summary } from './lib/stats';

const root = resolve(__dirname, '..');
const { values } = parseArgs({ options: { models: { type: 'string' }, moves: { type: 'string' }, cli: { type: 'string' }, panels: { type: 'string' } } });
const models = (values.models ?? 'vit_b16_384,vit_l16_384').split(',');
const moves = Number(values.moves ?? 60);
const cliRuns = Number(values.cli ?? 1);
const panels = Number(values.panels ?? 3);
const log = (s: string) => process.stderr.write(`${s}\n`);

function rssMB(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout ?? '');
  return m ? Number(m[1]) / 1024 : NaN;
}

const messageBytes = (m: unknown) => bufferBytes(m) + Buffer.byteLength(JSON.stringify(m, (_k, v) => (ArrayBuffer.isView(v) ? null : v)));

interface ModelResult {
  model: string;
  layers: number;
  heads: number;
  tokens: number;
  cliColdMs?: Summary;
  firstMs: number;
  firstParts: { inspectMs: number; rowsMs: number };
  moveMs: Summary;
  rowsMs: Summary;
  bytesPerMove: number;
  bytesLimit: number;
  hostRssMB: number[];
  hostGrowthPerPanelMB: number;
  workerRssMB: number;
}

async function measure(name: string, photo: string): Promise<ModelResult> {
  const model = join(root, 'bench', 'models', `${name}.onnx`);
  if (!existsSync(model)) throw new Error(`${model} is missing: python bench/torch_vit.py export bench/models ${name}`);
  const cliColdMs = cliRuns > 0 ? cliCold(root, model, photo, cliRuns, (s) => log(`  ${name}: ${s.trim()}`)) : undefined;

  global.gc?.();
  const rss0 = process.memoryUsage().rss / 2 ** 20;
  const client = new InferenceClient({ workerPath: join(root, 'dist', 'worker.js') });
  const deps: PanelDeps = {
    client: () => client,
    settings: () => ({ model, cnnModel: '', colormap: 'viridis', topK: 5, threads: 2, maxModelSizeMB: 4096, ignored: [] }),
    models: () => ({ vit: model, cnn: '' }),
    log: () => undefined,
    withProgress: (_t, _q, task) => task(new AbortController().signal, () => undefined),
    showError: (m) => log(`  error: ${m}`),
    runCommand: () => undefined,
  };
  const hostRss: number[] = [rss0];
  let first = { ms: 0, inspectMs: 0, rowsMs: 0 };
  const move: number[] = [];
  const rows: number[] = [];
  let bytesPerMove = 0;
  let dims = { layers: 0, heads: 0, tokens: 0 };
  const controllers: PanelController[] = [];
  for (let p = 0; p < panels; p++) {
    const port = new FakePort();
    const t0 = performance.now();
    const panel = new PanelController(photo, port, deps);
    controllers.push(panel);
    const payloadP = port.next('inspection', 600_000);
    port.send({ type: 'ready' });
    const payload = await payloadP;
    if (payload.type !== 'inspection') throw new Error(payload.type);
    const tPayload = performance.now();
    const s = payload.payload.summary;
    dims = { layers: s.layers, heads: s.heads, tokens: s.tokens };
    const id = payload.payload.id;
    let requestId = 1;
    const ask = async (queries: TensorQuery[]) => {
      const ids = queries.map(() => requestId++);
      const answers = Promise.all(ids.map((r) => port.until((m) => m.type === 'answer' && m.requestId === r, `answer ${r}`, 600_000)));
      queries.forEach((query, i) => port.send({ type: 'query', requestId: ids[i], query }));
      return answers;
    };
    const centre = s.layout.prefixTokens.length + Math.floor(s.layout.grid[0] / 2) * s.layout.grid[1] + Math.floor(s.layout.grid[1] / 2);
    await ask([{ kind: 'rows', inspection: id, token: centre }]);
    if (p === 0) {
      first = { ms: performance.now() - t0, inspectMs: tPayload - t0, rowsMs: performance.now() - tPayload };
      log(`  ${name}: open → first heatmap's rows ${Math.round(first.ms)} ms (inspection ${Math.round(first.inspectMs)} ms, rows ${Math.round(first.rowsMs)} ms)`);
      // Heads view: each move asks for the rows and the rollout row (the rollout's layers are computed once, first).
      const rollout = { fusion: 'mean' as const, discardRatio: 0.9, disabledHeads: [] };
      await ask([{ kind: 'rollout', inspection: id, token: centre, ...rollout }]);
      for (let i = 0; i < moves + 5; i++) {
        const token = 1 + ((i * 37) % (s.tokens - 1));
        const before = port.posted.length;
        const tm = performance.now();
        await ask([{ kind: 'rows', inspection: id, token }, { kind: 'rollout', inspection: id, token, ...rollout }]);
        const ms = performance.now() - tm;
        const rowsAt = port.postedAt[port.posted.findIndex((m, i) => i >= before && m.type === 'answer' && m.answer.kind === 'rows')] - tm;
        if (i >= 5) {
          move.push(ms);
          rows.push(rowsAt);
          bytesPerMove = Math.max(bytesPerMove, port.posted.slice(before).reduce((n, m) => n + messageBytes(m), 0));
        }
      }
      log(`  ${name}: move p50 ${summarize(move).median.toFixed(1)} ms, p95 ${summarize(move).p95.toFixed(1)} ms, ${bytesPerMove} bytes per move`);
    }
    global.gc?.();
    hostRss.push(process.memoryUsage().rss / 2 ** 20);
  }
  const workerRss = rssMB(client.pid);
  for (const c of controllers) c.dispose();
  client.dispose();
  const growth = (hostRss[hostRss.length - 1] - hostRss[1]) / Math.max(1, panels - 1);
  return {
    model: name, ...dims, cliColdMs, firstMs: first.ms, firstParts: { inspectMs: first.inspectMs, rowsMs: first.rowsMs },
    moveMs: summarize(move), rowsMs: summarize(rows), bytesPerMove, bytesLimit: 4 * dims.layers * dims.heads * dims.tokens + 64 * 1024,
    hostRssMB: hostRss, hostGrowthPerPanelMB: growth, workerRssMB: workerRss,
  };
}

async function main() {
  const photo = await ensurePhoto(join(root, 'bench', 'models'));
  const cpu = cpus()[0]?.model ?? '?';
  const load = loadavg();
  log(`queries figure on ${cpu}, ${cpus().length} CPUs, load ${load.map((v) => v.toFixed(1)).join(' ')}`);
  const results: ModelResult[] = [];
  for (const m of models) results.push(await measure(m, photo));
  const loadAfter = loadavg();
  const f = (v: number, d = 0) => v.toFixed(d);
  const lines = [
    `Run ${new Date().toISOString()} on ${cpu} (${cpus().length} CPUs), load average ${load.map((v) => f(v, 1)).join(' ')} before and ${loadAfter.map((v) => f(v, 1)).join(' ')} after; 2 intra-op threads; a 12 MP JPEG.`,
    '',
    '| model | L × H, N | CLI cold, whole report | open → first heatmap\'s rows (inspection + first query) | query move (rows + rollout row), p50 / p95 | bytes per move (limit 4·L·H·N + 64 KB) | host RSS growth per panel | inference process RSS |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.model} | ${r.layers} × ${r.heads}, ${r.tokens} | ${r.cliColdMs ? `${f(r.cliColdMs.median)} ms` : '–'} | ${f(r.firstMs)} ms (${f(r.firstParts.inspectMs)} + ${f(r.firstParts.rowsMs)}) | ${f(r.moveMs.median, 1)} / ${f(r.moveMs.p95, 1)} ms | ${r.bytesPerMove} (${r.bytesLimit}) | ${f(r.hostGrowthPerPanelMB, 1)} MB | ${f(r.workerRssMB)} MB (${panels} inspections) |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify({ cpu, load, loadAfter, panels, moves, results })}\n`);
}

main().catch((e) => {
  log(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
