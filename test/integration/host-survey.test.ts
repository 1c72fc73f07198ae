/**
 * "Survey Folder…" in the extension host (under the fake vscode of host-fake-vscode.ts, with the real
 * inference processes): the explorer menu entry on folders, a cancellable notification, then the figure-7 page.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as fv from './host-fake-vscode';
import { REPO } from '../helpers/fixtures';

fv.installFakeVscode();
const { fake, Uri } = fv;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ext = require('../../src/host/extension') as typeof import('../../src/host/extension');
const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'vit-host-survey-'));
const images = join(work, 'images');
let context: ReturnType<typeof fv.makeContext> | undefined;

before(() => {
  assert.ok(existsSync(join(REPO, 'dist', 'worker.js')), 'run npm run build first');
  mkdirSync(images);
  const variants = join(REPO, 'test', 'fixtures', 'variants');
  for (const v of readdirSync(variants).filter((d) => existsSync(join(variants, d, 'image.png'))).slice(0, 4)) copyFileSync(join(variants, v, 'image.png'), join(images, `${v}.png`));
  fake.reset();
  context = fv.makeContext(REPO);
  context.globalStorageUri = Uri.file(join(work, 'storage'));
  ext.activate(context as never);
});

after(() => {
  for (const d of context?.subscriptions ?? []) d.dispose();
  ext.deactivate();
  rmSync(work, { recursive: true, force: true });
});

test('Survey Folder… is on folders in the explorer context menu', () => {
  const entry = manifest.contributes.menus['explorer/context'].find((m: { command: string }) => m.command === 'vitInspector.surveyFolder');
  assert.match(entry.when, /explorerResourceIsFolder/);
  assert.ok(manifest.contributes.commands.some((c: { command: string; title: string }) => c.command === 'vitInspector.surveyFolder' && c.title === 'Survey Folder…'));
  assert.ok(fake.commands.has('vitInspector.surveyFolder'));
});

test('Survey Folder… runs the default ViT over the folder with a cancellable notification, then shows figure 7', async () => {
  await fake.commands.get('vitInspector.surveyFolder')!(Uri.file(images));
  assert.deepEqual(fake.progress.at(-1), { title: 'ViT Inspector: surveying images', location: 15, cancellable: true });
  const panel = fake.panels.find((p) => p.viewType === 'vitInspector.survey');
  assert.ok(panel, `no survey page; messages: ${JSON.stringify(fake.messages)}`);
  const html = panel.webview.html as string;
  assert.match(html, /Survey of images with vit-cifar10/);
  assert.match(html, /over 4 images/);
  // default ViT: 6 layers × 4 heads, a point per head in each of the two ViT charts, and a table row per head;
  // the default CNN's measured ERF beside them: a point per reported layer and side (20/50/99 %), and a row per layer
  const cnnLayers = (html.match(/<tr><td>\d+<\/td><td>[\d.]+<\/td><td>[\d.]+<\/td><td>[\d.]+<\/td><td>[\d.]+<\/td><td>[\d.]+<\/td><td>[\d.]+<\/td><\/tr>/g) ?? []).length;
  assert.equal(cnnLayers, 8);
  assert.equal(html.match(/<circle /g)?.length, 2 * (6 * 4 + 4) + (cnnLayers * 3 + 3)); // points and legends
  assert.equal(html.match(/<tr><td>/g)?.length, 6 * 4 + cnnLayers);
  assert.match(html, /CNN \(cnn-cifar10\): measured receptive field/);
  assert.match(html, /<title>layer 8, side holding 99 %: 32\.00 ± 0\.00 px \(n = 4\)<\/title>/);
  assert.match(html, /one 2×2 px cell at a time/);
  assert.match(html, /default-src 'none'/);
  assert.doesNotMatch(html, /<script/);
  // the results are in the extension's storage, and a second survey of the same folder reuses them
  const surveys = join(work, 'storage', 'surveys');
  const [dir] = readdirSync(surveys);
  assert.equal(readFileSync(join(surveys, dir, 'results.jsonl'), 'utf8').trim().split('\n').length, 4);
  await fake.commands.get('vitInspector.surveyFolder')!(Uri.file(images));
  assert.ok(fake.log.some((l) => /survey of .*images: 4 images, 0 failed/.test(l)));
});
