/**
 * `explain` through the inference child process, as the extension runs it: the result arrives (typed arrays
 * intact), progress reports fractions, and cancelling stops the child's passes at the next run, so the same
 * child (no restart) answers the next request.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultModels } from '../../src/node/defaults';
import { InferenceClient } from '../../src/node/inferenceClient';
import { isInspectorError } from '../../src/shared/errors';
import { cifarImages } from '../helpers/cifar';
import { REPO } from '../helpers/fixtures';

const client = new InferenceClient({ workerPath: join(REPO, 'dist', 'worker.js') });
after(() => client.dispose());
const models = defaultModels();

test('explain in the child process: cancelled mid-passes, the same child then answers', async () => {
  const image = cifarImages()[4].path;
  const ac = new AbortController();
  const fractions: number[] = [];
  const started = Date.now();
  const cancelled = client.explain({ modelPath: models.vit, cnnPath: models.cnn, image, passes: 100_000, batchSize: 8 }, {
    signal: ac.signal,
    onProgress: (_m, f) => {
      if (f === undefined) return;
      fractions.push(f);
      if (fractions.length === 3) ac.abort();
    },
  });
  await assert.rejects(cancelled, (e) => isInspectorError(e) && e.code === 'cancelled');
  const pid = client.pid;
  assert.ok(pid, 'the child is running');
  // Requests are served one at a time: had the 100 000 passes gone on, this would wait behind them.
  const t = Date.now();
  await client.receptiveFields(models.cnn);
  assert.ok(Date.now() - t < 2500, `the child was still busy ${Date.now() - t} ms after the cancel`);
  assert.ok(fractions.every((f, i) => f > 0 && f <= 1 && (i === 0 || f > fractions[i - 1])), String(fractions));
  const x = await client.explain({ modelPath: models.vit, image, passes: 16, erf: false, scoreMaps: ['classSpecific'] });
  assert.equal(client.pid, pid, 'the cancelled passes stopped: no restart was needed');
  assert.ok(x.vit.maps.classSpecific instanceof Float32Array && x.vit.maps.classSpecific.length === 64);
  assert.ok(x.vit.faithfulness.maps.classSpecific.deletionCurve.length === 65);
  assert.ok(Date.now() - started < 60_000);
});
