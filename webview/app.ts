/** The webview's one shared mutable context (`app`), the VS Code API handle and `post`, plus small readers of them. */
import type { WebviewToHost } from '../src/shared/protocol';
import type { Analysis } from './logic/analysis';
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
declare global {
  interface Window {
    __vitInspectorBench?: { moveQuery(token: number): number; breakdown(): Record<string, number> };
  }
}

export const vscode: VsCodeApi = typeof acquireVsCodeApi === 'function'
  ? acquireVsCodeApi()
  : { postMessage: () => undefined, getState: () => undefined, setState: () => undefined };
export const post = (m: WebviewToHost) => vscode.postMessage(m);

/** Everything the views, the events and the host messages share and change. */
export interface App {
  els: Els; // built in boot(), once the document has a body
  model: AppModel;
  state: UiState;
  analysis: Analysis | null;
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
  rolloutTimer: number;
  scalingDone: number; // layer the scaling table shows, -1 none
  scoresAskedFor: number | undefined; // payload id the scores were asked for
}

export const app: App = {
  els: undefined as unknown as Els,
  model: emptyModel(),
  state: restoreState(vscode.getState(), null),
  analysis: null,
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
  rolloutTimer: 0,
  scalingDone: -1,
  scoresAskedFor: undefined,
};

export const dims = (): Dims | null => app.model.dims;
/** The token shown: the hovered patch, else the selected query. */
export const query = () => app.hoverQuery ?? app.state.query;
export const disabledSet = () => app.state.disabledHeads;

/** #app[data-state]: waiting (no inspection yet), ready (an inspection is shown), error (and no inspection). */
export function setAppState(v: 'waiting' | 'ready' | 'error'): void {
  const root = document.getElementById('app');
  if (root) root.dataset.state = v;
}
