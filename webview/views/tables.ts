/** The predictions table and the model summary table. */
import type { Prediction } from '../../src/shared/types';
import { app } from '../app';
import { h } from '../dom/skeleton';
import { stageLabel } from './stages';

export function renderPredictions(t: HTMLTableElement, preds: Prediction[]): void {
  if (preds.length === 0) {
    // Only models that output an embedding (a CLIP image tower) have none (src/node/outputKind.ts).
    t.replaceChildren(h('caption', {}, 'No classes: this model outputs an embedding.'));
    t.dataset.count = '0';
    return;
  }
  t.replaceChildren(
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Class'), h('th', { scope: 'col' }, 'Probability'), h('th', { scope: 'col', class: 'vi-num' }, '%'))),
    h('tbody', {}, ...preds.map((p, i) => h('tr', { 'data-rank': i + 1, 'data-index': p.index },
      h('th', { scope: 'row' }, p.label),
      h('td', {}, h('progress', { class: 'vi-bar', max: 1, value: p.probability, 'aria-label': `${p.label}: ${(p.probability * 100).toFixed(1)} percent` })),
      h('td', { class: 'vi-num' }, (p.probability * 100).toFixed(1))))),
  );
  t.dataset.count = String(preds.length);
}

export function renderSummary(): void {
  const s = app.model.payload!.summary;
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
    ...(s.stages ? s.stages.map((st, i): [string, string] => [`Stage ${i + 1}`, stageLabel(st, i).replace(/^Stage \d+: /, '')]) : []),
  ];
  app.els.summary.replaceChildren(
    h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))),
      h('tr', {}, h('th', { scope: 'row' }, 'Notes'), h('td', {}, s.notes.length ? h('ul', {}, ...s.notes.map((n) => h('li', {}, n))) : 'none'))),
  );
}
