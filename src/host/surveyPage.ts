/**
 * The survey result page: figure 7 (mean attention distance per head against depth, each head with its
 * spread), the CNN's measured ERF per layer beside it on the same pixel scale (where the survey measured it),
 * and the entropy, then every value in tables. Static HTML (no script), strict CSP,
 * colours from the theme. No vscode import, so it is tested under plain Node.
 */
import type { SurveySummary } from '../shared/survey';
import { chartTop, cnnErfAsSeries, escapeXml, SURVEY_CHART_CSS, surveyChartSvg } from '../shared/surveyChart';

export interface SurveyPageParts {
  folder: string;
  outDir: string;
  nonce: string;
  summary: SurveySummary;
}

const STYLE = `
body { color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); padding: 0 16px 24px; }
h1 { font-size: 1.2em; } p { color: var(--vscode-descriptionForeground); max-width: 60em; }
.vi-charts { display: flex; flex-wrap: wrap; gap: 16px; }
.vi-survey-chart { max-width: 100%; height: auto; }
.vi-survey-chart text { fill: var(--vscode-foreground); font-size: 11px; }
.vi-survey-chart .vi-title { font-weight: 600; font-size: 12px; }
.vi-survey-chart .vi-grid { stroke: var(--vscode-editorWidget-border, var(--vscode-panel-border)); stroke-width: 0.5; }
.vi-survey-chart .vi-spread { stroke-width: 2; opacity: 0.75; }
.vi-survey-chart .vi-point circle, .vi-survey-chart .vi-legend circle { stroke: none; }
.vi-survey-chart .vi-legend text { fill: var(--vscode-foreground); stroke: none; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { padding: 2px 10px; text-align: right; border-bottom: 1px solid var(--vscode-panel-border, transparent); }
th { font-weight: 600; }
code { font-family: var(--vscode-editor-font-family); }
`;

export function surveyPageHtml(p: SurveyPageParts): string {
  const s = p.summary;
  const csp = `default-src 'none'; style-src 'nonce-${p.nonce}'`;
  const rows: string[] = [];
  for (let l = 0; l < s.layers; l++) {
    for (let h = 0; h < s.heads; h++) {
      rows.push(`<tr><td>${l + 1}</td><td>${h + 1}</td><td>${s.distance.mean[l][h].toFixed(2)}</td><td>${s.distance.std[l][h].toFixed(2)}</td><td>${s.entropy.mean[l][h].toFixed(3)}</td><td>${s.entropy.std[l][h].toFixed(3)}</td></tr>`);
    }
  }
  const cnn = s.cnnErf ? cnnErfAsSeries(s.cnnErf) : undefined;
  // one pixel scale for the ViT's distances and the CNN's sides, so that the two charts compare at a glance
  const yMax = cnn ? Math.max(chartTop(s.distance), chartTop(cnn.stat)) : undefined;
  const failed = s.failed ? ` ${s.failed} image${s.failed > 1 ? 's' : ''} could not be read and ${s.failed > 1 ? 'were' : 'was'} left out.` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${p.nonce}">${STYLE}${SURVEY_CHART_CSS}</style>
<title>Survey of ${escapeXml(p.folder)}</title>
</head>
<body>
<main>
<h1>Survey of ${escapeXml(p.folder)} with ${escapeXml(s.model)}</h1>
<p>Per head, over ${s.images} image${s.images === 1 ? '' : 's'}: the point is the mean, the bar ± one standard deviation (as figure 7 of Dosovitskiy et al., 2021).${cnn ? ` ${cnnText(s)}` : ''}${failed} Results, <code>summary.csv</code>${cnn ? ' and <code>summary-cnn.csv</code>' : ''} are in <code>${escapeXml(p.outDir)}</code>.</p>
<div class="vi-charts">
${surveyChartSvg(s.distance, { title: 'ViT: mean attention distance', yLabel: 'Mean attention distance (pixels)', unit: 'px', yMax })}
${cnn ? surveyChartSvg(cnn.stat, { title: `CNN (${s.cnnErf!.protocol.model}): measured receptive field`, yLabel: 'ERF side (pixels)', unit: 'px', yMax, series: cnn.series, xLabel: 'CNN depth (reported layer)' }) : ''}
${surveyChartSvg(s.entropy, { title: 'Attention entropy', yLabel: 'Entropy (nats)', unit: 'nats' })}
</div>
<table aria-label="Survey values per layer and head">
<thead><tr><th scope="col">Layer</th><th scope="col">Head</th><th scope="col">Distance mean (px)</th><th scope="col">Distance std</th><th scope="col">Entropy mean (nats)</th><th scope="col">Entropy std</th></tr></thead>
<tbody>${rows.join('')}</tbody>
</table>
${cnn ? cnnTable(s) : ''}
</main>
</body>
</html>`;
}

function cnnText(s: SurveySummary): string {
  const p = s.cnnErf!.protocol;
  return `Beside it, on the same pixel scale, the CNN’s measured effective receptive field per layer: the side of the square around ${escapeXml(p.unit)} that holds 20, 50 and 99 % of the change when +${p.delta} is added to one ${p.cellPx}×${p.cellPx} px cell at a time (finite differences; sides are multiples of ${p.cellPx} px). A side is a width and the attention distance an average distance: compare how they grow with depth.`;
}

function cnnTable(s: SurveySummary): string {
  const c = s.cnnErf!;
  const fs = c.protocol.fractions.map(String);
  const pct = (f: string) => `${+(Number(f) * 100).toPrecision(3)} %`;
  const rows = Array.from({ length: c.layers }, (_, l) => `<tr><td>${l + 1}</td>${fs.map((f) => `<td>${c.mean[f][l].toFixed(2)}</td><td>${c.std[f][l].toFixed(2)}</td>`).join('')}</tr>`);
  return `<table aria-label="CNN measured receptive field per layer, n = ${c.n} images">
<thead><tr><th scope="col">CNN layer</th>${fs.map((f) => `<th scope="col">Side ${pct(f)} mean (px)</th><th scope="col">std</th>`).join('')}</tr></thead>
<tbody>${rows.join('')}</tbody>
</table>`;
}
