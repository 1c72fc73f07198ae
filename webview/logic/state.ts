/**
 * The panel's state and a pure reducer. PanelState (protocol.ts) is what survives a reload through
 * acquireVsCodeApi().setState; UiState adds a few view-only fields that are saved along with it.
 */
import type { PanelState } from '../../src/shared/protocol';
import type { GridDims, MoveKey } from './geometry';
import { matchedCnnDepth, moveQuery } from './geometry';

export type View = PanelState['view'];
export const views: readonly View[] = ['patches', 'heads', 'compare', 'scaling', 'anatomy', 'summary'];

export interface UiState extends PanelState {
  /** The enlarged head in the heads view, null for none. */
  enlarged: { layer: number; head: number } | null;
  /** Keyboard cursor in the heads sheet. */
  cursor: { layer: number; head: number };
  /** Draw the image under the heatmaps. */
  showImage: boolean;
  /** The CNN depth follows the ViT layer (same relative depth) until the CNN slider is moved. */
  cnnLinked: boolean;
}

export interface Dims extends GridDims {
  layers: number;
  heads: number;
  cnnLayers: number; // 0 without a CNN
}

export function defaultState(): UiState {
  return {
    imagePath: '',
    query: 0,
    layer: 0,
    cnnDepth: 0,
    view: 'patches',
    disabledHeads: [],
    fusion: 'mean',
    discardRatio: 0.9,
    massThreshold: 0.6,
    maskedTokens: [],
    enlarged: null,
    cursor: { layer: 0, head: 0 },
    showImage: true,
    cnnLinked: true,
  };
}

export type Action =
  | { type: 'setQuery'; token: number }
  | { type: 'moveQuery'; key: MoveKey }
  | { type: 'setLayer'; layer: number }
  | { type: 'setCnnDepth'; depth: number }
  | { type: 'setView'; view: View }
  | { type: 'toggleHead'; layer: number; head: number }
  | { type: 'setHeadEnabled'; layer: number; head: number; enabled: boolean }
  | { type: 'enableAllHeads' }
  | { type: 'setFusion'; fusion: UiState['fusion'] }
  | { type: 'setDiscardRatio'; value: number }
  | { type: 'setMassThreshold'; value: number }
  | { type: 'toggleMask'; token: number }
  | { type: 'clearMask' }
  | { type: 'enlarge'; cell: { layer: number; head: number } | null }
  | { type: 'setCursor'; cell: { layer: number; head: number } }
  | { type: 'setShowImage'; show: boolean }
  | { type: 'setCnnLinked'; linked: boolean };

const clampInt = (v: number, lo: number, hi: number) => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : lo);
const clamp = (v: number, lo: number, hi: number, dflt: number) => (typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : dflt);

/** Index of a head in disabledHeads: layer * heads + head. */
export function headIndex(d: Pick<Dims, 'heads'>, layer: number, head: number): number {
  return layer * d.heads + head;
}

export function isHeadEnabled(s: Pick<UiState, 'disabledHeads'>, lh: number): boolean {
  return !s.disabledHeads.includes(lh);
}

/** The rollout head mask [layers * heads], true = used; disabled heads are left out of the rollout. */
export function rolloutHeadMask(s: Pick<UiState, 'disabledHeads'>, d: Pick<Dims, 'layers' | 'heads'>): boolean[] {
  const mask = new Array<boolean>(d.layers * d.heads).fill(true);
  for (const lh of s.disabledHeads) if (lh >= 0 && lh < mask.length) mask[lh] = false;
  return mask;
}

const sortedUnique = (a: number[]) => [...new Set(a)].sort((x, y) => x - y);

export function reduce(s: UiState, a: Action, d: Dims): UiState {
  switch (a.type) {
    case 'setQuery':
      return Number.isInteger(a.token) && a.token >= 0 && a.token < d.tokens && a.token !== s.query ? { ...s, query: a.token } : s;
    case 'moveQuery': {
      const q = moveQuery(d, s.query, a.key);
      return q === s.query ? s : { ...s, query: q };
    }
    case 'setLayer': {
      const layer = clampInt(a.layer, 0, Math.max(0, d.layers - 1));
      const cnnDepth = s.cnnLinked && d.cnnLayers > 0 ? matchedCnnDepth(layer, d.layers, d.cnnLayers) : s.cnnDepth;
      return layer === s.layer && cnnDepth === s.cnnDepth ? s : { ...s, layer, cnnDepth };
    }
    case 'setCnnDepth': {
      // moving the CNN slider by hand unlinks it from the ViT layer
      const cnnDepth = clampInt(a.depth, 0, Math.max(0, d.cnnLayers - 1));
      return { ...s, cnnDepth, cnnLinked: false };
    }
    case 'setCnnLinked': {
      const cnnDepth = a.linked && d.cnnLayers > 0 ? matchedCnnDepth(s.layer, d.layers, d.cnnLayers) : s.cnnDepth;
      return { ...s, cnnLinked: !!a.linked, cnnDepth };
    }
    case 'setView':
      return views.includes(a.view) ? { ...s, view: a.view } : s;
    case 'toggleHead': {
      const lh = headIndex(d, a.layer, a.head);
      return reduce(s, { type: 'setHeadEnabled', layer: a.layer, head: a.head, enabled: !isHeadEnabled(s, lh) }, d);
    }
    case 'setHeadEnabled': {
      if (a.layer < 0 || a.layer >= d.layers || a.head < 0 || a.head >= d.heads) return s;
      const lh = headIndex(d, a.layer, a.head);
      const disabled = a.enabled ? s.disabledHeads.filter((x) => x !== lh) : sortedUnique([...s.disabledHeads, lh]);
      return { ...s, disabledHeads: disabled };
    }
    case 'enableAllHeads':
      return s.disabledHeads.length ? { ...s, disabledHeads: [] } : s;
    case 'setFusion':
      return a.fusion === 'mean' || a.fusion === 'max' || a.fusion === 'min' ? { ...s, fusion: a.fusion } : s;
    case 'setDiscardRatio':
      return { ...s, discardRatio: clamp(a.value, 0, 0.99, s.discardRatio) };
    case 'setMassThreshold':
      return { ...s, massThreshold: clamp(a.value, 0, 1, s.massThreshold) };
    case 'toggleMask': {
      if (!Number.isInteger(a.token) || a.token < d.prefixTokens.length || a.token >= d.tokens) return s; // patches only
      const has = s.maskedTokens.includes(a.token);
      return { ...s, maskedTokens: has ? s.maskedTokens.filter((t) => t !== a.token) : sortedUnique([...s.maskedTokens, a.token]) };
    }
    case 'clearMask':
      return s.maskedTokens.length ? { ...s, maskedTokens: [] } : s;
    case 'enlarge':
      if (a.cell && (a.cell.layer < 0 || a.cell.layer >= d.layers || a.cell.head < 0 || a.cell.head >= d.heads)) return s;
      return { ...s, enlarged: a.cell, cursor: a.cell ?? s.cursor };
    case 'setCursor':
      return { ...s, cursor: { layer: clampInt(a.cell.layer, 0, d.layers - 1), head: clampInt(a.cell.head, 0, d.heads - 1) } };
    case 'setShowImage':
      return { ...s, showImage: !!a.show };
  }
}

