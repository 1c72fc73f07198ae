/** vit-inspector anatomy end to end: the files it writes, read back as NumPy would, against PyTorch's attention. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeNpy } from '../../src/node/npy';
import { CLI, REPO, maxAbsDiff } from '../helpers/fixtures';

const work = mkdtempSync(join(tmpdir(), 'vit-anatomy-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));
const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'anatomy', ...args], { encoding: 'utf8' });
const npy = (dir: string, name: string) => decodeNpy(readFileSync(join(dir, name)));

for (const variant of ['torchvision_mha', 'einsum', 'hf_mask']) {
  test(`anatomy CLI on ${variant}: q, k, v, scores, probs, out and anatomy.json`, () => {
    const dir = join(REPO, 'test', 'fixtures', 'variants', variant);
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8'));
    const out = join(work, variant);
    const [layer, head, query] = [ref.layers - 1, ref.heads - 1, ref.tokens - 2];
    const r = run(['--model', dir, '--image', join(dir, 'image.png'), '--layer', `${layer}`, '--head', `${head}`, '--query', `${query}`, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(readFileSync(join(out, 'anatomy.json'), 'utf8'));
    for (const f of ['q.npy', 'k.npy', 'v.npy', 'scores.npy', 'probs.npy', 'out.npy', 'anatomy.json']) assert.ok(readdirSync(out).includes(f), f);
    const d = json.d_k;
    assert.equal(d * ref.heads, json.d_model);
    assert.deepEqual(npy(out, 'q.npy').shape, [d]);
    assert.deepEqual(npy(out, 'k.npy').shape, [ref.tokens, d]);
    assert.deepEqual(npy(out, 'v.npy').shape, [ref.tokens, d]);
    assert.deepEqual(npy(out, 'scores.npy').shape, [ref.tokens]);
    assert.deepEqual(npy(out, 'out.npy').shape, [d]);
    assert.ok(Math.abs(json.scale.effective - 1 / Math.sqrt(d)) < 1e-6);
    assert.ok(json.checks.softmax < 1e-5 && json.checks.weightedSum < 1e-5, JSON.stringify(json.checks));
    // probs.npy is PyTorch's row; and it is the softmax of scale·q·k_j (+ the mask, all zeros here) redone from the files
    const probs = npy(out, 'probs.npy').data;
    assert.ok(maxAbsDiff(probs, ref.attention[layer][head][query]) < 1e-4);
    const q = npy(out, 'q.npy').data;
    const k = npy(out, 'k.npy').data;
    const logits = Array.from({ length: ref.tokens }, (_, j) => q.reduce((s, qi, i) => s + qi * k[j * d + i], 0) * json.scale.effective);
    const m = Math.max(...logits);
    const e = logits.map((x) => Math.exp(x - m));
    const sum = e.reduce((a, b) => a + b, 0);
    assert.ok(maxAbsDiff(e.map((x) => x / sum), probs) < 1e-5);
  });
}

test('anatomy CLI: a layer out of range is a one-line error and exit code 2', () => {
  const dir = join(REPO, 'test', 'fixtures', 'variants', 'einsum');
  const r = run(['--model', dir, '--image', join(dir, 'image.png'), '--layer', '7', '--out', join(work, 'bad')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^vit-inspector: Layer 7 does not exist: .* \(0…1\)\.\n$/);
});
