// Runs every test file under test/ (unit, integration, then end to end) with Node's test runner via tsx.
// VIT_SKIP_E2E=1 leaves out the code-server end-to-end suite (for quick local runs only; CI runs all).
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const suites = ['unit', 'integration'];
if (process.env.VIT_SKIP_E2E !== '1') suites.push('e2e');
const files = suites.flatMap((s) => {
  const dir = join('test', s);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(dir, f)) : [];
});
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...selected], { stdio: 'inherit' });
process.exit(r.status ?? 1);
