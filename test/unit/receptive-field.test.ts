import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { receptiveFields, unitBox, unitForPixel, type RfLayer } from '../../src/shared/receptiveField';
import { parseOnnx } from '../../src/node/onnx/parse';
import type { AttributeValue, OnnxModel, OnnxNode, TensorData } from '../../src/shared/graph';
import { FIXTURES } from '../helpers/fixtures';

const CNN = join(FIXTURES, 'cnn');

// ---- tiny in-memory graph builder (no weights) ----

type Attrs = Record<string, number | number[] | string>;

function node(opType: string, inputs: string[], outputs: string[], attrs: Attrs = {}, name = outputs[0]): OnnxNode {
  const attributes = new Map<string, AttributeValue>();
  for (const [k, v] of Object.entries(attrs)) {
    attributes.set(k, typeof v === 'string' ? { type: 'string', value: v } : Array.isArray(v) ? { type: 'ints', value: v } : { type: 'int', value: v });
  }
  return { name, opType, domain: '', inputs, outputs, attributes, range: [0, 0] };
}

function tensor(name: string, dims: number[], values: number[] = []): TensorData {
  return { name, dataType: 7, dims, values: () => values, byteLength: 0, external: null };
}

function model(nodes: OnnxNode[], size: [number, number] = [224, 224], inits: TensorData[] = []): OnnxModel {
  return {
    bytes: new Uint8Array(), irVersion: 8, producer: 'test', opsets: new Map([['', 13]]),
    graph: {
      name: 'test', nodes, inputs: [{ name: 'input', elemType: 1, dims: [1, 3, ...size] }], outputs: [],
      valueInfo: new Map(), initializers: new Map(inits.map((t) => [t.name, t])), range: [0, 0],
    },
    graphFieldRange: [0, 0],
  };
}

/** A chain of [op, attrs] from 'input'; outputs are named t1, t2, ... */
function chain(layers: [string, Attrs][], size?: [number, number]): OnnxModel {
  return model(layers.map(([op, a], i) => node(op, [i ? `t${i}` : 'input'], [`t${i + 1}`], a)), size);
}

const conv = (k: number, s = 1, p = 0): [string, Attrs] => ['Conv', { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p] }];
const maxPool = (k: number, s: number, p = 0): [string, Attrs] => ['MaxPool', { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p] }];
const byNode = (layers: RfLayer[]) => new Map(layers.map((l) => [l.node, l]));

// ---- fixtures exported by PyTorch ----

for (const name of ['cnn_small', 'resnet18']) {
  test(`${name}: rf, jump and start match the fixture`, () => {
    const m = parseOnnx(gunzipSync(readFileSync(join(CNN, `${name}.onnx.gz`))), name);
    const ref = JSON.parse(readFileSync(join(CNN, `${name}.rf.json`), 'utf8')) as {
      input_size: number; layers: { node: string; op: string; rf: number; jump: number; start: number }[];
    };
    const report = receptiveFields(m);
    assert.deepEqual(report.inputSize, [ref.input_size, ref.input_size]);
    assert.deepEqual(report.layers.map((l) => l.node), ref.layers.map((l) => l.node));
    for (const [i, r] of ref.layers.entries()) {
      const l = report.layers[i];
      assert.equal(l.op, r.op);
      assert.deepEqual(l.rf, [r.rf, r.rf], `${r.node} rf`);
      assert.deepEqual(l.jump, [r.jump, r.jump], `${r.node} jump`);
      assert.deepEqual(l.start, [r.start, r.start], `${r.node} start`);
    }
  });
}

test('resnet18 grids and the unit box of conv1', () => {
  const m = parseOnnx(gunzipSync(readFileSync(join(CNN, 'resnet18.onnx.gz'))), 'resnet18');
  const layers = byNode(receptiveFields(m).layers);
  assert.deepEqual(layers.get('/conv1/Conv')!.grid, [112, 112]);
  assert.deepEqual(layers.get('/maxpool/MaxPool')!.grid, [56, 56]);
  assert.deepEqual(layers.get('/layer4/layer4.1/conv2/Conv')!.grid, [7, 7]);
  // conv1: rf 7, jump 2, start 0.5; unit (1, 2) is centred at (x 4.5, y 2.5)
  assert.deepEqual(unitBox(layers.get('/conv1/Conv')!, 1, 2, [224, 224]), { x0: 1, y0: 0, x1: 8, y1: 6 });
});

