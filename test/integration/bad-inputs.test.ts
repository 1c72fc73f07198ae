/**
 * Bad inputs, table-driven, through the inference child process as the extension and the CLI use it: each
 * bad image or model gets its one-line message (what is wrong, what to do), the child survives every one
 * (same pid throughout), nothing is written next to the user's files, and external data outside the
 * model's folder is refused without being opened (it is a FIFO: opening it would hang the request).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { InferenceClient } from '../../src/node/inferenceClient';
import { ProtoWriter } from '../../src/node/onnx/protobuf';
import type { InspectRequest } from '../../src/node/workerProtocol';
import {
  WORKER, assertUserError, bmp, bombPng, cnnModel, corruptPng, externalDataModel, fusedAttentionModel, hugeTensorModel, isAlive,
  lengthBombModel, modelFolder, rssMB, vitImage, vitModel, waitForExit,
} from '../helpers/badInputs';

const work = mkdtempSync(join(tmpdir(), 'vit-bad-inputs-'));
const GOOD_MODEL = vitModel('vit_hf_style');
const GOOD_IMAGE = vitImage('vit_hf_style');
const FORMATS = 'Use one of: png, jpg, jpeg, webp, gif, tif, tiff, avif\\.';
const asRoot = process.getuid?.() === 0;
const hasFifo = process.platform !== 'win32';
const PER_CASE_MS = 20_000;
/** No bad input may make the inference process allocate what its header claims. */
const CHILD_RSS_CAP_MB = 1000;

