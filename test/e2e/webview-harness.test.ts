/**
 * The webview alone in headless Chromium (webview/dev/harness.html: dist/webview.js with a fake VS Code API,
 * a synthetic 12 layers x 12 heads payload and the host's nonce CSP), driven through its DOM hooks by
 * webview/dev/run-harness.mjs --smoke: query moves by click and keyboard, head enlarge and switch-off,
 * rollout, the CNN box, Scaling (scores asked for once), masking, error actions, saved state. Every check
 * it reports must be ok, with no CSP violation.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './codeServer';

test('the webview harness smoke run passes every check with no CSP violation', () => {
  const r = spawnSync(process.execPath, [join(REPO, 'webview', 'dev', 'run-harness.mjs'), '--smoke'], { cwd: REPO, encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { smoke: Record<string, unknown>; cspViolations: unknown[] };
  const checks = Object.entries(result.smoke).filter(([, v]) => v === 'ok' || v === 'FAILED');
  assert.ok(checks.length >= 10, `only ${checks.length} checks ran`);
  const failed = checks.filter(([, v]) => v !== 'ok').map(([k]) => k);
  assert.deepEqual(failed, [], `failed: ${failed.join(', ')}`);
  assert.deepEqual(result.cspViolations, []);
});
