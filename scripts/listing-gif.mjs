// Makes docs/panel.gif, the README's animation of the panel, from the e2e suite's screenshots
// (test-output/e2e/01-panel.png ... 04-scaling.png, written by test/e2e/panel.test.ts in a real VS Code):
// each is cropped to the editor area (the panel), scaled to 800 px wide and shown for 2.5 s, looping.
//   npm run test:e2e, then node scripts/listing-gif.mjs (the e2e screenshots are not committed; the GIF is).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const root = join(import.meta.dirname, '..');
const shots = ['01-panel.png', '02-other-patch.png', '03-vit-vs-cnn.png', '04-scaling.png'].map((f) => join(root, 'test-output', 'e2e', f));
const missing = shots.filter((f) => !existsSync(f));
if (missing.length) {
  console.error(`listing-gif: missing ${missing.join(', ')}; run npm run test:e2e first`);
  process.exit(2);
}
const out = join(root, 'docs', 'panel.gif');
const WIDTH = 800;
// The screenshots are 1400 × 900 (codeServer.ts's viewport): the editor area starts right of the side bar
// (x 348) and below the title and tab bars (y 70).
const crop = { left: 348, top: 70, width: 1400 - 348, height: 900 - 70 - 22 };
const frames = await Promise.all(shots.map((f) => sharp(f).extract(crop).resize({ width: WIDTH }).png().toBuffer()));
mkdirSync(join(root, 'docs'), { recursive: true });
await sharp(frames, { join: { animated: true } })
  .gif({ delay: frames.map(() => 2500), loop: 0, colours: 128, effort: 10, dither: 0 })
  .toFile(out);
console.log(`${out.slice(root.length + 1)}: ${frames.length} frames, ${(statSync(out).size / 1024).toFixed(0)} KB`);
