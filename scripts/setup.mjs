// One-time set-up on a fresh machine, run by `npm test` and `npm run demo` (each step skips itself when done):
//   npm dependencies (npm ci; .npmrc keeps onnxruntime-node's CUDA download off), Debian's python3-numpy for
//   the test that cross-checks attention.npy with numpy (as root only), and with --e2e the code-server
//   end-to-end set-up where this machine allows it. Nothing here needs root for the unit and integration
//   suites; what cannot be set up is said, and scripts/run-tests.mjs then skips the e2e suite (fails under CI).
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { codeServerInstalled, e2eMissing, setupBlocker } from './e2e-prereqs.mjs';

const run = (cmd) => execSync(cmd, { stdio: 'inherit' });
const lock = 'package-lock.json';
const installed = 'node_modules/.package-lock.json';
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.log('[setup] npm ci');
  run('npm ci --no-audit --no-fund');
}
const e2e = process.argv.includes('--e2e') && process.env.VIT_SKIP_E2E !== '1';
if (e2e || process.argv.includes('--tests')) {
  const hasNumpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
  if (!hasNumpy && process.platform === 'linux' && process.getuid?.() === 0) {
    console.log('[setup] apt-get install python3-numpy');
    run('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-numpy');
  } else if (!hasNumpy) {
    console.log('[setup] no numpy for python3: the test that cross-checks attention.npy with numpy will be skipped (install numpy for /usr/bin/python3 to run it)');
  }
}
if (e2e && (e2eMissing().length > 0 || !codeServerInstalled())) {
  const blocker = setupBlocker();
  if (blocker) {
    console.log(`[setup] cannot set up the e2e suite: ${blocker}`);
  } else {
    const r = spawnSync('bash', ['scripts/setup-e2e.sh'], { stdio: 'inherit' });
    if (r.status !== 0) console.log(`[setup] scripts/setup-e2e.sh failed (${r.status ?? r.signal}): the e2e suite cannot run`);
  }
}
