/** Thin canvas helpers (DOM). The maths lives in ../logic. */
import { FNV_SEED, paintMap } from '../logic/colorize';
import type { ChartGeometry } from '../logic/chart';

export interface Theme {
  fg: string;
  muted: string;
  bg: string;
  focus: string;
  grid: string;
  accent: string; // query / highlight
  rf: string; // receptive field box
  line: string; // CNN line
  dot: string; // ViT dots
  dotOff: string;
  erfVit: string; // measured ERF, ViT
  erfCnn: string; // measured ERF, CNN
  mask: string;
  font: string;
}

/** Reads the VS Code theme variables (re-read when the theme changes). */
export function readTheme(): Theme {
  const cs = getComputedStyle(document.body);
  const v = (name: string, dflt: string) => cs.getPropertyValue(name).trim() || dflt;
  const fg = v('--vscode-editor-foreground', v('--vscode-foreground', '#cccccc'));
  return {
    fg,
    muted: v('--vscode-descriptionForeground', fg),
    bg: v('--vscode-editor-background', '#1e1e1e'),
    focus: v('--vscode-focusBorder', '#007fd4'),
    grid: v('--vscode-charts-lines', 'rgba(128,128,128,0.5)'),
    accent: v('--vscode-charts-red', '#f14c4c'),
    rf: v('--vscode-charts-orange', '#d18616'),
    line: v('--vscode-charts-orange', '#d18616'),
    dot: v('--vscode-charts-blue', '#3794ff'),
    dotOff: v('--vscode-disabledForeground', '#888888'),
    erfVit: v('--vscode-charts-purple', '#b180d7'),
    erfCnn: v('--vscode-charts-green', '#89d185'),
    mask: v('--vscode-charts-yellow', '#cca700'),
    font: `${v('--vscode-font-size', '12px')} ${v('--vscode-font-family', 'sans-serif')}`,
  };
}

/** An offscreen canvas holding an RGBA image, to draw it scaled. */
export function imageCanvas(img: { width: number; height: number; rgba: Uint8Array }): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = img.width;
  c.height = img.height;
  const data = new ImageData(new Uint8ClampedArray(img.rgba), img.width, img.height); // a copy: the payload's buffer may be shared
  c.getContext('2d')!.putImageData(data, 0, 0);
  return c;
}

export function ctx2d(c: HTMLCanvasElement): CanvasRenderingContext2D {
  return c.getContext('2d', { alpha: true })!;
}

export function sizeCanvas(c: HTMLCanvasElement, w: number, h: number): void {
  if (c.width !== w) c.width = w;
  if (c.height !== h) c.height = h;
}

const tmp = new Map<string, { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D; img: ImageData; px: Uint32Array }>();

/** Draws a rows x cols map scaled over (x, y, w, h), blocky (one colour per patch). */
export function drawMap(ctx: CanvasRenderingContext2D, map: ArrayLike<number>, rows: number, cols: number, lut: Uint32Array, x: number, y: number, w: number, h: number, alpha = 1, lo?: number, hi?: number): void {
  const key = `${rows}x${cols}`;
  let t = tmp.get(key);
  if (!t) {
    const canvas = document.createElement('canvas');
    canvas.width = cols;
    canvas.height = rows;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(cols, rows);
    t = { canvas, ctx, img, px: new Uint32Array(img.data.buffer) };
    tmp.set(key, t);
  }
  paintMap(t.px, cols, 0, 0, map, 0, rows, cols, 1, 1, lut, FNV_SEED, lo, hi);
  t.ctx.putImageData(t.img, 0, 0);
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.globalAlpha = alpha;
  ctx.drawImage(t.canvas, x, y, w, h);
  ctx.restore();
}

export function drawGrid(ctx: CanvasRenderingContext2D, rows: number, cols: number, w: number, h: number, colour: string): void {
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.globalAlpha = 0.45;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let c = 1; c < cols; c++) {
    const x = Math.round((c * w) / cols) + 0.5;
    ctx.moveTo(x, 0);
    ctx.lineTo(x, h);
  }
  for (let r = 1; r < rows; r++) {
    const y = Math.round((r * h) / rows) + 0.5;
    ctx.moveTo(0, y);
    ctx.lineTo(w, y);
  }
  ctx.stroke();
  ctx.restore();
}

