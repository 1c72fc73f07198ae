/**
 * ViT Inspector webview entry (bundled to dist/webview.js, browser IIFE). Thin DOM controller: state and maths
 * live in ./logic (DOM-free, unit tested); this file wires events, messages and canvases.
 */
import './dom/cspNonce'; // first: before the toolkit's modules run
import {
  provideVSCodeDesignSystem, vsCodeButton, vsCodeCheckbox, vsCodeDropdown, vsCodeOption, vsCodePanels, vsCodePanelTab,
  vsCodePanelView, vsCodeProgressRing,
} from '@vscode/webview-ui-toolkit';
import type { HostToWebview, WebviewToHost } from '../src/protocol';
import type { Prediction } from '../src/core/types';
import { Analysis, layerMap, maskContour, maxEntropy, predictionDiff } from './logic/analysis';
import { distanceChart } from './logic/chart';
import { HeadsPainter } from './logic/colorize';
import { cnnRfSizes, rfBoxForToken } from './logic/compare';
import { cellAt, compactSheet, fitSize, isMoveKey, moveCell, patchAtPixel, patchRect, tokenName, tokenToPatch } from './logic/geometry';
import type { SheetLayout } from './logic/geometry';
import { emptyModel, handleHostMessage } from './logic/messages';
import type { AppModel, Change } from './logic/messages';
import { packedLut } from './logic/palette';
import type { Action, Dims, UiState, View } from './logic/state';
import { headIndex, isHeadEnabled, reduce, restoreState, toSaved, views } from './logic/state';
import { ctx2d, drawChart, drawContour, drawGrid, drawMap, imageCanvas, readTheme, shadeOutside, sizeCanvas, strokeRect } from './dom/draw';
import type { Theme } from './dom/draw';
import { buildSkeleton, h } from './dom/skeleton';
import type { Els } from './dom/skeleton';

interface VsCodeApi {
  postMessage(m: WebviewToHost): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
declare global {
  interface Window {
    __vitInspectorBench?: { moveQuery(token: number): number; breakdown(): Record<string, number> };
  }
}


const vscode: VsCodeApi = typeof acquireVsCodeApi === 'function'
  ? acquireVsCodeApi()
  : { postMessage: () => undefined, getState: () => undefined, setState: () => undefined };
const post = (m: WebviewToHost) => vscode.postMessage(m);

let els!: Els; // built in boot(), once the document has a body
let model: AppModel = emptyModel();
let state: UiState = restoreState(vscode.getState(), null);
let analysis: Analysis | null = null;
let theme!: Theme;
let image: HTMLCanvasElement | null = null;
let sheet: SheetLayout | null = null;
let painter: HeadsPainter | null = null;
let headsImage: ImageData | null = null;
let headsCtx: CanvasRenderingContext2D | null = null;
let headsSmall: HTMLCanvasElement | null = null;
let headsSmallCtx: CanvasRenderingContext2D | null = null;
let hoverQuery: number | null = null;
let lastPatch = -1;
let inspectionAt = 0;
let firstPosted = false;
let scratchMap: Float32Array = new Float32Array(0);
let scratchMap2: Float32Array = new Float32Array(0);
let rolloutTimer = 0;
let scalingDone = -1; // layer the scaling table shows, -1 none
let scoresAskedFor: number | undefined; // payload id the scores were asked for

const dims = (): Dims | null => model.dims;
const query = () => hoverQuery ?? state.query;
const disabledSet = () => state.disabledHeads;

// ---------------------------------------------------------------- state

type Part = 'heads' | 'headsOv' | 'patches' | 'enlarged' | 'rollout' | 'compare' | 'chart' | 'scaling' | 'mask' | 'maskResult' | 'controls';
const partView: Record<Part, View | null> = {
  heads: null, headsOv: 'heads', patches: 'patches', enlarged: 'heads', rollout: 'heads', compare: 'compare', chart: 'compare',
  scaling: 'scaling', mask: 'scaling', maskResult: 'scaling', controls: null,
};
const dirty = new Set<Part>();
let frame = 0;

function invalidate(...parts: Part[]): void {
  for (const p of parts) dirty.add(p);
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; flush(); });
}

function flush(): void {
  if (!model.payload) return;
  for (const k of Object.keys(breakdown)) delete breakdown[k as Part];
  for (const p of [...dirty]) {
    const v = partView[p];
    if (v && v !== state.view) continue; // stays dirty until its view shows
    dirty.delete(p);
    const t0 = performance.now();
    paint[p]();
    breakdown[p] = performance.now() - t0;
  }
}
/** Milliseconds of each part in the last flush (exposed to the benchmark). */
const breakdown: Partial<Record<Part | 'headsFill', number>> = {};

let saveTimer = 0;
function save(): void {
  clearTimeout(saveTimer);
  saveTimer = window.setTimeout(() => vscode.setState(toSaved(state)), 150);
}

