/**
 * Classes or an embedding? A CLIP image tower (OpenCLIP's model.visual, transformers' CLIPVisionModelWithProjection)
 * or a timm model without a head returns an embedding: its "logits" are features, and a softmax over them
 * would make up classes. Such models still show their attention; their predictions are empty.
 */
import type { OnnxModel } from '../shared/graph';
import type { ModelSource } from './modelSource';

/** Output names that exporters give embeddings and features (never class scores). */
const EMBEDDING_NAMES = /embed|pooler|hidden_state|features|feats/i;

export function isEmbeddingOutput(source: ModelSource, model: OnnxModel, output: string): boolean {
  if (source.labels) return false; // labelled outputs are classes
  if (/logits/i.test(output)) return false;
  if (source.preprocessorFile === 'open_clip_config.json') return true;
  const numClasses = source.config?.num_classes;
  if (source.preprocessorFile === 'config.json (timm pretrained_cfg)' && numClasses === 0) return true;
  if (EMBEDDING_NAMES.test(output)) return true;
  // [1, tokens, d] and the like: not one score per class
  const dims = model.graph.outputs.find((o) => o.name === output)?.dims;
  return !!dims && dims.length !== 2;
}

export const EMBEDDING_NOTE = (output: string) => `no classes: this model outputs an embedding (${output}), so there are no predictions`;
