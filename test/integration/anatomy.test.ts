/**
 * One head taken apart (src/node/anatomy): Q, K and V read from the graph of every variant fixture (fused
 * qkv, separate projections, pre-scaled q, einsum, baddbmm, FusedMatMul, torchvision's [B*H, N, d]), the
 * arithmetic redone in TypeScript and held to the model's own tensors and to PyTorch's attention.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AnatomyEngine } from '../../src/node/anatomy/run';
import { defaultModels } from '../../src/node/defaults';
import { isInspectorError } from '../../src/shared/errors';
import { FIXTURES, REPO, VIT_NAMES, maxAbsDiff } from '../helpers/fixtures';

const VARIANTS = join(REPO, 'test', 'fixtures', 'variants');
const engine = new AnatomyEngine();
after(() => engine.dispose());

interface Reference {
  layers: number;
  heads: number;
  tokens: number;
  prefix_tokens: string[];
  attention: number[][][][];
}

const cases: { name: string; model: string; image: string; ref: Reference }[] = [];
for (const d of readdirSync(VARIANTS, { withFileTypes: true })) {
  const dir = join(VARIANTS, d.name);
  if (d.isDirectory() && existsSync(join(dir, 'reference.json'))) {
    cases.push({ name: d.name, model: dir, image: join(dir, 'image.png'), ref: JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) });
  }
}
for (const name of VIT_NAMES) {
  const ref = join(FIXTURES, 'vit', `${name}.json`);
  if (existsSync(ref)) cases.push({ name, model: join(FIXTURES, 'vit', name), image: join(FIXTURES, 'vit', `${name}.png`), ref: JSON.parse(readFileSync(ref, 'utf8')) });
}

test('the fixtures are there', () => {
  assert.ok(cases.length >= 21 + VIT_NAMES.length, `found ${cases.map((c) => c.name).join(', ')}`);
});

for (const c of cases) {
  test(`anatomy of ${c.name}: softmax(q·Kᵀ·scale) and Σ p_j v_j match the model, the probabilities match PyTorch`, async () => {
    const prefix = c.ref.prefix_tokens.length;
    const last = c.ref.tokens - 1;
    for (const [layer, head, query] of [[0, 0, last], [c.ref.layers - 1, c.ref.heads - 1, 0], [0, c.ref.heads - 1, prefix]]) {
      const a = await engine.anatomy({ modelPath: c.model, image: c.image, layer, head, query });
      const where = `${c.name} layer ${layer} head ${head} query ${query}`;
      assert.equal(a.tokens, c.ref.tokens, where);
      assert.equal(a.heads, c.ref.heads, where);
      assert.equal(a.layers, c.ref.layers, where);
      assert.ok(a.checks.softmax < 1e-5, `${where}: softmax differs by ${a.checks.softmax}`);
      assert.ok(a.checks.weightedSum < 1e-5, `${where}: Σ p_j v_j differs by ${a.checks.weightedSum}`);
      // the model's row is PyTorch's row
      const torchRow = c.ref.attention[layer][head][query];
      assert.ok(maxAbsDiff(a.probs, torchRow) < 1e-4, `${where}: attention differs from PyTorch by ${maxAbsDiff(a.probs, torchRow)}`);
      assert.ok(maxAbsDiff(a.softmax, torchRow) < 1e-4, `${where}: our softmax differs from PyTorch by ${maxAbsDiff(a.softmax, torchRow)}`);
      // every fixture scales by 1/√d_k somewhere (before, in or after the product)
      assert.ok(a.scale.effective !== null && Math.abs(a.scale.effective - 1 / Math.sqrt(a.dHead)) < 1e-6, `${where}: scale ${a.scale.effective}, d_k ${a.dHead}`);
      assert.equal(a.q.length, a.dHead);
      assert.equal(a.k.length, a.tokens * a.dHead);
      assert.equal(a.scores.length, a.tokens);
      if (a.checks.concat !== null) assert.ok(a.checks.concat < 1e-6, `${where}: concat slice differs by ${a.checks.concat}`);
      if (a.checks.projection !== null) assert.ok(a.checks.projection < 1e-4, `${where}: projection differs by ${a.checks.projection}`);
      if (layer === 0 && query >= prefix) {
        assert.ok(a.patch, `${where}: no patch step`);
        assert.ok(a.checks.patch! < 1e-4, `${where}: patch token differs by ${a.checks.patch}`);
        if (a.checks.position !== null) assert.ok(a.checks.position < 1e-4, `${where}: token + position differs by ${a.checks.position}`);
      }
    }
  });
}

test('pre-scaled q is detected and reported (timm), the scale after the product too (HF)', async () => {
  const timm = cases.find((c) => c.name === 'hf_mask')!;
  const a = await engine.anatomy({ modelPath: timm.model, image: timm.image, layer: 0, head: 0, query: 1 });
  assert.ok(Math.abs(a.scale.onQ - 1 / Math.sqrt(a.dHead)) < 1e-7 && a.scale.after === 1 && a.scale.bias, a.scale.description);
  const hf = cases.find((c) => c.name === 'attn_outputs')!;
  const b = await engine.anatomy({ modelPath: hf.model, image: hf.image, layer: 0, head: 0, query: 1 });
  assert.ok(b.scale.onQ === 1 && Math.abs(b.scale.after! - 1 / Math.sqrt(b.dHead)) < 1e-7, b.scale.description);
  const einsum = cases.find((c) => c.name === 'einsum')!;
  const e = await engine.anatomy({ modelPath: einsum.model, image: einsum.image, layer: 0, head: 0, query: 1 });
  assert.ok(Math.abs(e.scale.onQ - e.dHead ** -0.25) < 1e-7 && Math.abs(e.scale.onK - e.dHead ** -0.25) < 1e-7, e.scale.description);
});

test('the default ViT: every layer and head checks out, the patch token within 1e-4', async () => {
  const image = join(VARIANTS, 'no_cls', 'image.png'); // 32×32, the default ViT's input size
  const first = await engine.anatomy({ modelPath: defaultModels().vit, image, layer: 0, head: 0, query: 5 });
  assert.ok(first.checks.patch! < 1e-4 && first.checks.position! < 1e-4, JSON.stringify(first.checks));
  assert.equal(first.patch!.vector.length, 3 * 4 * 4);
  assert.equal(first.patch!.rgb!.length, 4 * 4 * 3);
  for (let layer = 0; layer < first.layers; layer++) {
    for (let head = 0; head < first.heads; head++) {
      const a = await engine.anatomy({ modelPath: defaultModels().vit, image, layer, head, query: (layer * 7 + head * 13) % first.tokens });
      assert.ok(a.checks.softmax < 1e-5 && a.checks.weightedSum < 1e-5, `layer ${layer} head ${head}: ${JSON.stringify(a.checks)}`);
      assert.ok(a.checks.projection! < 1e-4, `layer ${layer} head ${head}: ${JSON.stringify(a.checks)}`);
    }
  }
});

test('a layer, head or query out of range is a one-line bad-input error', async () => {
  const c = cases[0];
  for (const bad of [{ layer: 99, head: 0, query: 0 }, { layer: 0, head: 99, query: 0 }, { layer: 0, head: 0, query: 9999 }, { layer: -1, head: 0, query: 0 }]) {
    await assert.rejects(engine.anatomy({ modelPath: c.model, image: c.image, ...bad }), (e) => isInspectorError(e) && e.code === 'bad-input' && !e.message.includes('\n'));
  }
});
