/** The query's map over the image (Patches view), the enlarged head and the attention rollout (Heads view). */
import { app, dims } from '../app';
import { dinoMask, rolloutRowMap } from '../../src/shared/analytics';
import { attentionRow, maskContour, rolloutKey } from '../logic/analysis';
import { headIndex, isHeadEnabled } from '../logic/state';
import { drawContour, shadeOutside } from '../dom/draw';
import { currentLayerMap, drawImageWithMap, paintedToken } from './imageMap';
import { stageSuffix } from './stages';

export function paintPatches(): void {
  const { els } = app;
  const map = els.overlay.checked ? currentLayerMap(app.scratchMap) : null;
  drawImageWithMap(els.patches, map, { maxSize: 448, grid: true, alpha: 0.6 });
  els.patches.dataset.query = String(paintedToken());
}

export function paintEnlarged(): void {
  const d = dims()!;
  const { els, state } = app;
  const e = state.enlarged;
  const rows = app.model.rows;
  if (!e) {
    els.enlargedTitle.textContent = 'Click a head to enlarge it';
    drawImageWithMap(els.enlarged, null, { maxSize: 256 });
    return;
  }
  const a = app.analysis!.dims;
  if (rows) app.scratchMap2.set(attentionRow(rows.rows, a, e.layer, e.head).subarray(a.prefix));
  const on = isHeadEnabled(state, headIndex(d, e.layer, e.head));
  els.enlargedTitle.textContent = `Layer ${e.layer + 1}, head ${e.head + 1}${on ? '' : ' (switched off)'}`;
  drawImageWithMap(els.enlarged, rows ? app.scratchMap2 : null, { maxSize: 256, alpha: 0.7 });
  els.enlarged.dataset.cell = `${e.layer},${e.head}`;
}

/** The rollout row comes from the inference process (which keeps the rollout's layers per setting); painted once it has. */
export function paintRollout(): void {
  const d = dims()!;
  const { els, state, theme } = app;
  const r = app.model.rollout;
  if (!r || r.key !== rolloutKey(state)) {
    els.rolloutStatus.textContent = 'Computing rollout…';
    if (!r) {
      drawImageWithMap(els.rollout, null, { maxSize: 256 });
      return;
    }
  } else {
    els.rolloutStatus.textContent = `Rollout over ${d.layers} layers (${state.fusion} fusion, discard ${state.discardRatio.toFixed(2)})${r.ms > 0 ? ` in ${Math.round(r.ms)} ms` : ''}${stageSuffix()}.`;
  }
  const map = rolloutRowMap(r.row, d.prefixTokens.length);
  const { w, h: hh, c } = drawImageWithMap(els.rollout, map, { maxSize: 256, alpha: 0.7 });
  const mask = dinoMask(map, state.massThreshold);
  shadeOutside(c, mask, d.grid[0], d.grid[1], w, hh, theme.bg, 0.45);
  drawContour(c, maskContour(mask, d.grid[0], d.grid[1]), d.grid[0], d.grid[1], w, hh, theme.mask);
  let kept = 0;
  for (const v of mask) kept += v;
  els.rollout.dataset.kept = String(kept);
  els.rollout.dataset.query = String(r.token);
}