export function strokeRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, colour: string, width = 2, dash: number[] = []): void {
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.setLineDash(dash);
  ctx.strokeRect(x + width / 2, y + width / 2, Math.max(0, w - width), Math.max(0, h - width));
  ctx.restore();
}

/** Contour segments in patch units (see maskContour), scaled to the view. */
export function drawContour(ctx: CanvasRenderingContext2D, segs: number[][], rows: number, cols: number, w: number, h: number, colour: string): void {
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.beginPath();
  const sx = w / cols;
  const sy = h / rows;
  for (const [x0, y0, x1, y1] of segs) {
    ctx.moveTo(x0 * sx, y0 * sy);
    ctx.lineTo(x1 * sx, y1 * sy);
  }
  ctx.stroke();
  ctx.restore();
}

/** Darkens the patches outside a mask (1 = kept). */
export function shadeOutside(ctx: CanvasRenderingContext2D, mask: Uint8Array, rows: number, cols: number, w: number, h: number, colour: string, alpha = 0.55): void {
  ctx.save();
  ctx.fillStyle = colour;
  ctx.globalAlpha = alpha;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (mask[r * cols + c]) continue;
      const x0 = Math.round((c * w) / cols);
      const y0 = Math.round((r * h) / rows);
      ctx.fillRect(x0, y0, Math.round(((c + 1) * w) / cols) - x0, Math.round(((r + 1) * h) / rows) - y0);
    }
  }
  ctx.restore();
}

