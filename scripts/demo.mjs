// `npm run demo`: set-up, build, then the CLI on the embedded default ViT and CNN with a few CIFAR-10 test
// images read in place from ../shared/data (or any images given as arguments). Output goes to out/demo/.
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readZipEntries } from './zip.mjs';

execSync('node scripts/setup.mjs && node scripts/build.mjs', { stdio: 'inherit' });
const out = resolve('out', 'demo');
mkdirSync(out, { recursive: true });

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
