/**
 * Runs the packaged extension in a real VS Code: code-server 4.100.3 (installed by scripts/setup-e2e.sh into
 * .e2e/), driven by playwright-core and Debian's chromium. Every process started here is stopped by pid
 * (code-server, the extension host and watcher it forks, the inference child, the browser).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const REPO = join(__dirname, '..', '..');
export const E2E = join(REPO, '.e2e');
export const CODE_SERVER = join(E2E, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const OUTPUT = join(REPO, 'test-output', 'e2e');

export function log(line: string): void {
  process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** scripts/setup-e2e.sh (idempotent: a second run returns at once), then the VSIX (npm run package). */
export function prepare(): string {
  let t = Date.now();
  const setup = spawnSync('bash', [join(REPO, 'scripts', 'setup-e2e.sh')], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60_000 });
  if (setup.status !== 0) throw new Error(`scripts/setup-e2e.sh failed (${setup.status ?? setup.signal})`);
  log(`setup ${Date.now() - t} ms`);
  t = Date.now();
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  const vsix = join(REPO, `${pkg.name}-linux-x64-${pkg.version}.vsix`);
  if (process.env.VIT_E2E_REUSE_VSIX === '1' && existsSync(vsix)) return vsix;
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'package.mjs')], { cwd: REPO, encoding: 'utf8', timeout: 10 * 60_000 });
  if (r.status !== 0) throw new Error(`npm run package failed:\n${r.stdout}\n${r.stderr}`);
  log(`package ${Date.now() - t} ms: ${r.stdout.trim().split('\n').find((l) => l.includes('.vsix:')) ?? ''}`);
  return vsix;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** All descendants of a pid (children first listed after their parent), from /proc. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

export interface CodeServer {
  url: string;
  workspace: string;
  userDataDir: string;
  proc: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

export interface Options {
  vsix: string;
  /** Files to put in the (temporary) workspace folder. */
  files: Record<string, Buffer | string>;
  userSettings?: Record<string, unknown>;
}

export async function startCodeServer(o: Options): Promise<CodeServer> {
  const base = mkdtempSync(join(tmpdir(), 'vit-e2e-'));
  const userDataDir = join(base, 'user-data');
  const extensionsDir = join(base, 'extensions');
  const workspace = join(base, 'workspace');
  for (const d of [userDataDir, extensionsDir, workspace, join(userDataDir, 'User')]) mkdirSync(d, { recursive: true });
  for (const [name, data] of Object.entries(o.files)) {
    mkdirSync(dirname(join(workspace, name)), { recursive: true }); // names may hold folders: 'pics/a.png'
    writeFileSync(join(workspace, name), data);
  }
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({
    // The trust dialog would block every click; restricted mode is covered by test/integration/host-*.
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'chat.disableAIFeatures': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'window.restoreWindows': 'none',
    ...o.userSettings,
  }, null, 2));

  const env = { ...process.env, VSCODE_PROXY_URI: '', NODE_OPTIONS: '' };
  const common = ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  let t = Date.now();
  const install = spawnSync(process.execPath, [CODE_SERVER, ...common, '--install-extension', o.vsix], { env, encoding: 'utf8', timeout: 180_000 });
  if (install.status !== 0 || !/successfully installed/i.test(install.stdout + install.stderr)) {
    throw new Error(`installing the VSIX failed (${install.status}):\n${install.stdout}\n${install.stderr}`);
  }
  log(`VSIX installed in ${Date.now() - t} ms`);

  const port = await freePort();
  t = Date.now();
  const proc = spawn(process.execPath, [CODE_SERVER, ...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry', '--disable-update-check', '--ignore-last-opened', workspace], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const logs: string[] = [];
  const collect = (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`code-server exited (${proc.exitCode}):\n${logs.join('\n')}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`code-server did not start:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  log(`code-server ${proc.pid} listening on ${port} after ${Date.now() - t} ms`);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const pid = proc.pid!;
    const all = [pid, ...descendants(pid)];
    for (const p of all) {
      try {
        process.kill(p, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    const until = Date.now() + 5000;
    while (all.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    for (const p of all.filter(alive)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    // Anything forked meanwhile (the kills above raced with it) is still in code-server's process group.
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is empty
    }
    const left = all.filter(alive);
    if (left.length) log(`still running after stop: ${left.join(', ')}`);
    // Keep code-server's and the extension's logs for a look after a failure.
    const logsDir = join(OUTPUT, 'logs');
    rmSync(logsDir, { recursive: true, force: true });
    if (existsSync(join(userDataDir, 'logs'))) cpSync(join(userDataDir, 'logs'), logsDir, { recursive: true });
    writeFileSync(join(OUTPUT, 'code-server.log'), logs.join('\n') + '\n');
    rmSync(base, { recursive: true, force: true });
  };
  return { url, workspace, userDataDir, proc, logs, stop };
}

export function psLine(pid: number): string {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}
