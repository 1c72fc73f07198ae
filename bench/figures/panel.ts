/**
 * Panel responsiveness: the time to repaint every head when the query token moves, 12 layers × 12 heads
 * (ViT-B) of 197 tokens by default, in headless Chromium. The development build's hook
 * window.__vitInspectorBench.moveQuery sets the query as a click does, waits for the rows it asks for (answered
 * in the page by the worker's own store and queries, webview/dev/harnessStore.ts: no process hop) and repaints
 * what a real move repaints, returning the milliseconds taken; the page is webview/dev/harness.html
 * (dist/dev/webview.js with a fake VS Code API and a synthetic inspection).
 */
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { summarize, type Summary } from '../lib/stats';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface PanelResult {
  url: string;
  layers: number;
  heads: number;
  tokens: number;
  moves: number;
  moveMs: Summary;
  firstPaintMs: number | null;
  chromium: string;
}

type Playwright = typeof import('playwright-core');

function loadPlaywright(root: string): Playwright {
  const require = createRequire(join(root, 'package.json'));
  return require('playwright-core');
}

export async function measurePanel(root: string, chromium: string, moves: number, warmup: number, size = { layers: 12, heads: 12, grid: 14 }): Promise<PanelResult> {
  if (!existsSync(join(root, 'webview', 'dev', 'harness.html'))) throw new Error('webview/dev/harness.html is missing');
  if (!existsSync(join(root, 'dist', 'dev', 'webview.js'))) throw new Error('dist/dev/webview.js is missing: npm run build');
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path);
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const { chromium: pw } = loadPlaywright(root);
  const browser = await pw.launch({ executablePath: chromium, args: CHROMIUM_ARGS });
  const url = `http://127.0.0.1:${port}/webview/dev/harness.html?layers=${size.layers}&heads=${size.heads}&grid=${size.grid}&view=heads`;
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const t0 = Date.now();
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.firstPaint === '1', null, { timeout: 120_000 });
    const firstPaintMs = Date.now() - t0;
    await page.waitForTimeout(500);
    const info = await page.evaluate(() => {
      const h = (window as unknown as { __harness: { payload: { summary: { layers: number; heads: number; tokens: number } } } }).__harness;
      return h.payload.summary;
    });
    const times = await page.evaluate(
      async ({ moves, warmup }) => {
        const b = (window as unknown as { __vitInspectorBench: { moveQuery(t: number): Promise<number> } }).__vitInspectorBench;
        const tokens = (window as unknown as { __harness: { payload: { summary: { tokens: number } } } }).__harness.payload.summary.tokens;
        const out: number[] = [];
        // Patch tokens in a scattered order (as a pointer sweeping the image would visit many), CLS included.
        for (let i = 0; i < warmup + moves; i++) {
          const ms = await b.moveQuery((i * 37) % tokens);
          if (i >= warmup) out.push(ms);
        }
        return out;
      },
      { moves, warmup },
    );
    return { url: url.replace(/^http:\/\/127\.0\.0\.1:\d+/, ''), layers: info.layers, heads: info.heads, tokens: info.tokens, moves: times.length, moveMs: summarize(times), firstPaintMs, chromium: browser.version() };
  } finally {
    await browser.close();
    server.close();
  }
}