function dispatch(a: Action): void {
  const d = dims();
  if (!d) return;
  const prev = state;
  state = reduce(state, a, d);
  if (state === prev) return;
  save();
  const parts: Part[] = ['controls'];
  if (prev.query !== state.query) parts.push('heads', 'patches', 'enlarged', 'rollout', 'compare', 'mask', 'maskResult');
  if (prev.layer !== state.layer) parts.push('patches', 'compare', 'scaling', 'maskResult');
  if (prev.cnnDepth !== state.cnnDepth) parts.push('compare');
  if (prev.disabledHeads !== state.disabledHeads) { parts.push('heads', 'headsOv', 'patches', 'enlarged', 'compare', 'chart', 'maskResult'); scheduleRollout(); }
  if (prev.fusion !== state.fusion || prev.discardRatio !== state.discardRatio) scheduleRollout();
  if (prev.massThreshold !== state.massThreshold) parts.push('rollout');
  if (prev.maskedTokens !== state.maskedTokens) parts.push('mask');
  if (prev.enlarged !== state.enlarged || prev.cursor !== state.cursor) parts.push('headsOv', 'enlarged');
  if (prev.showImage !== state.showImage) { setupHeads(); parts.push('heads', 'headsOv'); }
  if (prev.view !== state.view) {
    parts.push(...(Object.keys(partView) as Part[]).filter((p) => partView[p] === state.view));
    if (state.view === 'heads') scheduleRollout();
  }
  invalidate(...parts);
}

// ---------------------------------------------------------------- host messages

window.addEventListener('message', (e: MessageEvent) => {
  const r = handleHostMessage(model, e.data as HostToWebview);
  if (!r) return;
  model = r.model;
  applyModelChanges(r.changed);
});

/** #app[data-state]: waiting (no inspection yet), ready (an inspection is shown), error (and no inspection). */
function setAppState(v: 'waiting' | 'ready' | 'error'): void {
  const app = document.getElementById('app');
  if (app) app.dataset.state = v;
}

function applyModelChanges(changed: Change[]): void {
  if (changed.includes('progress')) {
    els.progress.hidden = !model.progress;
    els.progressText.textContent = model.progress ?? '';
  }
  if (changed.includes('error')) {
    els.error.hidden = !model.error;
    els.errorText.textContent = model.error?.message ?? '';
    const action = model.error?.action;
    els.errorButton.hidden = !action;
    els.errorButton.textContent = action === 'selectModel' ? 'Select model…' : action === 'selectCnn' ? 'Select CNN…' : 'Retry';
    if (!model.payload) setAppState(model.error ? 'error' : 'waiting');
  }
  if (changed.includes('payload') && model.payload) {
    inspectionAt = performance.now();
    firstPosted = false;
    setupPayload();
    return;
  }
  if (changed.includes('settings') && model.payload) {
    renderPredictions(els.predictions, model.payload.predictions.slice(0, model.settings.topK));
    setupHeads();
    invalidate('heads', 'patches', 'enlarged', 'rollout', 'compare', 'maskResult');
  }
  if (changed.includes('maskResult')) invalidate('maskResult');
  if (changed.includes('scores')) invalidate('scaling');
}

/** The image's full path: the host's serializer reopens the panel from PanelState.imagePath after a reload. */
function imagePathOf(p: { imageName: string; imagePath?: string } | null): string | undefined {
  return p?.imagePath || document.body.dataset.imagePath || p?.imageName || undefined;
}

function setupPayload(): void {
  const p = model.payload!;
  const d = model.dims!;
  const saved = vscode.getState() ?? state;
  state = restoreState(saved, d, imagePathOf(p));
  analysis = new Analysis(p);
  image = imageCanvas(p.image);
  lastPatch = d.prefixTokens.length + Math.floor(d.grid[0] / 2) * d.grid[1] + Math.floor(d.grid[1] / 2); // the centre patch
  hoverQuery = null;
  scalingDone = -1;
  const patches = d.tokens - d.prefixTokens.length;
  scratchMap = new Float32Array(patches);
  scratchMap2 = new Float32Array(patches);
  els.empty.hidden = true;
  els.tabs.hidden = false;
  setAppState('ready');
  els.title.textContent = `${p.imageName} — ${p.summary.name}`;
  els.tabs.setAttribute('activeid', `tab-${state.view}`);
  setupControls();
  setupHeads();
  renderPredictions(els.predictions, p.predictions.slice(0, model.settings.topK));
  renderSummary();
  for (const part of Object.keys(partView) as Part[]) dirty.add(part);
  scheduleRollout();
  // the heads sheet and the first view paint now (synchronously), so 'first' measures real work
  paint.heads();
  dirty.delete('heads');
  flush();
  save();
}

function setupControls(): void {
  const d = model.dims!;
  const p = model.payload!;
  const sel = els.querySelect;
  sel.replaceChildren(h('vscode-option', { value: 'patch' }, 'A patch (grid)'), ...d.prefixTokens.map((_, i) => h('vscode-option', { value: String(i) }, tokenName(d, i))));
  for (const r of [els.patchLayer, els.vitDepth, els.scalingLayer]) { r.input.max = String(d.layers); }
  els.cnnDepth.input.max = String(Math.max(1, d.cnnLayers));
  els.cnnDepth.input.disabled = d.cnnLayers === 0;
  els.cnnMissing.hidden = !!p.cnn;
  els.cnnPanel.classList.toggle('vi-unavailable', !p.cnn);
  els.cnnMissingText.textContent = p.cnn ? '' : (p.cnnError ?? 'No CNN selected for the comparison.');
  updateControls();
}

