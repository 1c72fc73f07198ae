#!/usr/bin/env node
// Loads dist/webview.js in plain headless Chromium through webview/dev/harness.html (fake acquireVsCodeApi,
// synthetic 12x12x197 payload, a nonce CSP like the host's), then optionally benchmarks query moves and
// takes screenshots of every view.
//
//   node webview/dev/run-harness.mjs [--bench 200] [--shots DIR] [--params "theme=light&cnn=0"] [--chromium /usr/bin/chromium]
//
// Needs playwright-core: from node_modules, or PLAYWRIGHT_CORE=/path/to/node_modules/playwright-core.
// Build first: node scripts/build.mjs (or esbuild webview/main.ts --bundle --outfile=dist/webview.js).
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const root = resolve(new URL('../..', import.meta.url).pathname);
const bench = Number(opt('bench', '0'));
const shots = opt('shots', '');
const params = opt('params', '');
const chromium = opt('chromium', process.env.CHROMIUM || '/usr/bin/chromium');

function loadPlaywright() {
  const require = createRequire(import.meta.url);
  for (const p of [process.env.PLAYWRIGHT_CORE, 'playwright-core', '/tmp/pw/node_modules/playwright-core'].filter(Boolean)) {
    try { return require(p); } catch { /* next */ }
  }
  throw new Error('playwright-core not found: npm i --no-save playwright-core, or set PLAYWRIGHT_CORE');
}

if (!existsSync(join(root, 'dist/dev/webview.js'))) {
  console.error('dist/dev/webview.js is missing: run node scripts/build.mjs first');
  process.exit(2);
}

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
  const file = join(root, path);
  if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

