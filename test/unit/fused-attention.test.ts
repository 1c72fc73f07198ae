import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { findAttention } from '../../src/node/attention';
import { elemTypeOf, exposeFusedAttention } from '../../src/node/onnx/fusedAttention';
import { int64Tensor, nodeProto, splicedModel, type NodeSpec } from '../../src/node/onnx/graphEdit';
import { parseOnnx } from '../../src/node/onnx/parse';
import { withExtraOutputs, withKeyMask } from '../../src/node/onnx/surgery';
import { isInspectorError } from '../../src/shared/errors';
import type { OnnxModel } from '../../src/shared/graph';
import { FAMILIES_DIR, familyAttention, familyReference } from '../helpers/families';

const load = (name: string) => {
  const bytes = readFileSync(join(FAMILIES_DIR, name, 'model.onnx'));
  return { bytes, model: parseOnnx(bytes, name) };
};
/** A fixed pseudo-random image (what matters here is the graph, not the preprocessing). */
const pixels = (name: string) => new ort.Tensor('float32', Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37) * 0.8), familyReference(name).input.shape);
const intAttr = (m: OnnxModel, node: string, key: string) => {
  const a = m.graph.nodes.find((n) => n.name === node)!.attributes.get(key);
  return a?.type === 'int' ? a.value : undefined;
};

test('ONNX Attention: each node gets mode 3 and a 4th output (the probabilities), plus a mode-1 copy for the scores; the file bytes stay as they are', async () => {
  const { bytes, model } = load('onnx_attention_op');
  const copy = Buffer.from(bytes);
  assert.throws(() => findAttention(model), (e: unknown) => isInspectorError(e) && e.code === 'fused-attention');
  const exposed = parseOnnx(exposeFusedAttention(model, 'x')!, 'x');
  assert.ok(bytes.equals(copy));
  const sites = findAttention(exposed);
  assert.equal(sites.length, 2);
  for (const s of sites) {
    assert.equal(s.fused, true);
    assert.equal(s.rank, 4);
    assert.equal(intAttr(exposed, s.node, 'qk_matmul_output_mode'), 3);
    assert.equal(intAttr(exposed, `${s.node}/vit_inspector_scores`, 'qk_matmul_output_mode'), 1);
    assert.equal(intAttr(exposed, s.node, 'is_causal'), 0, 'other attributes are kept');
  }
  assert.equal(exposeFusedAttention(exposed, 'x'), null, 'exposing twice changes nothing');

  // Run with onnxruntime: the probabilities are the library's attention, and softmax(scores).
  const session = await ort.InferenceSession.create(withExtraOutputs(exposed, sites.flatMap((s) => [s.scores, s.probs])));
  const out = await session.run({ pixel_values: await referenceInput('onnx_attention_op') });
  const got = sites.flatMap((s) => Array.from(out[s.probs].data as Float32Array));
  const expected = familyAttention('onnx_attention_op');
  assert.ok(got.every((v, i) => Math.abs(v - expected[i]) < 1e-4), "the library's attention");
  for (const s of sites) {
    const p = out[s.probs].data as Float32Array;
    const sc = out[s.scores].data as Float32Array;
    assert.deepEqual(out[s.probs].dims, [1, 2, 17, 17]);
    for (let row = 0; row < p.length / 17; row++) {
      const r = sc.subarray(row * 17, row * 17 + 17);
      const max = Math.max(...r);
      const sum = r.reduce((a, v) => a + Math.exp(v - max), 0);
      for (let k = 0; k < 17; k++) assert.ok(Math.abs(Math.exp(r[k] - max) / sum - p[row * 17 + k]) < 1e-6);
    }
  }
  await session.release();
});

test("ONNX Attention key mask: through attn_mask, combined with the model's own bool mask; masked keys get 0", async () => {
  const { model } = load('onnx_attention_op');
  const exposed = parseOnnx(exposeFusedAttention(model, 'x')!, 'x');
  const sites = findAttention(exposed);
  const own = exposed.graph.nodes.find((n) => n.name === sites[0].node)!.inputs[3];
  assert.equal(elemTypeOf(exposed, own), 9, "the exporter's constant mask is bool");
  const masked = parseOnnx(withKeyMask(exposed, sites), 'x');
  assert.deepEqual(masked.graph.inputs.map((i) => [i.name, i.elemType]), [['pixel_values', 1], ['vit_inspector_key_mask', 1]]);
  const session = await ort.InferenceSession.create(masked.bytes);
  const mask = new Float32Array(17);
  mask[0] = mask[9] = -Infinity;
  const out = await session.run({ pixel_values: pixels('onnx_attention_op'), vit_inspector_key_mask: new ort.Tensor('float32', mask, [1, 17]) });
  for (const s of sites) {
    const p = out[s.probs].data as Float32Array;
    for (let row = 0; row < p.length / 17; row++) assert.ok(p[row * 17] === 0 && p[row * 17 + 9] === 0);
  }
  await session.release();
});

