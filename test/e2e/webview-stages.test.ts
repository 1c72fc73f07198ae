/**
 * The panel's stage selector in headless Chromium (dist/webview.js through webview/dev/harness.html, with a fake
 * VS Code API and the host's nonce CSP), fed the payloads the host makes for a real Swin (transformers' Swin,
 * test/fixtures/families/swin_hf, run by the engine here): the selector lists both stages, picking stage 2 asks
 * the host for it with the query carried to the 4×4 grid, the views then show stage 2 (rollout labelled per
 * stage), the masking lab is off with a note, and nothing breaks the CSP.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../src/node/engine';
import { toPayload } from '../../src/host/panelController';
import { stageView } from '../../src/shared/windows';
import type { InspectionPayload } from '../../src/shared/protocol';
import { REPO } from './codeServer';

const SWIN = join(REPO, 'test', 'fixtures', 'families', 'swin_hf');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

/** Typed arrays as {__t, b64} so that a payload survives page.evaluate (JSON) and is rebuilt in the page. */
function encode(p: InspectionPayload): string {
  return JSON.stringify(p, (_k, v) => (ArrayBuffer.isView(v) ? { __t: v.constructor.name, b64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') } : v));
}

let payloads: string[] = [];
/** Each stage's view of the inspection, for the harness's stand-in store (the webview queries it as it would the inference process). */
let stored: string[] = [];
let server: ReturnType<typeof createServer>;
let port = 0;

before(async () => {
  const engine = new Engine();
  try {
    const inspection = await engine.inspect({ modelPath: SWIN, image: join(SWIN, 'image.png') });
    const settings = { colormap: 'viridis', topK: 5 } as Parameters<typeof toPayload>[4];
    const views = [0, 1].map((s) => stageView(inspection, s));
    payloads = views.map((v, s) => encode(toPayload(join(SWIN, 'image.png'), { ...v, id: 100 + s, storedBytes: 0 }, null, 'No CNN selected.', settings, s)));
    stored = views.map((v) => encode({ ...v, stages: undefined } as unknown as InspectionPayload));
  } finally {
    await engine.dispose();
  }
  server = createServer(async (req, res) => {
    const file = join(REPO, normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, ''));
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => server?.close());

test('stage selector: both stages listed, stage 2 asked for with the query carried, views per stage, masking off', async () => {
  const { chromium } = createRequire(join(REPO, 'package.json'))('playwright-core') as typeof import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/webview/dev/harness.html?cnn=0&layers=2&heads=2&grid=4`);
    await page.waitForFunction(() => document.body.dataset.firstPaint === '1', null, { timeout: 60_000 });
    const show = (s: number) => page.evaluate(([text, inspection, id]) => {
      // (no named functions in here: the test's transpiler would wrap them in a helper the page does not have)
      const w = window as unknown as { __harness: { send(m: unknown): void }; __harnessStore: { put(id: number, i: unknown): void } };
      w.__harnessStore.put(id as number, JSON.parse(inspection as string, (_k, v) => (v && v.__t ? new (globalThis as unknown as Record<string, new (b: ArrayBuffer) => unknown>)[v.__t](Uint8Array.from(atob(v.b64), (c) => c.charCodeAt(0)).buffer) : v)));
      w.__harness.send({ type: 'inspection', payload: JSON.parse(text as string, (_k, v) => (v && v.__t ? new (globalThis as unknown as Record<string, new (b: ArrayBuffer) => unknown>)[v.__t](Uint8Array.from(atob(v.b64), (c) => c.charCodeAt(0)).buffer) : v)) });
    }, [payloads[s], stored[s], 100 + s] as const);

    await show(0);
    await page.waitForSelector('#vi-stages');
    assert.equal(await page.locator('#vi-stage vscode-option').count(), 2);
    assert.match(await page.textContent('#vi-stage vscode-option') ?? '', /^Stage 1: 8×8 tokens, 4×4 windows, 2 blocks \(shifts 0 2\), 2 heads$/);
    assert.match(await page.textContent('#vi-stage-note') ?? '', /rollout does not cross patch merging/);

    // query: the patch at row 6, col 6 of stage 1's 8×8 grid (token 54)
    await page.click('#tab-patches');
    const box = (await page.locator('#vi-patches').boundingBox())!;
    await page.mouse.click(box.x + box.width * (6.5 / 8), box.y + box.height * (6.5 / 8));
    await page.mouse.move(box.x + box.width + 50, box.y);
    await page.waitForTimeout(150);
    assert.equal(await page.getAttribute('#vi-heads', 'data-query'), '54');

    await page.evaluate(() => {
      const d = document.getElementById('vi-stage') as HTMLElement & { value: string };
      d.value = '1';
      d.dispatchEvent(new Event('change'));
    });
    await page.waitForTimeout(100);
    const asked = await page.evaluate(() => (window as unknown as { __posted: { type: string; stage?: number }[] }).__posted.filter((m) => m.type === 'selectStage'));
    assert.deepEqual(asked, [{ type: 'selectStage', stage: 1 }]);

    await show(1);
    await page.waitForTimeout(300);
    // (6, 6) of 8×8 lies in (3, 3) of 4×4: token 15
    assert.equal(await page.getAttribute('#vi-heads', 'data-query'), '15');
    assert.equal(await page.evaluate(() => (document.getElementById('vi-stage') as HTMLElement & { value: string }).value), '1');
    await page.click('#tab-heads');
    await page.waitForFunction(() => /stage 2 of 2 only/.test(document.getElementById('vi-rollout-status')?.textContent ?? ''), null, { timeout: 20_000 });

    await page.click('#tab-scaling');
    await page.waitForTimeout(300);
    assert.notEqual(await page.getAttribute('#vi-run-masked', 'disabled'), null, 'Run with mask stays disabled');
    assert.match(await page.textContent('#vi-mask-windowed') ?? '', /Masking is not available for windowed models/);

    assert.deepEqual(pageErrors, []);
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __cspViolations: unknown[] }).__cspViolations), []);
  } finally {
    await browser.close();
  }
});
