/**
 * DOM-free handling of host messages: validates each HostToWebview message and folds it into the app model.
 * The host is trusted but a payload with the wrong tensor sizes must become an error, not a crash.
 */
import type { InspectionPayload, PanelSettings } from '../../src/shared/protocol';
import { rowValues, type AnswerOf } from '../../src/shared/queries';
import type { Prediction } from '../../src/shared/types';
import { rolloutKey } from './analysis';
import type { QueryBook } from './queries';
import type { Dims } from './state';

export interface MaskResult {
  maskedTokens: number[];
  predictions: Prediction[];
  /** The masked run's stored inspection (queried like the payload's). */
  inspection: number;
}

export interface AppModel {
  payload: InspectionPayload | null;
  dims: Dims | null;
  progress: string | null;
  error: { message: string; action?: 'selectModel' | 'selectCnn' | 'retry' } | null;
  settings: PanelSettings;
  maskResult: MaskResult | null;
  /** What the webview holds of the tensors: the answers to its latest queries (null until they come). */
  /** The query's rows [layers, heads, tokens] of the payload's inspection. */
  rows: { token: number; rows: Float32Array } | null;
  /** The masked run's rows of one layer [heads, tokens]. */
  maskRows: { inspection: number; token: number; layer: number; rows: Float32Array } | null;
  rollout: { token: number; key: string; row: Float32Array; ms: number } | null;
  headStats: AnswerOf<'headStats'> | null;
  scaling: AnswerOf<'scaling'> | null;
}

export type Change = 'payload' | 'progress' | 'error' | 'settings' | 'maskResult' | 'rows' | 'maskRows' | 'rollout' | 'headStats' | 'scaling';

export const defaultSettings: PanelSettings = { colormap: 'viridis', topK: 5 };

const noAnswers = { rows: null, maskRows: null, rollout: null, headStats: null, scaling: null } as const;

export function emptyModel(): AppModel {
  return { payload: null, dims: null, progress: null, error: null, settings: { ...defaultSettings }, maskResult: null, ...noAnswers };
}

const colormaps = new Set(['viridis', 'inferno', 'magma', 'plasma', 'turbo', 'cividis']);

function validSettings(s: unknown, fallback: PanelSettings): PanelSettings {
  const r = (typeof s === 'object' && s !== null ? s : {}) as Partial<PanelSettings>;
  return {
    colormap: colormaps.has(r.colormap as string) ? (r.colormap as PanelSettings['colormap']) : fallback.colormap,
    topK: typeof r.topK === 'number' && Number.isInteger(r.topK) && r.topK > 0 ? Math.min(r.topK, 100) : fallback.topK,
  };
}

export function dimsOf(p: InspectionPayload): Dims {
  const l = p.summary.layout;
  return {
    layers: p.summary.layers,
    heads: p.summary.heads,
    tokens: l.tokens,
    grid: l.grid,
    prefixTokens: l.prefixTokens,
    cnnLayers: p.cnn ? p.cnn.layers.length : 0,
  };
}

/** Why a payload cannot be shown, or null when it is consistent. */
export function payloadProblem(p: InspectionPayload): string | null {
  const s = p?.summary;
  const l = s?.layout;
  if (!s || !l) return 'The inspection has no model summary.';
  const [rows, cols] = l.grid;
  if (!(s.layers > 0 && s.heads > 0 && rows > 0 && cols > 0)) return 'The model summary has no layers, heads or patches.';
  if (l.tokens !== l.prefixTokens.length + rows * cols) return `The token layout does not add up: ${l.prefixTokens.length} prefix + ${rows}x${cols} patches != ${l.tokens} tokens.`;
  if (!Number.isSafeInteger(p.id)) return 'The inspection has no id.';
  const img = p.image;
  if (!img || !((img.rgba as unknown) instanceof Uint8Array || (img.rgba as unknown) instanceof Uint8ClampedArray) || img.rgba.length !== img.width * img.height * 4) return 'The image is missing or has the wrong size.';
  return null;
}

