/** DOM-free chart maths: linear scales, tick values, and the ViT-vs-CNN distance chart's data in pixels. */
import type { ErfReport } from '../../src/shared/explainTypes';

export interface LinearScale {
  (v: number): number;
  domain: [number, number];
  range: [number, number];
  invert(p: number): number;
  ticks(count?: number): number[];
}

/** Maps domain [d0, d1] linearly onto range [r0, r1] (a flat domain maps to the range's middle). */
export function linearScale(domain: [number, number], range: [number, number]): LinearScale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const k = d1 !== d0 ? (r1 - r0) / (d1 - d0) : 0;
  const f = ((v: number) => (d1 !== d0 ? r0 + (v - d0) * k : (r0 + r1) / 2)) as LinearScale;
  f.domain = [d0, d1];
  f.range = [r0, r1];
  f.invert = (p: number) => (k !== 0 ? d0 + (p - r0) / k : d0);
  f.ticks = (count = 5) => niceTicks(Math.min(d0, d1), Math.max(d0, d1), count);
  return f;
}

/** Round tick values (1, 2, 5 x 10^k steps) within [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / pow;
  const step = (m >= Math.sqrt(50) ? 10 : m >= Math.sqrt(10) ? 5 : m >= Math.sqrt(2) ? 2 : 1) * pow; // as d3.ticks
  const start = Math.ceil(lo / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/** Rounds a domain outwards to tick steps, so the axis ends on labelled ticks. */
export function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (!(hi > lo)) return [lo, lo + 1];
  const t = niceTicks(lo, hi, count);
  const step = t.length > 1 ? t[1] - t[0] : hi - lo;
  return [Math.floor(lo / step) * step, Math.ceil(hi / step - 1e-9) * step];
}

export interface DistanceChartInput {
  vitLayers: number;
  heads: number;
  /** Mean attention distance per head [layers * heads], input pixels. */
  distances: ArrayLike<number>;
  /** CNN theoretical receptive field size per layer (input pixels), null without a CNN. */
  cnnRf: number[] | null;
  /** ViT input size (long side), drawn as a reference line. */
  inputPx: number;
  disabled?: (lh: number) => boolean;
  /** Measured ERF sides (chart pixels) once an explanation has arrived: the ViT's per block, the CNN's per layer. */
  erf?: { vit: ErfSides[]; cnn: ErfSides[] | null; cnnLayers: number } | null;
}

/** One depth's measured ERF: squares holding 20 % (lo), 50 % (mid) and 99 % (hi) of the unit's change, chart pixels. */
export interface ErfSides {
  depth: number; // 1-based block (ViT) or layer (CNN)
  lo: number;
  mid: number;
  hi: number;
}

export interface ErfMark {
  model: 'vit' | 'cnn';
  depth: number;
  x: number;
  y: number; // the 50 % side
  yLo: number; // 20 %
  yHi: number; // 99 %
  sides: ErfSides;
}

export interface ChartGeometry {
  width: number;
  height: number;
  plot: { x0: number; y0: number; x1: number; y1: number }; // pixel box of the plot area
  x: LinearScale; // depth -> px
  y: LinearScale; // input pixels -> px
  dots: { x: number; y: number; layer: number; head: number; disabled: boolean }[];
  line: { x: number; y: number }[];
  /** Measured ERF marks (empty before an explanation), ViT first, each model's in depth order. */
  erf: ErfMark[];
  inputLineY: number;
}

/**
 * A model's measured ERF sides in the chart's pixels: the report's sides are in that model's input pixels,
 * scaled like the CNN line (cnnRfSizes: the geometric mean of the two axes' ratios) onto the ViT's input.
 */
export function erfSides(report: ErfReport, modelInput: [number, number], chartInput: [number, number]): ErfSides[] {
  const k = Math.sqrt((chartInput[0] / modelInput[0]) * (chartInput[1] / modelInput[1]));
  return report.layers.map((l) => ({ depth: l.depth, lo: l.sides['0.2'] * k, mid: l.sides['0.5'] * k, hi: l.sides['0.99'] * k }));
}

/** The measured ERF series in words, for the chart's accessible label. */
export function erfDescription(erf: NonNullable<DistanceChartInput['erf']>): string {
  const part = (name: string, unit: string, s: ErfSides[]) => `${name} measured ERF, side holding 50% of the change (20–99%) per ${unit}: ${
    s.map((p) => `${p.depth}: ${Math.round(p.mid)} px (${Math.round(p.lo)}–${Math.round(p.hi)})`).join(', ')}.`;
  return [part('ViT', 'block', erf.vit), erf.cnn ? part('CNN', 'layer', erf.cnn) : ''].filter(Boolean).join(' ');
}

/**
 * Figure 7 of the ViT paper with the CNN beside it, on one pixel axis: x = network depth (ViT layer 1..L;
 * CNN layer i of C placed at the same relative depth, (i+1)/C * L), y = distance in input pixels.
 */
export function distanceChart(inp: DistanceChartInput, width: number, height: number, margin = { left: 52, right: 12, top: 12, bottom: 40 }): ChartGeometry {
  const plot = { x0: margin.left, y0: margin.top, x1: width - margin.right, y1: height - margin.bottom };
  const L = Math.max(1, inp.vitLayers);
  let maxY = inp.inputPx;
  for (let i = 0; i < inp.distances.length; i++) if (inp.distances[i] > maxY) maxY = inp.distances[i];
  if (inp.cnnRf) for (const r of inp.cnnRf) if (r > maxY) maxY = r;
  for (const p of [...(inp.erf?.vit ?? []), ...(inp.erf?.cnn ?? [])]) if (p.hi > maxY) maxY = p.hi;
  const x = linearScale([0, L + 0.5], [plot.x0, plot.x1]);
  const y = linearScale(niceDomain(0, maxY, 5), [plot.y1, plot.y0]);
  const dots: ChartGeometry['dots'] = [];
  const heads = Math.max(1, inp.heads);
  for (let l = 0; l < inp.vitLayers; l++) {
    for (let h = 0; h < inp.heads; h++) {
      const lh = l * inp.heads + h;
      const v = inp.distances[lh];
      if (!Number.isFinite(v)) continue;
      // a small horizontal jitter by head so the dots of one layer do not hide each other
      const jitter = ((h + 0.5) / heads - 0.5) * 0.5;
      dots.push({ x: x(l + 1 + jitter), y: y(v), layer: l, head: h, disabled: !!inp.disabled?.(lh) });
    }
  }
  const line = (inp.cnnRf ?? []).map((r, i, a) => ({ x: x(((i + 1) / a.length) * L), y: y(r) }));
  // the ViT's ERF at its block; the CNN's at the same relative depth as its theoretical field on the line
  const mark = (model: ErfMark['model'], s: ErfSides, at: number): ErfMark => ({ model, depth: s.depth, x: x(at), y: y(s.mid), yLo: y(s.lo), yHi: y(s.hi), sides: s });
  const cnnLayers = Math.max(1, inp.erf?.cnnLayers ?? 1);
  const erf = [
    ...(inp.erf?.vit ?? []).map((s) => mark('vit', s, s.depth)),
    ...(inp.erf?.cnn ?? []).map((s) => mark('cnn', s, (s.depth / cnnLayers) * L)),
  ];
  return { width, height, plot, x, y, dots, line, erf, inputLineY: y(inp.inputPx) };
}

/** Indices of the largest `fraction` of `values` (at least one), largest first, ties by index. */
export function topCells(values: ArrayLike<number>, fraction: number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  return order.slice(0, Math.max(1, Math.round(values.length * fraction)));
}
