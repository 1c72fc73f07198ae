// npm run package: a minified build, then `vsce package --target linux-x64`, then a check of what the VSIX
// holds (the bundles, the linux-x64 native modules and nothing for other platforms) and its size.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const target = 'linux-x64';
const out = join(root, `${pkg.name}-${target}-${pkg.version}.vsix`);
const args = process.argv.slice(2);

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, npm_config_yes: 'true' } });
  if (r.status !== 0) {
    console.error(`${cmd} ${argv.join(' ')} failed (${r.status ?? r.signal})`);
    process.exit(1);
  }
}

if (!args.includes('--no-build')) run(process.execPath, ['scripts/build.mjs', '--minify']);
run(process.execPath, [join(root, 'node_modules/@vscode/vsce/vsce'), 'package', '--target', target, '--out', out,
  '--skip-license', '--allow-missing-repository', '--no-update-package-json', '--no-git-tag-version']);

/** Entry names of a zip file, from its central directory. */
export function zipEntries(file) {
  const buf = readFileSync(file);
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    entries.push({ name, size, method, compressed, local });
    p += 46 + nameLen + extraLen + commentLen;
  }
  const read = (e) => {
    const start = e.local + 30 + buf.readUInt16LE(e.local + 26) + buf.readUInt16LE(e.local + 28);
    const data = buf.subarray(start, start + e.compressed);
    return e.method === 0 ? data : inflateRawSync(data);
  };
  return { entries, read };
}

const { entries, read } = zipEntries(out);
const names = entries.map((e) => e.name);
const must = [
  'extension/package.json', 'extension/dist/extension.js', 'extension/dist/worker.js', 'extension/dist/webview.js', 'extension/media/icon.png',
  'extension/node_modules/onnxruntime-node/dist/index.js', 'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
  'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1', 'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
  'extension/node_modules/sharp/dist/index.cjs', /^extension\/node_modules\/@img\/sharp-linux-x64\/lib\/sharp-linux-x64[-.\d]*\.node$/,
  /^extension\/node_modules\/@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/,
  'extension/node_modules/detect-libc/package.json', 'extension/node_modules/semver/package.json', 'extension/node_modules/@img/colour/package.json',
];
const problems = must.filter((m) => !names.some((n) => (typeof m === 'string' ? n === m : m.test(n)))).map((m) => `missing ${m}`);
for (const n of names) {
  if (/onnxruntime-node\/bin\//.test(n) && !n.includes('/bin/napi-v6/linux/x64/')) problems.push(`other platform: ${n}`);
  if (/\.map$|\.ts$|\/(src|test|lib)\/.*\.ts$/.test(n) && !n.endsWith('.d.ts')) problems.push(`source or map: ${n}`);
  if (/^extension\/node_modules\/(typescript|esbuild|@esbuild|tsx|playwright-core|@vscode|d3-|adm-zip|global-agent)/.test(n)) problems.push(`dev dependency: ${n}`);
}
for (const model of ['vit-cifar10', 'cnn-cifar10']) {
  const m = `extension/media/models/${model}/model.onnx`;
  if (!names.includes(m)) {
    if (existsSync(join(root, 'media/models', model, 'model.onnx'))) problems.push(`missing ${m}`);
    else console.warn(`warning: media/models/${model}/model.onnx does not exist yet: the VSIX has no default ${model}`);
  }
}
// Test hooks stay out of the shipped bundles: the benchmark hook lives only in dist/dev/ (not packaged), and
// the worker has no crash request (tests kill the child from outside).
for (const [bundle, hook] of [['extension/dist/webview.js', '__vitInspectorBench'], ['extension/dist/worker.js', "'crash'"], ['extension/dist/extension.js', 'crashForTest']]) {
  const e = entries.find((x) => x.name === bundle);
  if (e && read(e).toString('utf8').includes(hook)) problems.push(`test hook ${hook} in ${bundle}`);
}
if (names.some((n) => n.startsWith('extension/dist/dev/'))) problems.push('the development bundles (dist/dev/) are packaged');
const manifest = JSON.parse(read(entries.find((e) => e.name === 'extension/package.json')).toString('utf8'));
if (manifest.main !== './dist/extension.js') problems.push(`main is ${manifest.main}`);
const mb = (n) => (n / 1048576).toFixed(1);
const bytes = statSync(out).size;
const unpacked = entries.reduce((s, e) => s + e.size, 0);
console.log(`${out.slice(root.length + 1)}: ${mb(bytes)} MB (${mb(unpacked)} MB unpacked, ${entries.length} files)`);
const top = [...entries].sort((a, b) => b.size - a.size).slice(0, 6);
for (const e of top) console.log(`  ${mb(e.size).padStart(6)} MB  ${e.name}`);
if (problems.length) {
  console.error(`VSIX check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
