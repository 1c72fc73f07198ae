/**
 * The CLI end to end on the project's own variant fixtures (test/fixtures/variants, made by
 * make_variants.py): ViTs exported the ways real ones are — register tokens, non-square inputs and patches,
 * opset 17, einsum and baddbmm attention, HF's extended mask, no CLS token, dynamic height/width, graphs
 * that already output their attentions, torchvision's nn.MultiheadAttention, DeiT with a relative position
 * bias. Run exactly as cli-inspect.test.ts runs the shared fixtures; everything is compared to PyTorch.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeNpy } from '../../src/node/npy';
import { CLI, REPO, maxAbsDiff } from '../helpers/fixtures';

const VARIANTS = join(REPO, 'test', 'fixtures', 'variants');
const work = mkdtempSync(join(tmpdir(), 'vit-variants-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface VariantReference {
  about: string;
  dynamic: boolean; // symbolic height and width: the size comes from preprocessor_config.json
  input: { name: string; shape: number[]; mean: number[]; std: number[] };
  patch_size: number | [number, number];
  grid: [number, number];
  prefix_tokens: string[];
  layers: number;
  heads: number;
  tokens: number;
  labels: string[];
  logits: number[];
  attention: number[][][][];
}

const names = readdirSync(VARIANTS, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(VARIANTS, d.name, 'reference.json'))).map((d) => d.name).sort();

test('the variant fixtures are there', () => {
  assert.ok(names.length >= 21, `found ${names.join(', ')}`);
});

/** Without its folder's configs a model gets the defaults (mean/std 0.5) and, when static, its own input size. */
function runsBare(ref: VariantReference): boolean {
  return !ref.dynamic && [...ref.input.mean, ...ref.input.std].every((v) => v === 0.5);
}

for (const name of names) {
  const dir = join(VARIANTS, name);
  const ref: VariantReference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8'));
  const forms = runsBare(ref) ? (['folder', 'file'] as const) : (['folder'] as const);
  for (const form of forms) {
    test(`${name} as a ${form} (${ref.about}): attention, logits and layout match PyTorch`, () => {
      let model = dir;
      if (form === 'file') {
        // A bare .onnx file (not named model.onnx): no config.json or preprocessor_config.json is read.
        model = join(work, `${name}.onnx`);
        copyFileSync(join(dir, 'model.onnx'), model);
      }
      const out = join(work, `${name}-${form}`);
      const r = spawnSync(process.execPath, [CLI, 'inspect', '--model', model, '--image', join(dir, 'image.png'), '--out', out, '--top', '3'], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      assert.deepEqual(report.model.grid, ref.grid);
      assert.deepEqual(report.model.prefixTokens, ref.prefix_tokens);
      assert.equal(report.model.heads, ref.heads);
      assert.equal(report.model.layers, ref.layers);
      assert.equal(report.model.tokens, ref.tokens);
      assert.deepEqual(report.model.patchSize, ref.patch_size);
      assert.deepEqual(report.model.inputSize, ref.input.shape.slice(2));
      assert.ok(maxAbsDiff(report.logits, ref.logits) < 1e-4, `logits differ from PyTorch by ${maxAbsDiff(report.logits, ref.logits)}`);

      const npy = decodeNpy(readFileSync(join(out, 'attention.npy')));
      assert.deepEqual(npy.shape, [ref.layers, ref.heads, ref.tokens, ref.tokens]);
      const expected = ref.attention.flat(3);
      assert.ok(maxAbsDiff(npy.data, expected) < 1e-4, `attention differs from PyTorch by ${maxAbsDiff(npy.data, expected)}`);

      const best = ref.logits.indexOf(Math.max(...ref.logits));
      assert.equal(report.predictions[0].index, best);
      assert.equal(report.predictions[0].label, form === 'folder' ? ref.labels[best] : `class ${best}`);
      assert.equal(report.rollout.length, ref.grid[0]);
      assert.equal(report.rollout[0].length, ref.grid[1]);
      for (const png of ['patches.png', 'heads.png', 'rollout.png']) assert.ok(existsSync(join(out, png)), `${png} written`);
    });
  }
}

test('dynamic_hw as a bare file: no size to run it at, one line that says where to give it', () => {
  // Symbolic height and width, and no preprocessor_config.json next to a bare .onnx: 224×224 is assumed and fails.
  const model = join(work, 'dynamic_hw-bare.onnx');
  copyFileSync(join(VARIANTS, 'dynamic_hw', 'model.onnx'), model);
  const r = spawnSync(process.execPath, [CLI, 'inspect', '--model', model, '--image', join(VARIANTS, 'dynamic_hw', 'image.png'), '--out', join(work, 'x')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /input size is dynamic and 224×224 was assumed: put a preprocessor_config\.json with "size" next to the model/);
});
