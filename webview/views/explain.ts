/**
 * The "Explain" section of the ViT vs CNN view: a class picker (top-1 by default, any class), the class-specific
 * map over the image for the ViT (Transformer Input Sampling) and the CNN (RISE on the same grid), the deletion
 * and insertion curves of every map with their AUCs, and the measured effective receptive field at matched
 * depth (ViT block ℓ beside the CNN layer at the same relative depth, each with its theoretical box, and the
 * ViT's centre-token attention there); the measured sides against depth go into the distance-vs-depth chart
 * (compare.ts). The passes run in the host's inference process under a cancellable progress notification. Self-contained: its own DOM, its own message listener.
 */
import type { Explanation, ModelExplanation } from '../../src/shared/explainTypes';
import type { HostToWebview } from '../../src/shared/protocol';
import { app, post } from '../app';
import { ctx2d, drawMap, sizeCanvas, strokeRect } from '../dom/draw';
import { h } from '../dom/skeleton';
import { topCells } from '../logic/chart';
import { packedLut } from '../logic/palette';
import { invalidate } from '../schedule';
import { drawBaseImage } from './imageMap';

const MAP_NAMES: Record<string, string> = { classSpecific: 'class-specific', attention: 'last-layer CLS attention', rollout: 'rollout', random: 'random (baseline)' };

interface ExplainEls {
  classSelect: HTMLSelectElement;
  run: HTMLElement;
  status: HTMLElement;
  vitMap: HTMLCanvasElement;
  cnnMap: HTMLCanvasElement;
  curves: HTMLCanvasElement;
  table: HTMLTableElement;
  depth: HTMLInputElement;
  depthOut: HTMLOutputElement;
  vitErf: HTMLCanvasElement;
  cnnErf: HTMLCanvasElement;
  erfCaption: HTMLElement;
}

let els: ExplainEls | null = null;
let result: Explanation | null = null;

/** Builds the section into `parent` and starts listening for explanations. */
export function mountExplain(parent: HTMLElement): void {
  const canvas = (id: string, label: string) => h('canvas', { id, 'aria-label': label, role: 'img', width: 16, height: 16, class: 'vi-canvas' });
  const classSelect = h('select', { id: 'vi-explain-class', 'aria-label': 'Target class' }, h('option', { value: '' }, 'Top-1 of each model'));
  const run = h('vscode-button', { id: 'vi-explain-run' }, 'Explain');
  const status = h('span', { id: 'vi-explain-status', class: 'vi-hint', role: 'status' }, 'Forward passes only: about a thousand for the default models.');
  const depth = h('input', { id: 'vi-explain-depth', type: 'range', min: 1, max: 1, step: 1, value: 1, class: 'vi-range' });
  const depthOut = h('output', { for: 'vi-explain-depth', class: 'vi-range-value' });
  const e: ExplainEls = {
    classSelect, run, status, depth, depthOut,
    vitMap: canvas('vi-explain-vit', 'ViT class-specific map over the image'),
    cnnMap: canvas('vi-explain-cnn', 'CNN class-specific map over the image'),
    curves: canvas('vi-explain-curves', 'Deletion and insertion curves of every map'),
    table: h('table', { id: 'vi-explain-table', class: 'vi-table', 'aria-label': 'Deletion and insertion AUC per map' }),
    vitErf: canvas('vi-explain-vit-erf', 'ViT measured effective receptive field and attention at this depth'),
    cnnErf: canvas('vi-explain-cnn-erf', 'CNN measured effective receptive field and theoretical field at the matched depth'),
    erfCaption: h('p', { class: 'vi-hint', id: 'vi-explain-erf-caption' }),
  };
  parent.append(h('section', { id: 'vi-explain', 'aria-label': 'Class-specific maps, faithfulness and effective receptive field' },
    h('h2', {}, 'What made the models say it: class-specific maps by forward passes'),
    h('div', { class: 'vi-control' }, h('label', { for: 'vi-explain-class' }, 'Class'), classSelect, run, status),
    h('div', { class: 'vi-row' },
      h('figure', { class: 'vi-col vi-figure' }, h('figcaption', {}, 'ViT: Transformer Input Sampling'), e.vitMap),
      h('figure', { class: 'vi-col vi-figure' }, h('figcaption', {}, 'CNN: RISE on the same grid'), e.cnnMap)),
    h('h2', {}, 'Faithfulness: deletion (lower is better) and insertion (higher is better)'),
    e.curves, e.table,
    h('h2', {}, 'Effective receptive field, measured'),
    h('div', { class: 'vi-control' }, h('label', { for: 'vi-explain-depth' }, 'ViT block'), depth, depthOut),
    h('div', { class: 'vi-row' },
      h('figure', { class: 'vi-col vi-figure' }, h('figcaption', {}, 'ViT: change of the centre token (colour) and its attention (contour)'), e.vitErf),
      h('figure', { class: 'vi-col vi-figure' }, h('figcaption', {}, 'CNN at matched depth: change of the centre unit, theoretical box'), e.cnnErf)),
    e.erfCaption,
    h('p', { class: 'vi-hint' }, 'The measured sides against depth are drawn in the distance-vs-depth chart above, beside the theoretical field and the mean attention distance.')));
  els = e;
  run.addEventListener('click', requestExplain);
  classSelect.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') requestExplain();
  });
  depth.addEventListener('input', () => paintErf());
  window.addEventListener('message', (ev: MessageEvent) => onHostMessage(ev.data as HostToWebview));
}

