/** The controls (query picker, layer/depth sliders, rollout settings, head and mask buttons): set up per payload, then kept in step with the state. */
import { app, dims, query } from '../app';
import { tokenName } from '../logic/geometry';
import { headIndex, isHeadEnabled } from '../logic/state';
import { h } from '../dom/skeleton';
import { maskingUnavailable } from './stages';

/** Fills the query picker and the sliders' ranges for a new payload. */
export function setupControls(): void {
  const d = app.model.dims!;
  const p = app.model.payload!;
  const { els } = app;
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
export function updateControls(): void {
  const d = dims();
  if (!d) return;
  const { els, state } = app;
  const q = state.query;
  const isPrefix = q < d.prefixTokens.length;
  const want = isPrefix ? String(q) : 'patch';
  if (els.querySelect.value !== want) els.querySelect.value = want;
  if (!isPrefix) app.lastPatch = q;
  els.queryLabel.textContent = `Query: ${tokenName(d, query())} (token ${query()})`;
  for (const r of [els.patchLayer, els.vitDepth, els.scalingLayer]) {
    r.input.value = String(state.layer + 1);
    r.out.textContent = `${state.layer + 1} / ${d.layers}`;
  }
  els.cnnDepth.input.value = String(state.cnnDepth + 1);
  const cnn = app.model.payload?.cnn;
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
  els.runMasked.toggleAttribute('disabled', state.maskedTokens.length === 0 || maskingUnavailable());
}
