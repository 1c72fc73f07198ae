/**
 * The Anatomy view: one head followed step by step for one query patch, with the model's own numbers (the
 * host asks the inference process: needAnatomy → anatomy). The patch pixels and their projection into a
 * token (+ the position embedding, layer 1); q, k, v; the scores q·k_j over the image and the scale; the
 * softmax row (checked against the Heads view's row); Σ p_j v_j with the top contributing tokens marked;
 * the heads concatenated and the output projection. Self-contained: its own DOM, its own host messages.
 */
import type { HeadAnatomy } from '../../src/shared/anatomyTypes';
import type { HostToWebview } from '../../src/shared/protocol';
import { app, dims, post } from '../app';
import { dispatch } from '../dispatch';
import { ctx2d, drawMap, sizeCanvas, strokeRect } from '../dom/draw';
import { h } from '../dom/skeleton';
import { isMoveKey, patchAtPixel, patchRect, tokenName } from '../logic/geometry';
import { packedLut } from '../logic/palette';
import { drawImageWithMap } from './imageMap';

type Reply = Extract<HostToWebview, { type: 'anatomy' | 'anatomyError' }>;

const ui = {
  root: null as HTMLElement | null,
  layer: null as unknown as HTMLSelectElement,
  head: null as unknown as HTMLSelectElement,
  status: null as unknown as HTMLElement,
  steps: null as unknown as HTMLElement,
  image: null as unknown as HTMLCanvasElement,
};
const view = {
  head: 0,
  shapeKey: '',
  requested: '',
  timer: 0,
  last: null as { key: string; anatomy: HeadAnatomy } | null,
  error: null as { key: string; message: string } | null,
};

export function buildAnatomyView(): HTMLElement {
  ui.layer = h('select', { id: 'vi-anatomy-layer', class: 'vi-select' });
  ui.head = h('select', { id: 'vi-anatomy-head', class: 'vi-select' });
  ui.status = h('p', { class: 'vi-explain', role: 'status', 'aria-live': 'polite' });
  ui.image = h('canvas', { id: 'vi-anatomy-image', class: 'vi-canvas', tabindex: 0, width: 16, height: 16, 'aria-label': 'The image: click a patch or use the arrow keys to choose the query' });
  ui.steps = h('div', { class: 'vi-anatomy-steps' });
  ui.layer.addEventListener('change', () => dispatch({ type: 'setLayer', layer: Number(ui.layer.value) }));
  ui.head.addEventListener('change', () => {
    view.head = Number(ui.head.value);
    paintAnatomy();
  });
  ui.image.addEventListener('click', (e) => {
    const d = dims();
    if (!d) return;
    const r = ui.image.getBoundingClientRect();
    const t = patchAtPixel(d, ((e.clientX - r.left) * ui.image.width) / (r.width || 1), ((e.clientY - r.top) * ui.image.height) / (r.height || 1), ui.image.width, ui.image.height);
    if (t >= 0) dispatch({ type: 'setQuery', token: t });
  });
  ui.image.addEventListener('keydown', (e) => {
    if (!isMoveKey(e.key)) return;
    e.preventDefault();
    dispatch({ type: 'moveQuery', key: e.key });
  });
  window.addEventListener('message', (e: MessageEvent) => onReply(e.data as Reply));
  ui.root = h('div', { class: 'vi-anatomy' },
    h('h2', {}, 'Anatomy of one head'),
    h('p', { class: 'vi-explain' }, 'Follow one query patch through one attention head, with the numbers the model itself computes: every step below is redone here from the model\u2019s own tensors and checked against them.'),
    h('div', { class: 'vi-row' },
      h('div', { class: 'vi-col' }, ui.image),
      h('div', { class: 'vi-col vi-side' },
        h('div', { class: 'vi-control' }, h('label', { for: 'vi-anatomy-layer' }, 'Layer'), ui.layer),
        h('div', { class: 'vi-control' }, h('label', { for: 'vi-anatomy-head' }, 'Head'), ui.head),
        ui.status)),
    ui.steps);
  return ui.root;
}

function keyOf(id: number, layer: number, head: number, query: number): string {
  return `${id}/${layer}/${head}/${query}`;
}