/** Reflects the state in the controls (cheap; on every change). */
function updateControls(): void {
  const d = dims();
  if (!d) return;
  const q = state.query;
  const isPrefix = q < d.prefixTokens.length;
  const want = isPrefix ? String(q) : 'patch';
  if (els.querySelect.value !== want) els.querySelect.value = want;
  if (!isPrefix) lastPatch = q;
  els.queryLabel.textContent = `Query: ${tokenName(d, query())} (token ${query()})`;
  for (const r of [els.patchLayer, els.vitDepth, els.scalingLayer]) {
    r.input.value = String(state.layer + 1);
    r.out.textContent = `${state.layer + 1} / ${d.layers}`;
  }
  els.cnnDepth.input.value = String(state.cnnDepth + 1);
  const cnn = model.payload?.cnn;
  els.cnnDepth.out.textContent = cnn ? `${state.cnnDepth + 1} / ${cnn.layers.length}` : '–';
  els.cnnLinked.checked = state.cnnLinked;
  els.discard.input.value = String(state.discardRatio);
  els.discard.out.textContent = state.discardRatio.toFixed(2);
  els.mass.input.value = String(state.massThreshold);
  els.mass.out.textContent = state.massThreshold.toFixed(2);
  if (els.fusion.value !== state.fusion) els.fusion.value = state.fusion;
  els.showImage.checked = state.showImage;
  const e = state.enlarged;
  els.headEnabled.hidden = !e;
  if (e) els.headEnabled.checked = isHeadEnabled(state, headIndex(d, e.layer, e.head));
  els.enableAll.toggleAttribute('disabled', state.disabledHeads.length === 0);
  const off = state.disabledHeads.length;
  els.headsLabel.textContent = `Cursor: layer ${state.cursor.layer + 1}, head ${state.cursor.head + 1}${isHeadEnabled(state, headIndex(d, state.cursor.layer, state.cursor.head)) ? '' : ' (off)'} · ${off} head${off === 1 ? '' : 's'} switched off`;
  els.maskCount.textContent = `${state.maskedTokens.length} patch${state.maskedTokens.length === 1 ? '' : 'es'} masked`;
  els.runMasked.toggleAttribute('disabled', state.maskedTokens.length === 0);
}

// ---------------------------------------------------------------- heads sheet

function setupHeads(): void {
  const p = model.payload;
  const d = dims();
  if (!p || !d) return;
  const maxWidth = Math.max(480, Math.min(1100, (document.body.clientWidth || 1000) - 420));
  // painted at 1 px per patch into a small buffer, shown k times larger: few pixels to touch per repaint
  const { painted, shown } = compactSheet(d.layers, d.heads, d.grid, maxWidth);
  sheet = shown;
  for (const c of [els.headsBg, els.heads, els.headsOv]) sizeCanvas(c, sheet.width, sheet.height);
  els.heads.dataset.layout = [sheet.left, sheet.top, sheet.cellW, sheet.cellH, sheet.gap].join(','); // for tests: cell (l, h) is at left + h*(cellW+gap), top + l*(cellH+gap)
  headsCtx = ctx2d(els.heads);
  headsCtx.imageSmoothingEnabled = false;
  headsCtx.globalCompositeOperation = 'copy'; // each repaint replaces the whole canvas: no clear needed
  headsSmall = document.createElement('canvas');
  sizeCanvas(headsSmall, painted.width, painted.height);
  headsSmallCtx = ctx2d(headsSmall);
  headsImage = headsSmallCtx.createImageData(painted.width, painted.height);
  const lut = packedLut(model.settings.colormap, state.showImage ? 185 : 255);
  painter = new HeadsPainter(painted, { attention: p.attention, tokens: d.tokens, prefix: d.prefixTokens.length, grid: d.grid }, lut, headsImage.data);
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
  if (state.showImage && image) {
    for (let l = 0; l < d.layers; l++) for (let hd = 0; hd < d.heads; hd++) {
      bg.drawImage(image, sheet.left + hd * (sheet.cellW + sheet.gap), sheet.top + l * (sheet.cellH + sheet.gap), sheet.cellW, sheet.cellH);
    }
  }
}

/** Repaints every head for the current query: one pass into one small ImageData, one put, one scaled draw. Returns ms. */
function paintHeads(): number {
  if (!painter || !headsImage || !headsCtx) return 0;
  const t0 = performance.now();
  const q = query();
  const off = disabledSet();
  const hash = painter.paint(q, off.length ? (lh) => off.includes(lh) : () => false);
  breakdown.headsFill = performance.now() - t0;
  headsSmallCtx!.putImageData(headsImage, 0, 0);
  headsCtx.drawImage(headsSmall!, 0, 0, sheet!.width, sheet!.height);
  const ms = performance.now() - t0;
  els.heads.dataset.checksum = (hash >>> 0).toString(16);
  els.heads.dataset.query = String(q);
  els.heads.dataset.painted = String((Number(els.heads.dataset.painted) || 0) + 1);
  post({ type: 'painted', what: 'heads', ms });
  if (!firstPosted) {
    firstPosted = true;
    post({ type: 'painted', what: 'first', ms: performance.now() - inspectionAt });
    document.body.dataset.firstPaint = '1';
  }
  return ms;
}