// ---- published values (Araujo et al., Distill 2019), torchvision definitions ----

test('VGG-16 pooling layers: 6, 16, 44, 100, 212', () => {
  const cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];
  const report = receptiveFields(chain(cfg.map((c) => (c === 'M' ? maxPool(2, 2) : conv(3, 1, 1)))));
  const pools = report.layers.filter((l) => l.op === 'MaxPool');
  assert.deepEqual(pools.map((l) => l.rf[0]), [6, 16, 44, 100, 212]);
  assert.deepEqual(pools.map((l) => l.rf[1]), [6, 16, 44, 100, 212]);
  assert.deepEqual(pools.map((l) => l.jump[0]), [2, 4, 8, 16, 32]);
  assert.deepEqual(pools.map((l) => l.grid[0]), [112, 56, 28, 14, 7]);
});

test("AlexNet's last pooling layer: 195", () => {
  const report = receptiveFields(chain([
    conv(11, 4, 2), maxPool(3, 2), conv(5, 1, 2), maxPool(3, 2), conv(3, 1, 1), conv(3, 1, 1), conv(3, 1, 1), maxPool(3, 2),
  ]));
  const last = report.layers[report.layers.length - 1];
  assert.deepEqual([last.op, last.rf, last.jump, last.grid], ['MaxPool', [195, 195], [32, 32], [6, 6]]);
  // intermediate values, by hand: 11, 19, 51, 67, 99, 131, 163
  assert.deepEqual(report.layers.map((l) => l.rf[0]), [11, 19, 51, 67, 99, 131, 163, 195]);
});

// ---- merges ----

