/**
 * The harness's stand-in for the inference process: the same TensorStore and answerQuery the worker uses,
 * bundled for the browser (dist/dev/harnessStore.js), holding the harness's synthetic tensors. harness.js
 * answers the webview's queries through it, so the page gets exactly what the host would post.
 */
import { TensorStore } from '../../src/node/tensorStore';
import { answerQuery } from '../../src/node/tensorQueries';
import type { TensorQuery } from '../../src/shared/queries';
import type { Inspection } from '../../src/shared/types';

const store = new TensorStore(Number.POSITIVE_INFINITY);
const scores = new Map<number, Float32Array>();

declare global {
  interface Window {
    __harnessStore: {
      put(id: number, inspection: Inspection, scores?: Float32Array): void;
      answer(query: TensorQuery): Promise<unknown>;
    };
  }
}

window.__harnessStore = {
  put(id, inspection, s) {
    // The scores stay out of the stored inspection until a scaling query asks, as in the worker.
    if (s) scores.set(id, s);
    store.put({ id, inspection: { ...inspection, scores: new Float32Array(0) }, request: { modelPath: '', image: '' }, input: new Float32Array(0) });
  },
  answer: (query) => answerQuery(store, query, async (e) => scores.get(e.id) ?? new Float32Array(0)),
};