function paintHeadsOverlay(): void {
  const d = dims();
  if (!sheet || !d) return;
  const c = ctx2d(els.headsOv);
  c.clearRect(0, 0, sheet.width, sheet.height);
  const cellRect = (l: number, hd: number) => [sheet!.left + hd * (sheet!.cellW + sheet!.gap), sheet!.top + l * (sheet!.cellH + sheet!.gap), sheet!.cellW, sheet!.cellH] as const;
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

// ---------------------------------------------------------------- single maps

/** Draws the image, then a patch map over it, then the grid and the query patch. */
function drawImageWithMap(canvas: HTMLCanvasElement, map: Float32Array | null, opts: { maxSize?: number; alpha?: number; grid?: boolean; lo?: number; hi?: number; queryMark?: boolean } = {}): { w: number; h: number; c: CanvasRenderingContext2D } {
  const p = model.payload!;
  const d = dims()!;
  const { width: w, height: hh } = fitSize(p.image.width, p.image.height, opts.maxSize ?? 384, opts.maxSize ?? 384);
  sizeCanvas(canvas, w, hh);
  const c = ctx2d(canvas);
  c.clearRect(0, 0, w, hh);
  if (image) {
    c.imageSmoothingEnabled = true;
    c.drawImage(image, 0, 0, w, hh);
  }
  if (map) drawMap(c, map, d.grid[0], d.grid[1], packedLut(model.settings.colormap), 0, 0, w, hh, opts.alpha ?? 0.65, opts.lo, opts.hi);
  if (opts.grid) drawGrid(c, d.grid[0], d.grid[1], w, hh, theme.fg);
  if (opts.queryMark !== false) markQuery(c, w, hh);
  return { w, h: hh, c };
}

function markQuery(c: CanvasRenderingContext2D, w: number, hh: number): void {
  const d = dims()!;
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

function currentLayerMap(out: Float32Array, attention: Float32Array = model.payload!.attention, layer = state.layer): Float32Array {
  return layerMap(attention, analysis!.dims, layer, query(), disabledSet(), out);
}

function paintPatches(): void {
  const map = els.overlay.checked ? currentLayerMap(scratchMap) : null;
  drawImageWithMap(els.patches, map, { maxSize: 448, grid: true, alpha: 0.6 });
  els.patches.dataset.query = String(query());
}

function paintEnlarged(): void {
  const d = dims()!;
  const e = state.enlarged;
  if (!e) {
    els.enlargedTitle.textContent = 'Click a head to enlarge it';
    drawImageWithMap(els.enlarged, null, { maxSize: 256 });
    return;
  }
  const a = analysis!.dims;
  const n = a.tokens;
  const row = ((e.layer * a.heads + e.head) * n + query()) * n + a.prefix;
  scratchMap2.set(model.payload!.attention.subarray(row, row + n - a.prefix));
  const on = isHeadEnabled(state, headIndex(d, e.layer, e.head));
  els.enlargedTitle.textContent = `Layer ${e.layer + 1}, head ${e.head + 1}${on ? '' : ' (switched off)'}`;
  drawImageWithMap(els.enlarged, scratchMap2, { maxSize: 256, alpha: 0.7 });
  els.enlarged.dataset.cell = `${e.layer},${e.head}`;
}

function scheduleRollout(): void {
  if (!analysis) return;
  clearTimeout(rolloutTimer);
  if (analysis.hasRollout(state)) { invalidate('rollout'); return; }
  if (state.view !== 'heads') return; // computed when the heads view shows
  els.rolloutStatus.textContent = 'Computing rollout…';
  rolloutTimer = window.setTimeout(() => {
    if (!analysis) return;
    const t0 = performance.now();
    analysis.rolloutJoint(state);
    els.rolloutStatus.textContent = `Rollout over ${dims()!.layers} layers (${state.fusion} fusion, discard ${state.discardRatio.toFixed(2)}) in ${Math.round(performance.now() - t0)} ms.`;
    invalidate('rollout');
  }, 120);
}

function paintRollout(): void {
  const d = dims()!;
  if (!analysis || !analysis.hasRollout(state)) {
    drawImageWithMap(els.rollout, null, { maxSize: 256 });
    return;
  }
  const map = analysis.rolloutMap(state, query());
  const { w, h: hh, c } = drawImageWithMap(els.rollout, map, { maxSize: 256, alpha: 0.7 });
  const mask = analysis.dinoMask(map, state.massThreshold);
  shadeOutside(c, mask, d.grid[0], d.grid[1], w, hh, theme.bg, 0.45);
  drawContour(c, maskContour(mask, d.grid[0], d.grid[1]), d.grid[0], d.grid[1], w, hh, theme.mask);
  let kept = 0;
  for (const v of mask) kept += v;
  els.rollout.dataset.kept = String(kept);
  els.rollout.dataset.query = String(query());
}

// ---------------------------------------------------------------- ViT vs CNN

function paintCompare(): void {
  const p = model.payload!;
  const d = dims()!;
  drawImageWithMap(els.vit, currentLayerMap(scratchMap), { maxSize: 320, alpha: 0.65, grid: false });
  els.vitCaption.textContent = `Layer ${state.layer + 1} of ${d.layers}, query ${tokenName(d, query())}.`;
  const { w, h: hh, c } = drawImageWithMap(els.cnn, null, { maxSize: 320, queryMark: false });
  const cnn = p.cnn;
  if (!cnn) {
    delete els.cnn.dataset.rfBox;
    els.cnnCaption.textContent = 'No CNN to compare with.';
    return;
  }
  const located = tokenToPatch(d, query()) !== null;
  const at = located ? query() : lastPatch;
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

function paintChart(): void {
  const p = model.payload!;
  const d = dims()!;
  const cs = getComputedStyle(els.chart.parentElement ?? document.body);
  const width = Math.max(360, Math.min(900, Math.floor(parseFloat(cs.width) || 640)));
  sizeCanvas(els.chart, width, 300);
  const g = distanceChart({
    vitLayers: d.layers, heads: d.heads, distances: analysis!.meanDistances(), cnnRf: p.cnn ? cnnRfSizes(p.cnn, p.summary.layout) : null,
    inputPx: Math.max(...p.summary.layout.inputSize), disabled: (lh) => state.disabledHeads.includes(lh),
  }, width, 300);
  drawChart(ctx2d(els.chart), g, theme, {
    x: 'network depth (ViT layer; CNN layers at the same relative depth)', y: 'input pixels',
    dots: 'ViT mean attention distance (per head)', line: p.cnn ? 'CNN receptive field' : null, input: `input ${Math.max(...p.summary.layout.inputSize)} px`,
  });
  els.chart.dataset.dots = String(g.dots.length);
  els.chart.dataset.linePoints = String(g.line.length);
}

// ---------------------------------------------------------------- scaling & masking

function paintScaling(): void {
  if (!analysis) return;
  const d = dims()!;
  if (scalingDone === state.layer) return;
  if (!model.scores) return;
  const rows = analysis.scalingRows(model.scores).filter((r) => r.layer === state.layer);
  const emax = maxEntropy(d.tokens);
  const t = els.scalingTable;
  const bar = (v: number, max: number, cls: string, label: string) => h('progress', { class: `vi-bar ${cls}`, max, value: v, 'aria-label': label });
  t.replaceChildren(
    h('caption', {}, `Layer ${state.layer + 1}: per head, averaged over all ${d.tokens} query rows. Entropy in nats (uniform = ${emax.toFixed(2)}).`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Head'), h('th', { scope: 'col' }, 'Entropy, scaled / unscaled'), h('th', { scope: 'col' }, 'Max weight, scaled / unscaled'))),
    h('tbody', {}, ...rows.map((r) => h('tr', { 'data-head': r.head },
      h('th', { scope: 'row' }, `h${r.head + 1}`),
      h('td', {}, h('div', { class: 'vi-pair' },
        bar(r.scaledEntropy, emax, 'vi-bar-scaled', `entropy scaled ${r.scaledEntropy.toFixed(2)}`), h('span', {}, r.scaledEntropy.toFixed(2)),
        bar(r.unscaledEntropy, emax, 'vi-bar-unscaled', `entropy unscaled ${r.unscaledEntropy.toFixed(2)}`), h('span', {}, r.unscaledEntropy.toFixed(2)))),
      h('td', {}, h('div', { class: 'vi-pair' },
        bar(r.scaledMax, 1, 'vi-bar-scaled', `max weight scaled ${r.scaledMax.toFixed(3)}`), h('span', {}, r.scaledMax.toFixed(3)),
        bar(r.unscaledMax, 1, 'vi-bar-unscaled', `max weight unscaled ${r.unscaledMax.toFixed(3)}`), h('span', {}, r.unscaledMax.toFixed(3))))))),
  );
  t.dataset.layer = String(state.layer);
  scalingDone = state.layer;
}

function paintMask(): void {
  const d = dims()!;
  const { w, h: hh, c } = drawImageWithMap(els.maskCanvas, null, { maxSize: 320, grid: true });
  c.save();
  c.fillStyle = theme.bg;
  c.strokeStyle = theme.mask;
  c.lineWidth = 1.5;
  for (const t of state.maskedTokens) {
    const r = patchRect(d, t, w, hh);
    if (!r) continue;
    c.globalAlpha = 0.75;
    c.fillRect(r.x, r.y, r.w, r.h);
    c.globalAlpha = 1;
    c.beginPath();
    c.moveTo(r.x + 2, r.y + 2);
    c.lineTo(r.x + r.w - 2, r.y + r.h - 2);
    c.moveTo(r.x + r.w - 2, r.y + 2);
    c.lineTo(r.x + 2, r.y + r.h - 2);
    c.stroke();
  }
  c.restore();
  els.maskCanvas.dataset.masked = state.maskedTokens.join(',');
}

function paintMaskResult(): void {
  const mr = model.maskResult;
  els.maskResult.hidden = !mr;
  if (!mr || !analysis) return;
  const p = model.payload!;
  const d = dims()!;
  const before = currentLayerMap(scratchMap);
  const after = currentLayerMap(scratchMap2, mr.attention);
  let hi = 0;
  for (let i = 0; i < before.length; i++) hi = Math.max(hi, before[i], after[i]);
  drawImageWithMap(els.maskBefore, before, { maxSize: 200, alpha: 0.75, lo: 0, hi });
  drawImageWithMap(els.maskAfter, after, { maxSize: 200, alpha: 0.75, lo: 0, hi });
  // share of the query's attention (all keys, mean of enabled heads) the unmasked keys held before
  const masked = new Set(mr.maskedTokens);
  const a = analysis.dims;
  let kept = 0;
  let count = 0;
  for (let hd = 0; hd < a.heads; hd++) {
    const lh = state.layer * a.heads + hd;
    if (state.disabledHeads.includes(lh)) continue;
    const row = (lh * a.tokens + query()) * a.tokens;
    for (let k = 0; k < a.tokens; k++) if (!masked.has(k)) kept += p.attention[row + k];
    count++;
  }
  kept = count ? kept / count : 0;
  els.maskCaption.textContent = `Layer ${state.layer + 1}, query ${tokenName(d, query())}: the ${a.tokens - masked.size} unmasked keys held ${(kept * 100).toFixed(1)}% of the attention; with ${masked.size} masked they hold 100% (each weight ×${kept > 0 ? (1 / kept).toFixed(2) : '∞'} on average at the first layer; later layers also change because their inputs change). Same colour scale on both sides.`;
  const stale = mr.maskedTokens.join(',') !== state.maskedTokens.join(',');
  if (stale) els.maskCaption.textContent += ' (The mask has changed since this run.)';
  const rows = predictionDiff(p.predictions.slice(0, model.settings.topK), mr.predictions.slice(0, model.settings.topK));
  const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
  els.maskPreds.replaceChildren(
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Class'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'), h('th', { scope: 'col' }, 'Change'))),
    h('tbody', {}, ...rows.map((r) => h('tr', {},
      h('th', { scope: 'row' }, r.label),
      h('td', {}, pct(r.before)), h('td', {}, pct(r.after)),
      h('td', { class: r.before !== null && r.after !== null ? (r.after >= r.before ? 'vi-up' : 'vi-down') : '' },
        r.before !== null && r.after !== null ? `${r.after >= r.before ? '+' : ''}${((r.after - r.before) * 100).toFixed(1)} pt` : r.after === null ? 'left the top list' : 'new')))),
  );
  els.maskResult.dataset.masked = mr.maskedTokens.join(',');
}

// ---------------------------------------------------------------- tables

function renderPredictions(t: HTMLTableElement, preds: Prediction[]): void {
  t.replaceChildren(
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Class'), h('th', { scope: 'col' }, 'Probability'), h('th', { scope: 'col', class: 'vi-num' }, '%'))),
    h('tbody', {}, ...preds.map((p, i) => h('tr', { 'data-rank': i + 1, 'data-index': p.index },
      h('th', { scope: 'row' }, p.label),
      h('td', {}, h('progress', { class: 'vi-bar', max: 1, value: p.probability, 'aria-label': `${p.label}: ${(p.probability * 100).toFixed(1)} percent` })),
      h('td', { class: 'vi-num' }, (p.probability * 100).toFixed(1))))),
  );
  t.dataset.count = String(preds.length);
}

function renderSummary(): void {
  const s = model.payload!.summary;
  const l = s.layout;
  const pp = s.preprocessing;
  const resize = 'shortestEdge' in pp.resizeTo ? `shortest edge ${pp.resizeTo.shortestEdge}` : `${pp.resizeTo.height}×${pp.resizeTo.width}`;
  const rows: [string, string][] = [
    ['Model', `${s.name}`], ['Path', s.path], ['Layers', String(s.layers)], ['Heads', String(s.heads)], ['d_model', String(s.dModel)],
    ['d_head = d_model / h', `${s.headDim} = ${s.dModel} / ${s.heads}`], ['Tokens', String(s.tokens)],
    ['Patch size', `${l.patchSize[0]}×${l.patchSize[1]} px`], ['Grid', `${l.grid[0]}×${l.grid[1]} = ${l.grid[0] * l.grid[1]} patches`],
    ['Prefix tokens', l.prefixTokens.length ? l.prefixTokens.join(', ') : 'none'], ['Input size', `${l.inputSize[0]}×${l.inputSize[1]}`],
    ['Parameters', s.parameters.toLocaleString('en-US')], ['Opset', String(s.opset)], ['Producer', s.producer || '–'],
    ['Preprocessing source', pp.source], ['Resize', `${resize}, ${pp.resample}`], ['Centre crop', pp.centerCrop ? `${pp.centerCrop[0]}×${pp.centerCrop[1]}` : 'none'],
    ['Final size', `${pp.size[0]}×${pp.size[1]}`], ['Rescale', String(pp.rescaleFactor)],
    ['Mean', pp.mean.map((v) => v.toFixed(3)).join(', ')], ['Std', pp.std.map((v) => v.toFixed(3)).join(', ')],
    ['Attention nodes', String(s.attentionNodes.length)],
  ];
  els.summary.replaceChildren(
    h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))),
      h('tr', {}, h('th', { scope: 'row' }, 'Notes'), h('td', {}, s.notes.length ? h('ul', {}, ...s.notes.map((n) => h('li', {}, n))) : 'none'))),
  );
}