test('a residual Add keeps the larger field, whichever input order', () => {
  for (const swap of [false, true]) {
    const add = ['a', 'x'];
    if (swap) add.reverse();
    const m = model([
      node('Conv', ['input'], ['x'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), // rf 3
      node('Relu', ['x'], ['xr']),
      node('Conv', ['xr'], ['a'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), // rf 5
      node('Add', add.map((n) => (n === 'x' ? 'xr' : n)), ['y']),
      node('Conv', ['y'], ['z'], { kernel_shape: [1, 1] }),
    ]);
    const z = byNode(receptiveFields(m).layers).get('z')!;
    assert.deepEqual([z.rf, z.jump, z.start], [[5, 5], [1, 1], [0.5, 0.5]]);
  }
});

test('a strided residual block (downsample 1x1 s2 vs two 3x3) keeps the main path', () => {
  const m = model([
    node('Conv', ['input'], ['a'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), // rf 3, jump 2
    node('Conv', ['a'], ['b'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), // rf 7
    node('Conv', ['input'], ['d'], { kernel_shape: [1, 1], strides: [2, 2] }), // rf 1
    node('Add', ['d', 'b'], ['y']),
    node('MaxPool', ['y'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }),
  ], [32, 32]);
  const p = byNode(receptiveFields(m).layers).get('p')!;
  assert.deepEqual([p.rf, p.jump, p.start, p.grid], [[9, 9], [4, 4], [1.5, 1.5], [8, 8]]);
});

test('Concat of 1x3 and 3x1 branches takes the largest field per axis', () => {
  const m = model([
    node('Conv', ['input'], ['h'], { kernel_shape: [1, 3], pads: [0, 1, 0, 1] }),
    node('Conv', ['input'], ['v'], { kernel_shape: [3, 1], pads: [1, 0, 1, 0] }),
    node('Concat', ['h', 'v'], ['c'], { axis: 1 }),
    node('Conv', ['c'], ['o'], { kernel_shape: [1, 1] }),
  ]);
  assert.deepEqual(byNode(receptiveFields(m).layers).get('o')!.rf, [3, 3]);
});

test('shape tensors do not carry a field into Reshape', () => {
  const m = model([
    node('Conv', ['input'], ['big'], { kernel_shape: [7, 7], pads: [3, 3, 3, 3] }),
    node('Conv', ['input'], ['small'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
    node('Shape', ['big'], ['shape']),
    node('Reshape', ['small', 'shape'], ['r']),
    node('Conv', ['r'], ['o'], { kernel_shape: [1, 1] }),
  ]);
  assert.deepEqual(byNode(receptiveFields(m).layers).get('o')!.rf, [3, 3]);
});

// ---- single ops ----

test('non-square kernel, strides, pads and dilations', () => {
  // k [3,5], d [2,1] -> k_eff [5,5]; start h 0.5 + (2 - 1) = 1.5, w 0.5 + (2 - 2) = 0.5
  // grid h floor((32 + 2 - 5) / 1) + 1 = 30, w floor((32 + 4 - 5) / 2) + 1 = 16
  const [l] = receptiveFields(chain([['Conv', { kernel_shape: [3, 5], strides: [1, 2], pads: [1, 2, 1, 2], dilations: [2, 1] }]], [32, 32])).layers;
  assert.deepEqual([l.rf, l.jump, l.start, l.grid], [[5, 5], [1, 2], [1.5, 0.5], [30, 16]]);
});

test('kernel size from the weight initializer; groups do not matter', () => {
  const m = model([node('Conv', ['input', 'W'], ['o'], { group: 3, pads: [3, 0, 3, 0] })], [32, 32], [tensor('W', [3, 1, 7, 1])]);
  const [l] = receptiveFields(m).layers;
  assert.deepEqual([l.rf, l.start, l.grid], [[7, 1], [0.5, 0.5], [32, 32]]);
});

test('auto_pad SAME_UPPER, SAME_LOWER and VALID', () => {
  // k 3, s 2 on 32: output 16, total pad 15*2 + 3 - 32 = 1, upper puts it at the end, lower at the start
  const at = (auto_pad: string) => receptiveFields(chain([['Conv', { kernel_shape: [3, 3], strides: [2, 2], auto_pad }]], [32, 32])).layers[0];
  assert.deepEqual([at('SAME_UPPER').start, at('SAME_UPPER').grid], [[1.5, 1.5], [16, 16]]);
  assert.deepEqual([at('SAME_LOWER').start, at('SAME_LOWER').grid], [[0.5, 0.5], [16, 16]]);
  assert.deepEqual([at('VALID').start, at('VALID').grid], [[1.5, 1.5], [15, 15]]);
  assert.deepEqual(at('SAME_UPPER').rf, [3, 3]);
});

test('ceil_mode changes the grid only', () => {
  // k 3, s 2 on 56: floor((56 - 3) / 2) + 1 = 27, ceil -> 28
  const pool = (ceil_mode: number) => receptiveFields(chain([['MaxPool', { kernel_shape: [3, 3], strides: [2, 2], ceil_mode }]], [56, 56])).layers[0];
  assert.deepEqual(pool(0).grid, [27, 27]);
  assert.deepEqual(pool(1).grid, [28, 28]);
  assert.deepEqual([pool(1).rf, pool(1).jump, pool(1).start], [pool(0).rf, pool(0).jump, pool(0).start]);
});

test('Pad shifts the start by the leading pad', () => {
  const m = model([
    node('Pad', ['input', 'pads'], ['p']),
    node('Conv', ['p'], ['o'], { kernel_shape: [3, 3] }),
  ], [32, 32], [tensor('pads', [8], [0, 0, 1, 2, 0, 0, 1, 2])]);
  const [l] = receptiveFields(m).layers;
  assert.deepEqual([l.rf, l.start, l.grid], [[3, 3], [0.5, -0.5], [32, 34]]);
});

test('GlobalAveragePool sees the whole input; a squeeze-excitation gate keeps the spatial grid', () => {
  // conv 3x3 s2 p1 on 32: rf 3, jump 2, start 0.5, 16x16; global pool: rf 3 + 15 * 2 = 33, centre 15.5
  const m = model([
    node('Conv', ['input'], ['x'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
    node('GlobalAveragePool', ['x'], ['g']),
    node('Conv', ['g'], ['fc'], { kernel_shape: [1, 1] }),
    node('Sigmoid', ['fc'], ['gate']),
    node('Mul', ['x', 'gate'], ['y']),
    node('Conv', ['y'], ['o'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
  ], [32, 32]);
  const layers = byNode(receptiveFields(m).layers);
  const fc = layers.get('fc')!;
  assert.deepEqual([fc.rf, fc.start, fc.grid], [[33, 33], [15.5, 15.5], [1, 1]]);
  const o = layers.get('o')!;
  assert.deepEqual([o.rf, o.jump, o.start, o.grid], [[37, 37], [2, 2], [0.5, 0.5], [16, 16]]);
});

test('Resize and Upsample divide the jump and do not crash without scales', () => {
  const m = model([
    node('Conv', ['input'], ['x'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
    node('Resize', ['x', '', 'scales'], ['r'], { mode: 'nearest' }),
    node('Conv', ['r'], ['a'], { kernel_shape: [1, 1] }),
    node('Upsample', ['x', 'scales'], ['u'], { mode: 'linear' }),
    node('Conv', ['u'], ['b'], { kernel_shape: [1, 1] }),
    node('Resize', ['x', '', '', 'dynamic'], ['d']),
    node('Conv', ['d'], ['c'], { kernel_shape: [1, 1] }),
  ], [32, 32], [tensor('scales', [4], [1, 1, 2, 2])]);
  const layers = byNode(receptiveFields(m).layers);
  const a = layers.get('a')!;
  assert.deepEqual([a.rf, a.jump, a.grid], [[3, 3], [1, 1], [32, 32]]);
  const b = layers.get('b')!; // linear: two taps, asymmetric coordinates
  assert.deepEqual([b.rf, b.jump, b.start], [[5, 5], [1, 1], [0.5, 0.5]]);
  assert.deepEqual(layers.get('c')!.rf, [3, 3]);
});

test('unknown ops pass the field through', () => {
  const m = model([
    node('Conv', ['input'], ['x'], { kernel_shape: [5, 5] }),
    node('SomeCustomOp', ['x'], ['y']),
    node('BatchNormalization', ['y', 's', 'b', 'm', 'v'], ['z']),
    node('Conv', ['z'], ['o'], { kernel_shape: [1, 1] }),
  ]);
  assert.deepEqual(byNode(receptiveFields(m).layers).get('o')!.rf, [5, 5]);
});

test('inputSize option, symbolic input dims and the 224 default', () => {
  const m = chain([conv(3, 2, 1)]);
  m.graph.inputs[0].dims = [1, 3, 'height', 'width'];
  assert.deepEqual(receptiveFields(m).inputSize, [224, 224]);
  const r = receptiveFields(m, { inputSize: [64, 48] });
  assert.deepEqual([r.inputSize, r.layers[0].grid], [[64, 48], [32, 24]]);
});

// ---- geometry ----

test('unitBox clips to the image; unitForPixel finds the nearest centre', () => {
  const layer: RfLayer = { node: 'c', op: 'Conv', output: 'c', rf: [3, 3], jump: [1, 1], start: [0.5, 0.5], grid: [32, 32] };
  assert.deepEqual(unitBox(layer, 0, 0, [32, 32]), { x0: 0, y0: 0, x1: 2, y1: 2 });
  assert.deepEqual(unitBox(layer, 31, 30, [32, 32]), { x0: 29, y0: 30, x1: 32, y1: 32 });
  const strided: RfLayer = { ...layer, rf: [7, 7], jump: [2, 2], start: [0.5, 0.5], grid: [112, 112] };
  assert.deepEqual(unitForPixel(strided, 4.6, 1000), { row: 111, col: 2 });
  assert.deepEqual(unitForPixel(strided, -5, 0), { row: 0, col: 0 });
});
