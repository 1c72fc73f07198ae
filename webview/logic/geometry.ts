/**
 * DOM-free geometry for the panel: tokens <-> patches, hit-testing, keyboard moves, the heads sheet layout.
 * Token order follows TokenLayout: prefix tokens first (CLS, dist, registers), then the patch grid row-major.
 */
import type { TokenLayout } from '../../src/shared/types';

export type GridDims = Pick<TokenLayout, 'grid' | 'prefixTokens' | 'tokens'>;

export function prefixCount(d: GridDims): number {
  return d.prefixTokens.length;
}

/** Row/col of a patch token, or null for a prefix token (or a token out of range). */
export function tokenToPatch(d: GridDims, token: number): { row: number; col: number } | null {
  const p = d.prefixTokens.length;
  const [rows, cols] = d.grid;
  if (!Number.isInteger(token) || token < p || token >= p + rows * cols) return null;
  const i = token - p;
  return { row: Math.floor(i / cols), col: i % cols };
}

export function patchToToken(d: GridDims, row: number, col: number): number {
  return d.prefixTokens.length + row * d.grid[1] + col;
}

/**
 * The patch token under a point of a view that shows the whole model input scaled to viewW x viewH
 * (CSS pixels or canvas pixels, as long as x/y use the same unit). -1 outside the image.
 */
export function patchAtPixel(d: GridDims, x: number, y: number, viewW: number, viewH: number): number {
  if (!(viewW > 0 && viewH > 0) || !(x >= 0 && y >= 0) || x >= viewW || y >= viewH) return -1;
  const [rows, cols] = d.grid;
  const col = Math.min(cols - 1, Math.floor((x / viewW) * cols));
  const row = Math.min(rows - 1, Math.floor((y / viewH) * rows));
  return patchToToken(d, row, col);
}

/** The rectangle of a patch in a view of viewW x viewH. */
export function patchRect(d: GridDims, token: number, viewW: number, viewH: number): { x: number; y: number; w: number; h: number } | null {
  const p = tokenToPatch(d, token);
  if (!p) return null;
  const w = viewW / d.grid[1];
  const h = viewH / d.grid[0];
  return { x: p.col * w, y: p.row * h, w, h };
}

