/** vit-inspector inspect: one image through the ViT, the report files written to a folder. */
import { resolve } from 'node:path';
import { defaultModels } from '../node/defaults';
import { writeReport } from '../node/report';
import { InspectorError } from '../shared/errors';
import { intFlag, optional, parseFlags, required } from './args';
import { backend } from './backend';

export const usage = 'vit-inspector inspect [--model MODEL] --image IMAGE --out DIR [--top K] [--threads N] [--query TOKEN] [--colormap NAME] [--max-model-mb MB] [--isolate]';

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    model: { type: 'string' }, image: { type: 'string' }, out: { type: 'string' }, top: { type: 'string' }, threads: { type: 'string' },
    query: { type: 'string' }, colormap: { type: 'string' }, 'max-model-mb': { type: 'string' }, isolate: { type: 'boolean' },
  });
  const model = resolve(optional(values, 'model') ?? defaultModels().vit);
  const image = resolve(required(values, 'image'));
  const out = resolve(required(values, 'out'));
  const query = intFlag(values, 'query', 0, 0);
  // The report needs the probabilities only: the scores (softmax inputs) are not fetched. max-model-mb 0: judged from this machine's memory.
  const request = { modelPath: model, image, topK: intFlag(values, 'top', 5, 1), threads: intFlag(values, 'threads', 0, 0), maxModelMB: intFlag(values, 'max-model-mb', 0, 0), scores: false };
  const client = backend(values.isolate === true);
  try {
    const inspection = await client.inspect(request);
    if (query >= inspection.summary.tokens) throw new InspectorError('bad-input', `--query must be below ${inspection.summary.tokens} (the model's token count).`);
    const files = await writeReport(out, inspection, { query, colormap: optional(values, 'colormap') });
    const best = inspection.predictions[0];
    const verdict = best ? `${best.label} (${(best.probability * 100).toFixed(1)}%)` : 'no classes: this model outputs an embedding';
    process.stdout.write(`${verdict} — wrote ${files.length} files to ${out}\n`);
    return 0;
  } finally {
    await client.dispose();
  }
}
