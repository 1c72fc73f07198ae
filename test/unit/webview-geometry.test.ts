import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cellAt, cellOrigin, compactSheet, fitSize, matchedCnnDepth, moveCell, moveQuery, patchAtPixel, patchCentre, patchRect, patchToToken,
  sheetLayout, tokenName, tokenToPatch,
} from '../../webview/logic/geometry';
import type { GridDims } from '../../webview/logic/geometry';

const vit: GridDims = { grid: [14, 14], prefixTokens: ['cls'], tokens: 197 };
const two: GridDims = { grid: [3, 4], prefixTokens: ['cls', 'dist'], tokens: 14 };
const none: GridDims = { grid: [2, 2], prefixTokens: [], tokens: 4 };

test('tokens and patches map both ways; prefix tokens have no patch', () => {
  assert.equal(tokenToPatch(vit, 0), null);
  assert.deepEqual(tokenToPatch(vit, 1), { row: 0, col: 0 });
  assert.deepEqual(tokenToPatch(vit, 14), { row: 0, col: 13 });
  assert.deepEqual(tokenToPatch(vit, 15), { row: 1, col: 0 });
  assert.deepEqual(tokenToPatch(vit, 196), { row: 13, col: 13 });
  assert.equal(tokenToPatch(vit, 197), null);
  assert.equal(tokenToPatch(vit, -1), null);
  assert.equal(tokenToPatch(vit, 1.5), null);
  for (let t = 1; t < 197; t++) {
    const p = tokenToPatch(vit, t)!;
    assert.equal(patchToToken(vit, p.row, p.col), t);
  }
  assert.deepEqual(tokenToPatch(two, 2), { row: 0, col: 0 });
  assert.deepEqual(tokenToPatch(none, 0), { row: 0, col: 0 });
});

test('patch hit-testing in a scaled view, edges included, outside is -1', () => {
  // a 224 x 224 input shown at 448 x 448: 32 px per patch
  assert.equal(patchAtPixel(vit, 0, 0, 448, 448), 1);
  assert.equal(patchAtPixel(vit, 31.9, 31.9, 448, 448), 1);
  assert.equal(patchAtPixel(vit, 32, 0, 448, 448), 2);
  assert.equal(patchAtPixel(vit, 0, 32, 448, 448), 15);
  assert.equal(patchAtPixel(vit, 447.9, 447.9, 448, 448), 196);
  assert.equal(patchAtPixel(vit, 448, 10, 448, 448), -1);
  assert.equal(patchAtPixel(vit, -0.1, 10, 448, 448), -1);
  assert.equal(patchAtPixel(vit, 10, 448, 448, 448), -1);
  assert.equal(patchAtPixel(vit, NaN, 10, 448, 448), -1);
  assert.equal(patchAtPixel(vit, 10, 10, 0, 448), -1);
  // non-square grid and view
  assert.equal(patchAtPixel(two, 99, 0, 100, 30), 2 + 3);
  assert.equal(patchAtPixel(two, 0, 29.99, 100, 30), 2 + 8);
  // rect round trip: the centre of each patch's rect hits that patch
  for (let t = 1; t < 197; t += 7) {
    const r = patchRect(vit, t, 300, 300)!;
    assert.equal(patchAtPixel(vit, r.x + r.w / 2, r.y + r.h / 2, 300, 300), t);
  }
  assert.equal(patchRect(vit, 0, 300, 300), null);
});

test('arrow keys move the query inside the grid and stop at the edges', () => {
  const t = patchToToken(vit, 5, 5);
  assert.equal(moveQuery(vit, t, 'ArrowRight'), patchToToken(vit, 5, 6));
  assert.equal(moveQuery(vit, t, 'ArrowLeft'), patchToToken(vit, 5, 4));
  assert.equal(moveQuery(vit, t, 'ArrowUp'), patchToToken(vit, 4, 5));
  assert.equal(moveQuery(vit, t, 'ArrowDown'), patchToToken(vit, 6, 5));
  // no wrap at the left/right edges
  assert.equal(moveQuery(vit, patchToToken(vit, 3, 0), 'ArrowLeft'), patchToToken(vit, 3, 0));
  assert.equal(moveQuery(vit, patchToToken(vit, 3, 13), 'ArrowRight'), patchToToken(vit, 3, 13));
  // bottom edge stays
  assert.equal(moveQuery(vit, patchToToken(vit, 13, 4), 'ArrowDown'), patchToToken(vit, 13, 4));
  // PageUp / PageDown: top / bottom row, same column
  assert.equal(moveQuery(vit, t, 'PageUp'), patchToToken(vit, 0, 5));
  assert.equal(moveQuery(vit, t, 'PageDown'), patchToToken(vit, 13, 5));
  // Home: CLS; End: last patch
  assert.equal(moveQuery(vit, t, 'Home'), 0);
  assert.equal(moveQuery(vit, t, 'End'), 196);
});

