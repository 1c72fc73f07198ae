// `npm run demo`: set-up, build, then the CLI on the embedded default ViT and CNN with the sample photos in
// media/samples (or any images given as arguments). Output goes to out/demo/.
import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
execSync('node scripts/setup.mjs && node scripts/build.mjs', { stdio: 'inherit', cwd: root });
const out = join(root, 'out', 'demo');
mkdirSync(out, { recursive: true });

const given = process.argv.slice(2).map((p) => resolve(p));
const samples = join(root, 'media', 'samples');
const images = given.length ? given : readdirSync(samples).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().map((f) => join(samples, f));
if (images.length === 0) {
  console.error('demo: no images given and media/samples has none; run `npm run demo -- photo.jpg`');
  process.exit(2);
}
const cli = join(root, 'dist', 'cli.js');
for (const image of images) {
  const dir = join(out, basename(image).replace(/\.[^.]+$/, ''));
  execFileSync(process.execPath, [cli, 'inspect', '--image', image, '--out', dir, '--top', '3'], { stdio: 'inherit' });
}
execFileSync(process.execPath, [cli, 'rf', '--out', join(out, 'cnn-receptive-fields.json')], { stdio: 'inherit' });
console.log(`demo: reports, attention.npy and PNGs in ${out}`);
