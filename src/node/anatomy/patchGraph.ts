/**
 * Where the patch embedding is in the graph: the patch Conv (kernel = stride, as layout.ts finds it) or, for
 * models that cut the image into patch vectors themselves, the first weight MatMul/Gemm after the input;
 * then, a few shape ops later, the Add of a [.., tokens, d_model] position embedding, where there is one.
 */
import type { OnnxGraph, OnnxNode } from '../../shared/graph';
import { indexGraph, intAttr, intsAttr } from '../onnx/parse';
import { findPatchConv } from '../layout';

export interface PatchGraph {
  kind: 'conv' | 'linear';
  node: string;
  input: string; // conv: the image as the Conv reads it [1, C, H, W]; linear: patch vectors [.., P, in]
  weight: string;
  bias: string | null;
  output: string; // conv: [1, D, rows, cols]; linear: [.., P, D]
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number]; // top, left
  transposed: boolean; // linear only: Gemm with transB
  position: { embedding: string; output: string } | null;
}

const TOKEN_PASS = new Set(['Reshape', 'Flatten', 'Transpose', 'Concat', 'Identity', 'Cast', 'Squeeze', 'Unsqueeze']);
const BEFORE_LINEAR = new Set(['Reshape', 'Transpose', 'Identity', 'Cast', 'Sub', 'Div', 'Mul', 'Add', 'ReduceMean', 'Pow', 'Sqrt', 'LayerNormalization', 'Flatten', 'Slice']);

export function patchGraph(model: { graph: OnnxGraph }): PatchGraph | null {
  const { graph } = model;
  const { consumers } = indexGraph(graph);
  const conv = findPatchConv(model as never);
  let found: Omit<PatchGraph, 'position'> | null = null;
  if (conv) {
    if ((intAttr(conv, 'group') ?? 1) !== 1 || (intsAttr(conv, 'dilations') ?? [1, 1]).some((d) => d !== 1)) return null;
    const w = graph.initializers.get(conv.inputs[1]);
    const kernel = (intsAttr(conv, 'kernel_shape') ?? w?.dims.slice(2)) as [number, number];
    const pads = intsAttr(conv, 'pads') ?? [0, 0, 0, 0];
    found = {
      kind: 'conv', node: conv.name, input: conv.inputs[0], weight: conv.inputs[1], bias: conv.inputs[2] || null, output: conv.outputs[0],
      kernel, strides: (intsAttr(conv, 'strides') ?? kernel) as [number, number], pads: [pads[0], pads[1]], transposed: false,
    };
  } else {
    const linear = firstLinear(graph, consumers);
    if (!linear) return null;
    found = { ...linear, kernel: [0, 0], strides: [0, 0], pads: [0, 0] };
  }
  return { ...found, position: positionAdd(graph, consumers, found.output) };
}

function firstLinear(graph: OnnxGraph, consumers: Map<string, OnnxNode[]>): Pick<PatchGraph, 'kind' | 'node' | 'input' | 'weight' | 'bias' | 'output' | 'transposed'> | null {
  const input = graph.inputs[0]?.name;
  if (!input) return null;
  let frontier = [input];
  const seen = new Set<string>();
  for (let depth = 0; depth < 16 && frontier.length; depth++) {
    const next: string[] = [];
    for (const t of frontier) {
      for (const c of consumers.get(t) ?? []) {
        if ((c.opType === 'MatMul' || c.opType === 'Gemm') && c.inputs[0] === t && graph.initializers.has(c.inputs[1])) {
          if (c.opType === 'Gemm' && (intAttr(c, 'transA') === 1)) return null;
          let bias: string | null = c.opType === 'Gemm' ? c.inputs[2] || null : null;
          let output = c.outputs[0];
          const after = consumers.get(output) ?? [];
          if (!bias && after.length === 1 && after[0].opType === 'Add') {
            const other = after[0].inputs.find((i) => i !== output);
            if (other && graph.initializers.get(other)?.dims.length === 1) {
              bias = other;
              output = after[0].outputs[0];
            }
          }
          return { kind: 'linear', node: c.name, input: t, weight: c.inputs[1], bias, output, transposed: c.opType === 'Gemm' && intAttr(c, 'transB') === 1 };
        }
        if (BEFORE_LINEAR.has(c.opType) && !seen.has(c.outputs[0])) {
          seen.add(c.outputs[0]);
          next.push(c.outputs[0]);
        }
      }
    }
    frontier = next;
  }
  return null;
}

/** The first Add of a [.., N, D] initializer reached from the patch tokens through shape ops and the prefix Concat. */
function positionAdd(graph: OnnxGraph, consumers: Map<string, OnnxNode[]>, from: string): PatchGraph['position'] {
  let frontier = [from];
  for (let depth = 0; depth < 6 && frontier.length; depth++) {
    const next: string[] = [];
    for (const t of frontier) {
      for (const c of consumers.get(t) ?? []) {
        if (c.opType === 'Add') {
          const other = c.inputs.find((i) => i !== t);
          const init = other ? graph.initializers.get(other) : undefined;
          if (other && init && init.dims.length >= 2 && init.dims.slice(0, -2).every((d) => d === 1)) return { embedding: other, output: c.outputs[0] };
        } else if (TOKEN_PASS.has(c.opType)) next.push(c.outputs[0]);
      }
    }
    frontier = next;
  }
  return null;
}