test('prefix tokens sit above the grid: up from the top row reaches them, down/right enter the grid', () => {
  assert.equal(moveQuery(vit, patchToToken(vit, 0, 7), 'ArrowUp'), 0);
  assert.equal(moveQuery(vit, 0, 'ArrowDown'), 1);
  assert.equal(moveQuery(vit, 0, 'ArrowRight'), 1);
  assert.equal(moveQuery(vit, 0, 'ArrowLeft'), 0);
  assert.equal(moveQuery(vit, 0, 'ArrowUp'), 0);
  // two prefix tokens: step between them
  assert.equal(moveQuery(two, 0, 'ArrowRight'), 1);
  assert.equal(moveQuery(two, 1, 'ArrowLeft'), 0);
  assert.equal(moveQuery(two, 1, 'ArrowRight'), 2);
  assert.equal(moveQuery(two, 0, 'ArrowDown'), 2);
  assert.equal(moveQuery(two, 1, 'ArrowUp'), 0);
  assert.equal(moveQuery(two, 1, 'PageUp'), 0);
  assert.equal(moveQuery(two, 2 + 2, 'ArrowUp'), 1); // top row -> last prefix token
  assert.equal(moveQuery(two, 0, 'PageDown'), patchToToken(two, 2, 0));
  // no prefix tokens: the top row stays put
  assert.equal(moveQuery(none, 1, 'ArrowUp'), 1);
  assert.equal(moveQuery(none, 3, 'Home'), 0);
  // an out-of-range token restarts at the first token
  assert.equal(moveQuery(vit, 999, 'ArrowRight'), 1);
});

test('token names', () => {
  assert.equal(tokenName(vit, 0), 'CLS');
  assert.equal(tokenName(two, 1), 'dist');
  assert.equal(tokenName(vit, 16), 'patch (row 2, col 2)');
});

test('heads sheet layout: cells, gaps and labels hit-test to (layer, head) or null', () => {
  const s = sheetLayout(12, 12, [14, 14], 900, { gap: 2, left: 28, top: 16, maxPatchPx: 5 });
  assert.equal(s.patchPx, 5);
  assert.equal(s.cellW, 70);
  assert.equal(s.width, 28 + 12 * 72);
  assert.equal(s.height, 16 + 12 * 72);
  assert.deepEqual(cellAt(s, 28, 16), { layer: 0, head: 0 });
  assert.deepEqual(cellAt(s, 28 + 69, 16 + 69), { layer: 0, head: 0 });
  assert.equal(cellAt(s, 28 + 70, 16), null); // gap
  assert.deepEqual(cellAt(s, 28 + 72, 16 + 72 * 11 + 1), { layer: 11, head: 1 });
  assert.equal(cellAt(s, 10, 30), null); // labels
  assert.equal(cellAt(s, s.width + 1, 30), null);
  for (let l = 0; l < 12; l += 5) for (let h = 0; h < 12; h += 4) {
    const o = cellOrigin(s, l, h);
    assert.deepEqual(cellAt(s, o.x + 3, o.y + 3), { layer: l, head: h });
  }
  // a narrow panel gets smaller cells, never below 1 px per patch
  assert.equal(sheetLayout(12, 12, [14, 14], 300).patchPx, 1);
  assert.equal(sheetLayout(12, 12, [14, 14], 10).patchPx, 1);
  // the cell cursor clamps
  assert.deepEqual(moveCell(s, { layer: 0, head: 0 }, 'ArrowUp'), { layer: 0, head: 0 });
  assert.deepEqual(moveCell(s, { layer: 0, head: 11 }, 'ArrowRight'), { layer: 0, head: 11 });
  assert.deepEqual(moveCell(s, { layer: 3, head: 3 }, 'ArrowDown'), { layer: 4, head: 3 });
  assert.deepEqual(moveCell(s, { layer: 3, head: 3 }, 'End'), { layer: 3, head: 11 });
});

test('matched CNN depth and sizes', () => {
  assert.equal(matchedCnnDepth(0, 12, 50), 3); // 1/12 of 50 -> layer 4
  assert.equal(matchedCnnDepth(11, 12, 50), 49);
  assert.equal(matchedCnnDepth(5, 12, 12), 5);
  assert.equal(matchedCnnDepth(0, 12, 3), 0);
  assert.equal(matchedCnnDepth(3, 12, 0), 0);
  assert.deepEqual(fitSize(224, 224, 448, 300), { width: 300, height: 300 });
  assert.deepEqual(fitSize(640, 480, 320, 320), { width: 320, height: 240 });
  const layout = { patchSize: [16, 16] as [number, number], grid: [14, 14] as [number, number], inputSize: [224, 224] as [number, number], prefixTokens: ['cls'], tokens: 197 };
  assert.deepEqual(patchCentre(layout, 1), { x: 8, y: 8 });
  assert.deepEqual(patchCentre(layout, 196), { x: 216, y: 216 });
  assert.deepEqual(patchCentre(layout, 0), { x: 112, y: 112 });
});

test('compact sheet: painted at 1 px per patch, shown k times larger; hit-testing works on the shown layout', () => {
  const { painted, shown, scale } = compactSheet(12, 12, [14, 14], 980);
  assert.equal(scale, 5);
  assert.equal(painted.patchPx, 1);
  assert.equal(painted.gap, 1);
  assert.equal(shown.width, painted.width * 5);
  assert.equal(shown.cellW, 70);
  assert.ok(shown.left >= 28 && shown.top >= 16, 'room for the labels');
  const o = cellOrigin(shown, 3, 7);
  assert.deepEqual(cellAt(shown, o.x + 69, o.y), { layer: 3, head: 7 });
  assert.equal(cellAt(shown, o.x + 70, o.y), null, 'gap');
  assert.equal(compactSheet(12, 12, [14, 14], 100).scale, 1);
  assert.equal(compactSheet(2, 2, [2, 2], 5000).scale, 5);
});
