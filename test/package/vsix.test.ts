/**
 * The platform VSIXes (scripts/package.mjs --all, built once into a temporary folder): each holds the bundles,
 * the default models, and for native code only its own platform's onnxruntime and sharp binaries, of the right
 * format and architecture as their headers say (PE32+ / Mach-O / ELF, x64 / arm64), and is at most 35 MB; the
 * web VSIX holds no native code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MAX_VSIX_BYTES, TARGETS, checkVsix, nativeFormat, vsixName } from '../../scripts/vsix.mjs';
import { REPO } from '../helpers/fixtures';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const out = mkdtempSync(join(tmpdir(), 'vit-vsix-'));
const vsix = (target: string) => join(out, vsixName(pkg, target));
let log = '';

before(() => {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'package.mjs'), '--all', '--out-dir', out], { cwd: REPO, encoding: 'utf8', timeout: 15 * 60_000 });
  log = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, `package.mjs --all failed:\n${log.slice(-4000)}`);
});
after(() => rmSync(out, { recursive: true, force: true }));

test('the header reader names the format and architecture of onnxruntime-node\'s own binaries', () => {
  const bin = join(REPO, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
  const head = (p: string) => readFileSync(join(bin, p)).subarray(0, 4096);
  assert.deepEqual(nativeFormat(head('linux/x64/libonnxruntime.so.1')), { format: 'ELF', bits: 64, arch: 'x64' });
  assert.deepEqual(nativeFormat(head('linux/arm64/onnxruntime_binding.node')), { format: 'ELF', bits: 64, arch: 'arm64' });
  assert.deepEqual(nativeFormat(head('win32/x64/onnxruntime.dll')), { format: 'PE32+', bits: 64, arch: 'x64' });
  assert.deepEqual(nativeFormat(head('win32/arm64/onnxruntime_binding.node')), { format: 'PE32+', bits: 64, arch: 'arm64' });
  assert.deepEqual(nativeFormat(head('darwin/arm64/libonnxruntime.1.dylib')), { format: 'Mach-O', bits: 64, arch: 'arm64' });
  assert.equal(nativeFormat(readFileSync(join(REPO, 'package.json'))), null);
});

for (const target of Object.keys(TARGETS).filter((t) => TARGETS[t].ort)) {
  test(`${target}: only ${TARGETS[target].format} ${TARGETS[target].arch} native files, its own onnxruntime and sharp, at most 35 MB`, () => {
    const { problems, entries, natives } = checkVsix(vsix(target), target);
    assert.deepEqual(problems, []);
    const size = statSync(vsix(target)).size;
    assert.ok(size <= MAX_VSIX_BYTES, `${(size / 1048576).toFixed(1)} MB`);
    // onnxruntime's binding, its runtime library, sharp's module (and libvips, separate outside Windows)
    assert.ok(natives.length >= 4, natives.map((n) => n.name).join('\n'));
    for (const n of natives) assert.deepEqual([n.format, n.arch], [TARGETS[target].format, TARGETS[target].arch], n.name);
    const names = entries.map((e) => e.name);
    for (const model of ['vit-cifar10', 'cnn-cifar10']) assert.ok(names.includes(`extension/media/models/${model}/model.onnx`), model);
    assert.ok(names.includes('extension/LICENSE.txt') || names.includes('extension/LICENSE'), 'LICENSE');
  });
}

test('web: the browser entry only, no native code and no node_modules', () => {
  const { problems, entries } = checkVsix(vsix('web'), 'web');
  assert.deepEqual(problems, []);
  assert.ok(entries.some((e) => e.name === 'extension/dist/web.js'));
  assert.ok(statSync(vsix('web')).size < 1024 * 1024);
});

test('the check catches a VSIX for another platform', () => {
  const { problems } = checkVsix(vsix('linux-arm64'), 'linux-x64');
  assert.ok(problems.some((p) => /ELF arm64, not ELF x64/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /other platform's onnxruntime/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /TargetPlatform="linux-x64"/.test(p)), problems.join('\n'));
});