/**
 * Validates state from getState() (anything, possibly from an older version) against the current model:
 * out-of-range values fall back to defaults, so a restored panel never points at a token that does not exist.
 * A different image keeps the view and controls but drops the masked tokens.
 */
export function restoreState(raw: unknown, d: Dims | null, imagePath?: string): UiState {
  const s = defaultState();
  if (typeof raw !== 'object' || raw === null) return imagePath !== undefined ? { ...s, imagePath } : s;
  const r = raw as Partial<UiState>;
  const int = (v: unknown, lo: number, hi: number, dflt: number) => (typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? v : dflt);
  const big = Number.MAX_SAFE_INTEGER;
  s.imagePath = typeof r.imagePath === 'string' ? r.imagePath : '';
  s.view = views.includes(r.view as View) ? (r.view as View) : s.view;
  s.fusion = r.fusion === 'max' || r.fusion === 'min' || r.fusion === 'mean' ? r.fusion : s.fusion;
  s.discardRatio = clamp(r.discardRatio as number, 0, 0.99, s.discardRatio);
  s.massThreshold = clamp(r.massThreshold as number, 0, 1, s.massThreshold);
  s.showImage = typeof r.showImage === 'boolean' ? r.showImage : s.showImage;
  s.cnnLinked = typeof r.cnnLinked === 'boolean' ? r.cnnLinked : s.cnnLinked;
  const maxTok = d ? d.tokens - 1 : big;
  const maxLayer = d ? d.layers - 1 : big;
  const maxHeads = d ? d.layers * d.heads - 1 : big;
  s.query = int(r.query, 0, maxTok, s.query);
  s.layer = int(r.layer, 0, maxLayer, s.layer);
  s.cnnDepth = int(r.cnnDepth, 0, d ? Math.max(0, d.cnnLayers - 1) : big, s.cnnDepth);
  const ints = (v: unknown, lo: number, hi: number) => (Array.isArray(v) ? sortedUnique(v.filter((x) => typeof x === 'number' && Number.isInteger(x) && x >= lo && x <= hi)) : []);
  s.disabledHeads = ints(r.disabledHeads, 0, maxHeads);
  s.maskedTokens = ints(r.maskedTokens, d ? d.prefixTokens.length : 0, maxTok);
  const cell = (v: unknown) => {
    const c = v as { layer?: unknown; head?: unknown } | null;
    if (!c || typeof c !== 'object') return null;
    const layer = int(c.layer, 0, maxLayer, -1);
    const head = int(c.head, 0, d ? d.heads - 1 : big, -1);
    return layer >= 0 && head >= 0 ? { layer, head } : null;
  };
  s.enlarged = cell(r.enlarged);
  s.cursor = cell(r.cursor) ?? s.cursor;
  if (d && s.cnnLinked && d.cnnLayers > 0) s.cnnDepth = matchedCnnDepth(s.layer, d.layers, d.cnnLayers);
  if (imagePath !== undefined && imagePath !== s.imagePath) {
    s.imagePath = imagePath;
    s.maskedTokens = [];
  }
  return s;
}

/** The PanelState part of the UI state (what protocol.ts promises), plus the view extras. */
export function toSaved(s: UiState): UiState {
  return {
    imagePath: s.imagePath, query: s.query, layer: s.layer, cnnDepth: s.cnnDepth, view: s.view,
    disabledHeads: [...s.disabledHeads], fusion: s.fusion, discardRatio: s.discardRatio, massThreshold: s.massThreshold,
    maskedTokens: [...s.maskedTokens], enlarged: s.enlarged ? { ...s.enlarged } : null, cursor: { ...s.cursor }, showImage: s.showImage,
    cnnLinked: s.cnnLinked,
  };
}
