/** The heads sheet: its canvases and background (setupHeads), every head's map for the query, and the overlay of marks. */
import { app, dims, disabledSet, post } from '../app';
import { HeadsPainter } from '../logic/colorize';
import { compactSheet } from '../logic/geometry';
import { packedLut } from '../logic/palette';
import { ctx2d, sizeCanvas, strokeRect } from '../dom/draw';
import { breakdown } from '../schedule';

/** Sizes the sheet's canvases, makes its painter and draws its background (labels, the image under every cell). */
export function setupHeads(): void {
  const p = app.model.payload;
  const d = dims();
  if (!p || !d) return;
  const { els, state, theme } = app;
  const maxWidth = Math.max(480, Math.min(1100, (document.body.clientWidth || 1000) - 420));
  // painted at 1 px per patch into a small buffer, shown k times larger: few pixels to touch per repaint
  const { painted, shown } = compactSheet(d.layers, d.heads, d.grid, maxWidth);
  const sheet = shown;
  app.sheet = sheet;
  for (const c of [els.headsBg, els.heads, els.headsOv]) sizeCanvas(c, sheet.width, sheet.height);
  els.heads.dataset.layout = [sheet.left, sheet.top, sheet.cellW, sheet.cellH, sheet.gap].join(','); // for tests: cell (l, h) is at left + h*(cellW+gap), top + l*(cellH+gap)
  const headsCtx = ctx2d(els.heads);
  app.headsCtx = headsCtx;
  headsCtx.imageSmoothingEnabled = false;
  headsCtx.globalCompositeOperation = 'copy'; // each repaint replaces the whole canvas: no clear needed
  const headsSmall = document.createElement('canvas');
  app.headsSmall = headsSmall;
  sizeCanvas(headsSmall, painted.width, painted.height);
  const headsSmallCtx = ctx2d(headsSmall);
  app.headsSmallCtx = headsSmallCtx;
  const headsImage = headsSmallCtx.createImageData(painted.width, painted.height);
  app.headsImage = headsImage;
  const lut = packedLut(app.model.settings.colormap, state.showImage ? 185 : 255);
  const rows = app.model.rows?.rows ?? new Float32Array(d.layers * d.heads * d.tokens);
  app.painter = new HeadsPainter(painted, { rows, tokens: d.tokens, prefix: d.prefixTokens.length, grid: d.grid }, lut, headsImage.data);
  // background: labels and the image tiled under every cell (drawn once)
  const bg = ctx2d(els.headsBg);
  bg.clearRect(0, 0, sheet.width, sheet.height);
  bg.font = theme.font;
  bg.fillStyle = theme.fg;
  bg.textBaseline = 'middle';
  bg.textAlign = 'right';
  for (let l = 0; l < d.layers; l++) bg.fillText(`L${l + 1}`, sheet.left - 4, sheet.top + l * (sheet.cellH + sheet.gap) + sheet.cellH / 2);
  bg.textAlign = 'center';
  bg.textBaseline = 'bottom';
  for (let hd = 0; hd < d.heads; hd++) bg.fillText(`h${hd + 1}`, sheet.left + hd * (sheet.cellW + sheet.gap) + sheet.cellW / 2, sheet.top - 2);
  if (state.showImage && app.image) {
    for (let l = 0; l < d.layers; l++) for (let hd = 0; hd < d.heads; hd++) {
      bg.drawImage(app.image, sheet.left + hd * (sheet.cellW + sheet.gap), sheet.top + l * (sheet.cellH + sheet.gap), sheet.cellW, sheet.cellH);
    }
  }
}

/**
 * Repaints every head from the query's rows (once they have come): one pass into one small ImageData, one put,
 * one scaled draw. Returns ms.
 */
export function paintHeads(): number {
  const { painter, headsImage, headsCtx, els } = app;
  const d = dims();
  const rows = app.model.rows;
  if (!painter || !headsImage || !headsCtx || !rows || !d) return 0;
  const t0 = performance.now();
  const q = rows.token;
  painter.setInput({ rows: rows.rows, tokens: d.tokens, prefix: d.prefixTokens.length, grid: d.grid });
  const off = disabledSet();
  const hash = painter.paint(q, off.length ? (lh) => off.includes(lh) : () => false);
  breakdown.headsFill = performance.now() - t0;
  app.headsSmallCtx!.putImageData(headsImage, 0, 0);
  headsCtx.drawImage(app.headsSmall!, 0, 0, app.sheet!.width, app.sheet!.height);
  const ms = performance.now() - t0;
  els.heads.dataset.checksum = (hash >>> 0).toString(16);
  els.heads.dataset.query = String(q);
  els.heads.dataset.painted = String((Number(els.heads.dataset.painted) || 0) + 1);
  if (!app.firstPosted) {
    app.firstPosted = true;
    post({ type: 'painted', what: 'first', ms: performance.now() - app.inspectionAt });
    document.body.dataset.firstPaint = '1';
  }
  return ms;
}

/** The marks over the sheet: switched-off heads crossed, the enlarged head framed, the keyboard cursor when focused. */
export function paintHeadsOverlay(): void {
  const d = dims();
  const { sheet, els, state, theme } = app;
  if (!sheet || !d) return;
  const c = ctx2d(els.headsOv);
  c.clearRect(0, 0, sheet.width, sheet.height);
  const cellRect = (l: number, hd: number) => [sheet.left + hd * (sheet.cellW + sheet.gap), sheet.top + l * (sheet.cellH + sheet.gap), sheet.cellW, sheet.cellH] as const;
  c.save();
  c.strokeStyle = theme.muted;
  c.lineWidth = 1;
  for (const lh of state.disabledHeads) {
    const [x, y, w, hh] = cellRect(Math.floor(lh / d.heads), lh % d.heads);
    c.beginPath();
    c.moveTo(x, y);
    c.lineTo(x + w, y + hh);
    c.moveTo(x + w, y);
    c.lineTo(x, y + hh);
    c.stroke();
  }
  c.restore();
  if (state.enlarged) {
    const [x, y, w, hh] = cellRect(state.enlarged.layer, state.enlarged.head);
    strokeRect(c, x - 2, y - 2, w + 4, hh + 4, theme.accent, 2);
  }
  if (document.activeElement === els.heads) {
    const [x, y, w, hh] = cellRect(state.cursor.layer, state.cursor.head);
    strokeRect(c, x - 1, y - 1, w + 2, hh + 2, theme.focus, 2, [3, 2]);
  }
}
