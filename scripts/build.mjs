// Bundles the extension host, the CLI, the inference worker (Node, CommonJS) and the webview (browser).
// Native modules cannot be bundled: onnxruntime-node and sharp stay external and ship in node_modules.
import { build } from 'esbuild';

const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'warning', minify: process.argv.includes('--minify') };
const node = { ...common, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode', 'onnxruntime-node', 'sharp'] };

await Promise.all([
  build({ ...node, entryPoints: { extension: 'src/host/extension.ts', cli: 'src/cli/cli.ts', worker: 'src/node/worker.ts' }, outdir: 'dist',
    banner: { js: '' } }),
  // The shipped webview, and a development build with the benchmark hook (webview/dev/benchHook.ts) for the
  // harness and bench/: the define makes the hook dead code in the first, which esbuild then drops.
  build({ ...common, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: { webview: 'webview/main.ts' }, outdir: 'dist',
    define: { VIT_INSPECTOR_DEV: 'false' } }),
  build({ ...common, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: { webview: 'webview/main.ts', harnessStore: 'webview/dev/harnessStore.ts' },
    outdir: 'dist/dev', define: { VIT_INSPECTOR_DEV: 'true' } }),
  // VS Code for the Web (package.json "browser"): commands that say the extension needs native code.
  build({ ...common, platform: 'browser', target: 'es2022', format: 'cjs', external: ['vscode'], entryPoints: { web: 'src/host/web.ts' }, outdir: 'dist' }),
]);
if (watch) console.log('watch mode is not supported; rerun npm run build');
