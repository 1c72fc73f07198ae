/**
 * The ViT paper's figure 7 as an SVG string: a per-head statistic (mean attention distance, entropy) against
 * the layer, each head a point with a bar of ± one standard deviation over the surveyed images. The same chart
 * draws the CNN's measured ERF per layer (series: the 20/50/99 % sides instead of heads; cnnErfAsSeries).
 * Colours are VS Code theme variables, so the chart follows the theme. No DOM: the host renders it into a static page.
 */
import type { CnnErfStat, HeadStat } from './survey';

export interface ChartOptions {
  title: string;
  yLabel: string;
  unit: string;
  width?: number;
  height?: number;
  /** The y axis' top (another chart's, to share a scale); default: a round number above every mean + std. */
  yMax?: number;
  /** Legend and point names of the series (default: heads, "h1", "head 1"…). */
  series?: { legend: string; name: string }[];
  /** Axis label under the layers (default "Network depth (layer)"). */
  xLabel?: string;
}

/** The CNN's ERF sides as a chart's statistic: [layer][side], a series per fraction. */
export function cnnErfAsSeries(c: CnnErfStat): { stat: HeadStat; series: { legend: string; name: string }[] } {
  const fs = c.protocol.fractions.map(String);
  const pct = (f: string) => `${+(Number(f) * 100).toPrecision(3)} %`;
  return {
    stat: {
      mean: Array.from({ length: c.layers }, (_, l) => fs.map((f) => c.mean[f][l])),
      std: Array.from({ length: c.layers }, (_, l) => fs.map((f) => c.std[f][l])),
      n: c.n,
    },
    series: fs.map((f) => ({ legend: pct(f), name: `side holding ${pct(f)}` })),
  };
}

/** Head colours, cycled: classes vi-head-0 … vi-head-5 (a strict CSP forbids style attributes; SURVEY_CHART_CSS colours them). */
const COLOURS = ['blue', 'orange', 'green', 'red', 'purple', 'yellow'];
export const SURVEY_CHART_CSS = COLOURS.map((c, i) => `.vi-survey-chart .vi-head-${i} { fill: var(--vscode-charts-${c}); stroke: var(--vscode-charts-${c}); }`).join('\n');
const M = { left: 56, right: 16, top: 28, bottom: 44 };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Where each head's point sits: x spread within its layer's column, y by its mean. */
export function chartTop(stat: HeadStat): number {
  let top = 0;
  for (const [l, row] of stat.mean.entries()) for (const [h, m] of row.entries()) top = Math.max(top, m + stat.std[l][h]);
  return niceCeil(top || 1);
}

export function chartPoints(stat: HeadStat, width: number, height: number, yTop?: number) {
  const layers = stat.mean.length;
  const heads = stat.mean[0]?.length ?? 0;
  const yMax = yTop ?? chartTop(stat);
  const plotW = width - M.left - M.right;
  const plotH = height - M.top - M.bottom;
  const column = plotW / Math.max(1, layers);
  const x = (l: number, h: number) => M.left + column * (l + 0.5) + (heads > 1 ? (h / (heads - 1) - 0.5) * column * 0.6 : 0);
  const y = (v: number) => M.top + plotH * (1 - v / yMax);
  const points = [];
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const m = stat.mean[l][h];
      const s = stat.std[l][h];
      points.push({ layer: l, head: h, mean: m, std: s, cx: x(l, h), cy: y(m), y0: y(Math.max(0, m - s)), y1: y(m + s) });
    }
  }
  return { points, yMax, y, column, layers, heads, plotW, plotH };
}

export function surveyChartSvg(stat: HeadStat, o: ChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const { points, yMax, y, column, layers, heads, plotH } = chartPoints(stat, width, height, o.yMax);
  const series = (h: number) => o.series?.[h] ?? { legend: `h${h + 1}`, name: `head ${h + 1}` };
  const what = o.series ? `${layers} layers × ${heads} series` : `${layers} layers × ${heads} heads`;
  const f = (v: number) => v.toFixed(1);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="vi-survey-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(`${o.title}: ${what}, n = ${stat.n} images`)}">`);
  parts.push(`<text class="vi-title" x="${M.left}" y="16">${escapeXml(o.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(`<line class="vi-grid" x1="${M.left}" x2="${width - M.right}" y1="${f(y(v))}" y2="${f(y(v))}"/>`);
    parts.push(`<text class="vi-tick" x="${M.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  for (let l = 0; l < layers; l++) {
    parts.push(`<text class="vi-tick" x="${f(M.left + column * (l + 0.5))}" y="${M.top + plotH + 16}" text-anchor="middle">${l + 1}</text>`);
  }
  parts.push(`<text class="vi-axis" x="${f(M.left + (width - M.left - M.right) / 2)}" y="${height - 6}" text-anchor="middle">${escapeXml(o.xLabel ?? 'Network depth (layer)')}</text>`);
  parts.push(`<text class="vi-axis" transform="translate(14 ${f(M.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  // legend: one entry per colour (colours repeat every COLOURS.length heads)
  const shown = Math.min(heads, COLOURS.length);
  for (let h = 0; h < shown; h++) {
    const x = width - M.right - (shown - h) * 46;
    const extra = heads > COLOURS.length ? `, ${h + 1 + COLOURS.length}…` : '';
    parts.push(`<g class="vi-legend vi-head-${h}"><circle cx="${x + 4}" cy="12" r="3.5"/><text x="${x + 10}" y="16">${escapeXml(series(h).legend)}${extra}</text></g>`);
  }
  for (const p of points) {
    const label = `layer ${p.layer + 1}, ${series(p.head).name}: ${p.mean.toFixed(2)} ± ${p.std.toFixed(2)} ${o.unit} (n = ${stat.n})`;
    parts.push(`<g class="vi-point vi-head-${p.head % COLOURS.length}" data-layer="${p.layer}" data-head="${p.head}"><title>${escapeXml(label)}</title>`
      + `<line class="vi-spread" x1="${f(p.cx)}" x2="${f(p.cx)}" y1="${f(p.y0)}" y2="${f(p.y1)}"/>`
      + `<circle cx="${f(p.cx)}" cy="${f(p.cy)}" r="3.5"/></g>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

/** 1, 2 or 5 times a power of ten, at least v. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
