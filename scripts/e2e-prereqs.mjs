// What the end-to-end suite needs and whether this machine has it: Chromium (for playwright-core) and
// code-server in .e2e/ (installed by scripts/setup-e2e.sh, which needs Debian packages: apt-get as root).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const CODE_SERVER_VERSION = '4.100.3';
const root = join(import.meta.dirname, '..');

export function chromiumPath() {
  return process.env.CHROMIUM_PATH ?? process.env.CHROMIUM ?? '/usr/bin/chromium';
}

export function codeServerInstalled() {
  return existsSync(join(root, '.e2e', 'code-server', `.installed-${CODE_SERVER_VERSION}`));
}

/** What is missing for the e2e suite to run now, one line each; empty when it can run. */
export function e2eMissing() {
  const missing = [];
  if (!existsSync(chromiumPath())) missing.push(`Chromium (${chromiumPath()}; set CHROMIUM_PATH to use another)`);
  if (!codeServerInstalled()) missing.push(`code-server ${CODE_SERVER_VERSION} in .e2e/ (npm run setup:e2e installs it)`);
  return missing;
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Why scripts/setup-e2e.sh cannot run here, or null when it can (Linux with apt as root, or nothing to install). */
export function setupBlocker() {
  if (process.platform !== 'linux') return `scripts/setup-e2e.sh installs Debian packages and code-server's Linux build; this is ${process.platform}`;
  const needed = [
    ['chromium', existsSync(chromiumPath())],
    ['ripgrep', has('rg')],
    ['libkrb5-dev', spawnSync('dpkg', ['-s', 'libkrb5-dev'], { stdio: 'ignore' }).status === 0],
    ['make', has('make')],
    ['g++', has('g++')],
    ['python3', has('python3')],
  ].filter(([, ok]) => !ok).map(([name]) => name);
  if (needed.length === 0) return null;
  if (!has('apt-get')) return `it needs ${needed.join(', ')} and this machine has no apt-get`;
  if (process.getuid?.() !== 0) return `it needs the Debian packages ${needed.join(', ')}, installed as root (sudo apt-get install ${needed.join(' ')}, then npm test again)`;
  return null;
}
