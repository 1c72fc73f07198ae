/**
 * Where the extension cannot run, it says so instead of crashing: an install without this platform's
 * onnxruntime and sharp binaries (a VSIX for another platform, an Intel Mac, Alpine's musl) and VS Code for
 * the Web (the `browser` entry). Every contributed command and a restored panel give one error message.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { REPO } from '../helpers/fixtures';
import * as fv from './host-fake-vscode';

fv.installFakeVscode();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ext = require('../../src/host/extension') as typeof import('../../src/host/extension');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const web = require('../../src/host/web') as typeof import('../../src/host/web');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { nativeSupportProblem, SUPPORTED_TARGETS } = require('../../src/host/platform') as typeof import('../../src/host/platform');
const { fake } = fv;

const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const commandIds: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);
// An installed extension with no native parts: package.json only.
const bare = mkdtempSync(join(tmpdir(), 'vit-bare-ext-'));
copyFileSync(join(REPO, 'package.json'), join(bare, 'package.json'));
after(() => rmSync(bare, { recursive: true, force: true }));
beforeEach(() => fake.reset());

test('this checkout has the native parts for the machine it runs on', () => {
  assert.equal(nativeSupportProblem(REPO), undefined);
});

test('an Intel Mac, a platform with no build and musl each get a reason and what to do', () => {
  const mac = nativeSupportProblem(REPO, 'darwin', 'x64', () => true)!;
  assert.match(mac, /cannot run on darwin-x64: onnxruntime-node has no build for darwin-x64 \(Intel Macs\)/);
  assert.match(mac, /Remote-SSH, a Dev Container or WSL/);
  for (const t of SUPPORTED_TARGETS) assert.ok(mac.includes(t), t);
  assert.match(nativeSupportProblem(REPO, 'freebsd', 'x64', () => true)!, /no build for freebsd-x64/);
  assert.match(nativeSupportProblem(REPO, 'linux', 'x64', () => false)!, /needs glibc on Linux/);
  assert.ok(!nativeSupportProblem(REPO, 'linux', 'x64', () => true));
  assert.ok(!nativeSupportProblem(REPO, 'linux', 'x64', () => true)?.includes('\n'));
});

test('an install without this platform\'s binaries registers every command, and each shows one error', async () => {
  const context = fv.makeContext(bare);
  ext.activate(context as never);
  assert.deepEqual([...fake.commands.keys()].sort(), [...commandIds].sort());
  for (const id of commandIds) await fake.commands.get(id)!(fv.Uri.file(join(REPO, 'media', 'samples', 'cat.jpg')));
  assert.equal(fake.messages.length, commandIds.length);
  for (const m of fake.messages) {
    assert.equal(m.level, 'error');
    assert.match(m.message, new RegExp(`cannot run on ${process.platform}-${process.arch}: this install has no onnxruntime or sharp build`));
  }
  assert.equal(fake.panels.length, 0, 'no panel opened');
  for (const d of context.subscriptions) d.dispose();
  ext.deactivate();
});

test('a panel restored in such an install closes with the message', async () => {
  const context = fv.makeContext(bare);
  ext.activate(context as never);
  const panel = new fv.FakeWebviewPanel('vitInspector.panel', 'ViT Inspector', {});
  await fake.serializers.get('vitInspector.panel')!.deserializeWebviewPanel(panel, { image: 'x.png' });
  assert.equal(panel.disposed, true);
  assert.equal(fake.messages.length, 1);
  for (const d of context.subscriptions) d.dispose();
});

test('VS Code for the Web: the browser entry answers every command with the web message', async () => {
  const context = { ...fv.makeContext(bare), extension: { packageJSON: manifest } };
  web.activate(context as never);
  assert.deepEqual([...fake.commands.keys()].sort(), [...commandIds].sort());
  await fake.commands.get('vitInspector.inspectImage')!();
  assert.equal(fake.messages.length, 1);
  assert.match(fake.messages[0].message, /cannot run in VS Code for the Web: use VS Code on the desktop, or a remote/);
  for (const d of context.subscriptions) d.dispose();
});