function requestExplain(): void {
  if (!els) return;
  const v = els.classSelect.value;
  els.status.textContent = 'Running the passes… (cancel from the notification)';
  els.run.setAttribute('disabled', '');
  post({ type: 'explain', target: v === '' ? null : Number(v) });
}

/** Fills the class picker from the inspection's predictions until an explanation brings every label. */
export function explainPredictionsChanged(): void {
  const p = app.model.payload;
  if (!els || !p || result) return;
  fillClasses(p.predictions.map((q) => [q.index, q.label] as [number, string]));
}

function fillClasses(entries: [number, string][]): void {
  const select = els!.classSelect;
  const keep = select.value;
  select.replaceChildren(h('option', { value: '' }, 'Top-1 of each model'), ...entries.map(([i, l]) => h('option', { value: String(i) }, `${i}: ${l}`)));
  select.value = entries.some(([i]) => String(i) === keep) ? keep : '';
}

function onHostMessage(m: HostToWebview): void {
  if (!els) return;
  if (m?.type === 'inspection') {
    result = null;
    invalidate('chart');
    queueMicrotask(explainPredictionsChanged);
    return;
  }
  if (m?.type !== 'explanation') return;
  els.run.removeAttribute('disabled');
  if (!m.result) {
    els.status.textContent = m.error ?? 'No explanation.';
    return;
  }
  result = m.result;
  fillClasses(result.vit.labels.map((l, i) => [i, l] as [number, string]));
  const v = result.vit;
  els.status.textContent = `${v.faithfulness.protocol.targetLabel}: ${v.passes} ViT passes${result.cnn ? `, ${result.cnn.passes} CNN passes` : ''}, ${Math.round(v.timings.total + (result.cnn?.timings.total ?? 0))} ms in all.`;
  const layers = v.erf?.layers.length ?? 1;
  els.depth.max = String(Math.max(1, layers));
  paintAll();
  invalidate('chart'); // the measured ERF joins the distance-vs-depth chart
}

/** The explanation of the image shown, if one has arrived (the distance chart draws its measured ERF). */
export function currentExplanation(): Explanation | null {
  return result;
}

export function paintAll(): void {
  if (!els || !result) return;
  paintMap(els.vitMap, result.vit);
  if (result.cnn) paintMap(els.cnnMap, result.cnn);
  paintCurves();
  paintErf();
}

const drawImage = (c: HTMLCanvasElement, size: number) => drawBaseImage(c, size, size);

