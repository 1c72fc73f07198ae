/** The figure-7 chart and the survey page: where the points go, their spread bars, escaping, the table. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chartPoints, chartTop, cnnErfAsSeries, surveyChartSvg } from '../../src/shared/surveyChart';
import { surveyPageHtml } from '../../src/host/surveyPage';
import type { CnnErfStat, HeadStat, SurveySummary } from '../../src/shared/survey';

const stat: HeadStat = { mean: [[10, 20, 5], [40, 30, 60]], std: [[1, 2, 0], [4, 3, 6]], n: 12 };

test('each head is a point in its layer\'s column, higher means higher up, the bar spans ± one std', () => {
  const { points, yMax, y } = chartPoints(stat, 640, 360);
  assert.equal(points.length, 6);
  assert.ok(yMax >= 66);
  const column = (640 - 56 - 16) / 2;
  for (const p of points) {
    assert.ok(p.cx > 56 + column * p.layer && p.cx < 56 + column * (p.layer + 1), `layer ${p.layer} head ${p.head} at x ${p.cx}`);
    assert.ok(Math.abs(p.cy - y(p.mean)) < 1e-9);
    assert.ok(Math.abs(p.y0 - p.y1 - (y(p.mean - p.std) - y(p.mean + p.std))) < 1e-9);
  }
  const at = (l: number, h: number) => points.find((p) => p.layer === l && p.head === h)!;
  assert.ok(at(1, 2).cy < at(1, 0).cy && at(1, 0).cy < at(0, 1).cy);
  assert.ok(at(0, 0).cx < at(0, 1).cx && at(0, 1).cx < at(0, 2).cx);
});

test('the SVG names every point (layer, head, mean ± std, n) and escapes text', () => {
  const svg = surveyChartSvg(stat, { title: 'A <b> & "c"', yLabel: 'px', unit: 'px' });
  assert.equal(svg.match(/<circle /g)?.length, 6 + 3); // the points and the legend
  assert.match(svg, /<title>layer 2, head 3: 60\.00 ± 6\.00 px \(n = 12\)<\/title>/);
  assert.match(svg, /A &lt;b&gt; &amp; &quot;c&quot;/);
  assert.doesNotMatch(svg, /style=/); // the page's CSP allows no style attributes
  assert.match(svg, /class="vi-point vi-head-2"/);
});

test('the survey page: two charts, one table row per head, a strict CSP and no script', () => {
  const summary: SurveySummary = { model: 'm<x>', images: 12, failed: 1, layers: 2, heads: 3, distance: stat, entropy: { ...stat, mean: [[1, 2, 3], [1, 2, 3]] } };
  const html = surveyPageHtml({ folder: 'cats', outDir: '/tmp/out', nonce: 'abc123', summary });
  assert.equal(html.match(/<svg /g)?.length, 2);
  assert.equal(html.match(/<tr><td>/g)?.length, 6);
  assert.match(html, /content="default-src 'none'; style-src 'nonce-abc123'"/);
  assert.match(html, /1 image could not be read/);
  assert.match(html, /m&lt;x&gt;/);
  assert.doesNotMatch(html, /<script/);
  assert.match(html, /\.vi-survey-chart \.vi-head-0 \{ fill: var\(--vscode-charts-blue\)/);
});

test('the survey page with the CNN: its measured ERF per layer beside the distances, on one pixel scale, with a table', () => {
  const cnnErf: CnnErfStat = {
    protocol: { model: 'cnn-x', sha256: 'h', cellPx: 2, delta: 1, unit: 'the centre unit', fractions: [0.2, 0.5, 0.99] },
    layers: 3, n: 12,
    mean: { '0.2': [2, 4, 8], '0.5': [4, 6, 12], '0.99': [6, 12, 90] },
    std: { '0.2': [0, 1, 2], '0.5': [0, 1, 2], '0.99': [1, 2, 3] },
  };
  const { stat: s, series } = cnnErfAsSeries(cnnErf);
  assert.deepEqual(s.mean, [[2, 4, 6], [4, 6, 12], [8, 12, 90]]);
  assert.deepEqual(s.std[2], [2, 2, 3]);
  assert.deepEqual(series.map((x) => x.legend), ['20 %', '50 %', '99 %']);
  const summary: SurveySummary = { model: 'm', images: 12, failed: 0, layers: 2, heads: 3, distance: stat, entropy: stat, cnnErf };
  const html = surveyPageHtml({ folder: 'cats', outDir: '/tmp/out', nonce: 'n', summary });
  assert.equal(html.match(/<svg /g)?.length, 3);
  assert.match(html, /CNN \(cnn-x\): measured receptive field/);
  assert.match(html, /<title>layer 3, side holding 99 %: 90\.00 ± 3\.00 px \(n = 12\)<\/title>/);
  assert.match(html, /aria-label="CNN measured receptive field per layer, n = 12 images"/);
  assert.equal(html.match(/<tr><td>/g)?.length, 6 + 3);
  // one y scale: the CNN's 93 px top sets both pixel charts' top tick (100), the entropy chart keeps its own
  const charts = html.split('<svg ').slice(1);
  const topTick = (svg: string) => Math.max(...[...svg.matchAll(/class="vi-tick" x="\d+" y="[\d.]+" text-anchor="end">([\d.]+)</g)].map((m) => Number(m[1])));
  assert.equal(topTick(charts[0]), 100);
  assert.equal(topTick(charts[1]), 100);
  assert.equal(topTick(charts[2]), chartTop(stat));
  assert.doesNotMatch(html, /style=/);
});
