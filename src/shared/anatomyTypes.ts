/** One attention head taken apart for one query token: the model's own numbers and the arithmetic redone on them. */
import type { TokenLayout } from './types';

export interface ScaleInfo {
  /** The factor applied to q·k before the softmax, all places together; null when a factor is not a scalar. */
  effective: number | null;
  /** 1/√d_k, the textbook scale. */
  expected: number;
  /** Where the factors sit: on q before the product, on k, in the product (FusedMatMul alpha), after it. */
  onQ: number;
  onK: number;
  inProduct: number;
  after: number | null;
  /** An additive term (mask, relative position bias) between the product and the softmax. */
  bias: boolean;
  description: string;
}

export interface PatchStep {
  kind: 'conv' | 'linear';
  node: string;
  /** The query's patch: index in the grid, row and column. */
  patch: number;
  row: number;
  col: number;
  /** What the projection reads for this patch (conv: C×P×P values as the Conv sees them, channel-major). */
  vector: Float32Array;
  /** The model's pixels of the patch, RGB uint8, patchSize[0] × patchSize[1] × 3 (null when not a plain grid). */
  rgb: Uint8Array | null;
  /** W·vector + b, computed here from the weights read out of the model. */
  token: Float32Array;
  /** The model's own token (the Conv/MatMul output at this patch). */
  modelToken: Float32Array;
}

export interface PositionStep {
  embedding: Float32Array; // the position embedding of the query token
  /** The token entering layer 1 as the model computes it (the Add's output). */
  modelInput: Float32Array;
}

export interface HeadAnatomy {
  model: string;
  layer: number;
  head: number;
  query: number;
  layers: number;
  heads: number;
  tokens: number;
  dHead: number; // d_k
  dModel: number | null;
  layout: TokenLayout | null;
  scale: ScaleInfo;
  /** The query's q and every token's k and v for this head, unscaled as the projections give them: [dHead], [tokens, dHead] ×2. */
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** q·k_j, unscaled [tokens]; then with the scale and any bias, as the softmax receives them [tokens]. */
  scores: Float32Array;
  scaledScores: Float32Array;
  /** softmax(scaledScores), computed here [tokens]; and the model's own attention row [tokens]. */
  softmax: Float32Array;
  probs: Float32Array;
  /** Σ p_j v_j, computed here [dHead]; and the model's own attention output for this head and query [dHead]. */
  weightedSum: Float32Array;
  out: Float32Array;
  /** The tokens contributing the longest terms p_j v_j. */
  contributors: { token: number; weight: number; norm: number }[];
  /** Heads concatenated (the output projection's input) for this query [dModel], and the projection. */
  concat: Float32Array | null;
  projection: { computed: Float32Array; model: Float32Array; weight: string } | null;
  patch: PatchStep | null;
  position: PositionStep | null;
  /** Largest absolute differences between what is computed here and the model's own tensors. */
  checks: {
    softmax: number; // softmax(q·Kᵀ·scale + bias) vs the attention row
    weightedSum: number; // Σ p_j v_j vs the attention output
    scores: number | null; // scale·q·k_j + bias vs the softmax input (unmasked keys)
    concat: number | null; // this head's slice of the concatenation vs the attention output
    projection: number | null; // W_o·concat + b vs the model's projection output
    patch: number | null; // W·pixels + b vs the model's patch token
    position: number | null; // patch token + position embedding vs the model's layer-1 input
  };
  /** The graph tensors each value came from. */
  tensors: Record<string, string>;
  shapes: Record<string, number[]>;
  notes: string[];
}
