/** vit-inspector rf: a CNN's theoretical receptive field per layer, as JSON. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { defaultModels } from '../node/defaults';
import { optional, parseFlags, required } from './args';
import { backend } from './backend';

export const usage = 'vit-inspector rf [--model CNN] --out FILE.json [--isolate]';

export async function rfCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { model: { type: 'string' }, out: { type: 'string' }, isolate: { type: 'boolean' } });
  const model = resolve(optional(values, 'model') ?? defaultModels().cnn);
  const out = resolve(required(values, 'out'));
  const client = backend(values.isolate === true);
  try {
    const report = await client.receptiveFields(model);
    await mkdir(dirname(out), { recursive: true });
    // Square fields are written as plain numbers, as in the published tables and the test fixtures.
    const plain = (v: [number, number]) => (v[0] === v[1] ? v[0] : v);
    const layers = report.layers.map((l) => ({ node: l.node, op: l.op, output: l.output, rf: plain(l.rf), jump: plain(l.jump), start: plain(l.start) }));
    await writeFile(out, JSON.stringify({ model: report.model, inputSize: report.inputSize, layers }, null, 2));
    const last = report.layers[report.layers.length - 1];
    process.stdout.write(`${report.layers.length} layers; last receptive field ${last ? last.rf.join('×') : '-'} px — wrote ${out}\n`);
    return 0;
  } finally {
    await client.dispose();
  }
}
