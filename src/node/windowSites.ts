/**
 * Finds windowed attention (Swin, Swin V2 and kin) from the graph, not from node names: the queries of a
 * windowed softmax come from a window partition, x.view(B, H/wh, wh, W/ww, ww, C).permute(0, 1, 3, 2, 4, 5),
 * whose input is the stage's [B, H, W, C] map after an optional cyclic shift (torch.roll, exported as
 * Slice + Concat on each axis) and end padding (Pad). The numbers that depend on the input size (H, W,
 * window, padding) are read at run time from Shape probes on those tensors; the roll amounts are constants.
 */
import { InspectorError } from '../shared/errors';
import type { OnnxGraph, OnnxModel, OnnxNode } from '../shared/graph';
import type { WindowGeometry, WindowStep } from '../shared/windows';
import type { AttentionSite } from './attention';
import { constantOf, indexGraph, intAttr, intsAttr } from './onnx/parse';

/** One edit between the stage's map (`base`) and the partition's input, with the tensors it reads and writes. */
type FoundStep =
  | { op: 'roll'; axis: 0 | 1; start: number; input: string }
  | { op: 'pad'; input: string; output: string; begins: [number, number] | null };

export interface WindowSite {
  /** The 6-D partition tensor [B, H/wh, wh, W/ww, ww, C] (the Reshape before the window Transpose). */
  partition: string;
  /** The stage's [B, H, W, C] map before any shift or padding. */
  base: string;
  steps: FoundStep[]; // base -> partition input, in the model's order
}

const PARTITION_PERM = [0, 1, 3, 2, 4, 5];
/** Ops from the softmax's scores back to QK^T (the bias, the shift mask, reshapes around them, the scale). */
const SCORE_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Reshape', 'Cast', 'Where', 'Squeeze', 'Unsqueeze', 'Identity', 'Clip', 'Max', 'Min']);

/**
 * For each attention site, its window partition, or null where the site is not windowed. Throws when some
 * sites are windowed and others are not (a hybrid ViT Inspector cannot lay out).
 */
export function findWindowSites(model: OnnxModel, sites: AttentionSite[], name: string): WindowSite[] | null {
  const { graph } = model;
  const { producer } = indexGraph(graph);
  const found = sites.map((s) => windowOf(graph, producer, s));
  const windowed = found.filter((f) => f !== null).length;
  if (windowed === 0) return null;
  if (windowed < sites.length) {
    throw new InspectorError('unsupported-model', `${name}: ${windowed} of its ${sites.length} attention softmaxes are windowed and the others are not; ViT Inspector reads plain or fully windowed (Swin) ViTs.`);
  }
  return found as WindowSite[];
}

/** The tensors whose shapes the geometry needs: the partition and every tensor of the shift/pad chain. */
export function probedTensors(ws: WindowSite[]): string[] {
  const names = new Set<string>();
  for (const w of ws) {
    names.add(w.partition);
    names.add(w.base);
    for (const s of w.steps) {
      names.add(s.input);
      if (s.op === 'pad') names.add(s.output);
    }
  }
  return [...names];
}

/** The geometry of one site from the probed shapes. */
export function windowGeometry(w: WindowSite, shapes: Map<string, number[]>, name: string): WindowGeometry {
  const shape = (t: string) => {
    const d = shapes.get(t);
    if (!d) throw new InspectorError('unsupported-model', `${name}: the shape of ${t} was not returned by the run.`);
    return d;
  };
  const p = shape(w.partition);
  const base = shape(w.base);
  if (p.length !== 6) throw new InspectorError('unsupported-model', `${name}: the window partition ${w.partition} has shape [${p.join(', ')}], not [B, H/w, w, W/w, w, C].`);
  const window: [number, number] = [p[2], p[4]];
  // The base is [B, H, W, C]; without shift or padding the partition may reshape a [B, H·W, C] sequence directly.
  const grid: [number, number] = base.length === 4 ? [base[1], base[2]] : [p[1] * p[2], p[3] * p[4]];
  const steps: WindowStep[] = [];
  for (const s of w.steps) {
    if (s.op === 'roll') {
      const n = shape(s.input)[s.axis + 1];
      steps.push({ op: 'roll', axis: s.axis, start: ((s.start % n) + n) % n });
    } else {
      const before = shape(s.input);
      const after = shape(s.output);
      for (const axis of [0, 1] as const) {
        const added = after[axis + 1] - before[axis + 1];
        if (added === 0) continue;
        const begin = s.begins?.[axis] ?? 0;
        steps.push({ op: 'pad', axis, begin, end: added - begin });
      }
    }
  }
  const geometry = { grid, window, steps };
  let [h, wd] = grid;
  for (const s of steps) if (s.op === 'pad') s.axis === 0 ? (h += s.begin + s.end) : (wd += s.begin + s.end);
  if (h !== p[1] * p[2] || wd !== p[3] * p[4]) {
    throw new InspectorError('unsupported-model', `${name}: its ${grid[0]}×${grid[1]} token map does not match its window partition [${p.join(', ')}]; ViT Inspector reads Swin-style windows.`);
  }
  return geometry;
}

