/**
 * The ONE protocol between the extension host and the panel's webview: a union per direction.
 * The whole attention tensor never travels: the inference process keeps it, and the webview asks for what it
 * paints with `query` messages (src/shared/queries.ts), each with a requestId that its `answer` carries back.
 * The host keeps at most one query in flight and one waiting per lane; a newer one replaces the waiting one.
 * Arrays travel as typed arrays (VS Code transfers them as binary), never as JSON number arrays.
 * Every message from the webview is checked by `parseWebviewMessage` before the host acts on it.
 */
import { parseQuery, type QueryAnswer, type TensorQuery } from './queries';
import type { ModelSummary, Prediction, ReceptiveFieldReport } from './types';
import type { HeadAnatomy } from './anatomyTypes';
import type { Explanation } from './explainTypes';

export interface InspectionPayload {
  /** The stored inspection's id in the inference process: every query names it. */
  id: number;
  imageName: string;
  /** Full path of the inspected image: the webview keeps it in PanelState.imagePath so a reload can restore the panel. */
  imagePath?: string;
  /** The image as the model saw it, RGBA uint8 (for canvases), size summary.layout.inputSize. */
  image: { width: number; height: number; rgba: Uint8Array };
  /** The original image scaled to at most 512 px on its long side, RGBA, for display. */
  preview: { width: number; height: number; rgba: Uint8Array };
  summary: ModelSummary;
  /** Windowed models (summary.stages): the stage on show (0-based); summary, attention and scores are that stage's. */
  stage?: number;
  predictions: Prediction[];
  cnn: ReceptiveFieldReport | null;
  cnnError: string | null;
  settings: PanelSettings;
}

export interface PanelSettings {
  colormap: 'viridis' | 'inferno' | 'magma' | 'plasma' | 'turbo' | 'cividis';
  topK: number;
}

export type HostToWebview =
  | { type: 'inspection'; payload: InspectionPayload }
  | { type: 'progress'; message: string }
  | { type: 'error'; message: string; action?: 'selectModel' | 'selectCnn' | 'retry' }
  /** A masked run's result: a stored inspection of its own (`inspection`), queried like the payload's. */
  | { type: 'maskResult'; maskedTokens: number[]; predictions: Prediction[]; inspection: number }
  /** The answer to the webview's query `requestId` on stored inspection `inspection`. */
  | { type: 'answer'; requestId: number; inspection: number; answer: QueryAnswer }
  | { type: 'settings'; settings: PanelSettings }
  /** Answer to needAnatomy: one head of inspection `id` taken apart (or why it could not be). */
  | { type: 'anatomy'; id: number; layer: number; head: number; query: number; anatomy: HeadAnatomy }
  | { type: 'anatomyError'; id: number; layer: number; head: number; query: number; message: string }
  /** Answer to `explain`: the class-specific maps, faithfulness and measured ERF, or why there are none. */
  | { type: 'explanation'; result: Explanation | null; error?: string };

export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'runMasked'; maskedTokens: number[] }
  /** Windowed models: show stage `stage` (0-based); the host answers with a payload for that stage's stored view. */
  | { type: 'selectStage'; stage: number }
  | { type: 'query'; requestId: number; query: TensorQuery }
  | { type: 'command'; command: 'selectModel' | 'selectCnn' | 'export' | 'showSummary' | 'retry' }
  | { type: 'painted'; what: 'heads' | 'first'; ms: number }
  /** The Anatomy view: take head `head` of layer `layer` apart for token `query` (0-based), for inspection `id`. */
  | { type: 'needAnatomy'; id: number; layer: number; head: number; query: number }
  /** Class-specific maps for class `target` (null: each model's top-1), faithfulness and measured ERF. */
  | { type: 'explain'; target: number | null };

/** State the webview keeps with getState/setState, restored after a window reload. */
export interface PanelState {
  imagePath: string;
  query: number; // token index
  layer: number;
  cnnDepth: number;
  view: 'patches' | 'heads' | 'compare' | 'scaling' | 'anatomy' | 'summary';
  disabledHeads: number[]; // layer * heads + head
  fusion: 'mean' | 'max' | 'min';
  discardRatio: number;
  massThreshold: number;
  maskedTokens: number[];
}

const commands = new Set(['selectModel', 'selectCnn', 'export', 'showSummary', 'retry']);

/** What the host checks the webview's messages against: the current inspection's sizes and its stored inspections. */
export interface MessageBounds {
  tokens: number;
  layers: number;
  heads: number;
  /** Stored inspections this panel may query (its inspection and its masked run). */
  inspections: number[];
}

/**
 * Validates a message from the webview. Returns null (and the caller logs it) for anything that is not
 * exactly one of the WebviewToHost shapes, whose indices fall outside the inspection's sizes, or whose query
 * names an inspection that is not this panel's.
 */
export function parseWebviewMessage(raw: unknown, bounds: MessageBounds): WebviewToHost | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const tokens = bounds.tokens;
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
      return { type: 'ready' };
    case 'runMasked': {
      const t = m.maskedTokens;
      if (!Array.isArray(t) || t.length > tokens) return null;
      if (!t.every((i) => Number.isInteger(i) && (i as number) >= 0 && (i as number) < tokens)) return null;
      return { type: 'runMasked', maskedTokens: [...new Set(t as number[])].sort((a, b) => a - b) };
    }
    case 'selectStage':
      return Number.isInteger(m.stage) && (m.stage as number) >= 0 && (m.stage as number) < 64 ? { type: 'selectStage', stage: m.stage as number } : null;
    case 'query': {
      if (!Number.isSafeInteger(m.requestId) || typeof m.query !== 'object' || m.query === null) return null;
      const id = (m.query as { inspection?: unknown }).inspection;
      if (typeof id !== 'number' || !bounds.inspections.includes(id)) return null;
      const q = parseQuery(m.query, id, bounds);
      return q ? { type: 'query', requestId: m.requestId as number, query: q } : null;
    }
    case 'command':
      return typeof m.command === 'string' && commands.has(m.command)
        ? { type: 'command', command: m.command as Extract<WebviewToHost, { type: 'command' }>['command'] }
        : null;
    case 'painted':
      return (m.what === 'heads' || m.what === 'first') && typeof m.ms === 'number' && Number.isFinite(m.ms)
        ? { type: 'painted', what: m.what, ms: m.ms }
        : null;
    case 'needAnatomy': {
      const ok = (v: unknown, max = 4096) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < max;
      return Number.isSafeInteger(m.id) && ok(m.layer) && ok(m.head) && ok(m.query, tokens)
        ? { type: 'needAnatomy', id: m.id as number, layer: m.layer as number, head: m.head as number, query: m.query as number }
        : null;
    }
    case 'explain':
      return m.target === null || (Number.isInteger(m.target) && (m.target as number) >= 0 && (m.target as number) < 100_000)
        ? { type: 'explain', target: m.target as number | null }
        : null;
    default:
      return null;
  }
}
