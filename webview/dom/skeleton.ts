/**
 * Builds the panel's DOM once (no innerHTML with data, no inline styles or handlers: CSS classes only, so
 * the host's nonce CSP holds). Returns references to every element the controller updates.
 */

import { buildAnatomyView } from '../views/anatomy';

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Attrs, ...children: Child[]): HTMLElement;
export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'style' || k.startsWith('on')) throw new Error(`no inline ${k} (CSP)`);
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function range(id: string, label: string, min: number, max: number, step: number, value: number): { wrap: HTMLElement; input: HTMLInputElement; out: HTMLOutputElement } {
  const input = h('input', { id, type: 'range', min, max, step, value, class: 'vi-range' });
  const out = h('output', { for: id, id: `${id}-value`, class: 'vi-range-value' });
  const wrap = h('div', { class: 'vi-control' }, h('label', { for: id }, label), input, out);
  return { wrap, input, out };
}

function canvas(id: string, label: string, extra: Attrs = {}): HTMLCanvasElement {
  return h('canvas', { id, 'aria-label': label, width: 16, height: 16, ...extra });
}

export interface Els {
  root: HTMLElement;
  progress: HTMLElement;
  progressText: HTMLElement;
  error: HTMLElement;
  errorText: HTMLElement;
  errorButton: HTMLElement;
  empty: HTMLElement;
  tabs: HTMLElement & { activeid?: string };
  title: HTMLElement;
  // patches
  patches: HTMLCanvasElement;
  queryLabel: HTMLElement;
  querySelect: HTMLElement & { value: string };
  patchLayer: ReturnType<typeof range>;
  overlay: HTMLElement & { checked: boolean };
  predictions: HTMLTableElement;
  // heads
  headsBg: HTMLCanvasElement;
  heads: HTMLCanvasElement;
  headsOv: HTMLCanvasElement;
  headsLabel: HTMLElement;
  showImage: HTMLElement & { checked: boolean };
  enlarged: HTMLCanvasElement;
  enlargedTitle: HTMLElement;
  headEnabled: HTMLElement & { checked: boolean };
  enableAll: HTMLElement;
  rollout: HTMLCanvasElement;
  rolloutStatus: HTMLElement;
  fusion: HTMLElement & { value: string };
  discard: ReturnType<typeof range>;
  mass: ReturnType<typeof range>;
  // compare
  vit: HTMLCanvasElement;
  cnn: HTMLCanvasElement;
  vitDepth: ReturnType<typeof range>;
  cnnDepth: ReturnType<typeof range>;
  cnnLinked: HTMLElement & { checked: boolean };
  vitCaption: HTMLElement;
  cnnCaption: HTMLElement;
  cnnMissing: HTMLElement;
  cnnMissingText: HTMLElement;
  selectCnn: HTMLElement;
  cnnPanel: HTMLElement;
  chart: HTMLCanvasElement;
  // scaling & masking
  scalingLayer: ReturnType<typeof range>;
  scalingTable: HTMLTableElement;
  maskCanvas: HTMLCanvasElement;
  runMasked: HTMLElement;
  clearMask: HTMLElement;
  maskCount: HTMLElement;
  maskBefore: HTMLCanvasElement;
  maskAfter: HTMLCanvasElement;
  maskCaption: HTMLElement;
  maskPreds: HTMLTableElement;
  maskResult: HTMLElement;
  // summary
  summary: HTMLTableElement;
}

