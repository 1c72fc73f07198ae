/**
 * vit-inspector explain: the ViT's class-specific map by forward passes (and the CNN's beside it), the
 * deletion/insertion faithfulness of every map, and the measured effective receptive field of both.
 */
import { resolve } from 'node:path';
import { defaultModels } from '../node/defaults';
import { explain } from '../node/explain/explain';
import { writeExplanation } from '../node/explain/report';
import { resolveModelSource } from '../node/modelSource';
import { InspectorError } from '../shared/errors';
import { intFlag, optional, parseFlags, required } from './args';

export const usage =
  'vit-inspector explain [--model MODEL] --image IMAGE --out DIR [--class C] [--cnn CNN|none] [--passes N] [--step K] [--seed S] [--batch B] [--threads N] [--no-erf]';

export async function explainCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    model: { type: 'string' }, image: { type: 'string' }, out: { type: 'string' }, class: { type: 'string' }, cnn: { type: 'string' },
    passes: { type: 'string' }, step: { type: 'string' }, seed: { type: 'string' }, batch: { type: 'string' }, threads: { type: 'string' },
    'no-erf': { type: 'boolean' }, 'max-model-mb': { type: 'string' },
  });
  const defaults = defaultModels();
  const model = resolve(optional(values, 'model') ?? defaults.vit);
  const cnnFlag = optional(values, 'cnn');
  const cnn = cnnFlag === 'none' ? undefined : resolve(cnnFlag ?? defaults.cnn);
  const image = resolve(required(values, 'image'));
  const out = resolve(required(values, 'out'));
  const maxModelMB = intFlag(values, 'max-model-mb', 2048, 1);
  const target = await targetClass(optional(values, 'class'), model, maxModelMB);
  const x = await explain({
    modelPath: model, cnnPath: cnn, image, target, maxModelMB,
    passes: intFlag(values, 'passes', 256, 1), stepPatches: values.step === undefined ? undefined : intFlag(values, 'step', 1, 1),
    seed: intFlag(values, 'seed', 0, 0), batchSize: values.batch === undefined ? undefined : intFlag(values, 'batch', 32, 1), threads: intFlag(values, 'threads', 0, 0), erf: values['no-erf'] !== true,
  }, process.stderr.isTTY ? (m) => process.stderr.write(`\r${m.padEnd(70).slice(0, 70)}`) : undefined);
  if (process.stderr.isTTY) process.stderr.write('\r'.padEnd(71) + '\r');
  const files = await writeExplanation(out, x);
  const f = x.vit.faithfulness.maps.classSpecific;
  process.stdout.write(`${x.vit.faithfulness.protocol.targetLabel}: deletion ${f.deletion.toFixed(3)}, insertion ${f.insertion.toFixed(3)} — wrote ${files.length} files to ${out}\n`);
  return 0;
}

/** --class as an index or a label from the ViT's config.json (id2label). */
async function targetClass(raw: string | undefined, model: string, maxModelMB: number): Promise<number | undefined> {
  if (raw === undefined) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw);
  const labels = (await resolveModelSource(model, { maxModelMB, weightsByReference: true })).labels ?? [];
  const i = labels.findIndex((l) => l.toLowerCase() === raw.toLowerCase());
  if (i < 0) throw new InspectorError('bad-input', `--class "${raw}" is not a class of ${model}: give an index or one of ${labels.slice(0, 10).join(', ') || 'its labels'}.`);
  return i;
}
