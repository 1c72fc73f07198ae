/**
 * bench/figures/vscode.ts (real VS Code: code-server + Chromium, the packaged VSIX) with a large model:
 *   node --import tsx bench/vscodeLarge.ts [bench/models/vit_b16_384.onnx] [sessions] [query moves]
 * Prints the figure's JSON (click → first heatmap, cold and warm, the parts from the extension's log, and the
 * query moves' key press → every head repainted, timed in the webview).
 */
import { join, resolve } from 'node:path';
import { ensurePhoto } from './lib/assets';
import { measureVsCode, mirroredCopy } from './figures/vscode';

const root = resolve(__dirname, '..');
(async () => {
  const model = resolve(process.argv[2] ?? join(root, 'bench', 'models', 'vit_b16_384.onnx'));
  const photo = await ensurePhoto(join(root, 'bench', 'models'));
  const r = await measureVsCode(root, model, [photo, await mirroredCopy(photo)], Number(process.argv[3] ?? 1), process.env.CHROMIUM ?? '/usr/bin/chromium',
    (s) => process.stderr.write(`${s}\n`), { 'vitInspector.maxModelSizeMB': 4096 }, { count: Number(process.argv[4] ?? 0), gridSide: 24 });
  process.stdout.write(`${JSON.stringify(r)}\n`);
})();
