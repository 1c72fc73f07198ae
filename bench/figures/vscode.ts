/**
 * Image to first heatmap painted in real VS Code. This needs the project's real-VS-Code end-to-end setup
 * (scripts/setup-e2e.sh installs code-server into .e2e/; test/e2e drives it with playwright-core). The
 * figure is measured only where that setup offers a driver for it; otherwise the reason is reported.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface VsCodeResult {
  measured: boolean;
  reason: string;
}

export async function measureVsCode(root: string, _model: string, _image: string, log: (s: string) => void): Promise<VsCodeResult> {
  const e2eDir = join(root, 'test', 'e2e');
  const tests = existsSync(e2eDir) ? readdirSync(e2eDir).filter((f) => f.endsWith('.ts')) : [];
  const codeServer = existsSync(join(root, '.e2e', 'code-server'));
  const driver = tests.find((f) => /driver|harness|session|codeServer/i.test(f));
  let reason: string;
  if (tests.length === 0) reason = 'test/e2e has no end-to-end suite yet (scripts/setup-e2e.sh exists, but nothing drives VS Code through it)';
  else if (!driver) reason = `test/e2e (${tests.join(', ')}) has no reusable driver module that opens the panel on an image from outside a test`;
  else if (!codeServer) reason = 'code-server is not installed: run npm run setup:e2e first';
  else reason = `a driver exists (test/e2e/${driver}) but this benchmark does not use it yet`;
  log(`  not measured: ${reason}`);
  return { measured: false, reason };
}
