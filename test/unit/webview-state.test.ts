import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rollout } from '../../src/shared/analytics';
import type { PanelState } from '../../src/shared/protocol';
import { defaultState, headIndex, isHeadEnabled, reduce, restoreState, rolloutHeadMask, toSaved } from '../../webview/logic/state';
import type { Dims, UiState } from '../../webview/logic/state';

const d: Dims = { layers: 12, heads: 12, tokens: 197, grid: [14, 14], prefixTokens: ['cls'], cnnLayers: 50 };

test('query: set, move with arrows (edges, prefix), out-of-range ignored', () => {
  let s = defaultState();
  assert.equal(s.query, 0);
  s = reduce(s, { type: 'moveQuery', key: 'ArrowDown' }, d);
  assert.equal(s.query, 1);
  s = reduce(s, { type: 'moveQuery', key: 'ArrowLeft' }, d);
  assert.equal(s.query, 1, 'left edge');
  s = reduce(s, { type: 'moveQuery', key: 'ArrowUp' }, d);
  assert.equal(s.query, 0, 'up from the top row reaches CLS');
  s = reduce(s, { type: 'setQuery', token: 196 }, d);
  assert.equal(s.query, 196);
  const same = reduce(s, { type: 'moveQuery', key: 'ArrowRight' }, d);
  assert.equal(same, s, 'no change returns the same object');
  assert.equal(reduce(s, { type: 'setQuery', token: 197 }, d), s);
  assert.equal(reduce(s, { type: 'setQuery', token: -1 }, d), s);
  assert.equal(reduce(s, { type: 'setQuery', token: 2.5 }, d), s);
});

test('layers clamp; a linked CNN depth follows the ViT layer, moving it by hand unlinks', () => {
  let s = defaultState();
  s = reduce(s, { type: 'setLayer', layer: 11 }, d);
  assert.equal(s.layer, 11);
  assert.equal(s.cnnDepth, 49);
  s = reduce(s, { type: 'setLayer', layer: 99 }, d);
  assert.equal(s.layer, 11);
  s = reduce(s, { type: 'setLayer', layer: 0 }, d);
  assert.equal(s.cnnDepth, 3);
  s = reduce(s, { type: 'setCnnDepth', depth: 20 }, d);
  assert.equal(s.cnnDepth, 20);
  assert.equal(s.cnnLinked, false);
  s = reduce(s, { type: 'setLayer', layer: 5 }, d);
  assert.equal(s.cnnDepth, 20, 'unlinked: stays');
  s = reduce(s, { type: 'setCnnLinked', linked: true }, d);
  assert.equal(s.cnnDepth, 24); // 6/12 of 50 -> 25th layer
  assert.equal(reduce(s, { type: 'setCnnDepth', depth: 500 }, d).cnnDepth, 49);
  assert.equal(reduce(s, { type: 'setCnnDepth', depth: 3 }, { ...d, cnnLayers: 0 }).cnnDepth, 0);
});

test('heads switch off and on; disabled heads are left out of the rollout input', () => {
  let s = defaultState();
  s = reduce(s, { type: 'toggleHead', layer: 2, head: 3 }, d);
  s = reduce(s, { type: 'toggleHead', layer: 0, head: 1 }, d);
  assert.deepEqual(s.disabledHeads, [1, 2 * 12 + 3]);
  assert.equal(isHeadEnabled(s, headIndex(d, 2, 3)), false);
  const mask = rolloutHeadMask(s, d);
  assert.equal(mask.length, 144);
  assert.equal(mask.filter((x) => !x).length, 2);
  assert.equal(mask[27], false);
  assert.equal(mask[1], false);
  s = reduce(s, { type: 'toggleHead', layer: 2, head: 3 }, d);
  assert.deepEqual(s.disabledHeads, [1]);
  s = reduce(s, { type: 'setHeadEnabled', layer: 0, head: 1, enabled: false }, d);
  assert.deepEqual(s.disabledHeads, [1], 'idempotent');
  assert.equal(reduce(s, { type: 'toggleHead', layer: 12, head: 0 }, d), s, 'out of range');
  s = reduce(s, { type: 'enableAllHeads' }, d);
  assert.deepEqual(s.disabledHeads, []);
});