const paint: Record<Part, () => void> = {
  heads: () => void paintHeads(),
  headsOv: paintHeadsOverlay,
  patches: paintPatches,
  enlarged: paintEnlarged,
  rollout: paintRollout,
  compare: paintCompare,
  chart: paintChart,
  scaling: () => {
    if (!model.scores) {
      // The scores (as large as the attention) come only when this view first needs them.
      els.scalingTable.replaceChildren(h('caption', {}, 'Fetching the softmax inputs…'));
      if (scoresAskedFor !== model.payload?.id) {
        scoresAskedFor = model.payload?.id;
        post({ type: 'needScores', id: model.payload!.id });
      }
    } else if (scalingDone === -1) {
      els.scalingTable.replaceChildren(h('caption', {}, 'Computing softmax statistics…'));
      setTimeout(() => { paintScaling(); }, 0);
    } else paintScaling();
  },
  mask: paintMask,
  maskResult: paintMaskResult,
  controls: updateControls,
};

// ---------------------------------------------------------------- events

/** Canvas pixel coordinates of a pointer event (the canvas may be scaled by CSS). */
function canvasPoint(c: HTMLCanvasElement, e: MouseEvent): { x: number; y: number } {
  const r = c.getBoundingClientRect();
  return { x: ((e.clientX - r.left) * c.width) / (r.width || 1), y: ((e.clientY - r.top) * c.height) / (r.height || 1) };
}