export type MoveKey = 'ArrowLeft' | 'ArrowRight' | 'ArrowUp' | 'ArrowDown' | 'Home' | 'End' | 'PageUp' | 'PageDown';
const moveKeys = new Set<string>(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown']);
export function isMoveKey(k: string): k is MoveKey {
  return moveKeys.has(k);
}

/**
 * The query token after a key press. Inside the grid the arrows move one patch and stop at the edges (no wrap).
 * Prefix tokens sit "above" the grid as a row of their own: ArrowUp from the top row goes to the last prefix token,
 * ArrowDown/ArrowRight from the last prefix token enter the grid at patch (0, 0), ArrowLeft/ArrowRight step between
 * prefix tokens. Home: first token (CLS), End: last patch, PageUp/PageDown: top/bottom row of the same column.
 */
export function moveQuery(d: GridDims, token: number, key: MoveKey): number {
  const p = d.prefixTokens.length;
  const [rows, cols] = d.grid;
  const last = p + rows * cols - 1;
  if (!Number.isInteger(token) || token < 0 || token > last) token = p > 0 ? 0 : p;
  if (key === 'Home') return 0;
  if (key === 'End') return last;
  if (token < p) {
    switch (key) {
      case 'ArrowLeft':
      case 'ArrowUp':
        return Math.max(0, token - 1);
      case 'PageUp':
        return 0;
      case 'ArrowRight':
        return token + 1; // the last prefix token + 1 is patch (0, 0)
      case 'ArrowDown':
        return p; // into the grid
      case 'PageDown':
        return patchToToken(d, rows - 1, 0);
    }
  }
  const i = token - p;
  const row = Math.floor(i / cols);
  const col = i % cols;
  switch (key) {
    case 'ArrowLeft':
      return col > 0 ? token - 1 : token;
    case 'ArrowRight':
      return col < cols - 1 ? token + 1 : token;
    case 'ArrowUp':
      return row > 0 ? token - cols : p > 0 ? p - 1 : token;
    case 'ArrowDown':
      return row < rows - 1 ? token + cols : token;
    case 'PageUp':
      return patchToToken(d, 0, col);
    case 'PageDown':
      return patchToToken(d, rows - 1, col);
  }
  return token;
}

/** A readable name for a token: 'CLS', 'reg1', or 'patch (r, c)' (1-based for people). */
export function tokenName(d: GridDims, token: number): string {
  if (token >= 0 && token < d.prefixTokens.length) {
    const n = d.prefixTokens[token];
    return n.toLowerCase() === 'cls' ? 'CLS' : n;
  }
  const pc = tokenToPatch(d, token);
  return pc ? `patch (row ${pc.row + 1}, col ${pc.col + 1})` : `token ${token}`;
}

/** Fits a w x h box into maxW x maxH keeping the aspect ratio; integer sizes, at least 1. */
export function fitSize(w: number, h: number, maxW: number, maxH: number): { width: number; height: number } {
  const s = Math.min(maxW / w, maxH / h);
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/** Layout of the heads sheet: layers as rows, heads as columns, one cell per head, in one canvas. */
export interface SheetLayout {
  layers: number;
  heads: number;
  /** Cell size in canvas pixels; a whole number of pixels per patch so colouring is exact fills. */
  cellW: number;
  cellH: number;
  patchPx: number; // pixels per patch on each side
  gap: number;
  left: number; // room for the layer labels
  top: number; // room for the head labels
  width: number;
  height: number;
}

export function sheetLayout(layers: number, heads: number, grid: [number, number], maxWidth: number, opts: { gap?: number; left?: number; top?: number; minPatchPx?: number; maxPatchPx?: number } = {}): SheetLayout {
  const gap = opts.gap ?? 2;
  const left = opts.left ?? 28;
  const top = opts.top ?? 16;
  const [rows, cols] = grid;
  const avail = Math.max(1, maxWidth - left - gap * heads);
  const byWidth = Math.floor(avail / (heads * cols));
  const patchPx = Math.max(opts.minPatchPx ?? 1, Math.min(opts.maxPatchPx ?? 6, byWidth));
  const cellW = patchPx * cols;
  const cellH = patchPx * rows;
  return {
    layers, heads, cellW, cellH, patchPx, gap, left, top,
    width: left + heads * (cellW + gap),
    height: top + layers * (cellH + gap),
  };
}

/** The same sheet scaled by k: a sheet painted at 1 px per patch and drawn k times larger (nearest neighbour). */
export function scaleSheet(s: SheetLayout, k: number): SheetLayout {
  return {
    layers: s.layers, heads: s.heads, cellW: s.cellW * k, cellH: s.cellH * k, patchPx: s.patchPx * k, gap: s.gap * k,
    left: s.left * k, top: s.top * k, width: s.width * k, height: s.height * k,
  };
}

/**
 * The heads sheet as painted (1 px per patch, 1 patch gaps: few pixels to fill per repaint) and as shown
 * (k px per patch, whole-pixel scale so cells stay sharp), for a panel about maxWidth wide.
 */
export function compactSheet(layers: number, heads: number, grid: [number, number], maxWidth: number, labels = { left: 28, top: 16 }, maxScale = 5): { painted: SheetLayout; shown: SheetLayout; scale: number } {
  const cols = grid[1];
  const k = Math.max(1, Math.min(maxScale, Math.floor((maxWidth - labels.left) / (heads * (cols + 1)))));
  const painted = sheetLayout(layers, heads, grid, Number.MAX_SAFE_INTEGER, { gap: 1, left: Math.ceil(labels.left / k), top: Math.ceil(labels.top / k), minPatchPx: 1, maxPatchPx: 1 });
  return { painted, shown: scaleSheet(painted, k), scale: k };
}

export function cellOrigin(s: SheetLayout, layer: number, head: number): { x: number; y: number } {
  return { x: s.left + head * (s.cellW + s.gap), y: s.top + layer * (s.cellH + s.gap) };
}

/** The (layer, head) cell under a canvas point, or null over labels and gaps. */
export function cellAt(s: SheetLayout, x: number, y: number): { layer: number; head: number } | null {
  const fx = x - s.left;
  const fy = y - s.top;
  if (fx < 0 || fy < 0) return null;
  const head = Math.floor(fx / (s.cellW + s.gap));
  const layer = Math.floor(fy / (s.cellH + s.gap));
  if (head >= s.heads || layer >= s.layers) return null;
  if (fx - head * (s.cellW + s.gap) >= s.cellW || fy - layer * (s.cellH + s.gap) >= s.cellH) return null;
  return { layer, head };
}

/** Moves a (layer, head) cursor in the sheet with the arrow keys, clamped at the edges. */
export function moveCell(s: { layers: number; heads: number }, c: { layer: number; head: number }, key: string): { layer: number; head: number } {
  let { layer, head } = c;
  if (key === 'ArrowLeft') head = Math.max(0, head - 1);
  else if (key === 'ArrowRight') head = Math.min(s.heads - 1, head + 1);
  else if (key === 'ArrowUp') layer = Math.max(0, layer - 1);
  else if (key === 'ArrowDown') layer = Math.min(s.layers - 1, layer + 1);
  else if (key === 'Home') head = 0;
  else if (key === 'End') head = s.heads - 1;
  return { layer, head };
}

/** Default CNN depth for a ViT layer: the same relative depth, (L+1)/layers of the CNN's layers, 0-based. */
export function matchedCnnDepth(vitLayer: number, vitLayers: number, cnnLayers: number): number {
  if (cnnLayers <= 0) return 0;
  const rel = (vitLayer + 1) / Math.max(1, vitLayers);
  return Math.min(cnnLayers - 1, Math.max(0, Math.round(rel * cnnLayers) - 1));
}

/** Centre of a patch token in model-input pixels (or the image centre for a prefix token). */
export function patchCentre(layout: TokenLayout, token: number): { x: number; y: number } {
  const pc = tokenToPatch(layout, token);
  const [ih, iw] = layout.inputSize;
  if (!pc) return { x: iw / 2, y: ih / 2 };
  const [ph, pw] = layout.patchSize;
  return { x: (pc.col + 0.5) * pw, y: (pc.row + 0.5) * ph };
}
