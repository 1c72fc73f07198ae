// npm run package [-- --target T ...| --all] [--no-build]: a minified build, then one VSIX per target (and one
// for `web`, VS Code for the Web, that only says the extension cannot run there) with
// `vsce package --target`, each holding only that platform's native parts: onnxruntime-node's binaries for it
// and sharp's @img/sharp-<target> (+ @img/sharp-libvips-<target>) packages, fetched from the npm registry with
// `npm pack` (versions from the installed sharp's optionalDependencies) into .cache/npm-pack/. Each VSIX is
// staged in out/package/<target>/ (the production dependency tree without other platforms' binaries) and
// checked afterwards (scripts/vsix.mjs). Default target: this machine's.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_VSIX_BYTES, ORT_FILES, TARGETS, checkVsix, vsixName } from './vsix.mjs';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { values } = parseArgs({ options: { target: { type: 'string', multiple: true }, all: { type: 'boolean' }, 'no-build': { type: 'boolean' }, 'out-dir': { type: 'string' } } });
const here = `${process.platform}-${process.arch}`;
const targets = values.all ? Object.keys(TARGETS) : (values.target ?? [here]).flatMap((t) => t.split(','));
for (const t of targets) {
  if (!TARGETS[t]) {
    console.error(`package: no VSIX for ${t}; targets: ${Object.keys(TARGETS).join(', ')} (onnxruntime-node ${pkg.dependencies['onnxruntime-node']} ships no other binaries)`);
    process.exit(2);
  }
}
const outDir = values['out-dir'] ?? root;

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, npm_config_yes: 'true' }, ...opts });
  if (r.status !== 0) {
    console.error(`${cmd} ${argv.join(' ')} failed (${r.status ?? r.signal})`);
    process.exit(1);
  }
  return r;
}

/** The production dependency tree, as folders relative to the root (npm ls), without sharp's platform packages. */
function productionPackages() {
  const r = spawnSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' });
  if (r.status !== 0) throw new Error(`npm ls failed: ${r.stderr}`);
  return r.stdout.split(/\r?\n/).filter(Boolean).map((p) => relative(root, p)).filter((p) => p && !/@img[\\/]sharp-/.test(p));
}

/** An @img package for the target: the installed copy when it is the right version, else `npm pack` from the registry. */
function sharpPackage(name, dest) {
  const version = JSON.parse(readFileSync(join(root, 'node_modules/sharp/package.json'), 'utf8')).optionalDependencies[`@img/${name}`];
  if (!version) throw new Error(`sharp has no optional dependency @img/${name}`);
  const installed = join(root, 'node_modules/@img', name);
  if (existsSync(installed) && JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version === version) {
    cpSync(installed, dest, { recursive: true });
    return;
  }
  const cache = join(root, '.cache', 'npm-pack');
  const tgz = join(cache, `img-${name}-${version}.tgz`);
  if (!existsSync(tgz)) {
    mkdirSync(cache, { recursive: true });
    console.log(`[package] npm pack @img/${name}@${version}`);
    run('npm', ['pack', `@img/${name}@${version}`, '--pack-destination', cache, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'], shell: process.platform === 'win32' });
  }
  mkdirSync(dest, { recursive: true });
  run('tar', ['-xzf', tgz, '-C', dest, '--strip-components=1']);
}

function stage(target, packages) {
  const { ort, sharp } = TARGETS[target];
  const dir = join(root, 'out', 'package', target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Everything outside node_modules that .vscodeignore lets in, copied as it is.
  for (const f of ['package.json', '.vscodeignore', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist', 'media', 'docs']) {
    if (existsSync(join(root, f))) cpSync(join(root, f), join(dir, f), { recursive: true, filter: (s) => !s.endsWith('.map') && (ort || !s.includes(`${sep}models`)) });
  }
  const ortBin = join('node_modules', 'onnxruntime-node', 'bin');
  if (!ort) return dir; // web: no node_modules
  for (const p of packages) {
    cpSync(join(root, p), join(dir, p), {
      recursive: true,
      filter: (s) => {
        const rel = relative(root, s);
        if (rel !== p && rel.slice(p.length + 1).split(sep).includes('node_modules')) return false; // nested trees come on their own
        if (!rel.startsWith(ortBin + sep)) return true;
        // onnxruntime-node: this platform's CPU binaries only
        const parts = rel.slice(ortBin.length + 1).split(sep); // napi-v6, os, arch, file
        if (parts.length < 3) return true;
        if (`${parts[1]}/${parts[2]}` !== ort) return false;
        return parts.length < 4 || ORT_FILES[parts[1]].includes(parts[3]);
      },
    });
  }
  for (const name of sharp) sharpPackage(name, join(dir, 'node_modules', '@img', name));
  return dir;
}

if (!values['no-build']) run(process.execPath, ['scripts/build.mjs', '--minify']);
const packages = productionPackages();
const vsce = join(root, 'node_modules/@vscode/vsce/vsce');
let failed = false;
for (const target of targets) {
  const dir = stage(target, packages);
  const out = join(outDir, vsixName(pkg, target));
  mkdirSync(dirname(out), { recursive: true });
  run(process.execPath, [vsce, 'package', '--target', target, '--out', out, '--skip-license', '--allow-missing-repository',
    '--no-update-package-json', '--no-git-tag-version', ...(TARGETS[target].ort ? [] : ['--no-dependencies'])], { cwd: dir });
  const { problems, entries, natives } = checkVsix(out, target);
  const bytes = statSync(out).size;
  if (bytes > MAX_VSIX_BYTES) problems.push(`${(bytes / 1048576).toFixed(1)} MB, more than ${MAX_VSIX_BYTES / 1048576} MB`);
  for (const model of TARGETS[target].ort ? ['vit-cifar10', 'cnn-cifar10'] : []) {
    const m = `extension/media/models/${model}/model.onnx`;
    if (!entries.some((e) => e.name === m)) problems.push(`missing ${m}`);
  }
  const mb = (n) => (n / 1048576).toFixed(1);
  const unpacked = entries.reduce((s, e) => s + e.size, 0);
  console.log(`${relative(root, out) || out}: ${mb(bytes)} MB (${mb(unpacked)} MB unpacked, ${entries.length} files; natives: ${[...new Set(natives.map((n) => `${n.format} ${n.arch}`))].join(', ')})`);
  for (const e of [...entries].sort((a, b) => b.size - a.size).slice(0, 4)) console.log(`  ${mb(e.size).padStart(6)} MB  ${e.name}`);
  if (problems.length) {
    failed = true;
    console.error(`VSIX check failed for ${target}:\n  ${problems.join('\n  ')}`);
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
