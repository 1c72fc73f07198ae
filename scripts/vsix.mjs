// What a platform VSIX must hold, and how to check one: the five targets, their onnxruntime-node and sharp
// packages, a zip reader for the VSIX, and the format and architecture of a native file read from its header.
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

/** The VSIX targets: onnxruntime-node's bin/napi-v6/<ort> folder and sharp's @img packages for each. */
export const TARGETS = {
  'win32-x64': { ort: 'win32/x64', sharp: ['sharp-win32-x64'], format: 'PE32+', arch: 'x64' },
  'win32-arm64': { ort: 'win32/arm64', sharp: ['sharp-win32-arm64'], format: 'PE32+', arch: 'arm64' },
  'darwin-arm64': { ort: 'darwin/arm64', sharp: ['sharp-darwin-arm64', 'sharp-libvips-darwin-arm64'], format: 'Mach-O', arch: 'arm64' },
  'linux-x64': { ort: 'linux/x64', sharp: ['sharp-linux-x64', 'sharp-libvips-linux-x64'], format: 'ELF', arch: 'x64' },
  'linux-arm64': { ort: 'linux/arm64', sharp: ['sharp-linux-arm64', 'sharp-libvips-linux-arm64'], format: 'ELF', arch: 'arm64' },
  // VS Code for the Web: no native code, only the `browser` entry that says the extension needs a desktop or remote.
  web: { ort: null, sharp: [], format: null, arch: null },
};

/** onnxruntime's files the CPU execution provider needs (DirectML is delay-loaded, only for its own EP). */
export const ORT_FILES = {
  win32: ['onnxruntime_binding.node', 'onnxruntime.dll'],
  darwin: ['onnxruntime_binding.node', 'libonnxruntime.1.dylib'],
  linux: ['onnxruntime_binding.node', 'libonnxruntime.so.1'],
};

export const MAX_VSIX_BYTES = 35 * 1024 * 1024;

export function vsixName(pkg, target) {
  return `${pkg.name}-${target}-${pkg.version}.vsix`;
}

/** Entries of a zip file from its central directory, and a reader of each one's bytes. */
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

const ELF_MACHINE = { 0x3e: 'x64', 0xb7: 'arm64', 0x03: 'ia32', 0x28: 'arm' };
const PE_MACHINE = { 0x8664: 'x64', 0xaa64: 'arm64', 0x14c: 'ia32' };
const MACHO_CPU = { 0x01000007: 'x64', 0x0100000c: 'arm64' };

/**
 * The format and architecture of a native binary from its header, or null when it is not one:
 * ELF (e_machine), PE (COFF Machine; PE32+ when the optional header's magic is 0x20b) or 64-bit Mach-O (cputype).
 */
export function nativeFormat(b) {
  if (b.length >= 20 && b.readUInt32BE(0) === 0x7f454c46) {
    const little = b[5] === 1;
    const machine = little ? b.readUInt16LE(18) : b.readUInt16BE(18);
    return { format: 'ELF', bits: b[4] === 2 ? 64 : 32, arch: ELF_MACHINE[machine] ?? `machine 0x${machine.toString(16)}` };
  }
  if (b.length >= 64 && b[0] === 0x4d && b[1] === 0x5a) {
    const pe = b.readUInt32LE(0x3c);
    if (pe + 26 > b.length || b.readUInt32BE(pe) !== 0x50450000) return null;
    const machine = b.readUInt16LE(pe + 4);
    const magic = b.readUInt16LE(pe + 24);
    return { format: magic === 0x20b ? 'PE32+' : 'PE32', bits: magic === 0x20b ? 64 : 32, arch: PE_MACHINE[machine] ?? `machine 0x${machine.toString(16)}` };
  }
  if (b.length >= 8 && b.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = b.readUInt32LE(4);
    return { format: 'Mach-O', bits: 64, arch: MACHO_CPU[cpu] ?? `cputype 0x${cpu.toString(16)}` };
  }
  if (b.length >= 4 && (b.readUInt32BE(0) === 0xcafebabe || b.readUInt32BE(0) === 0xfeedface)) {
    return { format: 'Mach-O', bits: b.readUInt32BE(0) === 0xcafebabe ? 0 : 32, arch: 'universal or 32-bit' };
  }
  return null;
}

