/**
 * src/host/extension.ts, src/host/panel.ts and src/host/commands.ts under a fake `vscode` module (host-fake-vscode.ts), with
 * the real inference process: every contributed command is registered, a panel per image with a strict CSP,
 * the serializer restores panels from the webview's state, restricted mode ignores the workspace's model,
 * Export asks before overwriting, and deactivate stops the child process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FIXTURES, REPO } from '../helpers/fixtures';
import * as fv from './host-fake-vscode';

fv.installFakeVscode();
// Loaded after the hook, so that its `import 'vscode'` gets the fake.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ext = require('../../src/host/extension') as typeof import('../../src/host/extension');
const { fake, Uri } = fv;

const VIT = join(FIXTURES, 'vit', 'vit_hf_style');
const IMAGE = join(FIXTURES, 'vit', 'vit_hf_style.png');
const work = mkdtempSync(join(tmpdir(), 'vit-ext-'));
const IMAGE2 = join(work, 'second image.png');
const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
let context: ReturnType<typeof fv.makeContext>;

function setConfig(key: string, levels: { globalValue?: unknown; workspaceValue?: unknown }) {
  fake.config.set(`vitInspector.${key}`, levels);
}

function childPids(): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
}

before(() => {
  assert.ok(existsSync(join(REPO, 'dist', 'worker.js')), 'run npm run build first');
  writeFileSync(IMAGE2, readFileSync(IMAGE));
  fake.reset();
  setConfig('model', { globalValue: VIT });
  setConfig('cnnModel', { globalValue: join(work, 'no-cnn.onnx') });
  context = fv.makeContext(REPO);
  ext.activate(context as never);
});

after(() => {
  for (const d of context?.subscriptions ?? []) d.dispose();
  ext.deactivate();
  rmSync(work, { recursive: true, force: true });
});

async function openPanel(image: string) {
  await fake.commands.get('vitInspector.inspect')!(Uri.file(image));
  const panel = fake.panels.at(-1)!;
  return panel;
}

describe('extension host under a fake vscode', () => {
  test('every contributed command is registered, and the panel type activates the extension', () => {
    for (const c of manifest.contributes.commands) assert.ok(fake.commands.has(c.command), `${c.command} registered`);
    assert.ok(manifest.activationEvents.includes('onWebviewPanel:vitInspector.panel'));
    assert.ok(fake.serializers.has('vitInspector.panel'));
    assert.deepEqual(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations, ['vitInspector.model', 'vitInspector.cnnModel']);
    const when = manifest.contributes.menus['explorer/context'][0].when as string;
    const re = new RegExp(when.match(/=~ \/(.*)\/i/)![1], 'i');
    for (const e of ['png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff', 'avif', 'PNG']) assert.ok(re.test(`.${e}`), e);
    for (const e of ['onnx', 'svg', 'pngx', 'json']) assert.ok(!re.test(`.${e}`), e);
  });

  test('Inspect Attention opens a panel with a strict CSP and posts the inspection once the webview is ready', async () => {
    const panel = await openPanel(IMAGE);
    assert.equal(panel.viewType, 'vitInspector.panel');
    assert.equal(panel.title, 'vit_hf_style.png');
    const opts = panel.options as { enableScripts: boolean; localResourceRoots: { fsPath: string }[]; retainContextWhenHidden?: boolean };
    assert.equal(opts.enableScripts, true);
    assert.deepEqual(opts.localResourceRoots.map((u) => u.fsPath), [join(REPO, 'dist'), join(REPO, 'media')]);
    const html = panel.webview.html;
    const csp = html.match(/http-equiv="Content-Security-Policy" content="([^"]+)"/)![1];
    const nonce = csp.match(/'nonce-([A-Za-z0-9]+)'/)![1];
    assert.ok(nonce.length >= 16);
    assert.match(csp, /^default-src 'none'; /);
    assert.match(csp, new RegExp(`script-src 'nonce-${nonce}';`));
    assert.doesNotMatch(csp, /unsafe-(inline|eval)/);
    assert.match(csp, /img-src https:\/\/\*\.vscode-cdn\.net data: blob:/);
    assert.ok(html.includes(`<script nonce="${nonce}" src=`));
    assert.ok(html.includes(`data-image-path="${IMAGE}"`));
    assert.equal((html.match(/<script/g) ?? []).length, 1, 'one script, no inline code');
    assert.doesNotMatch(html.replace(/https:\/\/file\+\.vscode-resource\.vscode-cdn\.net|https:\/\/\*\.vscode-cdn\.net/g, ''), /https?:\/\//, 'no remote content');

    const got = panel.webview.next<{ type: 'inspection'; payload: { id: number; summary: { path: string; tokens: number }; cnnError: string | null; attention?: unknown } }>('inspection');
    panel.webview.send({ type: 'ready' });
    const { payload } = await got;
    assert.ok(payload.summary.path.startsWith(VIT), payload.summary.path);
    assert.equal(payload.attention, undefined, 'the tensor stays in the inference process');
    const answer = panel.webview.next<{ type: 'answer'; requestId: number; answer: { kind: string; rows: Uint16Array } }>('answer');
    panel.webview.send({ type: 'query', requestId: 1, query: { kind: 'rows', inspection: payload.id, token: 0 } });
    const a = await answer;
    assert.equal(a.requestId, 1);
    assert.ok(a.answer.rows instanceof Uint16Array, 'float16 bits');
    assert.equal(a.answer.rows.length, 3 * 4 * payload.summary.tokens, 'every head\'s row of the query');
    assert.match(payload.cnnError ?? '', /no-cnn\.onnx/, 'a missing CNN is reported in the payload, the ViT still shows');
  });

  test('the same image again reveals its panel; another image gets its own', async () => {
    const n = fake.panels.length;
    const first = fake.panels.at(-1)!;
    await openPanel(IMAGE);
    assert.equal(fake.panels.length, n);
    assert.equal(first.revealed, 1);
    const second = await openPanel(IMAGE2);
    assert.equal(fake.panels.length, n + 1);
    assert.equal(second.title, 'second image.png');
    const got = second.webview.next('inspection');
    second.webview.send({ type: 'ready' });
    await got;
  });

  test('Inspect Active Image uses the image preview in the active tab', async () => {
    fake.panels.at(-1)!.dispose(); // close the panel of IMAGE2
    fake.activeTab = { input: new fv.TabInputCustom(Uri.file(IMAGE2), 'imagePreview.previewEditor') };
    const n = fake.panels.length;
    await fake.commands.get('vitInspector.inspectActiveImage')!();
    assert.equal(fake.panels.length, n + 1);
    assert.equal(fake.panels.at(-1)!.title, 'second image.png');
    fake.activeTab = { input: { uri: Uri.file(IMAGE2) } }; // a text editor: not an image preview
    const m = fake.messages.length;
    await fake.commands.get('vitInspector.inspectActiveImage')!();
    assert.match(fake.messages[m].message, /No image is open/);
    fake.activeTab = undefined;
  });

  test('the serializer restores a panel from the webview state and ignores bad state', async () => {
    for (const p of fake.panels) p.dispose();
    const ser = fake.serializers.get('vitInspector.panel')!;
    const restored = new fv.FakeWebviewPanel('vitInspector.panel', 'old title', {});
    await ser.deserializeWebviewPanel(restored, { imagePath: IMAGE, query: 3, layer: 1, view: 'heads' });
    assert.equal(restored.title, 'vit_hf_style.png');
    assert.ok(restored.webview.html.includes('Content-Security-Policy'));
    const got = restored.webview.next('inspection');
    restored.webview.send({ type: 'ready' });
    await got;
    restored.dispose();
    for (const state of [undefined, null, {}, { imagePath: 42 }, { imagePath: join(work, 'gone.png') }, { imagePath: work }]) {
      const p = new fv.FakeWebviewPanel('vitInspector.panel', 'x', {});
      await ser.deserializeWebviewPanel(p, state);
      assert.ok(p.disposed, `state ${JSON.stringify(state)} not restored`);
    }
  });

  test('a colormap change is posted to open panels; a model change re-runs them', async () => {
    const panel = await openPanel(IMAGE2);
    const first = panel.webview.next('inspection');
    panel.webview.send({ type: 'ready' });
    await first;
    const s = panel.webview.next<{ type: 'settings'; settings: { colormap: string } }>('settings');
    setConfig('colormap', { globalValue: 'magma' });
    fake.configChanged.fire({ affectsConfiguration: (k: string) => 'vitInspector.colormap'.startsWith(k) });
    assert.equal((await s).settings.colormap, 'magma');
    const again = panel.webview.next<{ type: 'inspection'; payload: { settings: { colormap: string } } }>('inspection');
    fake.configChanged.fire({ affectsConfiguration: (k: string) => 'vitInspector.model'.startsWith(k) });
    assert.equal((await again).payload.settings.colormap, 'magma');
  });

  test('Export writes the report (from the inference process, which holds the tensor) and asks before overwriting', async () => {
    const out = join(work, 'export');
    fake.openDialog.push([Uri.file(out)]);
    await fake.commands.get('vitInspector.export')!();
    for (const f of ['report.json', 'attention.npy', 'patches.png', 'heads.png', 'rollout.png']) assert.ok(existsSync(join(out, f)), f);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.equal(report.model.tokens, 17);
    // attention.npy: a v1.0 header, then float32 [3, 4, 17, 17]
    const npy = readFileSync(join(out, 'attention.npy'));
    assert.match(npy.subarray(10, 10 + npy.readUInt16LE(8)).toString('latin1'), /'shape': \(3, 4, 17, 17\)/);
    assert.equal(npy.length - 10 - npy.readUInt16LE(8), 3 * 4 * 17 * 17 * 4);
    const mtime = statSync(join(out, 'report.json')).mtimeMs;

    const m = fake.messages.length;
    fake.openDialog.push([Uri.file(out)]);
    fake.answers.push(undefined); // the overwrite question: dismissed
    await fake.commands.get('vitInspector.export')!();
    assert.equal(fake.messages[m].level, 'warning');
    assert.match(fake.messages[m].message, /already exist.*Overwrite\?/);
    assert.equal(statSync(join(out, 'report.json')).mtimeMs, mtime, 'nothing overwritten');

    fake.openDialog.push([Uri.file(out)]);
    fake.answers.push('Overwrite');
    await new Promise((r) => setTimeout(r, 20));
    await fake.commands.get('vitInspector.export')!();
    assert.ok(statSync(join(out, 'report.json')).mtimeMs > mtime, 'overwritten after yes');
  });

  test('Select Model… (a folder) sets the user setting, remembers it and offers it next time', async () => {
    setConfig('model', {});
    fake.quickPick = (items) => items.find((i) => i.label.includes('Choose a model folder'));
    fake.openDialog.push([Uri.file(VIT)]);
    await fake.commands.get('vitInspector.selectModel')!();
    assert.equal(fake.config.get('vitInspector.model')!.globalValue, VIT);
    assert.deepEqual(fake.globalState.get('vitInspector.recentModels'), [VIT]);
    fake.quickPick = (items) => items.find((i) => i.description === join(FIXTURES, 'vit'));
    await fake.commands.get('vitInspector.selectModel')!();
    const shown = fake.quickPicks.at(-1)!.map((i) => i.label);
    assert.ok(shown.some((l) => l.includes('Embedded default')), shown.join(' | '));
    assert.ok(shown.some((l) => l.includes('$(check) vit_hf_style')), 'the current model is marked');
    fake.quickPick = (items) => items.find((i) => i.label.includes('Embedded default'));
    await fake.commands.get('vitInspector.selectModel')!();
    assert.equal(fake.config.get('vitInspector.model')!.globalValue, '');
    fake.quickPick = () => undefined;
    setConfig('model', { globalValue: VIT });
  });

  test('Show Model Summary without a panel reads the model and opens a Markdown summary', async () => {
    for (const p of fake.panels) p.dispose();
    await fake.commands.get('vitInspector.showSummary')!();
    const doc = fake.documents.at(-1)!;
    assert.equal(doc.language, 'markdown');
    assert.match(doc.content!, /^# vit_hf_style/);
    assert.match(doc.content!, /\| Layers \| 3 \|/);
    assert.match(doc.content!, /\| Heads per layer \| 4 \|/);
    assert.match(doc.content!, /17 \(cls \+ 4×4 patches\)/);
  });

  test('restricted mode: the workspace model is ignored with a warning, the user model loads', async () => {
    for (const p of fake.panels) p.dispose();
    fake.trusted = false;
    const evil = join(work, 'evil.onnx');
    writeFileSync(evil, 'not a model');
    setConfig('model', { globalValue: VIT, workspaceValue: evil });
    const panel = await openPanel(IMAGE);
    const got = panel.webview.next<{ type: 'inspection'; payload: { summary: { path: string } } }>('inspection', 20_000);
    panel.webview.send({ type: 'ready' });
    try {
      const path = (await got).payload.summary.path;
      assert.ok(path.startsWith(VIT), path);
    } catch (e) {
      console.log(fake.log.join('\n'));
      throw e;
    }
    const warning = fake.messages.find((m) => m.level === 'warning' && /not trusted/.test(m.message));
    assert.ok(warning, 'warned about the ignored setting');
    assert.ok(fake.log.some((l) => l.includes('Restricted Mode: ignoring the workspace\'s vitInspector.model')));
    fake.trusted = true;
  });

  test('deactivate stops the inference process', async () => {
    const started = fake.log.map((l) => l.match(/inference process (\d+) started/)).filter(Boolean).map((m) => Number(m![1]));
    assert.ok(started.length > 0);
    const live = started.filter((pid) => childPids().includes(pid));
    assert.equal(live.length, 1, 'one inference process');
    ext.deactivate();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!childPids().includes(live[0]), 'the child is gone');
  });
});
