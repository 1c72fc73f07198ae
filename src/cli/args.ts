/** Argument parsing for the CLI's commands: node:util's parseArgs, with one-line errors that say what to do. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InspectorError } from '../shared/errors';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** Parses a command's flags (strict: unknown flags and stray arguments are errors). */
export function parseFlags(argv: string[], options: Options, allowPositionals = false): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals });
    return { values: values as Values, positionals };
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0].replace(/\.$/, '');
    throw new InspectorError('bad-input', `${reason}. Run vit-inspector --help.`);
  }
}

export function intFlag(values: Values, name: string, fallback: number, min: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(v) || v < min) throw new InspectorError('bad-input', `--${name} must be an integer ≥ ${min}, not "${String(raw)}".`);
  return v;
}

export function required(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || !v) throw new InspectorError('bad-input', `--${name} is required. Run vit-inspector --help.`);
  return v;
}

export function optional(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}