test('the rollout with a head switched off equals the rollout of the attention without that head', () => {
  // 2 layers x 2 heads x 3 tokens; head 1 of layer 0 is very different from head 0
  const small = { layers: 2, heads: 2, tokens: 3, grid: [1, 2] as [number, number], prefixTokens: ['cls'], cnnLayers: 0 };
  const rows = (r: number[][]) => r.flat();
  const att = new Float32Array([
    ...rows([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]), // L0 H0
    ...rows([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]), // L0 H1
    ...rows([[0.5, 0.25, 0.25], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]]), // L1 H0
    ...rows([[0.4, 0.3, 0.3], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]]), // L1 H1
  ]);
  const dims = { layers: 2, heads: 2, tokens: 3, prefix: 1 };
  let s = defaultState();
  const all = rollout(att, dims, { fusion: 'mean', discardRatio: 0, heads: rolloutHeadMask(s, small) });
  s = reduce(s, { type: 'toggleHead', layer: 0, head: 1 }, small);
  const without = rollout(att, dims, { fusion: 'mean', discardRatio: 0, heads: rolloutHeadMask(s, small) });
  assert.notDeepEqual(Array.from(all), Array.from(without));
  // same as a mean over the remaining head: layer 0 = head 0 only (duplicate it so the mean is unchanged)
  const dup = new Float32Array(att);
  dup.copyWithin(9, 0, 9);
  const expected = rollout(dup, dims, { fusion: 'mean', discardRatio: 0 });
  Array.from(without).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${i}: ${v} vs ${expected[i]}`));
});

test('masking toggles patch tokens only, kept sorted', () => {
  let s = defaultState();
  s = reduce(s, { type: 'toggleMask', token: 40 }, d);
  s = reduce(s, { type: 'toggleMask', token: 5 }, d);
  assert.deepEqual(s.maskedTokens, [5, 40]);
  assert.equal(reduce(s, { type: 'toggleMask', token: 0 }, d), s, 'CLS cannot be masked');
  assert.equal(reduce(s, { type: 'toggleMask', token: 197 }, d), s);
  s = reduce(s, { type: 'toggleMask', token: 40 }, d);
  assert.deepEqual(s.maskedTokens, [5]);
  s = reduce(s, { type: 'clearMask' }, d);
  assert.deepEqual(s.maskedTokens, []);
});

test('rollout controls, view, enlarge clamp and validate', () => {
  let s = defaultState();
  s = reduce(s, { type: 'setFusion', fusion: 'max' }, d);
  assert.equal(s.fusion, 'max');
  assert.equal(reduce(s, { type: 'setFusion', fusion: 'median' as never }, d), s);
  assert.equal(reduce(s, { type: 'setDiscardRatio', value: 1.5 }, d).discardRatio, 0.99);
  assert.equal(reduce(s, { type: 'setDiscardRatio', value: -1 }, d).discardRatio, 0);
  assert.equal(reduce(s, { type: 'setDiscardRatio', value: NaN }, d).discardRatio, s.discardRatio);
  assert.equal(reduce(s, { type: 'setMassThreshold', value: 0.3 }, d).massThreshold, 0.3);
  s = reduce(s, { type: 'setView', view: 'compare' }, d);
  assert.equal(s.view, 'compare');
  assert.equal(reduce(s, { type: 'setView', view: 'nope' as never }, d), s);
  s = reduce(s, { type: 'enlarge', cell: { layer: 3, head: 4 } }, d);
  assert.deepEqual(s.enlarged, { layer: 3, head: 4 });
  assert.deepEqual(s.cursor, { layer: 3, head: 4 });
  assert.equal(reduce(s, { type: 'enlarge', cell: { layer: 12, head: 0 } }, d), s);
  assert.equal(reduce(s, { type: 'enlarge', cell: null }, d).enlarged, null);
});

test('state round trip through JSON (getState/setState) restores everything', () => {
  let s: UiState = defaultState();
  s = { ...s, imagePath: 'cat.png' };
  for (const a of [
    { type: 'setQuery', token: 77 }, { type: 'setLayer', layer: 7 }, { type: 'setView', view: 'heads' },
    { type: 'toggleHead', layer: 1, head: 2 }, { type: 'setFusion', fusion: 'min' }, { type: 'setDiscardRatio', value: 0.5 },
    { type: 'setMassThreshold', value: 0.75 }, { type: 'toggleMask', token: 9 }, { type: 'enlarge', cell: { layer: 2, head: 2 } },
    { type: 'setShowImage', show: false }, { type: 'setCnnDepth', depth: 10 },
  ] as const) s = reduce(s, a, d);
  const saved = JSON.parse(JSON.stringify(toSaved(s)));
  const back = restoreState(saved, d, 'cat.png');
  assert.deepEqual(back, s);
  // PanelState fields are all there
  const keys: (keyof PanelState)[] = ['imagePath', 'query', 'layer', 'cnnDepth', 'view', 'disabledHeads', 'fusion', 'discardRatio', 'massThreshold', 'maskedTokens'];
  for (const k of keys) assert.ok(k in saved, k);
  // a different image keeps the controls but drops the mask
  const other = restoreState(saved, d, 'dog.png');
  assert.deepEqual(other.maskedTokens, []);
  assert.equal(other.imagePath, 'dog.png');
  assert.equal(other.layer, 7);
});

test('restoring garbage or out-of-range state falls back to defaults', () => {
  assert.deepEqual(restoreState(undefined, d), defaultState());
  assert.deepEqual(restoreState('x', d), defaultState());
  const r = restoreState({
    query: 500, layer: -1, cnnDepth: 3.5, view: 'bogus', disabledHeads: [1, 1, 'a', 999, 3], fusion: 'x', discardRatio: 'a',
    massThreshold: 7, maskedTokens: [0, 5, 500], enlarged: { layer: 1, head: 99 }, cursor: null, showImage: 'yes',
  }, d);
  const def = defaultState();
  assert.equal(r.query, def.query);
  assert.equal(r.layer, def.layer);
  assert.equal(r.view, def.view);
  assert.deepEqual(r.disabledHeads, [1, 3]);
  assert.equal(r.fusion, 'mean');
  assert.equal(r.discardRatio, def.discardRatio);
  assert.equal(r.massThreshold, 1);
  assert.deepEqual(r.maskedTokens, [5]);
  assert.equal(r.enlarged, null);
  assert.deepEqual(r.cursor, def.cursor);
  assert.equal(r.showImage, true);
  // a smaller model: restored indices are checked against it
  const tiny: Dims = { layers: 2, heads: 2, tokens: 5, grid: [2, 2], prefixTokens: ['cls'], cnnLayers: 0 };
  const r2 = restoreState({ query: 100, layer: 5, disabledHeads: [0, 3, 4] }, tiny);
  assert.equal(r2.query, 0);
  assert.equal(r2.layer, 0);
  assert.deepEqual(r2.disabledHeads, [0, 3]);
});