function onReply(m: Reply): void {
  if (!m || (m.type !== 'anatomy' && m.type !== 'anatomyError')) return;
  const key = keyOf(m.id, m.layer, m.head, m.query);
  if (m.type === 'anatomy') view.last = { key, anatomy: m.anatomy };
  else view.error = { key, message: m.message };
  if (app.state.view === 'anatomy') paintAnatomy();
}

/** The 'anatomy' part: asks for the current (layer, head, query) once, then draws what came back. */
export function paintAnatomy(): void {
  const p = app.model.payload;
  const d = dims();
  if (!p || !d || !ui.root) return;
  const shapeKey = `${d.layers}x${d.heads}`;
  if (shapeKey !== view.shapeKey) {
    ui.layer.replaceChildren(...Array.from({ length: d.layers }, (_, l) => h('option', { value: l }, `${l + 1}`)));
    ui.head.replaceChildren(...Array.from({ length: d.heads }, (_, k) => h('option', { value: k }, `h${k + 1}`)));
    view.shapeKey = shapeKey;
    view.head = Math.min(view.head, d.heads - 1);
  }
  const layer = app.state.layer;
  const query = app.state.query;
  ui.layer.value = String(layer);
  ui.head.value = String(view.head);
  const key = keyOf(p.id, layer, view.head, query);
  drawImageWithMap(ui.image, null, { maxSize: 256, grid: true });
  if (view.last?.key === key) return render(view.last.anatomy);
  if (view.error?.key === key) {
    ui.status.textContent = view.error.message;
    ui.steps.replaceChildren();
    return;
  }
  ui.status.textContent = `Taking head h${view.head + 1} of layer ${layer + 1} apart for ${tokenName(d, query)}…`;
  if (view.requested !== key) {
    view.requested = key;
    clearTimeout(view.timer);
    // a short pause, so that moving the query with the keys asks once where it stops
    view.timer = window.setTimeout(() => post({ type: 'needAnatomy', id: p.id, layer, head: view.head, query }), 120);
  }
}

const fmt = (v: number, digits = 3) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(digits));

/** A vector as a strip of coloured cells (the panel's colour map, min to max), with its range. */
function strip(values: Float32Array, label: string, highlight?: [number, number]): HTMLElement {
  const c = h('canvas', { class: 'vi-anatomy-strip', role: 'img', 'aria-label': `${label}: ${values.length} values from ${fmt(min(values))} to ${fmt(max(values))}` });
  const w = Math.min(512, Math.max(values.length * 2, 128));
  sizeCanvas(c, w, 14);
  const ctx = ctx2d(c);
  ctx.clearRect(0, 0, w, 14);
  drawMap(ctx, values, 1, values.length, packedLut(app.model.settings.colormap), 0, 0, w, 14, 1, min(values), max(values));
  if (highlight) strokeRect(ctx, (highlight[0] / values.length) * w, 1, ((highlight[1] - highlight[0]) / values.length) * w, 12, app.theme.accent, 2);
  return h('div', { class: 'vi-anatomy-vector' }, h('span', { class: 'vi-anatomy-label' }, label), c, h('span', { class: 'vi-hint' }, `${values.length} values, ${fmt(min(values))} … ${fmt(max(values))}`));
}

/** A tokens × d matrix as coloured cells. */
function matrix(values: Float32Array, rows: number, cols: number, label: string): HTMLElement {
  const c = h('canvas', { class: 'vi-anatomy-matrix', role: 'img', 'aria-label': `${label}: ${rows} × ${cols}` });
  const w = Math.min(384, Math.max(cols * 3, 96));
  const hh = Math.min(256, Math.max(rows * 2, 32));
  sizeCanvas(c, w, hh);
  drawMap(ctx2d(c), values, rows, cols, packedLut(app.model.settings.colormap), 0, 0, w, hh, 1, min(values), max(values));
  return h('figure', { class: 'vi-figure' }, h('figcaption', {}, `${label} (${rows} tokens × ${cols})`), c);
}

function overImage(map: Float32Array | null, marks: { token: number; text: string }[], label: string): HTMLCanvasElement {
  const c = h('canvas', { class: 'vi-canvas', role: 'img', 'aria-label': label });
  const { w, h: hh, c: ctx } = drawImageWithMap(c, map, { maxSize: 224, alpha: 0.7 });
  const d = dims()!;
  ctx.save();
  ctx.font = app.theme.font;
  for (const m of marks) {
    const r = patchRect(d, m.token, w, hh);
    if (!r) continue;
    strokeRect(ctx, r.x, r.y, r.w, r.h, app.theme.mask, 2);
    ctx.fillStyle = app.theme.bg;
    ctx.fillRect(r.x + 1, r.y + 1, 14, 14);
    ctx.fillStyle = app.theme.fg;
    ctx.fillText(m.text, r.x + 3, r.y + 12);
  }
  ctx.restore();
  return c;
}

