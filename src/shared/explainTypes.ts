/** Data types of `explain` (class-specific maps, faithfulness, measured ERF), shared by the core, the CLI, the host and the webview. */
import type { PROTOCOL_TEXT } from './faithfulness';
import type { Prediction } from './types';

export interface ExplainRequest {
  modelPath: string;
  cnnPath?: string;
  image: string | Uint8Array;
  /** Target class index for both models; default: each model's own top-1. */
  target?: number;
  stepPatches?: number;
  passes?: number;
  seed?: number;
  batchSize?: number;
  threads?: number;
  erf?: boolean; // default true
  /** Score only these maps (default: every map). */
  scoreMaps?: string[];
  maxModelMB?: number;
}

export interface FaithfulnessScore {
  deletion: number;
  insertion: number;
  /** [x, probability] points, x = fraction of patches removed (deletion) or inserted (insertion). */
  deletionCurve: [number, number][];
  insertionCurve: [number, number][];
}

export interface FaithfulnessBlock {
  protocol: { stepPatches: number; fill: number; fillMeaning: string; target: number; targetLabel: string; cells: number; grid: [number, number] } & typeof PROTOCOL_TEXT;
  maps: Record<string, FaithfulnessScore>;
}

export interface ErfLayer {
  depth: number; // 1-based: block ℓ (ViT) or the ℓ-th reported layer (CNN)
  output: string;
  op?: string;
  /** Sides in input pixels at fractions "0.2", "0.5", "0.99" of the total change. */
  sides: Record<string, number>;
  /** The theoretical field [height, width] in pixels (ViT: the whole image once attention is global). */
  theoretical: [number, number];
  /** The unit's field centre in input pixels [y, x]. */
  centre: [number, number];
  /** Σ_channels |Δ| per input cell, [rows · cols]. */
  map: number[];
  /**
   * ViT only: the measured unit's (the centre patch token's) attention row at this block in the plain run of
   * the image, averaged over heads, over the patch tokens (prefix tokens left out), float32 [rows · cols].
   */
  attention?: Float32Array;
}

export interface ErfReport {
  unit: string;
  perturbation: string;
  cellPx: [number, number];
  grid: [number, number];
  layers: ErfLayer[];
}

export interface ModelExplanation {
  model: string;
  kind: 'vit' | 'cnn';
  method: string;
  passes: number;
  grid: [number, number];
  cellPx: [number, number];
  /** Input size [height, width] of the model. */
  inputSize: [number, number];
  /** Every class's label, by index (the class picker). */
  labels: string[];
  predictions: Prediction[];
  target: number;
  /** Every map over the grid, row-major: classSpecific, random and, for the ViT, attention and rollout. */
  maps: Record<string, Float32Array>;
  faithfulness: FaithfulnessBlock;
  erf: ErfReport | null;
  timings: Record<string, number>;
}

export interface Explanation {
  vit: ModelExplanation;
  cnn: ModelExplanation | null;
}
