import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { findAttention } from '../../src/node/attention';
import { isInspectorError } from '../../src/shared/errors';
import { parseOnnx } from '../../src/node/onnx/parse';
import { ProtoWriter } from '../../src/node/onnx/protobuf';
import { withExtraOutputs } from '../../src/node/onnx/surgery';

const VIT = join(__dirname, '..', 'fixtures', 'vit');
const NAMES = ['vit_hf_style', 'vit_timm_style', 'vit_torchvision', 'deit_style'];
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

async function fixtureInput(name: string, h: number, w: number): Promise<ort.Tensor> {
  const raw = await sharp(join(VIT, `${name}.png`)).removeAlpha().raw().toBuffer();
  const x = new Float32Array(3 * h * w);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) x[c * h * w + i] = (raw[i * 3 + c] / 255 - 0.5) / 0.5;
  return new ort.Tensor('float32', x, [1, 3, h, w]);
}

function throwsCode(fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isInspectorError(e), `expected InspectorError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes('\n'));
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

for (const name of NAMES) {
  for (const file of [`${name}.onnx`, `${name}/model.onnx`]) {
    test(`${file}: every layer's softmax is found and, exposed as outputs, matches PyTorch`, async () => {
      const ref = readJson(join(VIT, `${name}.json`));
      const model = parseOnnx(readFileSync(join(VIT, file)), file);
      const sites = findAttention(model);
      assert.equal(sites.length, ref.layers);
      assert.deepEqual(sites.map((s) => s.rank), sites.map(() => (name === 'vit_torchvision' ? 3 : 4)));
      assert.ok(sites.every((s, i) => i === 0 || s.index > sites[i - 1].index), 'graph order');

      const session = await ort.InferenceSession.create(withExtraOutputs(model, sites.flatMap((s) => [s.scores, s.probs])));
      const [, , h, w] = ref.input.shape as number[];
      const out = await session.run({ [ref.input.name]: await fixtureInput(name, h, w) });
      const n = ref.tokens as number;
      sites.forEach((site, layer) => {
        const p = out[site.probs];
        // [1, H, N, N], or [B*H, N, N] for nn.MultiheadAttention: same memory order for batch 1.
        assert.deepEqual(p.dims, site.rank === 4 ? [1, ref.heads, n, n] : [ref.heads, n, n]);
        assert.deepEqual(out[site.scores].dims, p.dims);
        const a = p.data as Float32Array;
        (ref.attention[layer] as number[][][]).forEach((head, hh) =>
          head.forEach((row, q) => row.forEach((v, k) => {
            const got = a[(hh * n + q) * n + k];
            assert.ok(Math.abs(got - v) < 1e-4, `layer ${layer} head ${hh} [${q},${k}]: ${got} vs ${v}`);
          })));
      });
      const logits = out.logits.data as Float32Array;
      (ref.logits as number[]).forEach((v, i) => assert.ok(Math.abs(logits[i] - v) < 1e-4, `logit ${i}`));
    });
  }
}

