// `npm run demo`: set-up, build, then the CLI on the embedded default ViT and CNN with a few CIFAR-10 test
// images read in place from ../shared/data (or any images given as arguments). Output goes to out/demo/.
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';

execSync('node scripts/setup.mjs && node scripts/build.mjs', { stdio: 'inherit' });
const out = resolve('out', 'demo');
mkdirSync(out, { recursive: true });

/** Reads the named entries of a zip file (stored or deflated) without unpacking the rest. */
function readZipEntries(file, wanted) {
  const buf = readFileSync(file);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let p = buf.readUInt32LE(eocd + 16);
  const found = new Map();
  for (let i = 0, n = buf.readUInt16LE(eocd + 10); i < n; i++) {
    const method = buf.readUInt16LE(p + 10), size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28), extra = buf.readUInt16LE(p + 30), comment = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (wanted(name)) {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + size);
      found.set(name, method === 8 ? inflateRawSync(data) : data);
    }
    p += 46 + nameLen + extra + comment;
  }
  return found;
}

let images = process.argv.slice(2).map((p) => resolve(p));
const zip = resolve('..', 'shared', 'data', 'cifar10-jpeg.zip');
if (images.length === 0 && existsSync(zip)) {
  for (const [name, data] of readZipEntries(zip, (n) => /^test\/(cat|ship|airplane|horse)\/0000\.jpg$/.test(n))) {
    const file = join(out, `${name.split('/')[1]}.jpg`);
    writeFileSync(file, data);
    images.push(file);
  }
}
if (images.length === 0) {
  console.error('demo: no images given and ../shared/data/cifar10-jpeg.zip not found; run `npm run demo -- photo.jpg`');
  process.exit(2);
}
for (const image of images) {
  const dir = join(out, basename(image).replace(/\.[^.]+$/, ''));
  execFileSync(process.execPath, ['dist/cli.js', 'inspect', '--image', image, '--out', dir, '--top', '3'], { stdio: 'inherit' });
}
execFileSync(process.execPath, ['dist/cli.js', 'rf', '--out', join(out, 'cnn-receptive-fields.json')], { stdio: 'inherit' });
console.log(`demo: reports, attention.npy and PNGs in ${out}`);
