import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isInspectorError } from '../../src/shared/errors';
import { assertModelSize, constantOf, parseOnnx, resolveExternalData } from '../../src/node/onnx/parse';
import { ProtoReader, ProtoWriter, encodeVarint } from '../../src/node/onnx/protobuf';

const VIT = join(__dirname, '..', 'fixtures', 'vit');
const NAMES = ['vit_hf_style', 'vit_timm_style', 'vit_torchvision', 'deit_style'];

function throwsCode(fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isInspectorError(e), `expected InspectorError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes('\n'), 'one line');
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test('varints round-trip, including 64-bit negatives and values past 2^32', () => {
  for (const v of [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 32 + 5, 2 ** 52, -1, -2, -(2 ** 31), -(2 ** 40)]) {
    const r = new ProtoReader(Uint8Array.from(encodeVarint(v)));
    assert.equal(r.varint(), v);
    assert.ok(r.done);
  }
  assert.equal(encodeVarint(-1).length, 10);
});

for (const name of NAMES) {
  test(`${name}: the fixture parses: input, output, opset, initializers, Constant values`, () => {
    const ref = JSON.parse(readFileSync(join(VIT, `${name}.json`), 'utf8'));
    const bytes = readFileSync(join(VIT, `${name}.onnx`));
    const m = parseOnnx(bytes, `${name}.onnx`);
    assert.equal(m.bytes, bytes);
    assert.ok(m.irVersion >= 3);
    assert.equal(m.producer, 'pytorch');
    assert.ok((m.opsets.get('') ?? 0) >= 9);
    assert.deepEqual(m.graph.inputs.map((i) => [i.name, i.elemType, i.dims]), [[ref.input.name, 1, ref.input.shape]]);
    assert.deepEqual(m.graph.outputs.map((o) => o.name), ['logits']);
    assert.ok(m.graph.nodes.some((n) => n.opType === 'Softmax'));
    const conv = m.graph.nodes.find((n) => n.opType === 'Conv')!;
    assert.deepEqual(conv.attributes.get('strides'), { type: 'ints', value: [ref.patch_size, ref.patch_size] });
    const w = m.graph.initializers.get(conv.inputs[1])!;
    assert.deepEqual(w.dims.slice(1), [3, ref.patch_size, ref.patch_size]);
    assert.equal(w.byteLength, w.dims.reduce((a, b) => a * b, 1) * 4);
    assert.equal(w.values().length, w.dims.reduce((a, b) => a * b, 1));
    assert.ok(w.values().every(Number.isFinite));
    // a node's range is its NodeProto bytes: re-reading them gives the same op type
    const sm = m.graph.nodes.find((n) => n.opType === 'Softmax')!;
    assert.ok(Buffer.from(bytes.subarray(...sm.range)).includes(Buffer.from('Softmax')));
    assert.deepEqual(sm.attributes.get('axis'), { type: 'int', value: -1 });
    // Reshape shapes are Constant nodes in torch exports
    const shapes = m.graph.nodes.filter((n) => n.opType === 'Reshape').map((n) => constantOf(m.graph, n.inputs[1])).filter((t) => t !== null);
    assert.ok(shapes.length > 0);
    for (const t of shapes) assert.equal(t.values().length, t.dims[0]);
  });
}

test('the CNN fixtures parse', () => {
  for (const f of ['cnn_small', 'resnet18']) {
    const m = parseOnnx(gunzipSync(readFileSync(join(__dirname, '..', 'fixtures', 'cnn', `${f}.onnx.gz`))), f);
    assert.ok(m.graph.nodes.filter((n) => n.opType === 'Conv').length >= 4);
  }
});

test('a truncated model is reported as truncated, wherever it is cut', () => {
  for (const name of NAMES) {
    const bytes = readFileSync(join(VIT, `${name}.onnx`));
    for (const at of [1, 2, 5, 17, 40, 100, 1000, 5000, bytes.length >> 2, bytes.length >> 1, bytes.length - 100, bytes.length - 1]) {
      throwsCode(() => parseOnnx(bytes.subarray(0, at), `${name}.onnx`), 'truncated-model', new RegExp(`^${name}\\.onnx is truncated \\(${at} bytes, ends inside .+\\)\\. Download or export it again\\.$`));
    }
  }
});

test('files that are not ONNX are reported as not-onnx', () => {
  const notOnnx = /is not an ONNX model \(.+\)\. Choose a \.onnx file exported with torch\.onnx\.export or optimum\.$/;
  throwsCode(() => parseOnnx(readFileSync(join(VIT, 'vit_hf_style.png')), 'cat.png'), 'not-onnx', /^cat\.png is not an ONNX model \(it is a PNG image\)/);
  throwsCode(() => parseOnnx(Buffer.from('{"model_type": "vit"}\n'), 'config.json'), 'not-onnx', /text file/);
  throwsCode(() => parseOnnx(readFileSync(join(VIT, 'vit_hf_style.json')), 'x.json'), 'not-onnx', notOnnx);
  throwsCode(() => parseOnnx(readFileSync(join(__dirname, '..', 'fixtures', 'cnn', 'cnn_small.onnx.gz')), 'm.onnx.gz'), 'not-onnx', /gzip/);
  // pseudo-random bytes (fixed seeds, so the test is deterministic), many sizes
  for (let seed = 1; seed <= 200; seed++) {
    let s = seed * 2654435761;
    const size = 16 + ((seed * 97) % 4000);
    const bytes = Uint8Array.from({ length: size }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
    throwsCode(() => parseOnnx(bytes, 'random.bin'), 'not-onnx', notOnnx);
  }
  throwsCode(() => parseOnnx(new Uint8Array(0), 'empty.onnx'), 'empty-file', /^empty\.onnx is empty/);
});

test('garbage never causes a RangeError or huge allocation: every error is an InspectorError', () => {
  const bytes = readFileSync(join(VIT, 'deit_style.onnx'));
  let s = 7;
  for (let i = 0; i < 300; i++) {
    const copy = Uint8Array.from(bytes);
    for (let k = 0; k < 4; k++) copy[((s = (s * 1103515245 + 12345) >>> 0) >>> 3) % copy.length] = (s >>> 11) & 0xff;
    try {
      parseOnnx(copy, 'corrupt.onnx');
    } catch (e) {
      assert.ok(isInspectorError(e), `corruption ${i}: ${e}`);
      assert.ok(['not-onnx', 'truncated-model'].includes(e.code));
    }
  }
});

test('external data: tensors expose their location; paths outside the model folder are refused', () => {
  const entry = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
  const tensor = new ProtoWriter().varint(1, 2).varint(1, 3).varint(2, 1).string(8, 'w')
    .bytes(13, entry('location', 'weights.bin')).bytes(13, entry('offset', '4096')).bytes(13, entry('length', '24')).varint(14, 1);
  const graph = new ProtoWriter().bytes(5, tensor).bytes(11, new ProtoWriter().string(1, 'x')).bytes(12, new ProtoWriter().string(1, 'x'));
  const m = parseOnnx(new ProtoWriter().varint(1, 8).bytes(7, graph).bytes(8, new ProtoWriter().varint(2, 17)).finish(), 'ext.onnx');
  const w = m.graph.initializers.get('w')!;
  assert.deepEqual(w.external, { location: 'weights.bin', offset: 4096, length: 24 });
  assert.equal(w.byteLength, 24);

  const dir = mkdtempSync(join(tmpdir(), 'vit-ext-'));
  const model = join(dir, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'weights.bin'), new Uint8Array(8));
  writeFileSync(join(dir, 'secret.bin'), new Uint8Array(8));
  assert.equal(resolveExternalData(model, 'weights.bin'), join(model, 'weights.bin'));
  assert.equal(resolveExternalData(model, 'sub/w.bin'), join(model, 'sub', 'w.bin'));
  for (const bad of ['../secret.bin', 'sub/../../secret.bin', '/etc/passwd', join(dir, 'secret.bin'), 'C:\\Windows\\x.bin', '..\\secret.bin', '']) {
    throwsCode(() => resolveExternalData(model, bad), 'external-data', /outside the model folder|not a valid file name/);
  }
  symlinkSync(join(dir, 'secret.bin'), join(model, 'link.bin'));
  throwsCode(() => resolveExternalData(model, 'link.bin'), 'external-data', /links outside/);
});

test('model size limit', () => {
  assertModelSize(10 * 1024 * 1024, 10);
  throwsCode(() => assertModelSize(10 * 1024 * 1024 + 1, 10, 'big.onnx'), 'model-too-large', /^big\.onnx is \d+ MB, over the 10 MB limit/);
});