function paintMap(c: HTMLCanvasElement, e: ModelExplanation): void {
  const ctx = drawImage(c, 256);
  const map = e.maps.classSpecific;
  let lo = Infinity, hi = -Infinity;
  for (const v of map) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  drawMap(ctx, map, e.grid[0], e.grid[1], packedLut(app.model.settings.colormap), 0, 0, 256, 256, 0.6, lo, hi > lo ? hi : lo + 1);
  const f = e.faithfulness.maps.classSpecific;
  c.dataset.deletion = f.deletion.toFixed(4);
  c.dataset.insertion = f.insertion.toFixed(4);
  c.setAttribute('aria-label', `${e.kind === 'vit' ? 'ViT' : 'CNN'} class-specific map for ${e.faithfulness.protocol.targetLabel}: deletion ${f.deletion.toFixed(3)}, insertion ${f.insertion.toFixed(3)}`);
}

const SERIES_VARS = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];

function seriesColour(i: number): string {
  return getComputedStyle(document.body).getPropertyValue(SERIES_VARS[i % SERIES_VARS.length]).trim() || ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'][i % 6];
}

function paintCurves(): void {
  const e = els!;
  const r = result!;
  const series: { name: string; model: string; del: [number, number][]; ins: [number, number][]; dash: number[] }[] = [];
  for (const [model, x] of [['ViT', r.vit], ['CNN', r.cnn]] as const) {
    if (!x) continue;
    for (const [name, f] of Object.entries(x.faithfulness.maps)) series.push({ name: MAP_NAMES[name] ?? name, model, del: f.deletionCurve, ins: f.insertionCurve, dash: model === 'CNN' ? [5, 3] : [] });
  }
  const W = 640, H = 240, pad = 34, gap = 30; // colours: --vscode-charts-*, dashed lines: the CNN
  sizeCanvas(e.curves, W, H);
  const c = ctx2d(e.curves);
  const t = app.theme;
  c.clearRect(0, 0, W, H);
  c.font = t.font;
  const pw = (W - 2 * pad - gap) / 2, ph = H - 2 * pad;
  (['Deletion', 'Insertion'] as const).forEach((title, k) => {
    const x0 = pad + k * (pw + gap), y0 = pad;
    c.strokeStyle = t.grid;
    c.strokeRect(x0 + 0.5, y0 + 0.5, pw, ph);
    c.fillStyle = t.fg;
    c.fillText(`${title}: p(target) vs fraction of patches`, x0, y0 - 8);
    c.fillStyle = t.muted;
    c.fillText('0', x0 - 10, y0 + ph + 12);
    c.fillText('1', x0 + pw - 4, y0 + ph + 12);
    c.fillText('1', x0 - 10, y0 + 8);
    series.forEach((s, i) => {
      const pts = k === 0 ? s.del : s.ins;
      c.save();
      c.strokeStyle = seriesColour(i);
      c.setLineDash(s.dash);
      c.lineWidth = 1.5;
      c.beginPath();
      pts.forEach(([x, y], j) => (j ? c.lineTo(x0 + x * pw, y0 + (1 - y) * ph) : c.moveTo(x0 + x * pw, y0 + (1 - y) * ph)));
      c.stroke();
      // the line's number (the table's first column) beside its first point
      c.fillStyle = seriesColour(i);
      c.fillText(String(i + 1), x0 + 3 + i * 9, y0 + (1 - pts[0][1]) * ph - 3);
      c.restore();
    });
  });
  e.table.replaceChildren(
    h('thead', {}, h('tr', {}, h('th', {}, 'Line'), h('th', {}, 'Model'), h('th', {}, 'Map'), h('th', {}, 'Deletion AUC ↓'), h('th', {}, 'Insertion AUC ↑'))),
    h('tbody', {}, ...series.map((s, i) => {
      const x = s.model === 'ViT' ? r.vit : r.cnn!;
      const key = Object.keys(x.faithfulness.maps).find((k) => (MAP_NAMES[k] ?? k) === s.name)!;
      const f = x.faithfulness.maps[key];
      return h('tr', {}, h('td', {}, String(i + 1)), h('td', {}, s.model), h('td', {}, s.name), h('td', {}, f.deletion.toFixed(3)), h('td', {}, f.insertion.toFixed(3)));
    })));
}

