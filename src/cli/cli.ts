#!/usr/bin/env node
/**
 * vit-inspector: the command-line face of the core.
 *   vit-inspector inspect [--model M] --image I --out DIR [--top K] [--threads T] [--query Q] [--colormap NAME] [--isolate]
 *   vit-inspector rf [--model CNN.onnx] --out FILE.json
 * Errors: exit code 2 and one line on stderr that says what is wrong and what to do.
 *
 * Inference runs in this process: the extension isolates onnxruntime in a child process so that a native
 * crash cannot take the VS Code extension host down, but a one-shot CLI is itself that disposable process,
 * and starting a second Node with onnxruntime in it costs about 0.4 s per call. --isolate runs it in the
 * child process anyway (a native crash then still ends in a one-line error).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Engine } from '../node/engine';
import { InferenceClient } from '../node/inferenceClient';
import type { Inspection, ReceptiveFieldReport } from '../shared/types';
import type { InspectRequest } from '../node/workerProtocol';
import { InspectorError, isInspectorError } from '../shared/errors';
import { defaultModels } from '../node/defaults';
import { writeReport } from '../node/report';

const USAGE = `Usage:
  vit-inspector inspect [--model MODEL] --image IMAGE --out DIR [--top K] [--threads N] [--query TOKEN] [--colormap NAME] [--isolate]
  vit-inspector rf [--model CNN] --out FILE.json [--isolate]

MODEL is an .onnx file or a Hugging Face style folder (model.onnx, config.json, preprocessor_config.json).
Without --model, inspect uses the embedded default ViT and rf the embedded default CNN.
--isolate runs onnxruntime in a child process, as the extension does.`;

type Flags = Record<string, string>;
const SWITCHES = new Set(['isolate']);

/** Where inference runs: this process (Engine) or a supervised child process (InferenceClient). */
interface Backend {
  inspect(request: InspectRequest): Promise<Inspection>;
  receptiveFields(modelPath: string): Promise<ReceptiveFieldReport>;
  dispose(): void;
}

function backend(isolate: boolean): Backend {
  if (isolate) {
    return new InferenceClient({ workerPath: join(__dirname, 'worker.js'), log: process.env.VIT_INSPECTOR_DEBUG ? (l) => process.stderr.write(`${l}\n`) : undefined });
  }
  const engine = new Engine();
  return { inspect: (r) => engine.inspect(r), receptiveFields: (m) => engine.receptiveFields(m), dispose: () => undefined };
}

function parseArgs(argv: string[]): { command: string; flags: Flags } {
  const [command = 'help', ...rest] = argv;
  const flags: Flags = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new InspectorError('bad-input', `Unexpected argument "${a}". Run vit-inspector --help.`);
    const [key, inline] = a.slice(2).split('=', 2);
    if (SWITCHES.has(key) && inline === undefined) {
      flags[key] = 'true';
      continue;
    }
    const value = inline ?? rest[++i];
    if (value === undefined || value.startsWith('--')) throw new InspectorError('bad-input', `--${key} needs a value. Run vit-inspector --help.`);
    flags[key] = value;
  }
  return { command, flags };
}

function intFlag(flags: Flags, name: string, fallback: number, min: number): number {
  if (flags[name] === undefined) return fallback;
  const v = Number(flags[name]);
  if (!Number.isInteger(v) || v < min) throw new InspectorError('bad-input', `--${name} must be an integer ≥ ${min}, not "${flags[name]}".`);
  return v;
}

function required(flags: Flags, name: string): string {
  if (!flags[name]) throw new InspectorError('bad-input', `--${name} is required. Run vit-inspector --help.`);
  return flags[name];
}

async function main(argv: string[]): Promise<number> {
  const { command, flags } = parseArgs(argv);
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const client = backend(flags.isolate === 'true');
  try {
    if (command === 'inspect') {
      const model = resolve(flags.model ?? defaultModels().vit);
      const image = resolve(required(flags, 'image'));
      const out = resolve(required(flags, 'out'));
      const inspection = await client.inspect({
        modelPath: model,
        image,
        topK: intFlag(flags, 'top', 5, 1),
        threads: intFlag(flags, 'threads', 0, 0),
        maxModelMB: intFlag(flags, 'max-model-mb', 2048, 1),
      });
      const query = intFlag(flags, 'query', 0, 0);
      if (query >= inspection.summary.tokens) throw new InspectorError('bad-input', `--query must be below ${inspection.summary.tokens} (the model's token count).`);
      const files = await writeReport(out, inspection, { query, colormap: flags.colormap });
      const best = inspection.predictions[0];
      process.stdout.write(`${best.label} (${(best.probability * 100).toFixed(1)}%) — wrote ${files.length} files to ${out}\n`);
      return 0;
    }
    if (command === 'rf') {
      const model = resolve(flags.model ?? defaultModels().cnn);
      const out = resolve(required(flags, 'out'));
      const report = await client.receptiveFields(model);
      await mkdir(dirname(out), { recursive: true });
      // Square fields are written as plain numbers, as in the published tables and the test fixtures.
      const plain = (v: [number, number]) => (v[0] === v[1] ? v[0] : v);
      const layers = report.layers.map((l) => ({ node: l.node, op: l.op, output: l.output, rf: plain(l.rf), jump: plain(l.jump), start: plain(l.start) }));
      await writeFile(out, JSON.stringify({ model: report.model, inputSize: report.inputSize, layers }, null, 2));
      const last = report.layers[report.layers.length - 1];
      process.stdout.write(`${report.layers.length} layers; last receptive field ${last ? last.rf.join('×') : '-'} px — wrote ${out}\n`);
      return 0;
    }
    throw new InspectorError('bad-input', `Unknown command "${command}". Run vit-inspector --help.`);
  } finally {
    client.dispose();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const message = isInspectorError(e) ? e.message : `Unexpected error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    process.stderr.write(`vit-inspector: ${message}\n`);
    process.exit(2);
  },
);
