import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { resolveModelSource } from '../../src/node/modelSource';
import { parseOnnx } from '../../src/node/onnx/parse';
import { MIN_BYTES, readWithWeightsByReference } from '../../src/node/onnx/weightsByReference';
import { FIXTURES, VIT_NAMES, maxAbsDiff } from '../helpers/fixtures';

const vitFile = (name: string) => join(FIXTURES, 'vit', `${name}.onnx`);

test('every fixture ViT reads without its large weights: same graph, the weights referenced at their place in the file', async () => {
  for (const name of VIT_NAMES) {
    const file = vitFile(name);
    const whole = new Uint8Array(await fs.readFile(file));
    const lean = readWithWeightsByReference(file, whole.length, basename(file));
    assert.ok(lean, name);
    assert.ok(lean.referenced > whole.length / 2, `${name}: most of the file is weights (${lean.referenced} of ${whole.length})`);
    // Each reference costs some 60–90 bytes of external_data entries.
    const externals = [...parseOnnx(lean.bytes, name).graph.initializers.values()].filter((t) => t.external).length;
    assert.ok(externals > 0 && Math.abs(lean.bytes.length - (whole.length - lean.referenced)) <= 100 * externals, `${name}: ${lean.bytes.length} bytes`);
    const a = parseOnnx(whole, name);
    const b = parseOnnx(lean.bytes, name);
    assert.deepEqual(b.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs]), a.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs]));
    assert.deepEqual([...b.graph.initializers.keys()], [...a.graph.initializers.keys()]);
    let referenced = 0;
    for (const [key, t] of a.graph.initializers) {
      const r = b.graph.initializers.get(key)!;
      assert.deepEqual(r.dims, t.dims, key);
      assert.equal(t.external, null);
      if (t.byteLength < MIN_BYTES) {
        assert.equal(r.external, null, `${key} is small and stays in place`);
        assert.deepEqual(r.values(), t.values());
        continue;
      }
      assert.equal(r.external?.location, basename(file), key);
      // The referenced range holds exactly the tensor's values.
      const { offset, length } = r.external!;
      const data = whole.slice(offset, offset + length!);
      const values = Array.from(new Float32Array(data.buffer));
      assert.equal(maxAbsDiff(values, t.values()), 0, key);
      referenced += length!;
    }
    assert.equal(referenced, lean.referenced, `${name}: the references add up to what was left out`);
  }
});

test('onnxruntime gives the same outputs from the lean bytes (weights mapped from the file) as from the file', async () => {
  const file = vitFile('vit_timm_style');
  const whole = new Uint8Array(await fs.readFile(file));
  const lean = readWithWeightsByReference(file, whole.length, basename(file))!;
  const options = { extra: { session: { model_external_initializers_file_folder_path: dirname(file) } } };
  const a = await ort.InferenceSession.create(file);
  const b = await ort.InferenceSession.create(lean.bytes, options);
  const [, c, h, w] = a.inputMetadata[0].isTensor ? (a.inputMetadata[0].shape as number[]) : [];
  const pixels = Float32Array.from({ length: c * h * w }, (_, i) => Math.sin(i * 0.37));
  const feeds = { [a.inputNames[0]]: new ort.Tensor('float32', pixels, [1, c, h, w]) };
  const ra = await a.run(feeds);
  const rb = await b.run(feeds);
  const out = a.outputNames[0];
  assert.ok(ra[out].data.length > 0);
  assert.equal(maxAbsDiff(ra[out].data as Float32Array, rb[out].data as Float32Array), 0);
  await Promise.all([a.release(), b.release()]);
});

test('a cut or garbage file is not read lean (null), so the whole-file parser can say what is wrong', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'vit-lean-'));
  const whole = await fs.readFile(vitFile('deit_style'));
  const cut = join(dir, 'cut.onnx');
  await fs.writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
  assert.equal(readWithWeightsByReference(cut, Math.floor(whole.length * 0.6), 'cut.onnx'), null);
  const garbage = join(dir, 'garbage.onnx');
  await fs.writeFile(garbage, Buffer.from('this is not a model at all, just text\n'.repeat(50)));
  assert.equal(readWithWeightsByReference(garbage, 38 * 50, 'garbage.onnx'), null);
  // Claims a 4 GB graph in 13 bytes.
  const claim = join(dir, 'claim.onnx');
  await fs.writeFile(claim, Uint8Array.from([0x08, 0x07, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 0, 0]));
  assert.equal(readWithWeightsByReference(claim, 13, 'claim.onnx'), null);
});

test('resolveModelSource leaves weights in the file only when asked, and reads a symlinked model whole', async () => {
  const file = vitFile('vit_hf_style');
  const size = (await fs.stat(file)).size;
  const plain = await resolveModelSource(file);
  assert.equal(plain.referencedBytes, 0);
  assert.equal(plain.bytes.length, size);
  const lean = await resolveModelSource(file, { weightsByReference: true });
  assert.ok(lean.referencedBytes > 0);
  assert.ok(lean.bytes.length < size - lean.referencedBytes + 64 * 100);
  const dir = await fs.mkdtemp(join(tmpdir(), 'vit-lean-link-'));
  const link = join(dir, 'linked.onnx');
  await fs.symlink(file, link);
  const linked = await resolveModelSource(link, { weightsByReference: true });
  assert.equal(linked.referencedBytes, 0);
  assert.equal(linked.bytes.length, size);
});
