/** "Show Model Summary" as Markdown. */
import type { ModelSummary } from '../shared/types';

export function summaryMarkdown(s: ModelSummary): string {
  const l = s.layout;
  const p = s.preprocessing;
  const fmt = (n: number) => n.toLocaleString('en-US');
  const resize = 'shortestEdge' in p.resizeTo ? `shortest edge ${p.resizeTo.shortestEdge}` : `${p.resizeTo.height}×${p.resizeTo.width}`;
  const lines = [
    `# ${s.name}`,
    '',
    `\`${s.path}\``,
    '',
    '| | |',
    '| --- | --- |',
    `| Layers | ${s.layers} |`,
    `| Heads per layer | ${s.heads} |`,
    `| Model width (d_model) | ${s.dModel} |`,
    `| Head width (d_k) | ${s.headDim} |`,
    `| Tokens | ${s.tokens} (${l.prefixTokens.length ? `${l.prefixTokens.join(', ')} + ` : ''}${l.grid[0]}×${l.grid[1]} patches) |`,
    `| Patch size | ${l.patchSize[0]}×${l.patchSize[1]} px |`,
    `| Input size | ${l.inputSize[0]}×${l.inputSize[1]} px |`,
    `| Parameters | ${fmt(s.parameters)} |`,
    `| ONNX opset | ${s.opset} |`,
    `| Producer | ${s.producer || '—'} |`,
    '',
    '## Preprocessing',
    '',
    `From ${p.source}: resize to ${resize} (${p.resample})${p.centerCrop ? `, centre crop ${p.centerCrop[0]}×${p.centerCrop[1]}` : ''}, ` +
      `× ${+p.rescaleFactor.toPrecision(6)}, mean [${p.mean.join(', ')}], std [${p.std.join(', ')}].`,
    '',
    '## Attention nodes',
    '',
    '| Softmax node | scores | probabilities | layout |',
    '| --- | --- | --- | --- |',
    ...s.attentionNodes.map((a) => `| \`${a.node}\` | \`${a.scores}\` | \`${a.probs}\` | ${a.layout} |`),
  ];
  if (s.stages) {
    // A windowed model: the table above is stage 1's; every stage here.
    lines.push('', '## Stages (windowed attention)', '', 'The table above describes stage 1.', '',
      '| Stage | Grid | Window | Blocks | Heads | Shifts |', '| --- | --- | --- | --- | --- | --- |',
      ...s.stages.map((st, i) => `| ${i + 1} | ${st.grid[0]}×${st.grid[1]} | ${st.window[0]}×${st.window[1]} | ${st.layers} | ${st.heads} | ${st.shifts.map((p) => (p[0] === p[1] ? p[0] : p.join(','))).join(', ')} |`));
  }
  if (s.notes.length) lines.push('', '## Notes', '', ...s.notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}
