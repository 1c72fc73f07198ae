/** Plain data types shared by the core, the CLI, the worker, the extension host and the webview (no code). */

/** Where the tokens of a ViT come from: a patch grid plus prefix tokens (CLS, distillation, registers). */
export interface TokenLayout {
  patchSize: [number, number]; // [height, width] of one patch in input pixels
  grid: [number, number]; // [rows, cols]
  inputSize: [number, number]; // [height, width] of the model input
  prefixTokens: string[]; // names, in token order, e.g. ['cls'] or ['cls', 'dist'] or ['cls', 'reg1', ...]
  tokens: number; // prefixTokens.length + rows * cols
}

/** Everything the panel's model summary shows. */
export interface ModelSummary {
  name: string; // file or folder name
  path: string;
  layers: number;
  heads: number;
  dModel: number;
  headDim: number; // dModel / heads
  tokens: number;
  parameters: number;
  opset: number;
  producer: string;
  layout: TokenLayout;
  preprocessing: Preprocessing;
  /** Where each attention tensor comes from in the graph: the Softmax node, its input (scores) and output. */
  attentionNodes: { node: string; scores: string; probs: string; layout: 'BHNN' | 'BH_NN' }[];
  notes: string[]; // e.g. 'no preprocessor_config.json: mean/std 0.5 assumed'
  /** True when the model outputs an embedding, not classes (a CLIP image tower): predictions are empty. */
  embedding?: boolean;
  /**
   * Windowed, hierarchical models (Swin): one entry per stage, in order. Then layers, heads, tokens and
   * layout describe stage 1, and Inspection.attention/scores hold stage 1 (Inspection.stages holds them all).
   */
  stages?: StageSummary[];
}

/** One stage of a windowed model: its blocks attend within windows of its own token grid. */
export interface StageSummary {
  layers: number;
  heads: number;
  grid: [number, number]; // the stage's token grid [rows, cols] (patch merging halves it between stages)
  window: [number, number]; // [rows, cols] of one window
  shifts: [number, number][]; // each block's cyclic shift [rows, cols] (0, 0 when not shifted)
}

/** One stage's attention, dense over its grid in raster order: zero (probabilities) or -Infinity (scores) across windows. */
export interface StageAttention {
  attention: Float32Array; // [layers, heads, N, N], N = grid rows × cols
  scores: Float32Array; // same shape; empty when not asked for
}

/** How an image becomes the input tensor (from preprocessor_config.json, or defaults). */
export interface Preprocessing {
  size: [number, number]; // final [height, width] fed to the model
  resizeTo: { height: number; width: number } | { shortestEdge: number };
  resample: 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';
  centerCrop: [number, number] | null;
  rescaleFactor: number; // usually 1/255
  mean: [number, number, number];
  std: [number, number, number];
  source: PreprocessorFile | 'defaults';
}

export interface Prediction {
  index: number;
  label: string;
  probability: number;
}

/** One inspected image: the predictions and every head's attention, split per head. */
export interface Inspection {
  summary: ModelSummary;
  predictions: Prediction[]; // best first
  logits: Float32Array;
  /** Softmax probabilities, [layers, heads, tokens, tokens] row-major. */
  attention: Float32Array;
  /** Softmax inputs (the scaled scores QK^T/sqrt(d_k), plus any mask), same shape as attention. */
  scores: Float32Array;
  /** The image as the model saw it (after resize/crop), RGB uint8, summary.layout.inputSize. */
  modelImage: { width: number; height: number; rgb: Uint8Array };
  /** The original image (EXIF-rotated, alpha flattened) scaled to at most 512 px on its long side, RGBA. */
  preview: { width: number; height: number; rgba: Uint8Array };
  maskedTokens: number[];
  /** Windowed models: every stage's dense attention (stages[0] is attention/scores above). */
  stages?: StageAttention[];
  timings: Record<string, number>; // milliseconds: preprocess, run, ...
}

/** Receptive field of one CNN layer (Araujo et al., Distill 2019): size, effective stride, first centre. */
export interface ReceptiveFieldLayer {
  node: string;
  op: string;
  output: string;
  rf: [number, number]; // [height, width] in input pixels
  jump: [number, number];
  start: [number, number]; // centre of unit (0, 0) in input pixels (pixel centres at 0.5, 1.5, ...)
}

export interface ReceptiveFieldReport {
  model: string;
  inputSize: [number, number];
  layers: ReceptiveFieldLayer[];
}

/** Where preprocessing was read from: Hugging Face's file, or a timm or OpenCLIP config (translated). */
export type PreprocessorFile = 'preprocessor_config.json' | 'config.json (timm pretrained_cfg)' | 'open_clip_config.json';
