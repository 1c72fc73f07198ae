import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeNpy } from '../../src/node/npy';
import { composeHeadSheet, composeOverlay, composePatchGrid } from '../../src/node/render';
import { buildReport, REPORT_FILES, writeReport } from '../../src/node/report';
import { isInspectorError } from '../../src/shared/errors';
import type { Inspection, TokenLayout } from '../../src/shared/types';

const VIT = join(__dirname, '..', 'fixtures', 'vit');

/** An inspection of the deit_style fixture (PyTorch's attention) on a patterned 32 × 32 image. */
function inspection(): Inspection {
  const ref = JSON.parse(readFileSync(`${VIT}/deit_style.json`, 'utf8'));
  const layout: TokenLayout = {
    patchSize: [ref.patch_size, ref.patch_size], grid: ref.grid, inputSize: [32, 32], prefixTokens: ref.prefix_tokens, tokens: ref.tokens,
  };
  const rgb = new Uint8Array(32 * 32 * 3).map((_, i) => (i * 37) % 256);
  return {
    summary: {
      name: 'deit_style', path: '', layers: ref.layers, heads: ref.heads, dModel: 64, headDim: 32, tokens: ref.tokens, parameters: 0, opset: 14,
      producer: 'pytorch', layout, attentionNodes: [], notes: [],
      preprocessing: { size: [32, 32], resizeTo: { height: 32, width: 32 }, resample: 'bilinear', centerCrop: null, rescaleFactor: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], source: 'defaults' },
    },
    predictions: [{ index: 3, label: 'cat', probability: 0.5 }],
    logits: Float32Array.from(ref.logits),
    attention: Float32Array.from((ref.attention as number[][][][]).flat(3)),
    scores: new Float32Array(0),
    modelImage: { width: 32, height: 32, rgb },
    preview: { width: 1, height: 1, rgba: new Uint8Array(4) },
    maskedTokens: [],
    timings: { run: 1 },
  };
}

async function pixels(file: string): Promise<Buffer> {
  return sharp(file).raw().toBuffer();
}

test('writeReport writes report.json (buildReport), attention.npy and the three pictures, pixel for pixel', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vit-report-'));
  try {
    const ins = inspection();
    const s = ins.summary;
    const files = await writeReport(join(dir, 'out'), ins, { query: 4, colormap: 'magma' });
    assert.deepEqual(files, REPORT_FILES.map((f) => join(dir, 'out', f)));
    const report = buildReport(ins);
    assert.deepEqual(JSON.parse(readFileSync(files[0], 'utf8')), JSON.parse(JSON.stringify(report)));
    const npy = decodeNpy(readFileSync(files[1]));
    assert.deepEqual(npy.shape, [s.layers, s.heads, s.tokens, s.tokens]);
    assert.deepEqual(npy.data, ins.attention);
    const map = Float32Array.from(report.rollout.flat());
    const expected = [
      await composePatchGrid(ins.modelImage, s.layout),
      await composeHeadSheet(ins.modelImage, ins.attention, s.layout, { layers: s.layers, heads: s.heads, query: 4, colormap: 'magma' }),
      await composeOverlay(ins.modelImage, map, s.layout, { colormap: 'magma' }),
    ];
    for (const [i, name] of (['patches.png', 'heads.png', 'rollout.png'] as const).entries()) {
      const { info } = await sharp(join(dir, 'out', name)).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height], [expected[i].width, expected[i].height], name);
      assert.ok((await pixels(join(dir, 'out', name))).equals(expected[i].rgb), `${name}: the composed pixels`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeReport with a query out of range rejects and writes nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vit-report-'));
  try {
    const ins = inspection();
    await assert.rejects(writeReport(dir, ins, { query: ins.summary.tokens }), (e: unknown) => isInspectorError(e) && e.code === 'bad-input');
    await new Promise((r) => setTimeout(r, 50)); // nothing is being written in the background either
    assert.deepEqual(await readdir(dir), []);
    assert.ok(!existsSync(join(dir, 'report.json')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