function windowOf(graph: OnnxGraph, producer: Map<string, OnnxNode>, site: AttentionSite): WindowSite | null {
  const qk = scoresMatMul(graph, producer, site.scores);
  if (!qk) return null;
  const transpose = partitionTranspose(graph, producer, qk.inputs[0]);
  if (!transpose) return null;
  const reshape = producer.get(transpose.inputs[0]);
  if (!reshape || reshape.opType !== 'Reshape') return null;
  const steps: FoundStep[] = [];
  let t = reshape.inputs[0];
  for (let guard = 0; guard < 8; guard++) {
    const n = producer.get(t);
    const roll = n && rollOf(graph, producer, n);
    if (roll) {
      steps.unshift({ ...roll.step, input: roll.input });
      t = roll.input;
    } else if (n && n.opType === 'Pad') {
      steps.unshift({ op: 'pad', input: n.inputs[0], output: t, begins: padBegins(graph, n) });
      t = n.inputs[0];
    } else break;
  }
  return { partition: reshape.outputs[0], base: t, steps };
}

/** Nearest MatMul above the scores whose two inputs are both computed: QK^T. */
function scoresMatMul(graph: OnnxGraph, producer: Map<string, OnnxNode>, scores: string): OnnxNode | null {
  let frontier = [scores];
  const seen = new Set<string>();
  for (let depth = 0; depth < 10 && frontier.length; depth++) {
    const next: string[] = [];
    for (const t of frontier) {
      const n = producer.get(t);
      if (!n || seen.has(n.name + t)) continue;
      seen.add(n.name + t);
      if (n.opType === 'MatMul' && n.inputs.every((i) => !isConstant(graph, producer, i))) return n;
      if (SCORE_OPS.has(n.opType)) next.push(...n.inputs.filter((i) => i && !isConstant(graph, producer, i)).slice(0, n.opType === 'Reshape' ? 1 : 3));
    }
    frontier = next;
  }
  return null;
}

/** Walks up the queries (projection, head split) to the window partition's Transpose, if any. */
function partitionTranspose(graph: OnnxGraph, producer: Map<string, OnnxNode>, q: string): OnnxNode | null {
  let t = q;
  for (let depth = 0; depth < 16; depth++) {
    const n = producer.get(t);
    if (!n) return null;
    if (n.opType === 'Transpose' && sameList(intsAttr(n, 'perm'), PARTITION_PERM)) return n;
    // Stop at anything that mixes tokens (attention of an earlier block, convolutions, normalisation over tokens).
    if (n.opType === 'Softmax' || n.opType === 'Conv' || n.opType === 'LayerNormalization' || n.opType === 'Concat') return null;
    const data = n.inputs.find((i) => i && !isConstant(graph, producer, i));
    if (!data) return null;
    t = data;
  }
  return null;
}

/**
 * torch.roll on axis a of [B, H, W, C] as exported: Concat(Slice(x, s:, axis a), Slice(x, :s, axis a)) on axis a.
 * out[i] = x[(i + s) mod n], so the step's start is s (the torch.roll shift is -s).
 */
function rollOf(graph: OnnxGraph, producer: Map<string, OnnxNode>, n: OnnxNode): { step: { op: 'roll'; axis: 0 | 1; start: number }; input: string } | null {
  if (n.opType !== 'Concat' || n.inputs.length !== 2) return null;
  const axis = intAttr(n, 'axis');
  if (axis !== 1 && axis !== 2 && axis !== -3 && axis !== -2) return null;
  const a = axis < 0 ? axis + 4 : axis;
  const [first, second] = n.inputs.map((i) => producer.get(i));
  if (first?.opType !== 'Slice' || second?.opType !== 'Slice' || first.inputs[0] !== second.inputs[0]) return null;
  const s1 = sliceOf(graph, first);
  const s2 = sliceOf(graph, second);
  if (!s1 || !s2 || s1.axis !== a || s2.axis !== a || s2.start !== 0) return null;
  return { step: { op: 'roll', axis: (a - 1) as 0 | 1, start: s1.start }, input: first.inputs[0] };
}

function sliceOf(graph: OnnxGraph, n: OnnxNode): { axis: number; start: number } | null {
  const starts = intsAttr(n, 'starts') ?? (n.inputs[1] ? constantOf(graph, n.inputs[1])?.values() : undefined);
  const axes = intsAttr(n, 'axes') ?? (n.inputs[3] ? constantOf(graph, n.inputs[3])?.values() : undefined);
  const steps = n.inputs[4] ? constantOf(graph, n.inputs[4])?.values() : undefined;
  if (!starts || starts.length !== 1 || !axes || axes.length !== 1 || (steps && steps[0] !== 1)) return null;
  return { axis: axes[0] < 0 ? axes[0] + 4 : axes[0], start: starts[0] };
}

/** The rows and columns padded before the map (ONNX pads: begins then ends), when the pads are constant. */
function padBegins(graph: OnnxGraph, n: OnnxNode): [number, number] | null {
  const pads = intsAttr(n, 'pads') ?? (n.inputs[1] ? constantOf(graph, n.inputs[1])?.values() : undefined);
  return pads && pads.length === 8 ? [pads[1], pads[2]] : null;
}

/** An initializer, a Constant's output, or a chain of Identity/Cast over one (as the TorchScript exporter shares weights). */
function isConstant(graph: OnnxGraph, producer: Map<string, OnnxNode>, t: string): boolean {
  for (let depth = 0; depth < 4; depth++) {
    if (graph.initializers.has(t) || constantOf(graph, t)) return true;
    const n = producer.get(t);
    if (!n || (n.opType !== 'Identity' && n.opType !== 'Cast')) return false;
    t = n.inputs[0];
  }
  return false;
}

function sameList(a: number[] | undefined, b: number[]): boolean {
  return !!a && a.length === b.length && a.every((v, i) => v === b[i]);
}
