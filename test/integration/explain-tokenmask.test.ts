/**
 * The token mask that Transformer Input Sampling runs on, against PyTorch: for tiny timm ViTs with a CLS
 * readout, a mean pool beside a CLS token, and a mean pool with no CLS token, the masked session's logits
 * equal timm's forward on the kept tokens only (the left-out tokens removed from the sequence), batched, and
 * the plain feeds give timm's full forward. Fixtures: test/fixtures/explain-tokenmask/make_fixtures.py.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inputTensor, loadExplainModel, openVit, unmaskedFeeds } from '../../src/node/explain/model';
import { tokenMaskFeeds } from '../../src/node/explain/saliency';
import { maxAbsDiff } from '../helpers/fixtures';

const DIR = join(__dirname, '..', 'fixtures', 'explain-tokenmask');

interface Reference {
  image: number[];
  full: number[];
  subsets: { kept: number[]; logits: number[] }[];
}

for (const [name, pooled] of [['cls', false], ['avg_cls', true], ['avg_nocls', true]] as const) {
  test(`${name}: masked tokens leave the attention${pooled ? ' and the mean pool' : ''}, as timm on the kept tokens only`, async () => {
    const ref: Reference = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));
    const image = Float32Array.from(ref.image);
    const m = await openVit(await loadExplainModel(join(DIR, `${name}.onnx`)), image);
    try {
      assert.equal(m.pool !== null, pooled, 'the token pool is found exactly for the mean-pooled models');
      assert.ok(maxAbsDiff(m.logits, ref.full) < 1e-4, 'the unmasked first run is timm’s full forward');
      const plain = await m.session.run({ ...unmaskedFeeds(m), [m.inputName]: inputTensor(m, image, 1) }, [m.logitsName]);
      assert.ok(maxAbsDiff(plain[m.logitsName].data as Float32Array, ref.full) < 1e-4);
      const masks = ref.subsets.map((s) => Uint8Array.from(s.kept));
      const b = masks.length;
      const out = await m.session.run({ ...tokenMaskFeeds(m, masks), [m.inputName]: inputTensor(m, Array(b).fill(image), b) }, [m.logitsName]);
      const logits = out[m.logitsName].data as Float32Array;
      const classes = ref.full.length;
      ref.subsets.forEach((s, i) => {
        const got = logits.subarray(i * classes, (i + 1) * classes);
        assert.ok(maxAbsDiff(got, s.logits) < 1e-4, `subset ${i}: ${Array.from(got)} vs timm ${s.logits}`);
        assert.ok(maxAbsDiff(got, ref.full) > 1e-2, `subset ${i} must differ from the full forward (the mask does something)`);
      });
    } finally {
      await m.session.release();
    }
  });
}
