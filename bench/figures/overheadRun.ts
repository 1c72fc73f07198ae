/**
 * One full run of the attention-extraction overhead figure (bench/figures/overhead.ts), in a process of its own:
 *   node --import tsx bench/figures/overheadRun.ts ROUNDS_S ROUNDS_B vit_s16=PATH vit_b16=PATH
 * bench/run.ts starts it with the inference process's environment (src/node/allocatorEnv.ts), so that the
 * engine's run is measured as the inference process makes it, and once more with glibc's defaults for comparison.
 * Progress goes to stderr; the last line of stdout is the JSON of every model's OverheadResult.
 */
import { measureOverhead, type OverheadResult } from './overhead';

(async () => {
  const [roundsS, roundsB, ...models] = process.argv.slice(2);
  const out: Record<string, OverheadResult> = {};
  for (const arg of models) {
    const [name, path] = [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)];
    process.stderr.write(`  ${name}\n`);
    out[name] = await measureOverhead(path, Number(name === 'vit_s16' ? roundsS : roundsB), (s) => process.stderr.write(`${s}\n`));
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
})().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
