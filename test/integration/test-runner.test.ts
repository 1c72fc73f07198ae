/**
 * `npm test` on a machine without the e2e prerequisites (here: a Chromium path that does not exist):
 * scripts/run-tests.mjs skips the e2e suite and says why, first and last; under CI=true it fails instead.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/fixtures';

function runTests(env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI' && k !== 'VIT_SKIP_E2E'));
  return spawnSync(process.execPath, [join(REPO, 'scripts', 'run-tests.mjs'), 'e2e/'], {
    cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...clean, CHROMIUM_PATH: join(REPO, 'no-such-chromium'), ...env },
  });
}

test('without Chromium the e2e suite is skipped with the reason, said before and after', () => {
  const r = runTests({});
  assert.equal(r.status, 0, r.stderr);
  const notices = r.stdout.split('\n').filter((l) => l.startsWith('[run-tests] SKIPPED: the e2e suite'));
  assert.equal(notices.length, 2, r.stdout);
  assert.match(notices[0], /missing Chromium \(.*no-such-chromium; set CHROMIUM_PATH/);
  assert.doesNotMatch(r.stdout, /^# tests/m, 'no test file ran');
});

test('under CI=true a missing prerequisite fails the run', () => {
  const r = runTests({ CI: 'true' });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /\[run-tests\] FAIL: the e2e suite .* cannot run: missing Chromium/);
});
