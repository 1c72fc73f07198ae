/**
 * Where the CLI's inference runs: this process (Engine) or a supervised child process (InferenceClient).
 *
 * The extension isolates onnxruntime in a child process so that a native crash cannot take the VS Code
 * extension host down, but a one-shot CLI is itself that disposable process, and starting a second Node
 * with onnxruntime in it costs about 0.4 s per call. --isolate runs it in the child process anyway (a
 * native crash then still ends in a one-line error).
 */
import { join } from 'node:path';
import { AnatomyEngine, type AnatomyRequest } from '../node/anatomy/run';
import { Engine } from '../node/engine';
import { InferenceClient } from '../node/inferenceClient';
import type { InspectRequest } from '../node/workerProtocol';
import type { Inspection, ReceptiveFieldReport } from '../shared/types';
import type { HeadAnatomy } from '../shared/anatomyTypes';

export interface Backend {
  inspect(request: InspectRequest): Promise<Inspection>;
  receptiveFields(modelPath: string): Promise<ReceptiveFieldReport>;
  anatomy(request: AnatomyRequest): Promise<HeadAnatomy>;
  dispose(): void | Promise<void>;
}

export function backend(isolate: boolean): Backend {
  if (isolate) {
    return new InferenceClient({ workerPath: join(__dirname, 'worker.js'), log: process.env.VIT_INSPECTOR_DEBUG ? (l) => process.stderr.write(`${l}\n`) : undefined });
  }
  const engine = new Engine();
  const anatomy = new AnatomyEngine();
  return {
    inspect: (r) => engine.inspect(r),
    receptiveFields: (m) => engine.receptiveFields(m),
    anatomy: (r) => anatomy.anatomy(r),
    dispose: async () => {
      await Promise.all([engine.dispose(), anatomy.dispose()]);
    },
  };
}
