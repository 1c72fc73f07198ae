import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openClipPreprocessing, timmLabels, timmPreprocessing } from '../../src/node/libraryConfigs';
import { resolveModelSource } from '../../src/node/modelSource';
import { isEmbeddingOutput } from '../../src/node/outputKind';
import { parseOnnx } from '../../src/node/onnx/parse';
import { preprocessingFrom } from '../../src/node/preprocess';
import { FAMILIES_DIR } from '../helpers/families';

const TIMM_FILE = 'config.json (timm pretrained_cfg)';
/** timm's own eval transform (timm.data.transforms_factory.transforms_imagenet_eval): scale_size = floor(size / crop_pct). */
const timmCfg = (over: Record<string, unknown>) => ({
  architecture: 'vit_base_patch16_224', num_classes: 3, label_names: ['a', 'b', 'c'],
  pretrained_cfg: { input_size: [3, 224, 224], interpolation: 'bicubic', crop_pct: 0.9, crop_mode: 'center', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], ...over },
});

test("timm pretrained_cfg, crop_mode center: shortest edge to floor(224 / 0.9) = 248, center crop 224, timm's mean/std and interpolation", () => {
  const lib = timmPreprocessing(timmCfg({}))!;
  assert.equal(lib.file, TIMM_FILE);
  const { preprocessing: p, notes } = preprocessingFrom(lib.config, [224, 224], null, lib.file);
  assert.deepEqual(p.resizeTo, { shortestEdge: 248 });
  assert.deepEqual(p.centerCrop, [224, 224]);
  assert.deepEqual(p.size, [224, 224]);
  assert.equal(p.resample, 'bicubic');
  assert.deepEqual([p.mean, p.std, p.rescaleFactor], [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 1 / 255]);
  assert.equal(p.source, TIMM_FILE);
  assert.deepEqual(notes, []);
});

test('timm crop_mode squash resizes both sides; no mean/std gives ImageNet defaults; the labels come from label_names', () => {
  const lib = timmPreprocessing(timmCfg({ crop_mode: 'squash', crop_pct: 1, mean: undefined, std: undefined, interpolation: 'bilinear' }))!;
  const { preprocessing: p } = preprocessingFrom(lib.config, null, null, lib.file);
  assert.deepEqual(p.resizeTo, { height: 224, width: 224 });
  assert.equal(p.resample, 'bilinear');
  assert.deepEqual(p.mean, [0.485, 0.456, 0.406]);
  assert.deepEqual(p.std, [0.229, 0.224, 0.225]);
  assert.deepEqual(timmLabels(timmCfg({})), ['a', 'b', 'c']);
  assert.equal(timmPreprocessing({ model_type: 'vit', id2label: { 0: 'x' } }), null, "a Hugging Face config.json is not timm's");
});

test("OpenCLIP preprocess_cfg: shortest edge + center crop at vision_cfg.image_size; defaults are OpenAI's mean/std, bicubic; 'longest' is approximated with a note", () => {
  const oc = (pc: Record<string, unknown> | undefined) => openClipPreprocessing({ model_cfg: { vision_cfg: { image_size: 224 } }, ...(pc ? { preprocess_cfg: pc } : {}) });
  const shortest = preprocessingFrom(oc({ mean: [0.1, 0.2, 0.3], std: [0.4, 0.5, 0.6], interpolation: 'bilinear', resize_mode: 'shortest' }).config, [224, 224], null, 'open_clip_config.json');
  assert.deepEqual(shortest.preprocessing.resizeTo, { shortestEdge: 224 });
  assert.deepEqual(shortest.preprocessing.centerCrop, [224, 224]);
  assert.deepEqual([shortest.preprocessing.mean, shortest.preprocessing.std, shortest.preprocessing.resample], [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], 'bilinear']);
  const defaults = preprocessingFrom(oc(undefined).config, [224, 224], null, 'open_clip_config.json').preprocessing;
  assert.deepEqual(defaults.mean, [0.48145466, 0.4578275, 0.40821073]);
  assert.deepEqual(defaults.std, [0.26862954, 0.26130258, 0.27577711]);
  assert.equal(defaults.resample, 'bicubic');
  const squash = preprocessingFrom(oc({ resize_mode: 'squash' }).config, [224, 224], null, 'open_clip_config.json').preprocessing;
  assert.deepEqual([squash.resizeTo, squash.centerCrop], [{ height: 224, width: 224 }, null]);
  assert.match(oc({ resize_mode: 'longest' }).notes.join(), /resize_mode "longest": the image is squashed to 224×224 instead/);
});

test('folders: timm and OpenCLIP configs are found next to model.onnx; an image tower is an embedding, a timm classifier is not', async () => {
  const timm = await resolveModelSource(join(FAMILIES_DIR, 'timm_eva02'));
  assert.equal(timm.preprocessorFile, TIMM_FILE);
  assert.deepEqual(timm.labels, ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
  assert.equal(isEmbeddingOutput(timm, parseOnnx(timm.bytes, 'x'), parseOnnx(timm.bytes, 'x').graph.outputs[0].name), false);
  const clip = await resolveModelSource(join(FAMILIES_DIR, 'open_clip_vision'));
  assert.equal(clip.preprocessorFile, 'open_clip_config.json');
  assert.equal(clip.labels, null);
  const model = parseOnnx(clip.bytes, 'x');
  assert.equal(isEmbeddingOutput(clip, model, model.graph.outputs[0].name), true);
  const hf = await resolveModelSource(join(FAMILIES_DIR, 'vit_qdq'));
  assert.equal(hf.preprocessorFile, 'preprocessor_config.json');
});
