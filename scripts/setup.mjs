// One-time set-up on a fresh machine, run by `npm test` and `npm run demo` (each step skips itself when done):
//   npm dependencies (npm ci; .npmrc skips onnxruntime-node's CUDA download), Debian's python3-numpy for the
//   test that cross-checks attention.npy with numpy, and with --e2e the code-server end-to-end set-up.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const run = (cmd) => execSync(cmd, { stdio: 'inherit' });
const lock = 'package-lock.json';
const installed = 'node_modules/.package-lock.json';
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.log('[setup] npm ci');
  run('npm ci --no-audit --no-fund');
}
const hasNumpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
if (!hasNumpy && process.getuid?.() === 0) {
  console.log('[setup] apt-get install python3-numpy');
  run('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-numpy');
}
if (process.argv.includes('--e2e')) run('bash scripts/setup-e2e.sh');
