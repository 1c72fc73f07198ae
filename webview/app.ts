/** The webview's one shared mutable context (`app`), the VS Code API handle and `post`, plus small readers of them. */
import type { PatchDims } from '../src/shared/analytics';
import type { WebviewToHost } from '../src/shared/protocol';
import type { TensorQuery } from '../src/shared/queries';
import { QueryBook } from './logic/queries';
import type { HeadsPainter } from './logic/colorize';
import type { SheetLayout } from './logic/geometry';
import { emptyModel } from './logic/messages';
import type { AppModel } from './logic/messages';
import { restoreState } from './logic/state';
import type { Dims, UiState } from './logic/state';
import type { Theme } from './dom/draw';
import type { Els } from './dom/skeleton';

interface VsCodeApi {
  postMessage(m: WebviewToHost): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export const vscode: VsCodeApi = typeof acquireVsCodeApi === 'function'
  ? acquireVsCodeApi()
  : { postMessage: () => undefined, getState: () => undefined, setState: () => undefined };
export const post = (m: WebviewToHost) => vscode.postMessage(m);

/** Everything the views, the events and the host messages share and change. */
export interface App {
  els: Els; // built in boot(), once the document has a body
  model: AppModel;
  state: UiState;
  /** The payload's sizes for the analytics (null before the first payload). */
  analysis: { dims: PatchDims } | null;
  /** The queries asked of the inference process, by lane; answers to older ones are ignored. */
  queries: QueryBook;
  theme: Theme; // read in boot(), again when the theme changes
  image: HTMLCanvasElement | null;
  // the heads sheet: its layout, its painter and the small buffer it paints into
  sheet: SheetLayout | null;
  painter: HeadsPainter | null;
  headsImage: ImageData | null;
  headsCtx: CanvasRenderingContext2D | null;
  headsSmall: HTMLCanvasElement | null;
  headsSmallCtx: CanvasRenderingContext2D | null;
  hoverQuery: number | null;
  lastPatch: number;
  inspectionAt: number;
  firstPosted: boolean;
  scratchMap: Float32Array;
  scratchMap2: Float32Array;
  scalingDone: number; // layer the scaling table shows, -1 none
}

export const app: App = {
  els: undefined as unknown as Els,
  model: emptyModel(),
  state: restoreState(vscode.getState(), null),
  analysis: null,
  queries: new QueryBook(),
  theme: undefined as unknown as Theme,
  image: null,
  sheet: null,
  painter: null,
  headsImage: null,
  headsCtx: null,
  headsSmall: null,
  headsSmallCtx: null,
  hoverQuery: null,
  lastPatch: -1,
  inspectionAt: 0,
  firstPosted: false,
  scratchMap: new Float32Array(0),
  scratchMap2: new Float32Array(0),
  scalingDone: -1,
};

/** Asks the host for a query's answer, unless the same query is already the latest of its lane. */
export function ask(query: TensorQuery): void {
  const r = app.queries.request(query);
  if (r) post({ type: 'query', requestId: r.requestId, query: r.query });
}

export const dims = (): Dims | null => app.model.dims;
/** The token shown: the hovered patch, else the selected query. */
export const query = () => app.hoverQuery ?? app.state.query;
export const disabledSet = () => app.state.disabledHeads;

/** #app[data-state]: waiting (no inspection yet), ready (an inspection is shown), error (and no inspection). */
export function setAppState(v: 'waiting' | 'ready' | 'error'): void {
  const root = document.getElementById('app');
  if (root) root.dataset.state = v;
}
