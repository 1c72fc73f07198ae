import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveModelSource } from '../../src/node/modelSource';
import { isInspectorError } from '../../src/shared/errors';

const VIT = join(__dirname, '..', 'fixtures', 'vit');

async function tmp(): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), 'vit-model-source-'));
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isInspectorError(e), `expected InspectorError, got ${e}`);
    assert.equal(e.code, code);
    assert.ok(!e.message.includes('\n'), 'one line');
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test('a Hugging Face folder gives the model bytes, both configs and the labels by index', async () => {
  const src = await resolveModelSource(join(VIT, 'vit_hf_style'));
  const onDisk = await fs.readFile(join(VIT, 'vit_hf_style', 'model.onnx'));
  assert.equal(src.name, 'vit_hf_style');
  assert.equal(src.onnxPath, join(VIT, 'vit_hf_style', 'model.onnx'));
  assert.deepEqual(Buffer.from(src.bytes), onDisk);
  assert.equal((src.config as { model_type: string }).model_type, 'vit');
  assert.ok(src.preprocessorConfig?.image_mean);
  const reference = JSON.parse(await fs.readFile(join(VIT, 'vit_hf_style.json'), 'utf8'));
  assert.deepEqual(src.labels, reference.labels);
});

test('a bare .onnx file has no configs unless it is model.onnx in its folder', async () => {
  const bare = await resolveModelSource(join(VIT, 'vit_timm_style.onnx'));
  assert.equal(bare.name, 'vit_timm_style.onnx');
  assert.equal(bare.config, null);
  assert.equal(bare.preprocessorConfig, null);
  assert.equal(bare.labels, null);
  const inFolder = await resolveModelSource(join(VIT, 'deit_style', 'model.onnx'));
  assert.ok(inFolder.config);
  assert.equal(inFolder.labels?.length, 10);
});

test('onnx/model.onnx (Optimum layout) reads the configs from the parent folder', async () => {
  const dir = await tmp();
  await fs.mkdir(join(dir, 'onnx'));
  await fs.copyFile(join(VIT, 'deit_style.onnx'), join(dir, 'onnx', 'model.onnx'));
  await fs.writeFile(join(dir, 'config.json'), JSON.stringify({ id2label: { 2: 'two', 0: 'zero' } }));
  const src = await resolveModelSource(dir);
  assert.equal(src.onnxPath, join(dir, 'onnx', 'model.onnx'));
  assert.deepEqual(src.labels, ['zero', '1', 'two']);
  assert.equal(src.preprocessorConfig, null);
  const direct = await resolveModelSource(join(dir, 'onnx', 'model.onnx'));
  assert.deepEqual(direct.labels, ['zero', '1', 'two']);
});

test('user errors carry their code and a one-line message', async () => {
  await rejectsWith(resolveModelSource('/no/such/model.onnx'), 'file-not-found', /does not exist/);
  const dir = await tmp();
  await fs.copyFile(join(VIT, 'deit_style.onnx'), join(dir, 'mine.onnx'));
  await rejectsWith(resolveModelSource(dir), 'file-not-found', /model\.onnx.*mine\.onnx/);
  await fs.writeFile(join(dir, 'notes.txt'), 'hi');
  await rejectsWith(resolveModelSource(join(dir, 'notes.txt')), 'not-onnx');
  await fs.writeFile(join(dir, 'empty.onnx'), '');
  await rejectsWith(resolveModelSource(join(dir, 'empty.onnx')), 'empty-file');
  await rejectsWith(resolveModelSource(join(dir, 'mine.onnx'), { maxModelMB: 0.001 }), 'model-too-large', /MB limit/);
});

test('malformed config.json is bad-config naming the file and the JSON error', async () => {
  const dir = await tmp();
  await fs.copyFile(join(VIT, 'deit_style.onnx'), join(dir, 'model.onnx'));
  await fs.writeFile(join(dir, 'config.json'), '{"id2label": {"0": "a",}');
  await rejectsWith(resolveModelSource(dir), 'bad-config', /config\.json is not valid JSON \(.+\)/);
  await fs.writeFile(join(dir, 'config.json'), '[1, 2]');
  await rejectsWith(resolveModelSource(dir), 'bad-config', /JSON object/);
  await fs.rm(join(dir, 'config.json'));
  await fs.mkdir(join(dir, 'config.json')); // reading a folder fails like an unreadable file, even as root
  await rejectsWith(resolveModelSource(dir), 'unreadable', /cannot be read/);
});

test('an unreadable model is unreadable', { skip: process.getuid?.() === 0 && 'root reads everything' }, async () => {
  const dir = await tmp();
  const file = join(dir, 'model.onnx');
  await fs.copyFile(join(VIT, 'deit_style.onnx'), file);
  await fs.chmod(file, 0o000);
  await rejectsWith(resolveModelSource(file), 'unreadable', /permissions/);
});
