import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { findAttention } from '../../src/node/attention';
import { parseOnnx } from '../../src/node/onnx/parse';
import { withExtraOutputs, withKeyMask } from '../../src/node/onnx/surgery';

const VIT = join(__dirname, '..', 'fixtures', 'vit');
const NAMES = ['vit_hf_style', 'vit_timm_style', 'vit_torchvision', 'deit_style'];
const MASK = 'vit_inspector_key_mask';

function pixels(h: number, w: number): ort.Tensor {
  const x = Float32Array.from({ length: 3 * h * w }, (_, i) => Math.sin(i * 0.37) * 0.8);
  return new ort.Tensor('float32', x, [1, 3, h, w]);
}

test('withExtraOutputs appends outputs without touching the original bytes, and skips existing ones', () => {
  const bytes = readFileSync(join(VIT, 'vit_hf_style.onnx'));
  const copy = Buffer.from(bytes);
  const model = parseOnnx(bytes, 'vit_hf_style.onnx');
  const sites = findAttention(model);
  const out = withExtraOutputs(model, [sites[0].probs, 'logits', sites[0].probs]);
  assert.deepEqual(Buffer.from(out.subarray(0, bytes.length)), copy, 'a prefix of the result is the original file');
  assert.ok(bytes.equals(copy), 'the input is not modified');
  const reparsed = parseOnnx(out, 'x');
  assert.deepEqual(reparsed.graph.outputs.map((o) => o.name), ['logits', sites[0].probs]);
  assert.equal(withExtraOutputs(model, ['logits']), model.bytes, 'nothing to add: the same bytes');
});

for (const name of NAMES) {
  test(`${name}: a key mask zeroes attention to masked keys in every layer; an empty mask changes nothing`, async () => {
    const ref = JSON.parse(readFileSync(join(VIT, `${name}.json`), 'utf8'));
    const model = parseOnnx(readFileSync(join(VIT, `${name}.onnx`)), name);
    const sites = findAttention(model);
    const [, , h, w] = ref.input.shape as number[];
    const n = ref.tokens as number;
    const input = { [ref.input.name]: pixels(h, w) };
    const fetches = ['logits', ...sites.flatMap((s) => [s.scores, s.probs])];

    const plain = await (await ort.InferenceSession.create(withExtraOutputs(model, fetches))).run(input);
    const maskedBytes = withKeyMask(model, sites, MASK);
    const reparsed = parseOnnx(maskedBytes, 'masked');
    assert.equal(reparsed.graph.nodes.length, model.graph.nodes.length + sites.length);
    for (const s of findAttention(reparsed)) {
      const i = reparsed.graph.nodes.findIndex((nd) => nd.name === s.node);
      assert.equal(reparsed.graph.nodes[i - 1].opType, 'Add', 'the Add sits right before its Softmax');
    }
    const session = await ort.InferenceSession.create(maskedBytes);

    const none = await session.run({ ...input, [MASK]: new ort.Tensor('float32', new Float32Array(n), [1, n]) }, fetches);
    for (const f of fetches) assert.deepEqual(none[f].data, plain[f].data, `${f} unchanged by an empty mask`);

    const dropped = [1, n - 1];
    const mask = new Float32Array(n);
    for (const t of dropped) mask[t] = -Infinity;
    const masked = await session.run({ ...input, [MASK]: new ort.Tensor('float32', mask, [1, n]) }, fetches);
    for (const s of sites) {
      const p = masked[s.probs].data as Float32Array;
      assert.equal(p.length % (n * n), 0);
      for (let row = 0; row < p.length / n; row++) {
        const r = p.subarray(row * n, row * n + n);
        for (const t of dropped) assert.equal(r[t], 0, `${s.node} row ${row} key ${t}`);
        assert.ok(Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-5, `${s.node} row ${row} sums to 1`);
      }
    }
    assert.notDeepEqual(masked.logits.data, plain.logits.data, 'masking changes the prediction path');
  });
}