/** The CNN layer at the same relative depth as ViT block `l` (1-based) of `layers`. */
export function matchedDepth(l: number, vitLayers: number, cnnLayers: number): number {
  return Math.min(cnnLayers, Math.max(1, Math.round((l / vitLayers) * cnnLayers)));
}

function paintErf(): void {
  const e = els!;
  const r = result;
  if (!r?.vit.erf) return;
  const vl = r.vit.erf.layers;
  const l = Math.min(vl.length, Math.max(1, Number(e.depth.value)));
  e.depthOut.textContent = `${l} of ${vl.length}`;
  const vLayer = vl[l - 1];
  const size = 256;
  const lut = packedLut(app.model.settings.colormap);
  const vc = drawImage(e.vitErf, size);
  const [vr, vcCols] = r.vit.erf.grid;
  drawMap(vc, vLayer.map, vr, vcCols, lut, 0, 0, size, size, 0.65);
  // the attention of the centre token (the unit the ERF is measured at) at this block, mean of heads, as an
  // outline of its top 10% patches: delivered with the explanation, from the model's plain run of the image
  let attentionNote = ' (no attention row in this explanation)';
  if (vLayer.attention) {
    const top = topCells(vLayer.attention, 0.1);
    for (const k of top) strokeRect(vc, (k % vcCols) * (size / vcCols) + 1, Math.floor(k / vcCols) * (size / vr) + 1, size / vcCols - 2, size / vr - 2, app.theme.accent, 1.5);
    e.vitErf.dataset.attentionTop = top.join(',');
    attentionNote = ` Outlined: the ${top.length} patches the centre token attends to most at this block (mean of heads, ${(100 * top.reduce((a, k) => a + vLayer.attention![k], 0)).toFixed(0)}% of its attention).`;
  }
  const side = (s: number, px: number) => (s / px) * size;
  const vSide = side(vLayer.sides['0.5'], r.vit.inputSize[0]);
  const [vcY, vcX] = vLayer.centre.map((v) => (v / r.vit.inputSize[0]) * size);
  strokeRect(vc, vcX - vSide / 2, vcY - vSide / 2, vSide, vSide, app.theme.fg, 2, [4, 3]);
  strokeRect(vc, 1, 1, size - 2, size - 2, app.theme.rf, 2); // the theoretical field: the whole image
  let caption = `ViT block ${l}: 50% of the change within ${vLayer.sides['0.5']} px, 99% within ${vLayer.sides['0.99']} px (theoretical: the whole ${vLayer.theoretical.join('×')} image, orange border; dashed: the 50% square).${attentionNote}`;
  e.vitErf.setAttribute('aria-label', `ViT block ${l}: measured effective receptive field of the centre token, 50% within ${vLayer.sides['0.5']} px${vLayer.attention ? ', with the patches it attends to most outlined' : ''}`);
  if (r.cnn?.erf) {
    const cl = r.cnn.erf.layers;
    const m = matchedDepth(l, vl.length, cl.length);
    const cLayer = cl[m - 1];
    const cc = drawImage(e.cnnErf, size);
    const [cr, ccCols] = r.cnn.erf.grid;
    drawMap(cc, cLayer.map, cr, ccCols, lut, 0, 0, size, size, 0.65);
    const [cy, cx] = cLayer.centre.map((v) => (v / r.cnn!.inputSize[0]) * size);
    const th = side(cLayer.theoretical[0], r.cnn.inputSize[0]);
    strokeRect(cc, cx - th / 2, cy - th / 2, th, th, app.theme.rf, 2);
    const ms = side(cLayer.sides['0.5'], r.cnn.inputSize[0]);
    strokeRect(cc, cx - ms / 2, cy - ms / 2, ms, ms, app.theme.fg, 2, [4, 3]);
    caption += ` CNN layer ${m} of ${cl.length} (${cLayer.op ?? ''}): 50% within ${cLayer.sides['0.5']} px, 99% within ${cLayer.sides['0.99']} px, theoretical ${cLayer.theoretical.join('×')} px (orange box; dashed: the 50% square).`;
  }
  e.erfCaption.textContent = caption;
}