for (const name of ['ort_contrib_attention', 'ort_contrib_mha']) {
  test(`${name}: com.microsoft attention rewritten to primitives gives the library's attention from an ordinary Softmax`, async () => {
    const { model } = load(name);
    const rewritten = parseOnnx(exposeFusedAttention(model, name)!, name);
    assert.ok(!rewritten.graph.nodes.some((n) => n.domain === 'com.microsoft' && /Attention/.test(n.opType)));
    const sites = findAttention(rewritten);
    assert.equal(sites.length, 2);
    assert.ok(sites.every((s) => !s.fused));
    // Its own image through the same preprocessing as PyTorch's: mean/std from reference.json, the image is at model size.
    const session = await ort.InferenceSession.create(withExtraOutputs(rewritten, sites.map((s) => s.probs)));
    const out = await session.run({ pixel_values: await referenceInput(name) });
    const got = new Float32Array(sites.flatMap((s) => Array.from(out[s.probs].data as Float32Array)));
    const expected = familyAttention(name);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
    assert.ok(worst < 1e-4, `differs from the library's attention by ${worst}`);
    await session.release();
  });
}

test('packed QKV MultiHeadAttention ([B, S, heads, 3, head], no key or value, head size only known at run time) gives the library\'s attention', async () => {
  // The fixture's MultiHeadAttention(q, k, v, bias) repacked as onnxruntime's packed QKV form (which its CPU kernel cannot run).
  const { model } = load('ort_contrib_mha');
  const replace = new Map<number, Uint8Array[]>();
  for (const n of model.graph.nodes.filter((x) => x.opType === 'MultiHeadAttention')) {
    const p = `${n.name}/packed`;
    const c = (name: string, values: number[]): NodeSpec => ({ op: 'Constant', name, inputs: [], outputs: [name], attrs: [{ name: 'value', tensor: int64Tensor(values) }] });
    const specs: NodeSpec[] = [c(`${p}/shape`, [0, 0, 2, 1, -1]), c(`${p}/axis`, [0])];
    const parts = [0, 1, 2].map((i) => {
      specs.push(c(`${p}/s${i}`, [32 * i]), c(`${p}/e${i}`, [32 * (i + 1)]));
      specs.push({ op: 'Slice', name: `${p}/bias${i}`, inputs: [n.inputs[3], `${p}/s${i}`, `${p}/e${i}`, `${p}/axis`], outputs: [`${p}/bias${i}`] });
      specs.push({ op: 'Add', name: `${p}/add${i}`, inputs: [n.inputs[i], `${p}/bias${i}`], outputs: [`${p}/add${i}`] });
      specs.push({ op: 'Reshape', name: `${p}/r${i}`, inputs: [`${p}/add${i}`, `${p}/shape`], outputs: [`${p}/r${i}`] });
      return `${p}/r${i}`;
    });
    specs.push({ op: 'Concat', name: `${p}/qkv`, inputs: parts, outputs: [`${p}/qkv`], attrs: [{ name: 'axis', int: 3 }] });
    specs.push({ op: 'MultiHeadAttention', domain: 'com.microsoft', name: n.name, inputs: [`${p}/qkv`], outputs: n.outputs, attrs: [{ name: 'num_heads', int: 2 }] });
    replace.set(n.range[0], specs.map(nodeProto));
  }
  const packed = parseOnnx(splicedModel(model, replace), 'packed');
  const rewritten = parseOnnx(exposeFusedAttention(packed, 'packed')!, 'packed');
  const sites = findAttention(rewritten);
  const session = await ort.InferenceSession.create(withExtraOutputs(rewritten, sites.map((s) => s.probs)));
  const out = await session.run({ pixel_values: await referenceInput('ort_contrib_mha') });
  const got = sites.flatMap((s) => Array.from(out[s.probs].data as Float32Array));
  const expected = familyAttention('ort_contrib_mha');
  const worst = got.reduce((w, v, i) => Math.max(w, Math.abs(v - expected[i])), 0);
  assert.ok(worst < 1e-4, `differs from the library's attention by ${worst}`);
  await session.release();
});

test('com.microsoft.Attention with a mask_index is refused by name, with what to do', () => {
  const { model } = load('ort_contrib_attention');
  const node = model.graph.nodes.find((n) => n.opType === 'Attention')!;
  const withMaskIndex = nodeProto({ op: 'Attention', domain: 'com.microsoft', name: node.name, inputs: [...node.inputs.slice(0, 3), 'pixel_values'], outputs: node.outputs, attrs: [{ name: 'num_heads', int: 2 }] });
  const edited = parseOnnx(splicedModel(model, new Map([[node.range[0], [withMaskIndex]]])), 'm.onnx');
  assert.throws(() => exposeFusedAttention(edited, 'm.onnx'), (e: unknown) => isInspectorError(e) && e.code === 'fused-attention' &&
    /^m\.onnx uses onnxruntime's fused com\.microsoft\.Attention with a mask_index, which ViT Inspector cannot unfuse\. Export the model without onnxruntime's transformer optimizer/.test(e.message));
});

/** The fixture's image as PyTorch saw it: x / 255, (x - mean) / std, NCHW. */
async function referenceInput(name: string): Promise<ort.Tensor> {
  const sharp = (await import('sharp')).default;
  const ref = familyReference(name);
  const { data, info } = await sharp(join(FAMILIES_DIR, name, 'image.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const x = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) x[c * n + i] = (data[i * 3 + c] / 255 - ref.input.mean[c]) / ref.input.std[c];
  return new ort.Tensor('float32', x, ref.input.shape);
}