test('a CNN is refused as not-a-vit, naming what was found', () => {
  const bytes = gunzipSync(readFileSync(join(__dirname, '..', 'fixtures', 'cnn', 'cnn_small.onnx.gz')));
  throwsCode(() => findAttention(parseOnnx(bytes, 'cnn_small.onnx')), 'not-a-vit', /^cnn_small\.onnx has no attention softmax \(found \d+ Conv.*CNN/);
});

// ---- tiny hand-built graphs for exporter variants ----

interface N { op: string; inputs: string[]; outputs: string[]; domain?: string; attrs?: ProtoWriter[] }

const intAttr = (name: string, v: number) => new ProtoWriter().string(1, name).varint(3, v).varint(20, 2);
const intsAttr = (name: string, v: number[]) => new ProtoWriter().string(1, name).packedVarints(8, v).varint(20, 7);

function valueInfo(name: string, dims: number[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.bytes(1, new ProtoWriter().varint(1, d));
  return new ProtoWriter().string(1, name).bytes(2, new ProtoWriter().bytes(1, new ProtoWriter().varint(1, 1).bytes(2, shape)));
}

function int64Tensor(name: string, values: number[]): ProtoWriter {
  return new ProtoWriter().varint(1, values.length).varint(2, 7).packedVarints(7, values).string(8, name);
}

function floatTensor(name: string, dims: number[], values: number[]): ProtoWriter {
  const t = new ProtoWriter();
  for (const d of dims) t.varint(1, d);
  return t.varint(2, 1).packedFloats(4, values).string(8, name);
}

function buildModel(opts: { nodes: N[]; inputs: [string, number[]][]; outputs: string[]; opset?: number; inits?: ProtoWriter[]; msOpset?: boolean }): Uint8Array {
  const g = new ProtoWriter();
  opts.nodes.forEach((n, i) => {
    const node = new ProtoWriter();
    n.inputs.forEach((x) => node.string(1, x));
    n.outputs.forEach((x) => node.string(2, x));
    node.string(3, `${n.op}_${i}`).string(4, n.op);
    (n.attrs ?? []).forEach((a) => node.bytes(5, a));
    if (n.domain) node.string(7, n.domain);
    g.bytes(1, node);
  });
  g.string(2, 'g');
  (opts.inits ?? []).forEach((t) => g.bytes(5, t));
  opts.inputs.forEach(([name, dims]) => g.bytes(11, valueInfo(name, dims)));
  opts.outputs.forEach((o) => g.bytes(12, new ProtoWriter().string(1, o)));
  const m = new ProtoWriter().varint(1, 8).string(2, 'test').bytes(7, g).bytes(8, new ProtoWriter().string(1, '').varint(2, opts.opset ?? 17));
  if (opts.msOpset) m.bytes(8, new ProtoWriter().string(1, 'com.microsoft').varint(2, 1));
  return m.finish();
}

/** q, k, v: [1, H, N, d] inputs; scores = q @ kT * s (+ mask) -> softmax -> (cast) @ v. */
function attentionModel(variant: { rank?: 3 | 4; axis?: number | null; opset?: number; mask?: boolean; between?: string; classifierSoftmax?: boolean; reshapeQ?: boolean }): Uint8Array {
  const rank = variant.rank ?? 4;
  const dims = rank === 4 ? [1, 2, 5, 4] : [2, 5, 4];
  const perm = rank === 4 ? [0, 1, 3, 2] : [0, 2, 1];
  const nodes: N[] = [];
  if (variant.reshapeQ) {
    // q's rank is known only through a computed shape: Concat(Shape(k)[0:1], [5, 4]) -> rank-3 Reshape
    nodes.push({ op: 'Shape', inputs: ['k'], outputs: ['kshape'], attrs: [intAttr('end', 1)] });
    nodes.push({ op: 'Concat', inputs: ['kshape', 'tail'], outputs: ['qshape'], attrs: [intAttr('axis', 0)] });
    nodes.push({ op: 'Reshape', inputs: ['q_flat', 'qshape'], outputs: ['q'] });
  }
  nodes.push(
    { op: 'Transpose', inputs: ['k'], outputs: ['kT'], attrs: [intsAttr('perm', perm)] },
    { op: 'MatMul', inputs: ['q', 'kT'], outputs: ['qk'] },
    { op: 'Mul', inputs: ['qk', 'scale'], outputs: ['scaled'] },
  );
  let scores = 'scaled';
  if (variant.mask) {
    nodes.push({ op: 'Add', inputs: ['scaled', 'bias'], outputs: ['masked'] });
    scores = 'masked';
  }
  const axisAttr = variant.axis === null ? [] : [intAttr('axis', variant.axis ?? -1)];
  nodes.push({ op: 'Softmax', inputs: [scores], outputs: ['probs'], attrs: axisAttr });
  let probs = 'probs';
  if (variant.between === 'HeadMask') {
    nodes.push({ op: 'Mul', inputs: ['scale', 'probs'], outputs: ['probs2'] }); // probs as the second input
    probs = 'probs2';
  } else if (variant.between) {
    nodes.push({ op: variant.between, inputs: ['probs'], outputs: ['probs2'], attrs: variant.between === 'Cast' ? [intAttr('to', 1)] : [] });
    probs = 'probs2';
  }
  nodes.push({ op: 'MatMul', inputs: [probs, 'v'], outputs: ['ctx'] });
  const outputs = ['ctx'];
  const inits = [floatTensor('scale', [], [0.5]), floatTensor('bias', [5], [0, 0, 0, 0, 0])];
  if (variant.classifierSoftmax) {
    nodes.push({ op: 'ReduceMean', inputs: ['ctx'], outputs: ['pooled'], attrs: [intsAttr('axes', [-2]), intAttr('keepdims', 0)] });
    nodes.push({ op: 'Softmax', inputs: ['pooled'], outputs: ['classes'], attrs: [intAttr('axis', -1)] });
    outputs.push('classes');
  }
  if (variant.reshapeQ) inits.push(int64Tensor('tail', [5, 4]));
  const q: [string, number[]] = variant.reshapeQ ? ['q_flat', [2, 20]] : ['q', dims];
  return buildModel({ nodes, inputs: [q, ['k', dims], ['v', dims]], outputs, opset: variant.opset, inits });
}

test('detection handles exporter variants: masks, casts, dropout, 3-D layouts, old opsets', () => {
  const cases: [string, Parameters<typeof attentionModel>[0], 3 | 4][] = [
    ['opset 17, axis -1', {}, 4],
    ['Add of a mask before the softmax', { mask: true }, 4],
    ['Cast after the softmax', { between: 'Cast' }, 4],
    ['Dropout after the softmax', { between: 'Dropout' }, 4],
    ['head mask multiplied after the softmax', { between: 'HeadMask' }, 4],
    ['3-D [B*H, N, N]', { rank: 3 }, 3],
    ['opset 11 with axis = rank - 1', { opset: 11, axis: 3 }, 4],
    ['opset 11, 3-D, axis 2', { opset: 11, rank: 3, axis: 2 }, 3],
    ['opset 13, no axis attribute', { opset: 13, axis: null }, 4],
    ['3-D, rank known only from a computed Reshape shape', { rank: 3, reshapeQ: true }, 3],
  ];
  for (const [what, variant, rank] of cases) {
    const sites = findAttention(parseOnnx(attentionModel(variant), 'm.onnx'));
    assert.equal(sites.length, 1, what);
    assert.equal(sites[0].rank, rank, what);
    assert.equal(sites[0].scores, variant.mask ? 'masked' : 'scaled', what);
    assert.equal(sites[0].probs, 'probs', what);
  }
});

test('a softmax over another axis or a classifier softmax is not attention', () => {
  throwsCode(() => findAttention(parseOnnx(attentionModel({ axis: 1 }), 'm.onnx')), 'not-a-vit');
  // opset < 13 without an axis means axis 1 over a flattened tensor: not a per-row softmax
  throwsCode(() => findAttention(parseOnnx(attentionModel({ opset: 11, axis: null }), 'm.onnx')), 'not-a-vit');
  const sites = findAttention(parseOnnx(attentionModel({ classifierSoftmax: true }), 'm.onnx'));
  assert.deepEqual(sites.map((s) => s.probs), ['probs']);
});

test('the hand-built attention graph runs in onnxruntime and its probabilities can be exposed', async () => {
  const bytes = attentionModel({ mask: true, between: 'Cast', rank: 3, reshapeQ: true });
  const model = parseOnnx(bytes, 'm.onnx');
  const [site] = findAttention(model);
  const session = await ort.InferenceSession.create(withExtraOutputs(model, [site.probs]));
  const t = (dims: number[]) => new ort.Tensor('float32', Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)), dims);
  const out = await session.run({ q_flat: t([2, 20]), k: t([2, 5, 4]), v: t([2, 5, 4]) });
  assert.deepEqual(out.probs.dims, [2, 5, 5]);
  const p = out.probs.data as Float32Array;
  for (let row = 0; row < 10; row++) assert.ok(Math.abs(p.subarray(row * 5, row * 5 + 5).reduce((a, b) => a + b) - 1) < 1e-5);
});

test('fused attention is refused with the op and count', () => {
  const nodes: N[] = [0, 1, 2].map((i) => ({
    op: 'Attention', domain: 'com.microsoft', inputs: [i ? `h${i}` : 'x', 'w', 'b'], outputs: [`h${i + 1}`], attrs: [intAttr('num_heads', 2)],
  }));
  const bytes = buildModel({ nodes, inputs: [['x', [1, 5, 4]]], outputs: ['h3'], msOpset: true, inits: [floatTensor('w', [4, 12], new Array(48).fill(0)), floatTensor('b', [12], new Array(12).fill(0))] });
  throwsCode(() => findAttention(parseOnnx(bytes, 'fused.onnx')), 'fused-attention', /^fused\.onnx uses fused attention \(com\.microsoft\.Attention ×3\).*Re-export/);
  // ONNX's own Attention op (opset 23) too
  const onnxAttention = buildModel({ nodes: [{ op: 'Attention', inputs: ['x', 'x', 'x'], outputs: ['y'] }], inputs: [['x', [1, 2, 5, 4]]], outputs: ['y'], opset: 23 });
  throwsCode(() => findAttention(parseOnnx(onnxAttention, 'a.onnx')), 'fused-attention', /\(Attention ×1\)/);
});
