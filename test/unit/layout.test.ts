import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { findAttention } from '../../src/node/attention';
import { isInspectorError } from '../../src/shared/errors';
import { tokenLayout, patchCenters, prefixNames } from '../../src/node/layout';
import { parseOnnx } from '../../src/node/onnx/parse';
import { ProtoWriter } from '../../src/node/onnx/protobuf';
import { withExtraOutputs } from '../../src/node/onnx/surgery';

const VIT = join(__dirname, '..', 'fixtures', 'vit');
const NAMES = ['vit_hf_style', 'vit_timm_style', 'vit_torchvision', 'deit_style'];
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

for (const name of NAMES) {
  test(`${name}: grid, patch size, prefix tokens and heads match the reference`, async () => {
    const ref = readJson(join(VIT, `${name}.json`));
    const config = readJson(join(VIT, name, 'config.json'));
    const model = parseOnnx(readFileSync(join(VIT, name, 'model.onnx')), name);
    const sites = findAttention(model);
    // heads and tokens come from the attention tensor's shape at run time
    const [, , h, w] = ref.input.shape as number[];
    const session = await ort.InferenceSession.create(withExtraOutputs(model, [sites[0].probs]));
    const out = await session.run({ [ref.input.name]: new ort.Tensor('float32', new Float32Array(3 * h * w), [1, 3, h, w]) });
    const dims = out[sites[0].probs].dims;
    const tokens = dims[dims.length - 1];
    const heads = sites[0].rank === 4 ? dims[1] : dims[0];
    assert.equal(tokens, ref.tokens);
    assert.equal(heads, ref.heads);

    for (const opts of [{ tokens }, { tokens, config, inputSize: [h, w] as [number, number] }]) {
      const { layout, dModel } = tokenLayout(model, opts);
      assert.deepEqual(layout.grid, ref.grid);
      assert.deepEqual(layout.patchSize, [ref.patch_size, ref.patch_size]);
      assert.deepEqual(layout.inputSize, [h, w]);
      assert.deepEqual(layout.prefixTokens, ref.prefix_tokens);
      assert.equal(layout.tokens, ref.tokens);
      assert.ok(dModel && dModel % heads === 0, `dModel ${dModel} divisible by ${heads} heads`);
    }
  });
}

/** A patch Conv on a dynamic-size input: [1, 3, H, W] -> Conv(kernel = stride) -> out. */
function convModel(kernel: [number, number], dynamic: boolean, pads = [0, 0, 0, 0]): Uint8Array {
  const ints = (name: string, v: number[]) => new ProtoWriter().string(1, name).packedVarints(8, v).varint(20, 7);
  const weight = new ProtoWriter().varint(1, 24).varint(1, 3).varint(1, kernel[0]).varint(1, kernel[1]).varint(2, 1).string(8, 'w')
    .bytes(9, new Uint8Array(24 * 3 * kernel[0] * kernel[1] * 4));
  const node = new ProtoWriter().string(1, 'pixels').string(1, 'w').string(2, 'out').string(3, 'patch_embed').string(4, 'Conv')
    .bytes(5, ints('kernel_shape', kernel)).bytes(5, ints('strides', kernel)).bytes(5, ints('pads', pads));
  const shape = new ProtoWriter();
  for (const d of dynamic ? [1, 3, 'height', 'width'] : [1, 3, 60, 40]) {
    shape.bytes(1, typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
  }
  const input = new ProtoWriter().string(1, 'pixels').bytes(2, new ProtoWriter().bytes(1, new ProtoWriter().varint(1, 1).bytes(2, shape)));
  const graph = new ProtoWriter().bytes(1, node).bytes(5, weight).bytes(11, input).bytes(12, new ProtoWriter().string(1, 'out'));
  return new ProtoWriter().varint(1, 8).bytes(7, graph).bytes(8, new ProtoWriter().varint(2, 17)).finish();
}

test('non-square inputs and patches, dynamic input sizes given by preprocessing', () => {
  const fixed = tokenLayout(parseOnnx(convModel([10, 8], false)), { tokens: 6 * 5 + 1 });
  assert.deepEqual(fixed.layout.grid, [6, 5]);
  assert.deepEqual(fixed.layout.patchSize, [10, 8]);
  assert.deepEqual(fixed.layout.inputSize, [60, 40]);
  assert.equal(fixed.dModel, 24);
  assert.equal(fixed.patchConv, 'patch_embed');

  const dynamic = parseOnnx(convModel([16, 16], true), 'dyn.onnx');
  const l = tokenLayout(dynamic, { tokens: 14 * 21 + 5, inputSize: [224, 336], config: { num_register_tokens: 4 } });
  assert.deepEqual(l.layout.grid, [14, 21]);
  assert.deepEqual(l.layout.prefixTokens, ['cls', 'reg1', 'reg2', 'reg3', 'reg4']);
  assert.equal(tokenLayout(dynamic, { tokens: 4 * 4, config: { image_size: 64 } }).layout.prefixTokens.length, 0, 'no prefix tokens (e.g. global pooling)');

  assert.throws(() => tokenLayout(dynamic, { tokens: 17 }), (e: unknown) => isInspectorError(e) && e.code === 'bad-input');
  assert.throws(() => tokenLayout(dynamic, { tokens: 3, inputSize: [64, 64] }), (e: unknown) => isInspectorError(e) && e.code === 'unsupported-model');
});

test('a padded patch Conv gives the grid the Conv produces', () => {
  const l = tokenLayout(parseOnnx(convModel([16, 16], true, [0, 0, 8, 8])), { tokens: 5 * 5 + 1, inputSize: [72, 72] });
  assert.deepEqual(l.layout.grid, [5, 5]);
});

test('prefix token names follow the count and config.json', () => {
  assert.deepEqual(prefixNames(0), []);
  assert.deepEqual(prefixNames(1), ['cls']);
  assert.deepEqual(prefixNames(2), ['cls', 'dist']);
  assert.deepEqual(prefixNames(2, { model_type: 'deit' }), ['cls', 'dist']);
  assert.deepEqual(prefixNames(2, { num_register_tokens: 1 }), ['cls', 'reg1']);
  assert.deepEqual(prefixNames(5), ['cls', 'reg1', 'reg2', 'reg3', 'reg4']);
  assert.deepEqual(prefixNames(6, { model_type: 'deit', num_register_tokens: 4 }), ['cls', 'dist', 'reg1', 'reg2', 'reg3', 'reg4']);
  assert.deepEqual(prefixNames(4, { class_token: false }), ['reg1', 'reg2', 'reg3', 'reg4']);
});

test('patch centres are in input pixels, row-major', () => {
  const centres = patchCenters({ patchSize: [10, 8], grid: [2, 3], inputSize: [20, 24], prefixTokens: ['cls'], tokens: 7 });
  assert.equal(centres.length, 6);
  assert.deepEqual(centres[0], { row: 0, col: 0, x: 4, y: 5 });
  assert.deepEqual(centres[5], { row: 1, col: 2, x: 20, y: 15 });
});