function step(n: number, title: string, ...content: (Node | string | null)[]): HTMLElement {
  return h('section', { class: 'vi-anatomy-step', 'aria-label': `Step ${n}: ${title}` }, h('h3', {}, `${n}. ${title}`), ...content);
}

function check(label: string, v: number | null, tolerance: number): HTMLElement | null {
  if (v === null) return null;
  const ok = v <= tolerance;
  return h('li', { class: ok ? 'vi-up' : 'vi-down' }, `${label}: max |difference| ${v.toExponential(1)} ${ok ? '≤' : '>'} ${tolerance.toExponential(0)}`);
}

function render(a: HeadAnatomy): void {
  const d = dims()!;
  const p = app.model.payload!;
  const prefix = d.prefixTokens.length;
  const patchMap = (row: Float32Array) => row.subarray(prefix, a.tokens);
  const heavy = a.contributors.map((c, i) => ({ token: c.token, text: String(i + 1) }));
  // the Heads view's row for the same layer, head and query: the softmax redone here must be it
  // (the Heads view's rows [layers, heads, tokens] for the query, as the inference process answered them)
  const rows = app.model.rows?.token === a.query ? app.model.rows.rows : null;
  const base = (a.layer * d.heads + a.head) * d.tokens;
  let viewDiff = 0;
  if (rows) for (let j = 0; j < d.tokens; j++) viewDiff = Math.max(viewDiff, Math.abs(rows[base + j] - a.softmax[j]));
  ui.status.textContent = `Layer ${a.layer + 1}, head h${a.head + 1}, query ${tokenName(d, a.query)}: d_k = ${a.dHead}, ${a.heads} heads, ${a.tokens} tokens.`;
  const prefixScores = prefix ? h('p', { class: 'vi-hint' }, `Prefix tokens: ${d.prefixTokens.map((n, i) => `${n} ${fmt(a.scores[i])}`).join(', ')}.`) : null;
  const sqrt = Math.sqrt(a.dHead);
  const steps: HTMLElement[] = [];
  if (a.layer === 0 && a.patch) {
    const pt = a.patch;
    const [ph, pw] = a.layout?.patchSize ?? [0, 0];
    const pix = h('canvas', { class: 'vi-anatomy-patch', role: 'img', 'aria-label': `The query patch's pixels, ${ph} × ${pw}` });
    if (pt.rgb && ph && pw) {
      const scale = Math.max(1, Math.floor(96 / Math.max(ph, pw)));
      sizeCanvas(pix, pw * scale, ph * scale);
      const ctx = ctx2d(pix);
      for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) {
        const i = (y * pw + x) * 3;
        ctx.fillStyle = `rgb(${pt.rgb[i]},${pt.rgb[i + 1]},${pt.rgb[i + 2]})`;
        ctx.fillRect(x * scale, y * scale, scale, scale);
      }
    }
    steps.push(step(1, 'The patch and its token',
      h('div', { class: 'vi-row' }, pix, h('p', { class: 'vi-explain vi-col' },
        pt.kind === 'conv'
          ? `Patch (row ${pt.row + 1}, col ${pt.col + 1}): ${ph}×${pw} pixels × 3 channels = ${pt.vector.length} values, multiplied by the patch Conv's weights (${pt.node}: ${pt.token.length} × ${pt.vector.length}) plus its bias: a ${pt.token.length}-value token.`
          : `Patch ${pt.patch + 1}: the model's MatMul ${pt.node} maps its ${pt.vector.length}-value patch vector to a ${pt.token.length}-value token.`)),
      strip(pt.vector, 'pixels (normalised)'),
      strip(pt.token, 'W·x + b'),
      a.position ? strip(a.position.embedding, '+ position') : null,
      a.position ? strip(a.position.modelInput, '= layer-1 input') : null));
  } else {
    steps.push(step(1, 'The patch and its token', h('p', { class: 'vi-hint' }, a.layer === 0 ? `${tokenName(d, a.query)} is not a patch: it has no pixels of its own.` : 'Shown for layer 1: the patch projection and position embedding make the tokens that enter the first layer. Choose layer 1 to see them.')));
  }
  steps.push(step(2, 'q, k and v',
    h('p', { class: 'vi-explain' }, `This head's projections of every token: the query's q (${a.dHead} values), and k_j and v_j for all ${a.tokens} tokens j, read from the graph (${a.tensors.q}, ${a.tensors.k}, ${a.tensors.v}).`),
    strip(a.q, 'q'),
    h('div', { class: 'vi-row' }, matrix(a.k, a.tokens, a.dHead, 'k'), matrix(a.v, a.tokens, a.v.length / a.tokens, 'v'))));
  steps.push(step(3, 'Scores q·k_j, then the scale',
    h('div', { class: 'vi-row' },
      overImage(patchMap(a.scores), [], 'q·k_j over the patches'),
      h('div', { class: 'vi-col' },
        h('p', { class: 'vi-explain' }, `q·k_j for every key j, from ${fmt(min(a.scores))} to ${fmt(max(a.scores))}. Then ÷ √d_k: d_k = ${a.dHead}, √d_k = ${fmt(sqrt)}, so × ${fmt(1 / sqrt, 4)}.`),
        h('p', { class: 'vi-explain' }, `In this graph: ${a.scale.description}.`),
        prefixScores))));
  steps.push(step(4, 'Softmax',
    h('div', { class: 'vi-row' },
      overImage(patchMap(a.softmax), [], 'The softmax row over the patches'),
      h('div', { class: 'vi-col' }, h('p', { class: 'vi-explain' }, `softmax(q·Kᵀ·scale): ${a.tokens} weights summing to 1, largest ${fmt(max(a.softmax))}. ${rows ? `It equals the Heads view's row for this head and query within ${viewDiff.toExponential(1)} (those rows travel as float16: 11 significant bits).` : 'The Heads view\u2019s row for this query is not loaded yet.'}`)))));
  steps.push(step(5, 'The weighted sum Σ p_j v_j',
    h('div', { class: 'vi-row' },
      overImage(patchMap(a.probs), heavy, 'The top contributing tokens, numbered'),
      h('div', { class: 'vi-col' },
        strip(a.weightedSum, 'Σ p_j v_j'),
        strip(a.out, 'model output'),
        h('table', { class: 'vi-table', 'aria-label': 'Top contributing tokens' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'Token'), h('th', { scope: 'col' }, 'p_j'), h('th', { scope: 'col' }, '|p_j v_j|'))),
          h('tbody', {}, ...a.contributors.map((c, i) => h('tr', {}, h('td', {}, String(i + 1)), h('th', { scope: 'row' }, tokenName(d, c.token)), h('td', {}, fmt(c.weight)), h('td', {}, fmt(c.norm))))))))));
  if (a.concat) {
    steps.push(step(6, 'Heads together and the output projection',
      h('p', { class: 'vi-explain' }, `The ${a.heads} heads' outputs side by side (this head's ${a.dHead} values outlined) make a ${a.concat.length}-value vector; the output projection ${a.projection?.weight ?? ''} maps it back to d_model.`),
      strip(a.concat, 'concat', [a.head * a.out.length, (a.head + 1) * a.out.length]),
      a.projection ? strip(a.projection.model, 'W_o·concat + b') : null));
  }
  const c = a.checks;
  steps.push(h('section', { class: 'vi-anatomy-step', 'aria-label': 'Self-checks' }, h('h3', {}, 'Self-checks against the model'),
    h('ul', { class: 'vi-anatomy-checks' },
      check('softmax(q·Kᵀ·scale) vs the attention row', c.softmax, 1e-5),
      check('Σ p_j v_j vs the attention output', c.weightedSum, 1e-5),
      check('heads concatenated vs the attention output', c.concat, 1e-5),
      check('output projection recomputed vs the model', c.projection, 1e-4),
      check('W·pixels + b vs the patch token', c.patch, 1e-4),
      check('token + position vs the layer-1 input', c.position, 1e-4)),
    a.notes.length ? h('p', { class: 'vi-hint' }, a.notes.join(' ')) : null));
  ui.steps.replaceChildren(...steps);
}

function min(a: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < a.length; i++) m = Math.min(m, a[i]);
  return m;
}

function max(a: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) m = Math.max(m, a[i]);
  return m;
}