function patchUnder(c: HTMLCanvasElement, e: MouseEvent): number {
  const d = dims();
  if (!d) return -1;
  const pt = canvasPoint(c, e);
  return patchAtPixel(d, pt.x, pt.y, c.width, c.height);
}

function setHover(t: number | null): void {
  if (t === hoverQuery || (t !== null && t < 0)) return;
  hoverQuery = t;
  invalidate('heads', 'patches', 'enlarged', 'rollout', 'compare', 'controls');
}

function patchCanvas(c: HTMLCanvasElement, opts: { hover: boolean; onSpace?: () => void; onClick?: (t: number, e: MouseEvent) => void }): void {
  if (opts.hover) {
    c.addEventListener('mousemove', (e) => setHover(patchUnder(c, e)));
    c.addEventListener('mouseleave', () => setHover(null));
  }
  c.addEventListener('click', (e) => {
    const t = patchUnder(c, e);
    if (t < 0) return;
    if (opts.onClick) opts.onClick(t, e);
    else { hoverQuery = null; dispatch({ type: 'setQuery', token: t }); }
  });
  c.addEventListener('keydown', (e) => {
    if (isMoveKey(e.key)) {
      e.preventDefault();
      hoverQuery = null;
      dispatch({ type: 'moveQuery', key: e.key });
    } else if ((e.key === ' ' || e.key === 'Enter') && opts.onSpace) {
      e.preventDefault();
      opts.onSpace();
    }
  });
}