let client: InferenceClient;
let childPid = 0;
before(async () => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run npm run build first`);
  client = new InferenceClient({ workerPath: WORKER });
  await client.inspect({ modelPath: GOOD_MODEL, image: GOOD_IMAGE, threads: 1 });
  childPid = client.pid!;
});
after(async () => {
  client?.dispose();
  if (childPid) assert.ok(await waitForExit(childPid), 'the inference process is gone after dispose');
  rmSync(work, { recursive: true, force: true });
});

interface Case {
  name: string;
  /** Writes the case's files into `dir` (its own folder, the "user's folder") and returns the request. */
  setup: (dir: string) => Partial<InspectRequest> | Promise<Partial<InspectRequest>>;
  code: string;
  message: RegExp;
  skip?: string | false;
}

const w = (dir: string, name: string, data: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
const image = (image: string): Partial<InspectRequest> => ({ image });
const model = (modelPath: string): Partial<InspectRequest> => ({ modelPath });
const fixturePng = () => readFileSync(GOOD_IMAGE);
const fixtureOnnx = () => readFileSync(GOOD_MODEL);
/** The outside file external data points at: a FIFO, so any attempt to read it would block. */
const outsideTarget = (dir: string) => {
  const p = join(dir, 'secret.bin');
  execFileSync('mkfifo', [p]);
  return p;
};
const extModel = (dir: string, location: string) => {
  const folder = join(dir, 'model');
  mkdirSync(folder);
  return w(folder, 'model.onnx', externalDataModel(location).bytes);
};

const cases: Case[] = [
  // ---- images ----
  { name: 'image: corrupt PNG (deflate data overwritten)', setup: (d) => image(w(d, 'corrupt.png', corruptPng(fixturePng()))),
    code: 'bad-image', message: /^corrupt\.png could not be decoded \(.+\)\. The file is corrupt or truncated: re-export or re-download it\.$/ },
  { name: 'image: truncated PNG', setup: (d) => image(w(d, 'cut.png', fixturePng().subarray(0, 300))),
    code: 'bad-image', message: /^cut\.png could not be decoded \(.+\)\. The file is corrupt or truncated: re-export or re-download it\.$/ },
  { name: 'image: truncated JPEG', setup: async (d) => image(w(d, 'cut.jpg', (await sharp(GOOD_IMAGE).jpeg().toBuffer()).subarray(0, 400))),
    code: 'bad-image', message: /^cut\.jpg could not be decoded \(.+\)\. The file is corrupt or truncated/ },
  { name: 'image: zero bytes', setup: (d) => image(w(d, 'empty.png', '')),
    code: 'empty-file', message: /^empty\.png is empty \(0 bytes\)\. Pick another image\.$/ },
  { name: 'image: decompression bomb (3 kB PNG claiming 30000 × 30000)', setup: (d) => image(w(d, 'bomb.png', bombPng())),
    code: 'image-too-large', message: /^bomb\.png claims 30000 × 30000 pixels, over the 268-megapixel limit\. Resize it first\.$/ },
  { name: 'image: BMP (unsupported format)', setup: (d) => image(w(d, 'scan.bmp', bmp())),
    code: 'unsupported-image', message: new RegExp(`^scan\\.bmp is (not an image in a supported format|in BMP format, which is not supported)\\. ${FORMATS}$`) },
  { name: 'image: SVG (unsupported format)', setup: (d) => image(w(d, 'logo.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>')),
    code: 'unsupported-image', message: new RegExp(`^logo\\.svg is in SVG format, which is not supported\\. ${FORMATS}$`) },
  { name: 'image: text file named .png', setup: (d) => image(w(d, 'notes.png', 'these are my notes, not a picture\n')),
    code: 'unsupported-image', message: new RegExp(`^notes\\.png is not an image in a supported format\\. ${FORMATS}$`) },
  { name: 'image: missing file', setup: (d) => image(join(d, 'nope.png')),
    code: 'file-not-found', message: /^\/.*nope\.png does not exist\. Check the image path\.$/ },
  { name: 'image: a folder', setup: (d) => (mkdirSync(join(d, 'pics.png')), image(join(d, 'pics.png'))),
    code: 'unsupported-image', message: /^pics\.png is a folder, not an image\. Pick an image file/ },
  { name: 'image: unreadable (no permission)', skip: asRoot && 'root reads files without permission',
    setup: (d) => { const p = w(d, 'locked.png', fixturePng()); chmodSync(p, 0o000); return image(p); },
    code: 'unreadable', message: /locked\.png cannot be read.*Check its permissions\.$/ },
  { name: 'image: unreadable (symlink loop)', setup: (d) => (symlinkSync('loop.png', join(d, 'loop.png')), image(join(d, 'loop.png'))),
    code: 'unreadable', message: /loop\.png cannot be read \(ELOOP\)\. Check/ },

  // ---- models ----
  { name: 'model: truncated', setup: (d) => model(w(d, 'cut.onnx', fixtureOnnx().subarray(0, 200_000))),
    code: 'truncated-model', message: /^cut\.onnx is truncated \(200000 bytes, ends inside .+\)\. Download or export it again\.$/ },
  { name: 'model: zero bytes', setup: (d) => model(w(d, 'empty.onnx', '')),
    code: 'empty-file', message: /^empty\.onnx is empty \(0 bytes\)\. Re-export or re-download the model\.$/ },
  { name: 'model: random bytes named .onnx', setup: (d) => model(w(d, 'noise.onnx', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251 ^ 0xa5))),
    code: 'not-onnx', message: /^noise\.onnx is not an ONNX model \(.+\)\. Choose a \.onnx file exported with torch\.onnx\.export or optimum\.$/ },
  { name: 'model: a PyTorch checkpoint (ZIP) named .onnx', setup: (d) => model(w(d, 'weights.onnx', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(200)]))),
    code: 'not-onnx', message: /^weights\.onnx is not an ONNX model \(it is a ZIP archive \(a PyTorch \.pt\/\.pth checkpoint\?\)\)\./ },
  { name: 'model: a .pt file', setup: (d) => model(w(d, 'model.pt', 'x')),
    code: 'not-onnx', message: /^model\.pt is not an \.onnx file\. Pass an \.onnx model or a folder containing model\.onnx\.$/ },
  { name: 'model: a CNN', setup: (d) => model(cnnModel(d)),
    code: 'not-a-vit', message: /^cnn_small\.onnx .*(no attention|not a ViT|Vision Transformer).*\.$/i },
  { name: 'model: fused attention that cannot be unfused (com.microsoft.PackedAttention)', setup: (d) => model(w(d, 'fused.onnx', fusedAttentionModel(undefined, 'PackedAttention'))),
    code: 'fused-attention', message: /^fused\.onnx uses fused attention \(com\.microsoft\.PackedAttention ×3\), so its weights are not in the graph\. Re-export without fused attention/ },
  { name: 'model: com.microsoft.Attention without num_heads (not rewritable)', setup: (d) => model(w(d, 'fused.onnx', fusedAttentionModel())),
    code: 'fused-attention', message: /^fused\.onnx uses onnxruntime's fused com\.microsoft\.Attention without num_heads, which ViT Inspector cannot unfuse\. Export the model without onnxruntime's transformer optimizer/ },
  { name: 'model: external data with "../" out of its folder', skip: !hasFifo && 'needs mkfifo',
    setup: (d) => (outsideTarget(d), model(extModel(d, '../secret.bin'))),
    code: 'external-data', message: /^The model's external data file "\.\.\/secret\.bin" points outside the model folder\. Keep external data files next to the \.onnx file\.$/ },
  { name: 'model: external data at an absolute path', skip: !hasFifo && 'needs mkfifo',
    setup: (d) => model(extModel(d, outsideTarget(d))),
    code: 'external-data', message: /^The model's external data file "\/.+secret\.bin" is an absolute path, outside the model folder\. Keep external data/ },
  { name: 'model: external data through a symlink out of its folder', skip: !hasFifo && 'needs mkfifo',
    setup: (d) => { const p = extModel(d, 'weights.bin'); symlinkSync(outsideTarget(d), join(d, 'model', 'weights.bin')); return model(p); },
    code: 'external-data', message: /^The model's external data file "weights\.bin" links outside the model folder\./ },
  { name: 'model: external data file missing', setup: (d) => model(extModel(d, 'weights.bin')),
    code: 'external-data', message: /^model\.onnx needs the external data file "weights\.bin", which is missing from its folder\. Copy it next to the \.onnx file\.$/ },
  { name: 'model: malformed config.json', setup: (d) => model(modelFolder(d, 'vit', 'vit_hf_style', { 'config.json': '{"id2label": {"0": "cat",}' })),
    code: 'bad-config', message: /^\/.*vit\/config\.json is not valid JSON \(.+\)\. Fix or delete the file\.$/ },
  { name: 'model: config.json holding an array', setup: (d) => model(modelFolder(d, 'vit', 'vit_hf_style', { 'config.json': '[1, 2]' })),
    code: 'bad-config', message: /config\.json must hold a JSON object\. Fix or delete the file\.$/ },
  { name: 'model: malformed preprocessor_config.json', setup: (d) => model(modelFolder(d, 'vit', 'vit_hf_style', { 'preprocessor_config.json': '{"size": ' })),
    code: 'bad-config', message: /preprocessor_config\.json is not valid JSON \(.+\)\. Fix or delete the file\.$/ },
  { name: 'model: over the size limit', setup: (d) => {
      // The fixture plus 1.5 MB in an unknown field: a valid model of 2 MB, refused by size before it is read.
      const big = Buffer.concat([fixtureOnnx(), new ProtoWriter().bytes(1000, new Uint8Array(1_500_000)).finish()]);
      return { modelPath: w(d, 'big.onnx', big), maxModelMB: 1 };
    },
    code: 'model-too-large', message: /^big\.onnx is 2 MB, over the 1 MB limit\. Use a smaller model or raise the limit\.$/ },
  { name: 'model: 13 bytes whose graph claims 4 GB (refused without allocating it)', setup: (d) => model(w(d, 'claims.onnx', lengthBombModel())),
    code: 'truncated-model', message: /^claims\.onnx is truncated \(13 bytes, ends inside .+\)\. Download or export it again\.$/ },
  { name: 'model: a weight claiming 10^12 elements (refused without allocating it)', setup: (d) => model(w(d, 'huge.onnx', hugeTensorModel())),
    code: 'unsupported-model', message: /^onnxruntime could not load huge\.onnx: .+\. Check that the file is a complete ONNX model\.$/ },
  { name: 'model: missing file', setup: (d) => model(join(d, 'nope.onnx')),
    code: 'file-not-found', message: /^\/.*nope\.onnx does not exist\. Check the model path\.$/ },
  { name: 'model: folder without model.onnx', setup: (d) => (mkdirSync(join(d, 'empty-model')), model(join(d, 'empty-model'))),
    code: 'file-not-found', message: /^No model\.onnx or onnx\/model\.onnx in \/.*empty-model\. Export the model to ONNX first\.$/ },
  { name: 'model: unreadable (no permission)', skip: asRoot && 'root reads files without permission',
    setup: (d) => { const p = w(d, 'locked.onnx', fixtureOnnx()); chmodSync(p, 0o000); return model(p); },
    code: 'unreadable', message: /locked\.onnx cannot be read \(EACCES\)\. Check its permissions\.$/ },
  { name: 'model: unreadable (symlink loop)', setup: (d) => (symlinkSync('loop.onnx', join(d, 'loop.onnx')), model(join(d, 'loop.onnx'))),
    code: 'unreadable', message: /loop\.onnx cannot be read \(ELOOP\)\. Check/ },
];

/** Every file under dir with its size and modification time (what "nothing is written" compares). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      const st = e.isSymbolicLink() || e.isFIFO() ? null : statSync(p);
      out.push(`${relative(dir, p)} ${st ? `${st.size} ${st.mtimeMs}` : e.isFIFO() ? 'fifo' : 'link'}`);
    }
  };
  walk(dir);
  return out.sort();
}

cases.forEach((c, i) => {
  test(c.name, { skip: c.skip || undefined }, async () => {
    const dir = join(work, `case-${i}`);
    mkdirSync(dir);
    const req: InspectRequest = { modelPath: GOOD_MODEL, image: GOOD_IMAGE, threads: 1, ...(await c.setup(dir)) };
    const before = snapshot(dir);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      client.inspect(req).then(() => new Error('the request succeeded'), (e: unknown) => e),
      new Promise<Error>((resolve) => { timer = setTimeout(() => resolve(new Error(`no answer within ${PER_CASE_MS} ms (a FIFO opened?)`)), PER_CASE_MS); }),
    ]);
    clearTimeout(timer);
    if (process.env.SHOW_MESSAGES) console.log(`${c.name}: ${(outcome as Error).message}`);
    assertUserError(outcome, c.code, c.message);
    assert.deepEqual(snapshot(dir), before, 'nothing written or changed in the folder');
    assert.equal(client.pid, childPid, 'the inference process survived');
    assert.ok(isAlive(childPid));
    assert.ok(rssMB(childPid) < CHILD_RSS_CAP_MB, `the inference process grew to ${rssMB(childPid).toFixed(0)} MB`);
  });
});

test('after every bad input, a good request works in the same inference process', async () => {
  const r = await client.inspect({ modelPath: GOOD_MODEL, image: GOOD_IMAGE, threads: 1 });
  assert.equal(r.predictions.length, 5);
  assert.equal(client.pid, childPid);
});
