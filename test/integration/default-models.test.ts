/**
 * The embedded default models (media/models, trained by training/train.py): they load, the ViT's layout is
 * 8 × 8 + CLS, the CNN's receptive field grows with depth, the exported ONNX ViT and CNN answer as PyTorch
 * did on the images listed in the model card, and their accuracy on a sample of the test split agrees with
 * the card's 10,000-image figure.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { defaultModels } from '../../src/node/defaults';
import { topK } from '../../src/node/attentionRun';
import { loadImage } from '../../src/node/imageLoad';
import { resolveModelSource } from '../../src/node/modelSource';
import { preprocessingFrom, toInputTensor } from '../../src/node/preprocess';
import { InferenceClient } from '../../src/node/inferenceClient';
import { REPO, cifar10TestImages } from '../helpers/fixtures';

const models = defaultModels(REPO);
const card = (kind: string) => JSON.parse(readFileSync(join(REPO, 'media', 'models', `training-${kind}.json`), 'utf8'));
const PER_CLASS = 30; // 300 test images: enough to check the card's accuracy within a few points

let client: InferenceClient;
let images: Map<string, Buffer>;
before(() => {
  client = new InferenceClient({ workerPath: join(REPO, 'dist', 'worker.js') });
  images = cifar10TestImages(PER_CLASS);
});
after(() => client.dispose());

test('the default ViT loads with an 8 × 8 grid plus CLS', async () => {
  const [name, bytes] = [...images][0];
  const r = await client.inspect({ modelPath: models.vit, image: new Uint8Array(bytes) });
  const s = r.summary;
  assert.deepEqual(s.layout.grid, [8, 8], name);
  assert.deepEqual(s.layout.patchSize, [4, 4]);
  assert.deepEqual(s.layout.prefixTokens, ['cls']);
  assert.equal(s.tokens, 65);
  assert.equal(s.headDim * s.heads, s.dModel);
  assert.equal(s.preprocessing.source, 'preprocessor_config.json');
  assert.equal(r.attention.length, s.layers * s.heads * 65 * 65);
  assert.equal(r.predictions[0].label.length > 0, true);
});

test('the default CNN has receptive fields that grow with depth and end larger than a patch', async () => {
  const rf = await client.receptiveFields(models.cnn);
  assert.deepEqual(rf.inputSize, [32, 32]);
  assert.ok(rf.layers.length >= 4);
  for (let i = 1; i < rf.layers.length; i++) assert.ok(rf.layers[i].rf[0] >= rf.layers[i - 1].rf[0], 'fields never shrink');
  assert.equal(rf.layers[0].rf[0], 3);
  assert.ok(rf.layers[rf.layers.length - 1].rf[0] > 4);
});

type Sample = { file: string; predicted: string; probability: number };

test('the default ViT answers as PyTorch did on the model card images', async () => {
  for (const s of card('vit').samples as Sample[]) {
    const r = await client.inspect({ modelPath: models.vit, image: new Uint8Array(images.get(s.file)!) });
    assert.equal(r.predictions[0].label, s.predicted, s.file);
    // PIL and sharp decode JPEG with different IDCTs, so the probabilities agree closely, not exactly.
    assert.ok(Math.abs(r.predictions[0].probability - s.probability) < 0.05, `${s.file}: ${r.predictions[0].probability} vs ${s.probability}`);
  }
});

test('the default CNN answers as PyTorch did on the model card images', async () => {
  // The CNN is not a ViT, so it runs here directly with onnxruntime and the core's preprocessing.
  const source = await resolveModelSource(models.cnn);
  const { preprocessing } = preprocessingFrom(source.preprocessorConfig, [32, 32], source.config);
  const session = await ort.InferenceSession.create(source.bytes);
  for (const s of card('cnn').samples as Sample[]) {
    const image = await loadImage(new Uint8Array(images.get(s.file)!), preprocessing);
    const input = toInputTensor(image.model.rgb, 32, 32, preprocessing);
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, 32, 32]) });
    const best = topK(out[session.outputNames[0]].data as Float32Array, source.labels, 1)[0];
    assert.equal(best.label, s.predicted, s.file);
    assert.ok(Math.abs(best.probability - s.probability) < 0.05, `${s.file}: ${best.probability} vs ${s.probability}`);
  }
  await session.release();
});

test('the default ViT scores on a 300-image sample as the card says for all 10,000', async () => {
  let correct = 0;
  for (const [name, bytes] of images) {
    const r = await client.inspect({ modelPath: models.vit, image: new Uint8Array(bytes), topK: 1 });
    if (r.predictions[0].label === name.split('/')[1]) correct++;
  }
  const acc = correct / images.size;
  const claimed = card('vit').test_top1;
  const sigma = Math.sqrt((claimed * (1 - claimed)) / images.size);
  assert.equal(images.size, 10 * PER_CLASS);
  assert.ok(Math.abs(acc - claimed) < 4 * sigma, `sample accuracy ${acc} vs card ${claimed}`);
});
