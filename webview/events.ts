/** Event wiring: pointer and keyboard on the canvases and the heads sheet, the controls, the tabs and theme changes. */
import { app, dims, post } from './app';
import { cellAt, isMoveKey, moveCell, patchAtPixel } from './logic/geometry';
import type { UiState, View } from './logic/state';
import { views } from './logic/state';
import { readTheme } from './dom/draw';
import { dispatch } from './dispatch';
import { applyModelChanges } from './inspection';
import { askForNeeds } from './needs';
import { allParts, invalidate } from './schedule';
import { setupHeads } from './views/heads';

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
  if (t === app.hoverQuery || (t !== null && t < 0)) return;
  app.hoverQuery = t;
  invalidate('heads', 'patches', 'enlarged', 'rollout', 'compare', 'controls');
  askForNeeds(); // the hovered token's rows
}

/** A canvas of the image's patches: click sets the query (or onClick), arrow keys move it, Space/Enter call onSpace. */
function patchCanvas(c: HTMLCanvasElement, opts: { hover: boolean; onSpace?: () => void; onClick?: (t: number, e: MouseEvent) => void }): void {
  if (opts.hover) {
    c.addEventListener('mousemove', (e) => setHover(patchUnder(c, e)));
    c.addEventListener('mouseleave', () => setHover(null));
  }
  c.addEventListener('click', (e) => {
    const t = patchUnder(c, e);
    if (t < 0) return;
    if (opts.onClick) opts.onClick(t, e);
    else { app.hoverQuery = null; dispatch({ type: 'setQuery', token: t }); }
  });
  c.addEventListener('keydown', (e) => {
    if (isMoveKey(e.key)) {
      e.preventDefault();
      app.hoverQuery = null;
      dispatch({ type: 'moveQuery', key: e.key });
    } else if ((e.key === ' ' || e.key === 'Enter') && opts.onSpace) {
      e.preventDefault();
      opts.onSpace();
    }
  });
}

/** The heads sheet: click enlarges a head (with a modifier: switches it on/off); arrows, Home/End, Enter, Space, Escape. */
function wireHeadsSheet(): void {
  const { els } = app;
  els.heads.addEventListener('click', (e) => {
    const sheet = app.sheet;
    if (!sheet) return;
    const pt = canvasPoint(els.heads, e);
    const cell = cellAt(sheet, pt.x, pt.y);
    if (!cell) return;
    if (e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) dispatch({ type: 'toggleHead', ...cell });
    else dispatch({ type: 'enlarge', cell });
    dispatch({ type: 'setCursor', cell });
  });
  els.heads.addEventListener('keydown', (e) => {
    const sheet = app.sheet;
    if (!sheet) return;
    if (e.key.startsWith('Arrow') || e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      dispatch({ type: 'setCursor', cell: moveCell(sheet, app.state.cursor, e.key) });
    } else if (e.key === 'Enter') {
      e.preventDefault();
      dispatch({ type: 'enlarge', cell: app.state.cursor });
    } else if (e.key === ' ') {
      e.preventDefault();
      dispatch({ type: 'toggleHead', ...app.state.cursor });
    } else if (e.key === 'Escape') {
      dispatch({ type: 'enlarge', cell: null });
    }
  });
  els.heads.addEventListener('focus', () => invalidate('headsOv'));
  els.heads.addEventListener('blur', () => invalidate('headsOv'));
}

/** The controls, buttons and tabs. */
function wireControls(): void {
  const { els } = app;
  const onChange = (el: HTMLElement, f: () => void) => el.addEventListener('change', f);
  const onInput = (el: HTMLElement, f: () => void) => el.addEventListener('input', f);

  onChange(els.querySelect, () => {
    const v = els.querySelect.value;
    const d = dims();
    if (!d) return;
    const t = v === 'patch' ? (app.lastPatch >= d.prefixTokens.length ? app.lastPatch : d.prefixTokens.length) : Number(v);
    app.hoverQuery = null;
    dispatch({ type: 'setQuery', token: t });
  });
  for (const r of [els.patchLayer, els.vitDepth, els.scalingLayer]) onInput(r.input, () => dispatch({ type: 'setLayer', layer: Number(r.input.value) - 1 }));
  onInput(els.cnnDepth.input, () => dispatch({ type: 'setCnnDepth', depth: Number(els.cnnDepth.input.value) - 1 }));
  onChange(els.cnnLinked, () => { if (els.cnnLinked.checked !== app.state.cnnLinked) dispatch({ type: 'setCnnLinked', linked: els.cnnLinked.checked }); });
  onChange(els.overlay, () => invalidate('patches'));
  onChange(els.showImage, () => { if (els.showImage.checked !== app.state.showImage) dispatch({ type: 'setShowImage', show: els.showImage.checked }); });
  onChange(els.headEnabled, () => {
    const e = app.state.enlarged;
    if (e) dispatch({ type: 'setHeadEnabled', ...e, enabled: els.headEnabled.checked });
  });
  els.enableAll.addEventListener('click', () => dispatch({ type: 'enableAllHeads' }));
  onChange(els.fusion, () => dispatch({ type: 'setFusion', fusion: els.fusion.value as UiState['fusion'] }));
  onInput(els.discard.input, () => dispatch({ type: 'setDiscardRatio', value: Number(els.discard.input.value) }));
  onInput(els.mass.input, () => dispatch({ type: 'setMassThreshold', value: Number(els.mass.input.value) }));
  els.runMasked.addEventListener('click', () => {
    if (!app.state.maskedTokens.length) return;
    post({ type: 'runMasked', maskedTokens: [...app.state.maskedTokens] });
    app.model = { ...app.model, progress: `Running the model with ${app.state.maskedTokens.length} masked patches…` };
    applyModelChanges(['progress']);
  });
  els.clearMask.addEventListener('click', () => dispatch({ type: 'clearMask' }));
  els.selectCnn.addEventListener('click', () => post({ type: 'command', command: 'selectCnn' }));
  els.errorButton.addEventListener('click', () => {
    const a = app.model.error?.action;
    if (a) post({ type: 'command', command: a });
  });
  els.tabs.addEventListener('change', (e) => {
    if (e.target !== els.tabs) return; // checkboxes and dropdowns inside the views bubble 'change' too
    const detail = (e as CustomEvent<HTMLElement | undefined>).detail;
    const id = detail?.id || els.tabs.activeid || els.tabs.getAttribute('activeid') || '';
    const v = id.replace(/^tab-/, '') as View;
    if (views.includes(v) && v !== app.state.view) dispatch({ type: 'setView', view: v });
  });
}

/** Wires every listener of the page (once, in boot, after the skeleton is built). */
export function wireEvents(): void {
  const { els } = app;
  patchCanvas(els.patches, { hover: true });
  patchCanvas(els.vit, { hover: false });
  patchCanvas(els.maskCanvas, {
    hover: false,
    onClick: (t) => dispatch({ type: 'toggleMask', token: t }),
    onSpace: () => dispatch({ type: 'toggleMask', token: app.state.query }),
  });
  patchCanvas(els.enlarged, { hover: false });
  patchCanvas(els.rollout, { hover: false });
  wireHeadsSheet();
  wireControls();

  // theme changes: VS Code swaps the body class
  new MutationObserver(() => {
    app.theme = readTheme();
    if (!app.model.payload) return;
    setupHeads();
    invalidate(...allParts());
  }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
