/** vit-inspector anatomy: one head of one layer taken apart for one query token, as .npy files and anatomy.json. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultModels } from '../node/defaults';
import { encodeNpy } from '../node/npy';
import type { HeadAnatomy } from '../shared/anatomyTypes';
import { intFlag, optional, parseFlags, required } from './args';
import { backend } from './backend';

export const usage = 'vit-inspector anatomy [--model MODEL] --image IMAGE --layer L --head H --query T --out DIR [--top K] [--threads N] [--isolate]   (L, H, T from 0)';

export async function anatomyCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    model: { type: 'string' }, image: { type: 'string' }, out: { type: 'string' }, layer: { type: 'string' }, head: { type: 'string' },
    query: { type: 'string' }, top: { type: 'string' }, threads: { type: 'string' }, 'max-model-mb': { type: 'string' }, isolate: { type: 'boolean' },
  });
  const request = {
    modelPath: resolve(optional(values, 'model') ?? defaultModels().vit),
    image: resolve(required(values, 'image')),
    layer: intFlag(values, 'layer', 0, 0),
    head: intFlag(values, 'head', 0, 0),
    query: intFlag(values, 'query', 0, 0),
    top: intFlag(values, 'top', 5, 1),
    threads: intFlag(values, 'threads', 0, 0),
    maxModelMB: intFlag(values, 'max-model-mb', 2048, 1),
  };
  const out = resolve(required(values, 'out'));
  const client = backend(values.isolate === true);
  try {
    const a = await client.anatomy(request);
    const files = await writeAnatomy(out, a);
    const worst = Math.max(a.checks.softmax, a.checks.weightedSum);
    process.stdout.write(`layer ${a.layer} head ${a.head} query ${a.query}: d_k ${a.dHead}, scale ${a.scale.effective?.toPrecision(6) ?? 'n/a'}, self-checks within ${worst.toExponential(1)} — wrote ${files.length} files to ${out}\n`);
    return 0;
  } finally {
    await client.dispose();
  }
}

/** The arrays as .npy (float32) and everything else, with the self-check errors, as anatomy.json. */
export async function writeAnatomy(dir: string, a: HeadAnatomy): Promise<string[]> {
  const n = a.tokens;
  const arrays: [string, Float32Array, number[]][] = [
    ['q.npy', a.q, [a.dHead]],
    ['k.npy', a.k, [n, a.dHead]],
    ['v.npy', a.v, [n, a.v.length / n]],
    ['scores.npy', a.scores, [n]],
    ['scaled_scores.npy', a.scaledScores, [n]],
    ['probs.npy', a.probs, [n]],
    ['softmax.npy', a.softmax, [n]],
    ['out.npy', a.out, [a.out.length]],
    ['weighted_sum.npy', a.weightedSum, [a.weightedSum.length]],
  ];
  if (a.concat) arrays.push(['concat.npy', a.concat, [a.concat.length]]);
  if (a.projection) arrays.push(['projection.npy', a.projection.model, [a.projection.model.length]]);
  if (a.patch) arrays.push(['patch_vector.npy', a.patch.vector, [a.patch.vector.length]], ['patch_token.npy', a.patch.token, [a.patch.token.length]]);
  if (a.position) arrays.push(['position_embedding.npy', a.position.embedding, [a.position.embedding.length]]);
  await mkdir(dir, { recursive: true });
  await Promise.all(arrays.map(([name, data, shape]) => writeFile(join(dir, name), encodeNpy(data, shape))));
  const json = {
    model: a.model, layer: a.layer, head: a.head, query: a.query, layers: a.layers, heads: a.heads, tokens: a.tokens,
    d_k: a.dHead, d_model: a.dModel,
    scale: a.scale,
    files: Object.fromEntries(arrays.map(([name, , shape]) => [name, shape])),
    graph_shapes: a.shapes, // the graph tensors' own dims, before the layout was undone
    checks: a.checks,
    contributors: a.contributors,
    patch: a.patch ? { kind: a.patch.kind, node: a.patch.node, patch: a.patch.patch, row: a.patch.row, col: a.patch.col } : null,
    tensors: a.tensors,
    layout: a.layout,
    notes: a.notes,
  };
  // number arrays on one line each
  const text = JSON.stringify(json, null, 2).replace(/\[\s+([-\d.e,\s]+?)\s+\]/g, (_, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`);
  await writeFile(join(dir, 'anatomy.json'), `${text}\n`);
  return [...arrays.map(([name]) => name), 'anatomy.json'];
}
