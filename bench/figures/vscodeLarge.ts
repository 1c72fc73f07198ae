/**
 * Issue 12's real-VS-Code figures at large models (ViT-B/16 and ViT-L/16 at 384 px): the CLI's cold whole report
 * (a fresh `node dist/cli.js inspect`, the reference the targets are set against), alternating with click → first heatmap in
 * code-server + Chromium with the packaged VSIX (figure 3's setup, bench/figures/vscode.ts), and query moves in
 * the same window (key press → every head repainted, timed in the webview).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize, type Summary } from '../lib/stats';
import { measureVsCode, type VsCodeResult } from './vscode';

export interface LargeModelResult {
  model: string;
  cliColdMs: Summary;
  vscode: VsCodeResult;
}

/** The CLI's cold whole report: a fresh process per run, as a user runs it. */
export function cliCold(root: string, model: string, photo: string, runs: number, log: (s: string) => void): Summary {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = mkdtempSync(join(tmpdir(), 'vit-bench-cli-'));
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'inspect', '--model', model, '--image', photo, '--out', out, '--threads', '2', '--max-model-mb', '4096'], { encoding: 'utf8' });
    times.push(performance.now() - t0);
    rmSync(out, { recursive: true, force: true });
    if (r.status !== 0) throw new Error(`CLI failed: ${r.stderr}`);
    log(`  CLI cold ${Math.round(times.at(-1)!)} ms`);
  }
  return summarize(times);
}

export async function measureLarge(root: string, models: Record<string, string>, photos: [string, string], runs: number, moves: number, chromium: string,
  log: (s: string) => void): Promise<Record<string, LargeModelResult>> {
  const out: Record<string, LargeModelResult> = {};
  for (const [name, model] of Object.entries(models)) {
    log(`  ${name}`);
    // One CLI run before each VS Code session: the machine's slow phases (its memory reclaim can drop the model
    // file from the page cache) then hit both alike.
    const cli: number[] = [];
    // 384 px, 16 px patches: a 24 × 24 grid.
    const vscode = await measureVsCode(root, model, photos, runs, chromium, log, { 'vitInspector.maxModelSizeMB': 4096 }, { count: moves, gridSide: 24 },
      () => cli.push(cliCold(root, model, photos[0], 1, log).median));
    out[name] = { model: name, cliColdMs: summarize(cli), vscode };
  }
  return out;
}
