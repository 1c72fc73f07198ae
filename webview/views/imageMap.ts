/** The image with a patch map over it, the query's mark, and the current layer's attention map: shared by every view. */
import { app, dims, disabledSet, query } from '../app';
import { layerMap } from '../logic/analysis';
import { fitSize, patchRect, tokenName } from '../logic/geometry';
import { packedLut } from '../logic/palette';
import { ctx2d, drawGrid, drawMap, sizeCanvas, strokeRect } from '../dom/draw';

/** Sizes the canvas to w × h and draws the image over all of it (smoothed); returns its context. */
export function drawBaseImage(canvas: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D {
  sizeCanvas(canvas, w, h);
  const c = ctx2d(canvas);
  c.clearRect(0, 0, w, h);
  if (app.image) {
    c.imageSmoothingEnabled = true;
    c.drawImage(app.image, 0, 0, w, h);
  }
  return c;
}

/** Draws the image, then a patch map over it, then the grid and the query patch. */
export function drawImageWithMap(canvas: HTMLCanvasElement, map: Float32Array | null, opts: { maxSize?: number; alpha?: number; grid?: boolean; lo?: number; hi?: number; queryMark?: boolean } = {}): { w: number; h: number; c: CanvasRenderingContext2D } {
  const p = app.model.payload!;
  const d = dims()!;
  const { width: w, height: hh } = fitSize(p.image.width, p.image.height, opts.maxSize ?? 384, opts.maxSize ?? 384);
  const c = drawBaseImage(canvas, w, hh);
  if (map) drawMap(c, map, d.grid[0], d.grid[1], packedLut(app.model.settings.colormap), 0, 0, w, hh, opts.alpha ?? 0.65, opts.lo, opts.hi);
  if (opts.grid) drawGrid(c, d.grid[0], d.grid[1], w, hh, app.theme.fg);
  if (opts.queryMark !== false) markQuery(c, w, hh);
  return { w, h: hh, c };
}

function markQuery(c: CanvasRenderingContext2D, w: number, hh: number): void {
  const d = dims()!;
  const theme = app.theme;
  const q = query();
  const r = patchRect(d, q, w, hh);
  if (r) {
    strokeRect(c, r.x - 1, r.y - 1, r.w + 2, r.h + 2, theme.bg, 4);
    strokeRect(c, r.x - 1, r.y - 1, r.w + 2, r.h + 2, theme.accent, 2);
  } else {
    // a prefix token: label it in the corner
    c.save();
    c.font = theme.font;
    const text = tokenName(d, q);
    const tw = c.measureText(text).width + 8;
    c.fillStyle = theme.bg;
    c.fillRect(2, 2, tw, 18);
    c.strokeStyle = theme.accent;
    c.strokeRect(2.5, 2.5, tw, 18);
    c.fillStyle = theme.fg;
    c.textBaseline = 'middle';
    c.fillText(text, 6, 11);
    c.restore();
  }
}

/**
 * The query's attention over the patches at a layer, mean of the enabled heads, into `out`; null until the
 * query's rows have come (they are for app.model.rows.token, the query shown or, briefly, the one before).
 */
export function currentLayerMap(out: Float32Array, layer = app.state.layer): Float32Array | null {
  const rows = app.model.rows;
  return rows ? layerMap(rows.rows, app.analysis!.dims, layer, disabledSet(), out) : null;
}

/** The token the painted maps are for: the rows' token once they have come, else the query. */
export function paintedToken(): number {
  return app.model.rows?.token ?? query();
}
