/** "Show Model Summary" as Markdown, and the tiny image used to read a model's summary without a panel. */
import { deflateSync } from 'node:zlib';
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

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A plain grey RGB PNG (encoded here, so the host needs no image library). */
export function greyPng(size = 32): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc(size * (1 + size * 3), 128);
  for (let y = 0; y < size; y++) raw[y * (1 + size * 3)] = 0; // filter: none
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}