/** Draws the distance chart (dots = ViT heads, line = CNN receptive field), with labelled axes. */
export function drawChart(ctx: CanvasRenderingContext2D, g: ChartGeometry, t: Theme, labels: { x: string; y: string; dots: string; line: string | null; input: string; erfVit?: string | null; erfCnn?: string | null }): void {
  const { plot } = g;
  ctx.save();
  ctx.clearRect(0, 0, g.width, g.height);
  ctx.font = t.font;
  ctx.fillStyle = t.fg;
  ctx.strokeStyle = t.grid;
  ctx.lineWidth = 1;
  // grid + y ticks
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of g.y.ticks(5)) {
    const y = Math.round(g.y(v)) + 0.5;
    ctx.globalAlpha = 0.35;
    ctx.beginPath();
    ctx.moveTo(plot.x0, y);
    ctx.lineTo(plot.x1, y);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.fillText(String(v), plot.x0 - 4, y);
  }
  // x ticks: layers
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const L = Math.round(g.x.domain[1] - 0.5);
  const step = L > 16 ? Math.ceil(L / 12) : 1;
  for (let l = 1; l <= L; l += step) ctx.fillText(String(l), g.x(l), plot.y1 + 4);
  // axes
  ctx.strokeStyle = t.fg;
  ctx.beginPath();
  ctx.moveTo(plot.x0 + 0.5, plot.y0);
  ctx.lineTo(plot.x0 + 0.5, plot.y1 + 0.5);
  ctx.lineTo(plot.x1, plot.y1 + 0.5);
  ctx.stroke();
  ctx.fillText(labels.x, (plot.x0 + plot.x1) / 2, plot.y1 + 20);
  ctx.save();
  ctx.translate(12, (plot.y0 + plot.y1) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'middle';
  ctx.fillText(labels.y, 0, 0);
  ctx.restore();
  // input size reference
  ctx.strokeStyle = t.muted;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(plot.x0, Math.round(g.inputLineY) + 0.5);
  ctx.lineTo(plot.x1, Math.round(g.inputLineY) + 0.5);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'bottom';
  ctx.fillStyle = t.muted;
  ctx.fillText(labels.input, plot.x1, g.inputLineY - 2);
  // CNN line
  if (g.line.length) {
    ctx.strokeStyle = t.line;
    ctx.lineWidth = 2;
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x0, plot.y0, plot.x1 - plot.x0, plot.y1 - plot.y0);
    ctx.clip();
    ctx.beginPath();
    g.line.forEach((p, i) => (i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
    ctx.stroke();
    ctx.restore();
  }
  // ViT dots
  for (const d of g.dots) {
    ctx.fillStyle = d.disabled ? t.dotOff : t.dot;
    ctx.globalAlpha = d.disabled ? 0.5 : 0.85;
    ctx.beginPath();
    ctx.arc(d.x, d.y, 2.5, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  drawErfMarks(ctx, g, t);
  // legend
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  let lx = plot.x0 + 8;
  const ly = plot.y0 + 8;
  ctx.fillStyle = t.dot;
  ctx.beginPath();
  ctx.arc(lx + 4, ly, 3, 0, Math.PI * 2);
  ctx.fill();
  ctx.fillStyle = t.fg;
  ctx.fillText(labels.dots, lx + 12, ly);
  lx += 20 + ctx.measureText(labels.dots).width;
  if (labels.line) {
    ctx.strokeStyle = t.line;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(lx, ly);
    ctx.lineTo(lx + 16, ly);
    ctx.stroke();
    ctx.fillText(labels.line, lx + 20, ly);
  }
  // second row: the measured ERF series
  let ex = plot.x0 + 8;
  for (const [label, colour, model] of [[labels.erfVit, t.erfVit, 'vit'], [labels.erfCnn, t.erfCnn, 'cnn']] as const) {
    if (!label) continue;
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(ex + 4, ly + 12);
    ctx.lineTo(ex + 4, ly + 24);
    ctx.stroke();
    erfMarker(ctx, model, ex + 4, ly + 18);
    ctx.fillStyle = t.fg;
    ctx.fillText(label, ex + 12, ly + 18);
    ex += 24 + ctx.measureText(label).width;
  }
  ctx.restore();
}

/** A measured-ERF point: a square (ViT) or a diamond (CNN), so the two read apart without colour. */
function erfMarker(ctx: CanvasRenderingContext2D, model: 'vit' | 'cnn', x: number, y: number): void {
  ctx.beginPath();
  if (model === 'vit') ctx.rect(x - 3, y - 3, 6, 6);
  else {
    ctx.moveTo(x, y - 4);
    ctx.lineTo(x + 4, y);
    ctx.lineTo(x, y + 4);
    ctx.lineTo(x - 4, y);
    ctx.closePath();
  }
  ctx.fill();
}

/** The measured ERF of each model: a line through the 50 % sides, a whisker from the 20 % to the 99 % side. */
function drawErfMarks(ctx: CanvasRenderingContext2D, g: ChartGeometry, t: Theme): void {
  const { plot } = g;
  ctx.save();
  ctx.beginPath();
  ctx.rect(plot.x0, plot.y0, plot.x1 - plot.x0, plot.y1 - plot.y0);
  ctx.clip();
  for (const model of ['cnn', 'vit'] as const) {
    const marks = g.erf.filter((m) => m.model === model);
    if (!marks.length) continue;
    const colour = model === 'vit' ? t.erfVit : t.erfCnn;
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.setLineDash(model === 'cnn' ? [5, 3] : []);
    ctx.beginPath();
    marks.forEach((m, i) => (i ? ctx.lineTo(m.x, m.y) : ctx.moveTo(m.x, m.y)));
    ctx.stroke();
    ctx.setLineDash([]);
    for (const m of marks) {
      ctx.beginPath();
      ctx.moveTo(m.x, m.yLo);
      ctx.lineTo(m.x, m.yHi);
      ctx.moveTo(m.x - 3, m.yLo);
      ctx.lineTo(m.x + 3, m.yLo);
      ctx.moveTo(m.x - 3, m.yHi);
      ctx.lineTo(m.x + 3, m.yHi);
      ctx.stroke();
      erfMarker(ctx, model, m.x, m.y);
    }
  }
  ctx.restore();
}
