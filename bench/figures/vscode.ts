/**
 * Image to first heatmap painted in real VS Code, with the project's end-to-end setup (test/e2e/codeServer.ts:
 * scripts/setup-e2e.sh's code-server 4.100.3, the packaged VSIX, headless Chromium through playwright-core).
 * A fresh VS Code window per session; the workspace holds two 12 MP JPEGs and the settings point
 * vitInspector.model at the benchmark ViT. Timed from the click on the explorer's "Inspect Attention" to the
 * webview's heads sheet painted: first the cold case (the extension's first inspection starts the inference
 * process and loads the model), then, in the same window, the second photo (warm: process and session up).
 */
import { existsSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { OUTPUT, startCodeServer, type CodeServer } from '../../test/e2e/codeServer';
import { CHROMIUM_ARGS } from './panel';
import { summarize, type Summary } from '../lib/stats';

export interface VsCodeResult {
  measured: boolean;
  reason: string;
  sessions: number;
  coldMs?: Summary; // first inspection in a fresh window: click → heads painted
  warmMs?: Summary; // second photo in the same window
  workbenchMs?: Summary; // page load → explorer shows the files (context, not part of the figure)
  /** From the extension's own log ("ViT Inspector" output): the inference (host → inference process → host) and the webview's first heatmap after the payload arrived (its rows query's round trip included). */
  parts?: { coldLoadMs?: Summary; coldRunMs?: Summary; warmRunMs?: Summary; coldInspectMs?: Summary; warmInspectMs?: Summary; coldPostMs?: Summary; warmPostMs?: Summary; coldPaintMs?: Summary; warmPaintMs?: Summary; postMB?: Summary };
  vsix?: string;
  /** Query moves in the first window (arrow keys on the patch grid): key press → every head repainted and the frame drawn, timed in the webview. */
  moveMs?: Summary;
  /** Of those moves: key press → the rows' answer, and the rollout row's answer, reaching the webview's window. */
  moveRowsArrivedMs?: Summary;
  moveRolloutArrivedMs?: Summary;
  /** The model's layers × heads and tokens, as the panel's title shows them. */
  model?: string;
}

/** The "ViT Inspector" output channel's log, as test/e2e/codeServer.ts keeps it after stop(). */
function extensionLog(dir: string): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.includes('ViT Inspector')) found.push(readFileSync(join(d, e.name), 'utf8'));
    }
  };
  if (existsSync(dir)) walk(dir);
  return found.join('\n');
}

function logged(text: string, pattern: RegExp): number | undefined {
  const m = pattern.exec(text);
  return m ? Number(m[1]) : undefined;
}

type Page = import('playwright-core').Page;
type FrameLocator = import('playwright-core').FrameLocator;

async function menuEntry(page: Page, file: string, entry: string) {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }).first();
  const item = page.locator('.context-view .action-label', { hasText: entry }).first();
  const deadline = Date.now() + 90_000;
  for (;;) {
    await row.click({ button: 'right' });
    if (await item.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false)) return item;
    await page.keyboard.press('Escape');
    if (Date.now() > deadline) throw new Error(`"${entry}" never appeared in the context menu of ${file}`);
    await page.waitForTimeout(1000);
  }
}

/**
 * `n` query moves by arrow keys on the patch grid, each timed inside the webview from the key event to the
 * heads sheet repainted for the new token (its canvas drawn; the browser shows it at the end of that frame): the webview's
 * queries, VS Code carrying them to the extension host, the inference process's answers, VS Code carrying the
 * rows back, the repaint. A serpentine walk over the grid, so every move asks for a token not shown before; a
 * pause between moves, so each is a move of its own (not superseded).
 */
