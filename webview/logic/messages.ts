/**
 * DOM-free handling of host messages: validates each HostToWebview message and folds it into the app model.
 * The host is trusted but a payload with the wrong tensor sizes must become an error, not a crash.
 */
import type { InspectionPayload, PanelSettings } from '../../src/shared/protocol';
import type { Prediction } from '../../src/shared/types';
import type { Dims } from './state';

export interface MaskResult {
  maskedTokens: number[];
  predictions: Prediction[];
  attention: Float32Array;
}

export interface AppModel {
  payload: InspectionPayload | null;
  dims: Dims | null;
  progress: string | null;
  error: { message: string; action?: 'selectModel' | 'selectCnn' | 'retry' } | null;
  settings: PanelSettings;
  maskResult: MaskResult | null;
  /** The payload's softmax inputs, once asked for (needScores) and received; null until then. */
  scores: Float32Array | null;
}

export type Change = 'payload' | 'progress' | 'error' | 'settings' | 'maskResult' | 'scores';

export const defaultSettings: PanelSettings = { colormap: 'viridis', topK: 5 };

export function emptyModel(): AppModel {
  return { payload: null, dims: null, progress: null, error: null, settings: { ...defaultSettings }, maskResult: null, scores: null };
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
  const n = s.layers * s.heads * l.tokens * l.tokens;
  if (!(p.attention instanceof Float32Array) || p.attention.length !== n) return `The attention tensor has ${p.attention?.length ?? 0} values, expected ${n}.`;
  const img = p.image;
  if (!img || !((img.rgba as unknown) instanceof Uint8Array || (img.rgba as unknown) instanceof Uint8ClampedArray) || img.rgba.length !== img.width * img.height * 4) return 'The image is missing or has the wrong size.';
  return null;
}

/** Folds one host message into the model. Returns the new model and what changed, or null to ignore it. */
export function handleHostMessage(m: AppModel, raw: unknown): { model: AppModel; changed: Change[] } | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const msg = raw as { type?: unknown } & Record<string, unknown>;
  switch (msg.type) {
    case 'inspection': {
      const p = msg.payload as InspectionPayload;
      const problem = p ? payloadProblem(p) : 'The inspection message has no payload.';
      if (problem) return { model: { ...m, progress: null, error: { message: problem, action: 'retry' } }, changed: ['progress', 'error'] };
      const settings = validSettings(p.settings, m.settings);
      return {
        model: { ...m, payload: p, dims: dimsOf(p), progress: null, error: null, settings, maskResult: null, scores: null },
        changed: ['payload', 'progress', 'error', 'settings', 'maskResult', 'scores'],
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
    case 'scores': {
      const d = m.dims;
      const s = msg.scores;
      // Another inspection's (an answer that crossed a re-run) or the wrong size: ignored.
      if (!d || !m.payload || msg.id !== m.payload.id || !(s instanceof Float32Array) || s.length !== d.layers * d.heads * d.tokens * d.tokens) return null;
      return { model: { ...m, scores: s }, changed: ['scores'] };
    }
    case 'maskResult': {
      const d = m.dims;
      const att = msg.attention;
      if (!d || !(att instanceof Float32Array) || att.length !== d.layers * d.heads * d.tokens * d.tokens) return null;
      if (!Array.isArray(msg.predictions) || !Array.isArray(msg.maskedTokens)) return null;
      const r: MaskResult = { maskedTokens: (msg.maskedTokens as unknown[]).filter((t): t is number => Number.isInteger(t)), predictions: msg.predictions as Prediction[], attention: att };
      return { model: { ...m, progress: null, maskResult: r }, changed: ['progress', 'maskResult'] };
    }
    default:
      return null;
  }
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
