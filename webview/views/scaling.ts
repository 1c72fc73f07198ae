/** The Scaling & masking view: the softmax statistics table (scores fetched on first need), the mask editor and the masked run's result. */
import { app, dims } from '../app';
import { layerMap, maxEntropy, predictionDiff, scalingRows } from '../logic/analysis';
import { patchRect, tokenName } from '../logic/geometry';
import { h } from '../dom/skeleton';
import { currentLayerMap, drawImageWithMap, paintedToken } from './imageMap';

/**
 * The 'scaling' part: the statistics come from the inference process, which fetches the softmax inputs (a run
 * with the scores exposed) only when this view first asks (askForNeeds); until then a caption says so.
 */
export function paintScalingPart(): void {
  const { els, model } = app;
  if (!model.scaling) els.scalingTable.replaceChildren(h('caption', {}, 'Fetching the softmax inputs and computing their statistics…'));
  else paintScaling();
}

function paintScaling(): void {
  const { model, state } = app;
  const d = dims()!;
  if (app.scalingDone === state.layer || !model.scaling) return;
  const rows = scalingRows(model.scaling, d).filter((r) => r.layer === state.layer);
  const emax = maxEntropy(d.tokens);
  const t = app.els.scalingTable;
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
  app.scalingDone = state.layer;
}

export function paintMask(): void {
  const d = dims()!;
  const { els, state, theme } = app;
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

export function paintMaskResult(): void {
  const { analysis, els, model, state } = app;
  const mr = model.maskResult;
  els.maskResult.hidden = !mr;
  if (!mr || !analysis) return;
  const p = model.payload!;
  const d = dims()!;
  const base = model.rows;
  // The masked run's rows of this layer (its own stored inspection); a cleared mask shows the payload's.
  const mrows = mr.inspection === p.id ? null : model.maskRows;
  const before = currentLayerMap(app.scratchMap);
  const after = mr.inspection === p.id ? currentLayerMap(app.scratchMap2)
    : mrows && mrows.layer === state.layer && mrows.token === base?.token ? layerMap(mrows.rows, analysis.dims, state.layer, state.disabledHeads, app.scratchMap2, state.layer) : null;
  if (!before || !after || !base) {
    els.maskCaption.textContent = 'Fetching the masked run\u2019s attention…';
    return;
  }
  const query = () => base.token;
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
    const row = lh * a.tokens;
    for (let k = 0; k < a.tokens; k++) if (!masked.has(k)) kept += base.rows[row + k];
    count++;
  }
  kept = count ? kept / count : 0;
  els.maskCaption.textContent = `Layer ${state.layer + 1}, query ${tokenName(d, query())}: the ${a.tokens - masked.size} unmasked keys held ${(kept * 100).toFixed(1)}% of the attention; with ${masked.size} masked they hold 100% (each weight ×${kept > 0 ? (1 / kept).toFixed(2) : '∞'} on average at the first layer; later layers also change because their inputs change). Same colour scale on both sides.`;
  const stale = mr.maskedTokens.join(',') !== state.maskedTokens.join(',');
  if (stale) els.maskCaption.textContent += ' (The mask has changed since this run.)';
  if (p.summary.embedding) {
    els.maskPreds.replaceChildren(h('caption', {}, 'No classes: this model outputs an embedding, so only the attention changes.'));
    els.maskResult.dataset.masked = mr.maskedTokens.join(',');
    return;
  }
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