/** Problems with one target's VSIX (an empty list when it is right), plus what it holds. */
export function checkVsix(file, target) {
  const want = TARGETS[target];
  const { entries, read } = zipEntries(file);
  const names = entries.map((e) => e.name);
  if (!want.ort) return checkWebVsix(file, target, entries, read);
  const [os, arch] = want.ort.split('/');
  const ortDir = `extension/node_modules/onnxruntime-node/bin/napi-v6/${want.ort}/`;
  const problems = [];
  const must = [
    'extension/package.json', 'extension/dist/extension.js', 'extension/dist/worker.js', 'extension/dist/webview.js', 'extension/media/icon.png',
    'extension/node_modules/onnxruntime-node/dist/index.js', 'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
    'extension/node_modules/sharp/dist/index.cjs', 'extension/node_modules/detect-libc/package.json',
    'extension/node_modules/semver/package.json', 'extension/node_modules/@img/colour/package.json',
    ...ORT_FILES[os].map((f) => ortDir + f),
    ...want.sharp.map((p) => `extension/node_modules/@img/${p}/package.json`),
  ];
  for (const m of must) if (!names.includes(m)) problems.push(`missing ${m}`);
  if (!names.some((n) => new RegExp(`^extension/node_modules/@img/sharp-${target}/lib/sharp-${target}[-.\\d]*\\.node$`).test(n))) {
    problems.push(`missing sharp's native module for ${target}`);
  }
  const natives = [];
  for (const e of entries) {
    const n = e.name;
    if (/onnxruntime-node\/bin\//.test(n) && !n.startsWith(ortDir)) problems.push(`other platform's onnxruntime: ${n}`);
    const img = /^extension\/node_modules\/@img\/(sharp-[^/]+)\//.exec(n);
    if (img && !want.sharp.includes(img[1])) problems.push(`other platform's sharp: ${n}`);
    if (/\.map$/.test(n) || (/\.ts$/.test(n) && !n.endsWith('.d.ts'))) problems.push(`source or map: ${n}`);
    if (/^extension\/node_modules\/(typescript|esbuild|@esbuild|tsx|playwright-core|@vscode|d3-|adm-zip|global-agent)/.test(n)) problems.push(`dev or install-time dependency: ${n}`);
    // Every native file is read, whatever its name: a stray binary for another platform fails here.
    const head = e.size >= 64 ? read(e).subarray(0, 4096) : null;
    const fmt = head && nativeFormat(head);
    if (!fmt) {
      if (/\.(node|dll|so(\.\d+)*|dylib)$/.test(n)) problems.push(`not a native binary: ${n}`);
      continue;
    }
    natives.push({ name: n, ...fmt });
    if (fmt.format !== want.format || fmt.arch !== want.arch) problems.push(`${n} is ${fmt.format} ${fmt.arch}, not ${want.format} ${want.arch}`);
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
  const manifestXml = read(entries.find((e) => e.name === 'extension.vsixmanifest')).toString('utf8');
  if (!manifestXml.includes(`TargetPlatform="${target}"`)) problems.push(`extension.vsixmanifest does not say TargetPlatform="${target}"`);
  return { problems, entries, natives };
}

function checkWebVsix(file, target, entries, read) {
  const names = entries.map((e) => e.name);
  const problems = [];
  for (const m of ['extension/package.json', 'extension/dist/web.js', 'extension/media/icon.png']) if (!names.includes(m)) problems.push(`missing ${m}`);
  for (const n of names) if (n.includes('/node_modules/') || /\.(node|dll|so(\.\d+)*|dylib)$/.test(n)) problems.push(`native or node_modules file in the web VSIX: ${n}`);
  const manifest = JSON.parse(read(entries.find((e) => e.name === 'extension/package.json')).toString('utf8'));
  if (manifest.browser !== './dist/web.js') problems.push(`browser is ${manifest.browser}`);
  const manifestXml = read(entries.find((e) => e.name === 'extension.vsixmanifest')).toString('utf8');
  if (!manifestXml.includes(`TargetPlatform="${target}"`)) problems.push(`extension.vsixmanifest does not say TargetPlatform="${target}"`);
  return { problems, entries, natives: [] };
}