async function queryMoves(page: Page, n: number, side: number): Promise<{ total: number[]; rowsArrived: number[]; rolloutArrived: number[] }> {
  // From CLS (the first query; Home otherwise, untimed): ArrowDown (patch (0, 0)), then a serpentine over the grid.
  const keys = ['ArrowDown'];
  for (let row = 0; keys.length < n; row++) {
    for (let c = 1; c < side && keys.length < n; c++) keys.push(row % 2 ? 'ArrowLeft' : 'ArrowRight');
    if (keys.length < n) keys.push('ArrowDown');
  }
  const heads = webview(page).locator('#vi-heads');
  return heads.evaluate(async (el: HTMLElement, sequence: string[]) => {
    // tsx compiles named functions with esbuild's keepNames helper, which the page does not have.
    (globalThis as { __name?: unknown }).__name ??= (f: unknown) => f;
    const grid = document.querySelector('#vi-patches') as HTMLElement;
    grid.focus();
    const times: number[] = [];
    // When the answers' messages reach the webview's window (the webview's own listener runs after this one).
    const arrived: { rows: number[]; rollout: number[] } = { rows: [], rollout: [] };
    let t0 = 0;
    const onMessage = (e: MessageEvent) => {
      const kind = e.data?.type === 'answer' ? e.data.answer?.kind : undefined;
      if (kind === 'rows' || kind === 'rollout') arrived[kind as 'rows' | 'rollout'].push(performance.now() - t0);
    };
    window.addEventListener('message', onMessage);
    const untimed = el.dataset.query !== '0' ? 1 : 0;
    for (const key of untimed ? ['Home', ...sequence] : sequence) {
      const before = el.dataset.query;
      arrived.rows.length = times.length;
      arrived.rollout.length = times.length;
      t0 = performance.now();
      const repainted = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no repaint 10 s after ${key} (query ${before})`)), 10_000);
        const obs = new MutationObserver(() => {
          if (el.dataset.query !== before) {
            obs.disconnect();
            clearTimeout(timer);
            resolve();
          }
        });
        obs.observe(el, { attributes: true });
      });
      grid.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
      await repainted;
      times.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 150));
    }
    window.removeEventListener('message', onMessage);
    return { total: times.slice(untimed), rowsArrived: arrived.rows.slice(untimed), rolloutArrived: arrived.rollout.slice(untimed) };
  }, keys.slice(0, n));
}

function webview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview').last().frameLocator('#active-frame');
}

/** Right-click → Inspect Attention on `file`; ms from the click until the heads sheet is painted (checksum ≠ `previous`). */
async function inspect(page: Page, file: string, previous: string): Promise<{ ms: number; checksum: string }> {
  const item = await menuEntry(page, file, 'Inspect Attention');
  await item.hover();
  const t0 = Date.now();
  await item.click();
  if (await item.isVisible().catch(() => false)) await page.keyboard.press('Enter'); // a swallowed click
  await page.locator('.tab', { hasText: file }).first().waitFor({ timeout: 60_000 });
  const wv = webview(page);
  await wv.locator('body[data-first-paint="1"]').waitFor({ timeout: 180_000 });
  const heads = previous ? wv.locator(`#vi-heads[data-checksum]:not([data-checksum="${previous}"])`) : wv.locator('#vi-heads[data-checksum]');
  await heads.waitFor({ state: 'attached', timeout: 180_000 });
  const ms = Date.now() - t0;
  return { ms, checksum: (await heads.getAttribute('data-checksum')) ?? '' };
}

export async function measureVsCode(root: string, model: string, photos: [string, string], sessions: number, chromium: string, log: (s: string) => void,
  settings: Record<string, unknown> = {}, moves: { count: number; gridSide: number } = { count: 0, gridSide: 0 },
  beforeSession: (session: number) => void = () => undefined): Promise<VsCodeResult> {
  let vsix: string;
  try {
    vsix = prepareQuietly(root, log);
  } catch (e) {
    const reason = `the real-VS-Code setup failed (${(e as Error).message.split('\n')[0]})`;
    log(`  not measured: ${reason}`);
    return { measured: false, reason, sessions: 0 };
  }
  const { chromium: pw } = (await import('playwright-core')) as typeof import('playwright-core');
  const cold: number[] = [];
  const warm: number[] = [];
  const workbench: number[] = [];
  const moveTimes: number[] = [];
  const rowsArrived: number[] = [];
  const rolloutArrived: number[] = [];
  let modelTitle: string | undefined;
  const parts: Record<'coldLoadMs' | 'coldRunMs' | 'warmRunMs' | 'coldInspectMs' | 'warmInspectMs' | 'coldPostMs' | 'warmPostMs' | 'coldPaintMs' | 'warmPaintMs' | 'postMB', number[]> =
    { coldLoadMs: [], coldRunMs: [], warmRunMs: [], coldInspectMs: [], warmInspectMs: [], coldPostMs: [], warmPostMs: [], coldPaintMs: [], warmPaintMs: [], postMB: [] };
  for (let s = 0; s < sessions; s++) {
    beforeSession(s);
    let server: CodeServer | undefined;
    const browser = await pw.launch({ executablePath: chromium, args: CHROMIUM_ARGS });
    try {
      server = await startCodeServer({
        vsix,
        files: { 'photo1.jpg': readFileSync(photos[0]), 'photo2.jpg': readFileSync(photos[1]) },
        userSettings: { 'vitInspector.model': model, 'vitInspector.threads': 2, ...settings },
      });
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const t = Date.now();
      await page.goto(server.url);
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'photo2.jpg' }).waitFor({ timeout: 120_000 });
      workbench.push(Date.now() - t);
      const first = await inspect(page, 'photo1.jpg', '');
      cold.push(first.ms);
      log(`  session ${s + 1}: cold ${first.ms} ms`);
      if (moves.count > 0) {
        const t = await queryMoves(page, moves.count, moves.gridSide);
        moveTimes.push(...t.total);
        rowsArrived.push(...t.rowsArrived.filter((v) => v !== undefined));
        rolloutArrived.push(...t.rolloutArrived.filter((v) => v !== undefined));
        const m = summarize(t.total);
        log(`  session ${s + 1}: ${t.total.length} query moves, p50 ${m.median.toFixed(1)} ms, p95 ${m.p95.toFixed(1)} ms; rows arrived p50 ${summarize(t.rowsArrived).median.toFixed(1)} ms, rollout row ${summarize(t.rolloutArrived).median.toFixed(1)} ms`);
        modelTitle = (await webview(page).locator('#vi-title').textContent().catch(() => null)) ?? undefined;
      }
      const second = await inspect(page, 'photo2.jpg', first.checksum).catch((e) => {
        log(`  warm inspection failed: ${(e as Error).message.split('\n')[0]}`);
        return null;
      });
      if (second) {
        warm.push(second.ms);
        log(`  session ${s + 1}: warm ${second.ms} ms`);
      }
      if (s === 0) await page.screenshot({ path: join(root, 'test-output', 'bench-vscode.png') }).catch(() => undefined);
    } finally {
      await browser.close().catch(() => undefined);
      await server?.stop();
    }
    const text = extensionLog(join(OUTPUT, 'logs'));
    const add = (k: keyof typeof parts, v: number | undefined) => v !== undefined && parts[k].push(v);
    add('coldInspectMs', logged(text, /inspected photo1\.jpg with .* in (\d+) ms/));
    add('coldLoadMs', logged(text, /inspected photo1\.jpg with .*in the inference process: load (\d+)/));
    add('coldRunMs', logged(text, /inspected photo1\.jpg with .*in the inference process: .*, run (\d+)/));
    add('warmRunMs', logged(text, /inspected photo2\.jpg with .*in the inference process: .*, run (\d+)/));
    add('warmInspectMs', logged(text, /inspected photo2\.jpg with .* in (\d+) ms/));
    add('coldPostMs', logged(text, /photo1\.jpg: posted inspection \([\d.]+ MB of arrays\) in (\d+) ms/));
    add('warmPostMs', logged(text, /photo2\.jpg: posted inspection \([\d.]+ MB of arrays\) in (\d+) ms/));
    add('postMB', logged(text, /photo1\.jpg: posted inspection \(([\d.]+) MB of arrays\)/));
    add('coldPaintMs', logged(text, /photo1\.jpg: first heatmap (\d+) ms after the inspection arrived/));
    add('warmPaintMs', logged(text, /photo2\.jpg: first heatmap (\d+) ms after the inspection arrived/));
  }
  return {
    measured: cold.length > 0,
    reason: '',
    sessions,
    coldMs: summarize(cold),
    warmMs: warm.length ? summarize(warm) : undefined,
    workbenchMs: summarize(workbench),
    parts: Object.fromEntries(Object.entries(parts).filter(([, v]) => v.length).map(([k, v]) => [k, summarize(v)])),
    vsix,
    ...(moveTimes.length ? { moveMs: summarize(moveTimes), moveRowsArrivedMs: summarize(rowsArrived), moveRolloutArrivedMs: summarize(rolloutArrived), model: modelTitle } : {}),
  };
}

/**
 * test/e2e/codeServer.ts prepare() (scripts/setup-e2e.sh, then the VSIX), in a child process: the setup
 * script prints to stdout, which `npm run bench -- --json` keeps for the JSON object.
 */
function prepareQuietly(root: string, log: (s: string) => void): string {
  const code = `process.stdout.write('@@' + require(${JSON.stringify(join(root, 'test', 'e2e', 'codeServer.ts'))}).prepare() + '\\n')`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
  const lines = (r.stdout ?? '').split('\n');
  for (const l of lines) if (l && !l.startsWith('@@')) log(`  ${l}`);
  const vsix = lines.find((l) => l.startsWith('@@'))?.slice(2);
  if (r.status !== 0 || !vsix) throw new Error(`test/e2e/codeServer.ts prepare() failed (${r.status ?? r.signal})`);
  return vsix;
}

/** A second, different 12 MP photo for the warm inspection (the first one mirrored). */
export async function mirroredCopy(photo: string): Promise<string> {
  const out = photo.replace(/\.jpg$/, '_mirrored.jpg');
  const sharp = (await import('sharp')).default;
  const { existsSync } = await import('node:fs');
  if (!existsSync(out)) {
    await sharp(photo).flop().jpeg({ quality: 90 }).toFile(`${out}.tmp`);
    renameSync(`${out}.tmp`, out);
  }
  return out;
}
