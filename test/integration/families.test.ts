/**
 * The CLI end to end on the model-family fixtures (test/fixtures/families, made by make_families.py from the
 * libraries' own classes): ONNX's Attention op (opset 23), onnxruntime's contrib Attention and
 * MultiHeadAttention, a timm folder, an OpenCLIP image tower (an embedding, no classes), and fp16, int8
 * dynamic and QDQ exports. Attention is compared to the library's own eager attention: within 1e-4 for the
 * float32 families, within the error the fixture script observed (with margin) for the low-precision ones,
 * whose reference is the fp32 model. (The Swin folders there have their own tests.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeNpy } from '../../src/node/npy';
import { CLI, maxAbsDiff } from '../helpers/fixtures';
import { FAMILIES, FAMILIES_DIR, attentionTolerance, expectedOutput, familyAttention, familyReference } from '../helpers/families';

const work = mkdtempSync(join(tmpdir(), 'vit-families-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('the family fixtures are there', () => {
  for (const name of Object.keys(FAMILIES)) assert.ok(existsSync(join(FAMILIES_DIR, name, 'model.onnx')), name);
});

for (const [name, preprocessing] of Object.entries(FAMILIES)) {
  const ref = familyReference(name);
  const tol = attentionTolerance(ref);
  test(`${name} through the CLI: attention within ${tol.toPrecision(2)} of the library's, outputs, layout and preprocessing (${ref.about.slice(0, 80)}…)`, () => {
    const dir = join(FAMILIES_DIR, name);
    const out = join(work, name);
    const r = spawnSync(process.execPath, [CLI, 'inspect', '--model', dir, '--image', join(dir, 'image.png'), '--out', out, '--top', '3'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.deepEqual([report.model.layers, report.model.heads, report.model.tokens], [ref.layers, ref.heads, ref.tokens]);
    assert.deepEqual(report.model.grid, ref.grid);
    assert.deepEqual(report.model.prefixTokens, ref.prefix_tokens);
    assert.equal(report.model.patchSize, ref.patch_size);
    assert.equal(report.preprocessing.source, preprocessing);
    assert.ok(maxAbsDiff(report.preprocessing.mean, ref.input.mean) < 1e-7 && maxAbsDiff(report.preprocessing.std, ref.input.std) < 1e-7, `mean/std ${report.preprocessing.mean} ${report.preprocessing.std}`);

    const npy = decodeNpy(readFileSync(join(out, 'attention.npy')));
    assert.deepEqual(npy.shape, [ref.layers, ref.heads, ref.tokens, ref.tokens]);
    const err = maxAbsDiff(npy.data, familyAttention(name));
    assert.ok(err <= tol, `attention differs from the library's by ${err} (tolerance ${tol})`);

    const expected = expectedOutput(ref);
    assert.ok(maxAbsDiff(report.logits, expected) < 1e-4, `outputs differ by ${maxAbsDiff(report.logits, expected)}`);
    if (ref.labels) {
      const best = expected.indexOf(Math.max(...expected));
      assert.equal(report.model.embedding, false);
      assert.equal(report.predictions.length, 3);
      assert.equal(report.predictions[0].index, best);
      assert.equal(report.predictions[0].label, ref.labels[best]);
      assert.match(r.stdout, new RegExp(`^${ref.labels[best]} \\(\\d+\\.\\d%\\) — wrote 5 files`));
    } else {
      // An image tower: the attention is shown, and there are no classes to predict.
      assert.equal(report.model.embedding, true);
      assert.deepEqual(report.predictions, []);
      assert.ok(report.notes.some((n: string) => /^no classes: this model outputs an embedding/.test(n)), report.notes.join('; '));
      assert.match(r.stdout, /^no classes: this model outputs an embedding — wrote 5 files/);
    }
    for (const png of ['patches.png', 'heads.png', 'rollout.png']) assert.ok(existsSync(join(out, png)), `${png} written`);
  });
}
