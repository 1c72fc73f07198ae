#!/usr/bin/env node
/**
 * vit-inspector: the command-line face of the core. One module per command (inspect.ts, rf.ts, …), each
 * parsing its own flags with node:util's parseArgs. Errors: exit code 2 and one line on stderr that says
 * what is wrong and what to do.
 */
import { isInspectorError, InspectorError } from '../shared/errors';
import * as anatomy from './anatomy';
import * as explain from './explain';
import * as inspect from './inspect';
import * as rf from './rf';
import * as survey from './survey';

/** Each command: its usage line and what runs it (with the arguments after the command's name). */
const COMMANDS: Record<string, { usage: string; run: (argv: string[]) => Promise<number> }> = {
  inspect: { usage: inspect.usage, run: inspect.inspectCommand },
  rf: { usage: rf.usage, run: rf.rfCommand },
  anatomy: { usage: anatomy.usage, run: anatomy.anatomyCommand },
  survey: { usage: survey.usage, run: survey.surveyCommand },
  explain: { usage: explain.usage, run: explain.explainCommand },
};

const USAGE = `Usage:
${Object.values(COMMANDS).map((c) => `  ${c.usage}`).join('\n')}

MODEL is an .onnx file or a Hugging Face style folder (model.onnx, config.json, preprocessor_config.json).
Without --model, inspect, anatomy and survey use the embedded default ViT and rf the embedded default CNN.
--isolate runs onnxruntime in a child process, as the extension does.`;

async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) throw new InspectorError('bad-input', `Unknown command "${command}". Run vit-inspector --help.`);
  return entry.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const message = isInspectorError(e) ? e.message : `Unexpected error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    process.stderr.write(`vit-inspector: ${message}\n`);
    process.exit(2);
  },
);