/** Folds one host message into the model. Returns the new model and what changed, or null to ignore it. `book`: the queries asked. */
export function handleHostMessage(m: AppModel, raw: unknown, book?: QueryBook): { model: AppModel; changed: Change[] } | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const msg = raw as { type?: unknown } & Record<string, unknown>;
  switch (msg.type) {
    case 'inspection': {
      const p = msg.payload as InspectionPayload;
      const problem = p ? payloadProblem(p) : 'The inspection message has no payload.';
      if (problem) return { model: { ...m, progress: null, error: { message: problem, action: 'retry' } }, changed: ['progress', 'error'] };
      const settings = validSettings(p.settings, m.settings);
      return {
        model: { ...m, payload: p, dims: dimsOf(p), progress: null, error: null, settings, maskResult: null, ...noAnswers },
        changed: ['payload', 'progress', 'error', 'settings', 'maskResult', 'rows', 'maskRows', 'rollout', 'headStats', 'scaling'],
      };
    }
    case 'progress':
      return typeof msg.message === 'string' ? { model: { ...m, progress: msg.message }, changed: ['progress'] } : null;
    case 'error': {
      if (typeof msg.message !== 'string') return null;
      const action = msg.action === 'selectModel' || msg.action === 'selectCnn' || msg.action === 'retry' ? msg.action : undefined;
      return { model: { ...m, progress: null, error: { message: oneLine(msg.message), action } }, changed: ['progress', 'error'] };
    }
    case 'settings':
      return { model: { ...m, settings: validSettings(msg.settings, m.settings) }, changed: ['settings'] };
    case 'answer':
      return book ? foldAnswer(m, msg, book) : null;
    case 'maskResult': {
      if (!m.dims || !Number.isSafeInteger(msg.inspection)) return null;
      if (!Array.isArray(msg.predictions) || !Array.isArray(msg.maskedTokens)) return null;
      const r: MaskResult = { maskedTokens: (msg.maskedTokens as unknown[]).filter((t): t is number => Number.isInteger(t)), predictions: msg.predictions as Prediction[], inspection: msg.inspection as number };
      return { model: { ...m, progress: null, maskResult: r, maskRows: null }, changed: ['progress', 'maskResult', 'maskRows'] };
    }
    default:
      return null;
  }
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

const floats = (v: unknown, n: number): v is Float32Array => v instanceof Float32Array && v.length === n;
const halves = (v: unknown, n: number): v is Uint16Array => v instanceof Uint16Array && v.length === n;

/** An answer to one of the latest queries, checked against the sizes; anything else (stale, wrong size) is ignored. */
function foldAnswer(m: AppModel, msg: Record<string, unknown>, book: QueryBook): { model: AppModel; changed: Change[] } | null {
  const d = m.dims;
  const got = book.accept(msg.requestId, msg.answer);
  if (!d || !m.payload || !got || msg.inspection !== got.query.inspection) return null;
  const { query: q, answer: a } = got;
  const lh = d.layers * d.heads;
  const ours = q.inspection === m.payload.id;
  switch (a.kind) {
    case 'rows': {
      if (q.kind !== 'rows' || !halves(a.rows, (a.layers[1] - a.layers[0]) * d.heads * d.tokens)) return null;
      if (ours && a.layers[0] === 0 && a.layers[1] === d.layers) return { model: { ...m, rows: { token: a.token, rows: rowValues(a) } }, changed: ['rows'] };
      if (m.maskResult?.inspection === q.inspection && a.layers[1] - a.layers[0] === 1) {
        return { model: { ...m, maskRows: { inspection: q.inspection, token: a.token, layer: a.layers[0], rows: rowValues(a) } }, changed: ['maskRows'] };
      }
      return null;
    }
    case 'rollout':
      if (q.kind !== 'rollout' || !ours || !floats(a.row, d.tokens)) return null;
    {
      // ms: how long the rollout's layers took for this setting (0 from the cache: the time it took first is kept)
      const key = rolloutKey(q);
      const ms = a.ms || (m.rollout?.key === key ? m.rollout.ms : 0);
      return { model: { ...m, rollout: { token: a.token, key, row: a.row, ms } }, changed: ['rollout'] };
    }
    case 'headStats':
      if (!ours || !floats(a.meanDistance, lh) || !floats(a.entropy, lh)) return null;
      return { model: { ...m, headStats: a }, changed: ['headStats'] };
    case 'scaling':
      if (!ours || ![a.scaledEntropy, a.unscaledEntropy, a.scaledMax, a.unscaledMax].every((v) => floats(v, lh))) return null;
      return { model: { ...m, scaling: a }, changed: ['scaling'] };
    default:
      return null;
  }
}