function boot(): void {
  provideVSCodeDesignSystem().register(
    vsCodeButton(), vsCodeCheckbox(), vsCodeDropdown(), vsCodeOption(), vsCodePanels(), vsCodePanelTab(), vsCodePanelView(), vsCodeProgressRing(),
  );
  const app = document.getElementById('app');
  app?.replaceChildren(); // the host's "Loading…" placeholder
  els = buildSkeleton(app ?? document.body);
  setAppState('waiting');
  theme = readTheme();
  // save the image path at once, so a reload before the first inspection can still restore the panel
  const path = document.body.dataset.imagePath;
  if (path && path !== state.imagePath) {
    state = { ...state, imagePath: path, maskedTokens: [] };
    vscode.setState(toSaved(state));
  }
  patchCanvas(els.patches, { hover: true });
  patchCanvas(els.vit, { hover: false });
  patchCanvas(els.maskCanvas, {
    hover: false,
    onClick: (t) => dispatch({ type: 'toggleMask', token: t }),
    onSpace: () => dispatch({ type: 'toggleMask', token: state.query }),
  });
  patchCanvas(els.enlarged, { hover: false });
  patchCanvas(els.rollout, { hover: false });

  els.heads.addEventListener('click', (e) => {
    if (!sheet) return;
    const pt = canvasPoint(els.heads, e);
    const cell = cellAt(sheet, pt.x, pt.y);
    if (!cell) return;
    if (e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) dispatch({ type: 'toggleHead', ...cell });
    else dispatch({ type: 'enlarge', cell });
    dispatch({ type: 'setCursor', cell });
  });
  els.heads.addEventListener('keydown', (e) => {
    if (!sheet) return;
    if (e.key.startsWith('Arrow') || e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      dispatch({ type: 'setCursor', cell: moveCell(sheet, state.cursor, e.key) });
    } else if (e.key === 'Enter') {
      e.preventDefault();
      dispatch({ type: 'enlarge', cell: state.cursor });
    } else if (e.key === ' ') {
      e.preventDefault();
      dispatch({ type: 'toggleHead', ...state.cursor });
    } else if (e.key === 'Escape') {
      dispatch({ type: 'enlarge', cell: null });
    }
  });
  els.heads.addEventListener('focus', () => invalidate('headsOv'));
  els.heads.addEventListener('blur', () => invalidate('headsOv'));

  const onChange = (el: HTMLElement, f: () => void) => el.addEventListener('change', f);
  const onInput = (el: HTMLElement, f: () => void) => el.addEventListener('input', f);

  onChange(els.querySelect, () => {
    const v = els.querySelect.value;
    const d = dims();
    if (!d) return;
    const t = v === 'patch' ? (lastPatch >= d.prefixTokens.length ? lastPatch : d.prefixTokens.length) : Number(v);
    hoverQuery = null;
    dispatch({ type: 'setQuery', token: t });
  });
  for (const r of [els.patchLayer, els.vitDepth, els.scalingLayer]) onInput(r.input, () => dispatch({ type: 'setLayer', layer: Number(r.input.value) - 1 }));
  onInput(els.cnnDepth.input, () => dispatch({ type: 'setCnnDepth', depth: Number(els.cnnDepth.input.value) - 1 }));
  onChange(els.cnnLinked, () => { if (els.cnnLinked.checked !== state.cnnLinked) dispatch({ type: 'setCnnLinked', linked: els.cnnLinked.checked }); });
  onChange(els.overlay, () => invalidate('patches'));
  onChange(els.showImage, () => { if (els.showImage.checked !== state.showImage) dispatch({ type: 'setShowImage', show: els.showImage.checked }); });
  onChange(els.headEnabled, () => {
    const e = state.enlarged;
    if (e) dispatch({ type: 'setHeadEnabled', ...e, enabled: els.headEnabled.checked });
  });
  els.enableAll.addEventListener('click', () => dispatch({ type: 'enableAllHeads' }));
  onChange(els.fusion, () => dispatch({ type: 'setFusion', fusion: els.fusion.value as UiState['fusion'] }));
  onInput(els.discard.input, () => dispatch({ type: 'setDiscardRatio', value: Number(els.discard.input.value) }));
  onInput(els.mass.input, () => dispatch({ type: 'setMassThreshold', value: Number(els.mass.input.value) }));
  els.runMasked.addEventListener('click', () => {
    if (!state.maskedTokens.length) return;
    post({ type: 'runMasked', maskedTokens: [...state.maskedTokens] });
    model = { ...model, progress: `Running the model with ${state.maskedTokens.length} masked patches…` };
    applyModelChanges(['progress']);
  });
  els.clearMask.addEventListener('click', () => dispatch({ type: 'clearMask' }));
  els.selectCnn.addEventListener('click', () => post({ type: 'command', command: 'selectCnn' }));
  els.errorButton.addEventListener('click', () => {
    const a = model.error?.action;
    if (a) post({ type: 'command', command: a });
  });
  els.tabs.addEventListener('change', (e) => {
    if (e.target !== els.tabs) return; // checkboxes and dropdowns inside the views bubble 'change' too
    const detail = (e as CustomEvent<HTMLElement | undefined>).detail;
    const id = detail?.id || els.tabs.activeid || els.tabs.getAttribute('activeid') || '';
    const v = id.replace(/^tab-/, '') as View;
    if (views.includes(v) && v !== state.view) dispatch({ type: 'setView', view: v });
  });

  // theme changes: VS Code swaps the body class
  new MutationObserver(() => {
    theme = readTheme();
    if (!model.payload) return;
    setupHeads();
    invalidate(...(Object.keys(partView) as Part[]));
  }).observe(document.body, { attributes: true, attributeFilter: ['class'] });

  // ---------------------------------------------------------------- benchmark hook

  window.__vitInspectorBench = {
    /** Sets the query and repaints synchronously what a real move repaints; returns the milliseconds taken. */
    moveQuery(token: number): number {
      const t0 = performance.now();
      hoverQuery = null;
      dispatch({ type: 'setQuery', token });
      if (frame) { cancelAnimationFrame(frame); frame = 0; }
      dirty.add('heads');
      flush();
      return performance.now() - t0;
    },
    /** Per-part milliseconds of the last repaint (heads, patches, compare, ...). */
    breakdown: () => ({ ...breakdown }),
  };

  post({ type: 'ready' });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot, { once: true });
else boot();
