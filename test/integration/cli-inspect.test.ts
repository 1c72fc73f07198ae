/**
 * The CLI end to end against PyTorch's own numbers: for every ViT fixture, as a file (inference in the
 * CLI's process) and as a folder (with --isolate: through the inference child process, as the extension
 * runs it), attention.npy matches the reference to 1e-4, the logits too, and the layout (grid, prefix
 * tokens, heads) is right.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeNpy } from '../../src/node/npy';
import { CLI, FIXTURES, VIT_NAMES, maxAbsDiff, vitReference } from '../helpers/fixtures';

const work = mkdtempSync(join(tmpdir(), 'vit-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

for (const name of VIT_NAMES) {
  const ref = vitReference(name);
  for (const form of ['file', 'folder'] as const) {
    const isolate = form === 'folder';
    test(`${name} as a ${form}${isolate ? ' (--isolate)' : ''}: attention, logits and layout match PyTorch`, () => {
      const model = form === 'file' ? join(FIXTURES, 'vit', `${name}.onnx`) : join(FIXTURES, 'vit', name);
      const out = join(work, `${name}-${form}`);
      const r = cli(['inspect', '--model', model, '--image', join(FIXTURES, 'vit', `${name}.png`), '--out', out, '--top', '3', ...(isolate ? ['--isolate'] : [])]);
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      assert.deepEqual(report.model.grid, ref.grid);
      assert.deepEqual(report.model.prefixTokens, ref.prefix_tokens);
      assert.equal(report.model.heads, ref.heads);
      assert.equal(report.model.layers, ref.layers);
      assert.equal(report.model.tokens, ref.tokens);
      assert.equal(report.model.patchSize, ref.patch_size);
      assert.deepEqual(report.model.inputSize, ref.input.shape.slice(2));
      assert.ok(maxAbsDiff(report.logits, ref.logits) < 1e-4, 'logits differ from PyTorch');

      const npy = decodeNpy(readFileSync(join(out, 'attention.npy')));
      assert.deepEqual(npy.shape, [ref.layers, ref.heads, ref.tokens, ref.tokens]);
      const expected = ref.attention.flat(3);
      assert.ok(maxAbsDiff(npy.data, expected) < 1e-4, `attention differs from PyTorch by ${maxAbsDiff(npy.data, expected)}`);

      // Predictions: best first, labels from id2label (folder) or class indices (bare file), probabilities from the logits.
      const best = ref.logits.indexOf(Math.max(...ref.logits));
      assert.equal(report.predictions.length, 3);
      assert.equal(report.predictions[0].index, best);
      if (form === 'folder') assert.equal(report.predictions[0].label, ref.labels[best]);
      assert.ok(report.predictions[0].probability >= report.predictions[1].probability);
      assert.equal(report.layers.length, ref.layers);
      assert.equal(report.layers[0].heads.length, ref.heads);
      assert.equal(report.rollout.length, ref.grid[0]);
      assert.equal(report.rollout[0].length, ref.grid[1]);
      for (const png of ['patches.png', 'heads.png', 'rollout.png']) assert.ok(existsSync(join(out, png)), `${png} written`);
    });
  }
}

describe('bad input: exit code 2 and one line on stderr', () => {
  const vit = join(FIXTURES, 'vit', 'vit_hf_style');
  const image = join(FIXTURES, 'vit', 'vit_hf_style.png');
  const cases: [string, string[], RegExp][] = [
    ['missing image', ['inspect', '--model', vit, '--image', join(work, 'nope.png'), '--out', join(work, 'x')], /not found|does not exist|no such/i],
    ['a PNG given as the model', ['inspect', '--model', image, '--image', image, '--out', join(work, 'x')], /not an (\.)?onnx (model|file)/i],
    ['a PNG given as the model, --isolate', ['inspect', '--model', image, '--image', image, '--out', join(work, 'x'), '--isolate'], /not an (\.)?onnx (model|file)/i],
    ['unknown command', ['frobnicate'], /Unknown command/],
    ['missing --image', ['inspect', '--model', vit, '--out', join(work, 'x')], /--image is required/],
  ];
  for (const [what, args, pattern] of cases) {
    test(what, () => {
      const r = cli(args);
      assert.equal(r.status, 2);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
      assert.match(lines[0], pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }
});
