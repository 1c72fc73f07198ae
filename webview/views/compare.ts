/** The ViT vs CNN view: the ViT layer's map beside the CNN unit's receptive field, and the distance-by-depth chart. */
import { app, dims, query } from '../app';
import { distanceChart, erfDescription, erfSides, type DistanceChartInput } from '../logic/chart';
import { cnnRfSizes, rfBoxForToken } from '../logic/compare';
import { tokenName, tokenToPatch } from '../logic/geometry';
import { ctx2d, drawChart, sizeCanvas, strokeRect } from '../dom/draw';
import { currentExplanation } from './explain';
import { currentLayerMap, drawImageWithMap, paintedToken } from './imageMap';

export function paintCompare(): void {
  const p = app.model.payload!;
  const d = dims()!;
  const { els, state, theme } = app;
  drawImageWithMap(els.vit, currentLayerMap(app.scratchMap), { maxSize: 320, alpha: 0.65, grid: false });
  els.vit.dataset.query = String(paintedToken());
  els.vitCaption.textContent = `Layer ${state.layer + 1} of ${d.layers}, query ${tokenName(d, query())}.`;
  const { w, h: hh, c } = drawImageWithMap(els.cnn, null, { maxSize: 320, queryMark: false });
  const cnn = p.cnn;
  if (!cnn) {
    delete els.cnn.dataset.rfBox;
    els.cnnCaption.textContent = 'No CNN to compare with.';
    return;
  }
  const located = tokenToPatch(d, query()) !== null;
  const at = located ? query() : app.lastPatch;
  const r = rfBoxForToken(cnn, state.cnnDepth, p.summary.layout, at);
  if (!r) return;
  const [ih, iw] = p.summary.layout.inputSize;
  const sx = w / iw;
  const sy = hh / ih;
  const bx0 = Math.round(r.box.x0 * sx), by0 = Math.round(r.box.y0 * sy), bx1 = Math.round(r.box.x1 * sx), by1 = Math.round(r.box.y1 * sy);
  c.save();
  c.fillStyle = theme.rf;
  c.globalAlpha = 0.18;
  c.fillRect(bx0, by0, bx1 - bx0, by1 - by0);
  c.restore();
  strokeRect(c, bx0, by0, bx1 - bx0, by1 - by0, theme.bg, 4);
  strokeRect(c, bx0, by0, bx1 - bx0, by1 - by0, theme.rf, 2);
  // the unit's centre
  const cx = (r.layer.start[1] + r.unit.col * r.layer.jump[1]) * (iw / cnn.inputSize[1]) * sx;
  const cy = (r.layer.start[0] + r.unit.row * r.layer.jump[0]) * (ih / cnn.inputSize[0]) * sy;
  c.fillStyle = theme.accent;
  c.beginPath();
  c.arc(cx, cy, 3, 0, Math.PI * 2);
  c.fill();
  els.cnn.dataset.rfBox = `${bx0},${by0},${bx1},${by1}`;
  els.cnn.dataset.rfBoxInput = [r.box.x0, r.box.y0, r.box.x1, r.box.y1].map((v) => Math.round(v * 10) / 10).join(',');
  els.cnn.dataset.cnnLayer = String(state.cnnDepth);
  els.cnn.dataset.unit = `${r.unit.row},${r.unit.col}`;
  const L = r.layer;
  els.cnnCaption.textContent = `${L.op} ${L.node || L.output} (layer ${state.cnnDepth + 1} of ${cnn.layers.length}), unit (${r.unit.row}, ${r.unit.col}): theoretical field ${L.rf[0]}×${L.rf[1]} px, stride ${L.jump[0]}×${L.jump[1]} in ${cnn.model || 'the CNN'}'s ${cnn.inputSize[0]}×${cnn.inputSize[1]} input.${located ? '' : ` ${tokenName(d, query())} has no place in the image: the box is at ${tokenName(d, at)}.`}`;
}

export function paintChart(): void {
  const p = app.model.payload!;
  const d = dims()!;
  const { els, state } = app;
  const cs = getComputedStyle(els.chart.parentElement ?? document.body);
  const width = Math.max(360, Math.min(900, Math.floor(parseFloat(cs.width) || 640)));
  sizeCanvas(els.chart, width, 300);
  const stats = app.model.headStats;
  if (!stats) return; // asked for when this view shows; painted when it comes
  const erf = measuredErf();
  const g = distanceChart({
    vitLayers: d.layers, heads: d.heads, distances: stats.meanDistance, cnnRf: p.cnn ? cnnRfSizes(p.cnn, p.summary.layout) : null,
    inputPx: Math.max(...p.summary.layout.inputSize), disabled: (lh) => state.disabledHeads.includes(lh), erf,
  }, width, 300);
  drawChart(ctx2d(els.chart), g, app.theme, {
    x: 'network depth (ViT layer; CNN layers at the same relative depth)', y: 'input pixels',
    dots: 'ViT mean attention distance (per head)', line: p.cnn ? 'CNN theoretical receptive field' : null, input: `input ${Math.max(...p.summary.layout.inputSize)} px`,
    erfVit: erf ? 'ViT measured ERF (50%; bar 20–99%)' : null, erfCnn: erf?.cnn ? 'CNN measured ERF (50%; bar 20–99%)' : null,
  });
  els.chart.dataset.dots = String(g.dots.length);
  els.chart.dataset.linePoints = String(g.line.length);
  els.chart.dataset.erfPoints = String(g.erf.length);
  els.chart.setAttribute('aria-label', `Mean attention distance of every head against depth, and the CNN theoretical receptive field against depth, in input pixels.${erf ? ` ${erfDescription(erf)}` : ' Run Explain to add the measured effective receptive fields.'}`);
}

/** The explanation's measured ERF in the chart's units (the ViT's input pixels); explain.ts drops it at each new inspection. */
function measuredErf(): DistanceChartInput['erf'] {
  const x = currentExplanation();
  const p = app.model.payload!;
  if (!x?.vit.erf) return null;
  const chartInput = p.summary.layout.inputSize;
  return {
    vit: erfSides(x.vit.erf, x.vit.inputSize, chartInput),
    cnn: x.cnn?.erf ? erfSides(x.cnn.erf, x.cnn.inputSize, chartInput) : null,
    cnnLayers: p.cnn?.layers.length ?? Math.max(1, ...(x.cnn?.erf?.layers.map((l) => l.depth) ?? [])),
  };
}