/** Drives the UI like a user through the DOM hooks an end-to-end test can use; returns what it saw. */
async function smoke(page) {
  const out = {};
  const attr = (sel, name) => page.getAttribute(sel, name);
  const check = (name, ok) => { out[name] = ok ? 'ok' : 'FAILED'; };
  await page.click('#tab-patches');
  const c0 = await attr('#vi-heads', 'data-checksum');
  const box = await page.locator('#vi-patches').boundingBox();
  await page.mouse.click(box.x + box.width * 0.1, box.y + box.height * 0.1); // patch (row 1, col 1) region
  await page.mouse.move(box.x + box.width + 50, box.y); // leave: the clicked query stays
  await page.waitForTimeout(100);
  const q1 = await attr('#vi-heads', 'data-query');
  check('click a patch sets the query', q1 === '16');
  check('heads checksum changes with the query', (await attr('#vi-heads', 'data-checksum')) !== c0);
  await page.focus('#vi-patches');
  await page.keyboard.press('ArrowRight');
  await page.waitForTimeout(60);
  check('ArrowRight moves the query', (await attr('#vi-heads', 'data-query')) === '17');
  await page.keyboard.press('Home');
  await page.waitForTimeout(60);
  check('Home selects CLS', (await attr('#vi-heads', 'data-query')) === '0');
  await page.click('#tab-heads');
  await page.waitForTimeout(200);
  const hb = await page.locator('#vi-heads').boundingBox();
  // the cell of layer 1, head 2, from data-layout = left,top,cellW,cellH,gap (canvas pixels, shown 1:1 here)
  const [left, top, cellW, , gap] = (await attr('#vi-heads', 'data-layout')).split(',').map(Number);
  const cx = hb.x + left + (cellW + gap) + 10, cy = hb.y + top + 10;
  await page.mouse.click(cx, cy);
  await page.waitForTimeout(100);
  check('click a head enlarges it', (await attr('#vi-head-big', 'data-cell')) === '0,1');
  const c1 = await attr('#vi-heads', 'data-checksum');
  await page.keyboard.down('Control');
  await page.mouse.click(cx, cy);
  await page.keyboard.up('Control');
  await page.waitForTimeout(100);
  check('ctrl+click switches a head off', (await attr('#vi-heads', 'data-checksum')) !== c1);
  await page.waitForSelector('#vi-rollout[data-kept]', { timeout: 20000 });
  check('rollout drawn', Number(await attr('#vi-rollout', 'data-kept')) > 0);
  await page.click('#tab-compare');
  await page.waitForTimeout(200);
  out.rfBox = await attr('#vi-cnn', 'data-rf-box');
  check('rf box drawn', /^\d+,\d+,\d+,\d+$/.test(out.rfBox ?? ''));
  out.chartDots = await attr('#vi-distance-chart', 'data-dots');
  await page.click('#tab-scaling');
  await page.waitForSelector('#vi-scaling-table[data-layer]', { timeout: 20000 });
  const scalingRows = await page.locator('#vi-scaling-table tbody tr').count();
  const askedScores = await page.evaluate(() => window.__posted.filter((m) => m.type === 'query' && m.query.kind === 'scaling').length);
  check('scaling table filled from the statistics asked for once', scalingRows === (await page.evaluate(() => window.__harness.payload.summary.heads)) && askedScores === 1);
  await page.click('#tab-anatomy');
  await page.waitForSelector('.vi-anatomy-steps section', { timeout: 20000 });
  out.anatomySteps = await page.locator('.vi-anatomy-steps section').count();
  out.anatomyText = await page.locator('.vi-anatomy-steps').innerText();
  await page.focus('#vi-anatomy-image');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => window.__posted.filter((m) => m.type === 'needAnatomy').length >= 2, null, { timeout: 20000 });
  await page.selectOption('#vi-anatomy-head', '3');
  await page.waitForFunction(() => window.__posted.some((m) => m.type === 'needAnatomy' && m.head === 3), null, { timeout: 20000 });
  out.anatomyAsked = await page.evaluate(() => window.__posted.filter((m) => m.type === 'needAnatomy').map((m) => `${m.layer}/${m.head}/${m.query}`));
  check('anatomy view: six steps and the self-checks, softmax equal to the Heads row', out.anatomySteps === 7 && Number(/equals the Heads view's row for this head and query within (\S+) \(those rows travel as float16/.exec(out.anatomyText)?.[1] ?? NaN) <= 2 ** -11 && /d_k = 64/.test(out.anatomyText));
  check('anatomy view: the arrow keys move the query, the head selector asks for that head', out.anatomyAsked.length >= 3);
  await page.click('#tab-scaling');
  const mb = await page.locator('#vi-mask').boundingBox();
  await page.mouse.click(mb.x + mb.width * 0.5, mb.y + mb.height * 0.5);
  await page.mouse.click(mb.x + mb.width * 0.6, mb.y + mb.height * 0.5);
  await page.waitForTimeout(100);
  out.masked = await attr('#vi-mask', 'data-masked');
  await page.click('#vi-run-masked');
  await page.waitForSelector('#vi-mask-result:not([hidden])', { timeout: 20000 });
  check('mask result shown', (await attr('#vi-mask-result', 'data-masked')) === out.masked);
  check('masked run\'s layer asked for', await page.evaluate(() => window.__posted.some((m) => m.type === 'query' && m.query.inspection !== 1 && m.query.kind === 'rows' && m.query.layers)));
  check('no message carries the whole tensor', await page.evaluate(() => !window.__posted.some((m) => m.type === 'needScores')));
  out.runMasked = await page.evaluate(() => window.__posted.filter((m) => m.type === 'runMasked').map((m) => m.maskedTokens.join(',')));
  await page.evaluate(() => window.__harness.send({ type: 'error', message: 'No ViT model is configured.', action: 'selectModel' }));
  await page.waitForTimeout(100);
  await page.click('#vi-error-action');
  out.commands = await page.evaluate(() => window.__posted.filter((m) => m.type === 'command').map((m) => m.command));
  check('error action posts its command', out.commands.includes('selectModel'));
  await page.evaluate(() => window.__harness.send({ type: 'progress', message: 'Working…' }));
  await page.waitForTimeout(50);
  check('progress shown', await page.isVisible('#vi-progress'));
  out.savedState = await page.evaluate(() => window.__savedState && { imagePath: window.__savedState.imagePath, view: window.__savedState.view, query: window.__savedState.query, disabledHeads: window.__savedState.disabledHeads });
  out.appState = await attr('#app', 'data-state');
  return out;
}

const { chromium: pw } = loadPlaywright();
const browser = await pw.launch({
  executablePath: chromium,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const result = { consoleErrors: [], pageErrors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') result.consoleErrors.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  const url = `http://127.0.0.1:${port}/webview/dev/harness.html${params ? `?${params}` : ''}`;
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.firstPaint === '1', null, { timeout: 60000 });
  await page.waitForTimeout(300);
  result.hooks = await page.evaluate(() => ({
    predictions: document.querySelector('#vi-predictions')?.getAttribute('data-count'),
    headsChecksum: document.querySelector('#vi-heads')?.getAttribute('data-checksum'),
    headsQuery: document.querySelector('#vi-heads')?.getAttribute('data-query'),
    posted: window.__posted.map((m) => m.type + (m.what ? `:${m.what}` : '')).slice(0, 12),
    payloadMs: window.__payloadMs,
  }));
  const benchView = opt('bench-view', '');
  if (benchView) { await page.click(`#tab-${benchView}`); await page.waitForTimeout(1500); }
  if (bench > 0) {
    const times = await page.evaluate(async (n) => {
      const b = window.__vitInspectorBench;
      const tokens = window.__harness.payload.summary.tokens;
      const out = [];
      const parts = {};
      for (let i = 0; i < n; i++) {
        out.push(await b.moveQuery(1 + ((i * 37) % (tokens - 1))));
        for (const [k, v] of Object.entries(b.breakdown())) (parts[k] ??= []).push(v);
      }
      const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
      return { out, parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, +med(v).toFixed(2)])) };
    }, bench);
    result.benchParts = times.parts;
    const t = times.out.sort((a, b) => a - b);
    const q = (p) => t[Math.min(t.length - 1, Math.floor(p * t.length))];
    result.bench = { view: await page.evaluate(() => document.querySelector('#vi-tabs')?.getAttribute('activeid')), n: t.length, p50: +q(0.5).toFixed(2), p95: +q(0.95).toFixed(2), max: +t[t.length - 1].toFixed(2) };
  }
  if (args.includes('--smoke')) result.smoke = await smoke(page);
  if (shots) {
    await mkdir(shots, { recursive: true });
    for (const view of ['patches', 'heads', 'compare', 'scaling', 'anatomy', 'summary']) {
      await page.click(`#tab-${view}`);
      await page.waitForTimeout(view === 'heads' || view === 'scaling' ? 1500 : 400);
      await page.screenshot({ path: join(shots, `${view}.png`), fullPage: true });
    }
  }
  result.cspViolations = await page.evaluate(() => window.__cspViolations);
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(result, null, 2));
