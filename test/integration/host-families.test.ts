/**
 * The model families through the host's panel path (src/host/panelController.ts with the real inference child
 * process, as host-panel.test.ts runs it): the payload's attention against the library's, the scaling view's
 * scores (softmax(scores) is the attention), the masking lab (no query attends to a masked key) and, for an
 * image tower, no classes. Fused ONNX Attention (mask through attn_mask), a rewritten contrib op, an
 * embedding model, float16 (mask in float16) and QDQ.
 */
import assert from 'node:assert/strict';
import { float32ToHalf } from '../../src/shared/float16';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InferenceClient } from '../../src/node/inferenceClient';
import { resolveModels } from '../../src/host/models';
import { PanelController, type PanelDeps } from '../../src/host/panelController';
import type { HostToWebview } from '../../src/shared/protocol';
import { readSettings, type ConfigLike } from '../../src/host/settings';
import { REPO, maxAbsDiff } from '../helpers/fixtures';
import { FakePort } from '../helpers/fakePort';
import { FAMILIES_DIR, attentionTolerance, familyAttention, familyReference } from '../helpers/families';

const WORKER = join(REPO, 'dist', 'worker.js');
let client: InferenceClient;

before(() => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run npm run build first`);
  client = new InferenceClient({ workerPath: WORKER, log: () => undefined });
});
after(() => client?.dispose());

/** A panel on `model`, and a way to wait for its next message of a type. */
function panelOn(model: string) {
  const port = new FakePort();
  const errors: string[] = [];
  const values: Record<string, unknown> = { model };
  const cfg: ConfigLike = { get: <T>(k: string) => values[k] as T, inspect: <T>(k: string) => ({ globalValue: values[k] as T }) };
  const deps: PanelDeps = {
    client: () => client,
    settings: () => readSettings(cfg, true),
    models: () => resolveModels('/nonexistent-extension', readSettings(cfg, true)),
    log: () => undefined,
    withProgress: (_title, _quiet, task) => task(new AbortController().signal, () => {}),
    showError: (message) => errors.push(message),
    runCommand: () => {},
  };
  new PanelController(join(model, 'image.png'), port, deps);
  const next = <T extends HostToWebview['type']>(type: T) => port.next(type, 60_000, () => `errors: ${errors.join('; ')}`);
  return { send: (m: unknown) => port.send(m), next, errors };
}

let requestId = 0;

/** One query answered through the panel (sent after the previous one was answered: a newer query of a lane replaces a waiting one). */
async function ask<T>(panel: ReturnType<typeof panelOn>, query: Record<string, unknown>): Promise<T> {
  const answer = panel.next('answer');
  panel.send({ type: 'query', requestId: ++requestId, query });
  return (await answer).answer as T;
}

/**
 * The whole [layers, heads, N, N] attention of a stored inspection, assembled from the panel's one-head queries
 * (float32; the rows of a query move travel as float16), checked against the rows of one token.
 */
async function attentionOf(panel: ReturnType<typeof panelOn>, inspection: number, layers: number, heads: number, n: number): Promise<Float32Array> {
  const out = new Float32Array(layers * heads * n * n);
  for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) {
    const { map } = await ask<{ map: Float32Array }>(panel, { kind: 'head', inspection, layer: l, head: h });
    out.set(map, (l * heads + h) * n * n);
  }
  const t = n - 1;
  const answer = await ask<{ rows: Uint16Array }>(panel, { kind: 'rows', inspection, token: t });
  const expected = new Float32Array(layers * heads * n);
  for (let lh = 0; lh < layers * heads; lh++) expected.set(out.subarray((lh * n + t) * n, (lh * n + t + 1) * n), lh * n);
  assert.deepEqual(answer.rows, float32ToHalf(expected), 'the rows of a token are its float32 rows in half precision');
  return out;
}

for (const name of ['onnx_attention_op', 'ort_contrib_mha', 'open_clip_vision', 'vit_fp16', 'vit_qdq']) {
  test(`${name} in the panel: the library's attention, the scores, the key mask${name === 'open_clip_vision' ? ', no classes' : ''}`, async () => {
    const ref = familyReference(name);
    const tol = attentionTolerance(ref);
    const n = ref.tokens;
    const panel = panelOn(join(FAMILIES_DIR, name));
    const got = panel.next('inspection');
    panel.send({ type: 'ready' });
    const { payload } = await got;
    assert.deepEqual([payload.summary.layers, payload.summary.heads, n], [ref.layers, ref.heads, payload.summary.tokens]);
    const attention = await attentionOf(panel, payload.id, ref.layers, ref.heads, n);
    const err = maxAbsDiff(attention, familyAttention(name));
    assert.ok(err <= tol, `attention differs from the library's by ${err}`);
    if (ref.labels) {
      assert.ok(payload.predictions.length > 0);
      assert.ok(!payload.summary.embedding);
    } else {
      assert.deepEqual(payload.predictions, []);
      assert.equal(payload.summary.embedding, true);
    }

    // The scaling view's entropy per head comes from softmax(scores), fetched by a second run; the head
    // statistics' entropy from the probabilities: they agree only when the scores are the softmax's inputs.
    const scaling = await ask<{ scaledEntropy: Float32Array }>(panel, { kind: 'scaling', inspection: payload.id });
    const stats = await ask<{ entropy: Float32Array }>(panel, { kind: 'headStats', inspection: payload.id });
    // float16 scores and probabilities are each rounded to 2^-11 relative
    const sTol = ref.input.dtype === 'float16' ? 1e-2 : 1e-4;
    const eErr = maxAbsDiff(scaling.scaledEntropy, stats.entropy);
    assert.ok(eErr < sTol, `entropy of softmax(scores) differs from the attention's by ${eErr}`);

    const masked = panel.next('maskResult');
    panel.send({ type: 'runMasked', maskedTokens: [1, 5] });
    const m = await masked;
    assert.deepEqual(m.maskedTokens, [1, 5]);
    const maskedAttention = await attentionOf(panel, m.inspection, ref.layers, ref.heads, n);
    let worst = 0;
    for (let row = 0; row < maskedAttention.length / n; row++) {
      worst = Math.max(worst, maskedAttention[row * n + 1], maskedAttention[row * n + 5]);
      let sum = 0;
      for (let k = 0; k < n; k++) sum += maskedAttention[row * n + k];
      assert.ok(Math.abs(sum - 1) < 2e-3, `row ${row} sums to ${sum}`);
    }
    assert.ok(worst < 1e-6, `a masked key still gets ${worst}`);
    assert.equal(m.predictions.length, ref.labels ? payload.predictions.length : 0);
    assert.deepEqual(panel.errors, []);
  });
}
