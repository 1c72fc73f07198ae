// The end-to-end baseline: the least a script can do to classify a photo with onnxruntime-node and sharp.
//   node bench/bare.mjs MODEL.onnx IMAGE [THREADS]
// Loads the model, resizes the photo to the model's 224×224 input with sharp (shrink-on-load), normalises
// it ((x/255 − 0.5)/0.5, NCHW float32), runs once and prints the best class. No attention, no report.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const sharp = require('sharp');

const [model, image, threads = '0'] = process.argv.slice(2);
const size = 224;
const session = await ort.InferenceSession.create(model, {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: Number(threads) > 0 ? Number(threads) : undefined,
});
const { data } = await sharp(image).rotate().resize(size, size, { fit: 'fill', fastShrinkOnLoad: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const n = size * size;
const x = new Float32Array(3 * n);
for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) x[c * n + i] = (data[i * 3 + c] / 255 - 0.5) / 0.5;
const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, size, size]) });
const logits = out[session.outputNames[0]].data;
let best = 0;
for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
process.stdout.write(`class ${best}\n`);