export function buildSkeleton(host: HTMLElement): Els {
  const progressText = h('span', { id: 'vi-progress-text' });
  const progress = h('div', { id: 'vi-progress', class: 'vi-progress', role: 'status', 'aria-live': 'polite', hidden: true }, h('vscode-progress-ring', { 'aria-hidden': 'true' }), progressText);
  const errorText = h('span', { id: 'vi-error-text', class: 'vi-error-text' });
  const errorButton = h('vscode-button', { id: 'vi-error-action', appearance: 'secondary', hidden: true }, 'Retry');
  const error = h('div', { id: 'vi-error', class: 'vi-error', role: 'alert', hidden: true }, h('span', { class: 'codicon-like', 'aria-hidden': 'true' }, '⚠'), errorText, errorButton);
  const empty = h('p', { id: 'vi-empty', class: 'vi-empty' }, 'Waiting for an inspection… Open an image with a ViT model to see its attention.');
  const title = h('h1', { id: 'vi-title', class: 'vi-title' });

  // ---- Patches
  const patches = canvas('vi-patches', 'Image patches. Arrow keys move the query patch, Home selects CLS, click or hover a patch to make it the query.', {
    tabindex: 0, role: 'application', 'aria-roledescription': 'patch grid', 'aria-describedby': 'vi-query-label', class: 'vi-canvas vi-focusable vi-patches',
  });
  const queryLabel = h('p', { id: 'vi-query-label', class: 'vi-query-label', 'aria-live': 'polite' });
  const querySelect = h('vscode-dropdown', { id: 'vi-query-select', 'aria-label': 'Query token' }) as Els['querySelect'];
  const patchLayer = range('vi-patch-layer', 'Layer', 1, 12, 1, 1);
  const overlay = h('vscode-checkbox', { id: 'vi-overlay', checked: true }, 'Overlay the query\u2019s attention (mean of enabled heads)') as Els['overlay'];
  const predictions = h('table', { id: 'vi-predictions', class: 'vi-table vi-predictions', 'aria-label': 'Top predictions' });
  const patchesView = h('div', { class: 'vi-row' },
    h('div', { class: 'vi-col' }, patches, queryLabel),
    h('div', { class: 'vi-col vi-side' },
      h('div', { class: 'vi-control' }, h('label', { for: 'vi-query-select' }, 'Query token'), querySelect),
      patchLayer.wrap, overlay,
      h('h2', {}, 'Predictions'), predictions));

  // ---- Heads
  const headsBg = canvas('vi-heads-bg', '', { class: 'vi-canvas vi-layer-bottom', 'aria-hidden': 'true' });
  const heads = canvas('vi-heads', 'Attention of every layer (rows) and head (columns) from the query. Arrow keys move the cell cursor, Enter enlarges, Space switches the head off or on. Click enlarges, Ctrl/Cmd/Alt/Shift+click switches a head off or on.', {
    tabindex: 0, role: 'application', 'aria-roledescription': 'heads sheet', 'aria-describedby': 'vi-heads-label', class: 'vi-canvas vi-layer-mid',
  });
  const headsOv = canvas('vi-heads-ov', '', { class: 'vi-canvas vi-layer-top', 'aria-hidden': 'true' });
  const headsLabel = h('p', { id: 'vi-heads-label', class: 'vi-hint', 'aria-live': 'polite' });
  const showImage = h('vscode-checkbox', { id: 'vi-show-image', checked: true }, 'Show the image under the heatmaps') as Els['showImage'];
  const enlarged = canvas('vi-head-big', 'Enlarged head; click a patch to make it the query', { class: 'vi-canvas vi-big' });
  const enlargedTitle = h('h3', { id: 'vi-head-big-title' }, 'Click a head to enlarge it');
  const headEnabled = h('vscode-checkbox', { id: 'vi-head-enabled', checked: true }, 'Use this head (rollout, layer means)') as Els['headEnabled'];
  const enableAll = h('vscode-button', { id: 'vi-enable-all', appearance: 'secondary' }, 'Switch all heads on');
  const rollout = canvas('vi-rollout', 'Attention rollout from the query', { class: 'vi-canvas vi-big' });
  const rolloutStatus = h('p', { id: 'vi-rollout-status', class: 'vi-hint', 'aria-live': 'polite' });
  const fusion = h('vscode-dropdown', { id: 'vi-fusion', 'aria-label': 'Head fusion' },
    h('vscode-option', { value: 'mean' }, 'mean'), h('vscode-option', { value: 'max' }, 'max'), h('vscode-option', { value: 'min' }, 'min')) as Els['fusion'];
  const discard = range('vi-discard', 'Discard ratio', 0, 0.99, 0.01, 0.9);
  const mass = range('vi-mass', 'DINO mass threshold', 0, 1, 0.05, 0.6);
  const headsView = h('div', { class: 'vi-row' },
    h('div', { class: 'vi-col' }, h('div', { class: 'vi-scroll' }, h('div', { class: 'vi-stack' }, headsBg, heads, headsOv)), headsLabel, showImage),
    h('div', { class: 'vi-col vi-side' },
      enlargedTitle, enlarged, headEnabled, enableAll,
      h('h2', {}, 'Attention rollout'), rollout, rolloutStatus,
      h('div', { class: 'vi-control' }, h('label', { for: 'vi-fusion' }, 'Head fusion'), fusion),
      discard.wrap, mass.wrap,
      h('p', { class: 'vi-hint' }, 'Switched-off heads are left out of the rollout. The outline keeps the strongest patches holding the threshold share of the rollout mass (DINO).')));

  // ---- ViT vs CNN
  const vit = canvas('vi-vit', 'ViT attention of the selected patch at the chosen layer; click a patch to select it', { class: 'vi-canvas vi-big vi-focusable', tabindex: 0, role: 'application', 'aria-roledescription': 'patch grid' });
  const cnn = canvas('vi-cnn', 'CNN unit receptive field at the same place', { class: 'vi-canvas vi-big', role: 'img' });
  const vitDepth = range('vi-vit-depth', 'ViT layer', 1, 12, 1, 1);
  const cnnDepth = range('vi-cnn-depth', 'CNN layer', 1, 1, 1, 1);
  const cnnLinked = h('vscode-checkbox', { id: 'vi-cnn-linked', checked: true }, 'Match CNN depth to the ViT layer (relative depth)') as Els['cnnLinked'];
  const vitCaption = h('p', { id: 'vi-vit-caption', class: 'vi-hint' });
  const cnnCaption = h('p', { id: 'vi-cnn-caption', class: 'vi-hint' });
  const cnnMissingText = h('span', { id: 'vi-cnn-missing-text' });
  const selectCnn = h('vscode-button', { id: 'vi-select-cnn' }, 'Select a CNN…');
  const cnnMissing = h('div', { id: 'vi-cnn-missing', class: 'vi-notice', hidden: true }, cnnMissingText, selectCnn);
  const cnnPanel = h('figure', { class: 'vi-col vi-figure', id: 'vi-cnn-panel' }, h('figcaption', {}, 'CNN theoretical receptive field'), cnn, cnnDepth.wrap, cnnLinked, cnnCaption);
  const chart = canvas('vi-distance-chart', 'Mean attention distance of every head against depth, and the CNN receptive field size against depth', { class: 'vi-canvas vi-chart', role: 'img' });
  const compareView = h('div', {},
    cnnMissing,
    h('div', { class: 'vi-row' },
      h('figure', { class: 'vi-col vi-figure' }, h('figcaption', {}, 'ViT attention (mean of enabled heads)'), vit, vitDepth.wrap, vitCaption),
      cnnPanel),
    h('h2', {}, 'Attention distance vs receptive field'),
    chart,
    h('p', { class: 'vi-hint' }, 'Dots: mean attention distance of each head (patch queries, weights over patch keys, input pixels). Line: the CNN\u2019s theoretical receptive field size \u221a(h\u00b7w) at the same relative depth. After Explain: the measured effective receptive field of each model\u2019s centre unit (squares: ViT blocks; diamonds: CNN layers), the side of the square holding 50% of its change, the bar from 20% to 99%. Early ViT heads already attend both locally and globally; a CNN\u2019s field grows layer by layer.'));

  // ---- Scaling & masking
  const scalingLayer = range('vi-scaling-layer', 'Layer', 1, 12, 1, 1);
  const scalingTable = h('table', { id: 'vi-scaling-table', class: 'vi-table vi-scaling', 'aria-label': 'Entropy and max weight per head, with and without scaling' });
  const maskCanvas = canvas('vi-mask', 'Masking: click patches (or Space on the query patch) to mask them as keys', { class: 'vi-canvas vi-big vi-focusable', tabindex: 0, role: 'application', 'aria-roledescription': 'patch grid' });
  const runMasked = h('vscode-button', { id: 'vi-run-masked', disabled: true }, 'Run with mask');
  const clearMask = h('vscode-button', { id: 'vi-clear-mask', appearance: 'secondary' }, 'Clear mask');
  const maskCount = h('span', { id: 'vi-mask-count', class: 'vi-hint', 'aria-live': 'polite' });
  const maskBefore = canvas('vi-mask-before', 'Attention before masking', { class: 'vi-canvas vi-small' });
  const maskAfter = canvas('vi-mask-after', 'Attention after masking', { class: 'vi-canvas vi-small' });
  const maskCaption = h('p', { id: 'vi-mask-caption', class: 'vi-hint' });
  const maskPreds = h('table', { id: 'vi-mask-preds', class: 'vi-table', 'aria-label': 'Predictions before and after masking' });
  const maskResult = h('div', { id: 'vi-mask-result', hidden: true },
    h('div', { class: 'vi-row' },
      h('figure', { class: 'vi-figure' }, h('figcaption', {}, 'Before'), maskBefore),
      h('figure', { class: 'vi-figure' }, h('figcaption', {}, 'After (masked keys)'), maskAfter)),
    maskCaption, maskPreds);
  const scalingView = h('div', {},
    h('h2', {}, 'Why QK\u1d40 is divided by \u221ad\u2096'),
    h('p', { class: 'vi-explain' }, 'The dot product of two d\u2096-dimensional vectors with unit-variance entries has variance d\u2096, so without the 1/\u221ad\u2096 factor the scores grow with the head size, the softmax saturates to nearly one-hot rows (low entropy, max weight near 1) and its gradients vanish.'),
    scalingLayer.wrap,
    scalingTable,
    h('h2', {}, 'Masking'),
    h('p', { class: 'vi-hint' }, 'Masked keys get \u2212\u221e before every softmax: their weight becomes 0 and the remaining weights of each row renormalise to sum to 1.'),
    h('div', { class: 'vi-row' },
      h('div', { class: 'vi-col' }, maskCanvas),
      h('div', { class: 'vi-col vi-side' }, h('div', { class: 'vi-buttons' }, runMasked, clearMask), maskCount, maskResult)));

  // ---- Summary
  const summary = h('table', { id: 'vi-summary', class: 'vi-table vi-summary', 'aria-label': 'Model summary' });

  const tab = (id: string, text: string) => h('vscode-panel-tab', { id: `tab-${id}`, 'data-view': id }, text);
  const view = (id: string, content: Node) => h('vscode-panel-view', { id: `view-${id}`, 'data-view': id }, content);
  const tabs = h('vscode-panels', { id: 'vi-tabs', activeid: 'tab-patches', 'aria-label': 'ViT Inspector views', hidden: true },
    tab('patches', 'Patches'), tab('heads', 'Heads'), tab('compare', 'ViT vs CNN'), tab('scaling', 'Scaling & masking'), tab('anatomy', 'Anatomy'), tab('summary', 'Model'),
    view('patches', patchesView), view('heads', headsView), view('compare', compareView), view('scaling', scalingView), view('anatomy', buildAnatomyView()), view('summary', summary)) as Els['tabs'];

  const root = h('main', { id: 'vi-root', class: 'vi-app' }, h('header', { class: 'vi-header' }, title, progress, error), empty, tabs);
  host.append(root);
  return {
    root, progress, progressText, error, errorText, errorButton, empty, tabs, title,
    patches, queryLabel, querySelect, patchLayer, overlay, predictions,
    headsBg, heads, headsOv, headsLabel, showImage, enlarged, enlargedTitle, headEnabled, enableAll, rollout, rolloutStatus, fusion, discard, mass,
    vit, cnn, vitDepth, cnnDepth, cnnLinked, vitCaption, cnnCaption, cnnMissing, cnnMissingText, selectCnn, cnnPanel, chart,
    scalingLayer, scalingTable, maskCanvas, runMasked, clearMask, maskCount, maskBefore, maskAfter, maskCaption, maskPreds, maskResult,
    summary,
  };
}
