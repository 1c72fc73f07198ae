import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkModelSize, sizeLimit } from '../../src/node/modelSize';
import { resolveModelSource } from '../../src/node/modelSource';
import { isInspectorError } from '../../src/shared/errors';

const GB = 1024 ** 3;

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isInspectorError(e) && e.code === 'model-too-large', String(e));
    assert.ok(!e.message.includes('\n'));
    return e.message;
  }
  assert.fail('not refused');
}

test('automatic limit: a ViT-H/14 (2.5 GB fp32) and a ViT-L/16 (1.16 GB) open on a 24 GB machine; a 20 GB model does not', () => {
  const limit = sizeLimit(0, 24 * GB);
  assert.equal(limit.automatic, true);
  checkModelSize(2.5 * GB, limit, 'vit_huge');
  checkModelSize(1.16 * GB, limit, 'vit_large');
  assert.deepEqual(sizeLimit(undefined, 24 * GB), limit);
  const msg = refusal(() => checkModelSize(20 * GB, limit, 'giant.onnx'));
  assert.match(msg, /^giant\.onnx is 20480 MB, more than this machine's 24 GB of memory can run \(up to 14745 MB\)\. Use a smaller model, or set a size limit \(vitInspector\.maxModelSizeMB, --max-model-mb\) to try anyway\.$/);
});

test('a positive setting overrides the automatic limit, either way', () => {
  assert.deepEqual(sizeLimit(100, 24 * GB), { mb: 100, automatic: false });
  assert.match(refusal(() => checkModelSize(200 * 1024 * 1024, sizeLimit(100), 'm.onnx', ' with its external data')), /^m\.onnx is 200 MB with its external data, over the 100 MB limit\./);
  checkModelSize(30 * GB, sizeLimit(40 * 1024, 24 * GB), 'huge'); // the user asked for it
});

test('by default resolveModelSource opens a 1.2 GB file (sparse here) that the old 1024 MB default refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vit-size-'));
  try {
    const file = join(dir, 'big.onnx');
    writeFileSync(file, '');
    const fd = openSync(file, 'r+');
    ftruncateSync(fd, Math.round(1.2 * GB));
    closeSync(fd);
    // Not a model (all zeros): what matters is that the size check passes and the reader gets to the bytes.
    const source = await resolveModelSource(file, { weightsByReference: true }).catch((e: unknown) => {
      assert.ok(isInspectorError(e) && e.code !== 'model-too-large', String(e));
      return null;
    });
    if (source) assert.equal(source.name, 'big.onnx');
    await assert.rejects(resolveModelSource(file, { maxModelMB: 1024 }), (e: unknown) => isInspectorError(e) && e.code === 'model-too-large');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('VS Code defaults: vitInspector.maxModelSizeMB is 0 (automatic) in package.json and when unset', async () => {
  const { readSettings } = await import('../../src/host/settings');
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  assert.equal(pkg.contributes.configuration.properties['vitInspector.maxModelSizeMB'].default, 0);
  const unset = { get: () => undefined, inspect: () => ({}) } as Parameters<typeof readSettings>[0];
  assert.equal(readSettings(unset, true).maxModelSizeMB, 0);
  assert.equal(sizeLimit(readSettings(unset, true).maxModelSizeMB).automatic, true);
});
