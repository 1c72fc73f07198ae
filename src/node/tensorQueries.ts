/**
 * Answers a TensorQuery from a stored inspection: rows, one head's map, a rollout row, per-head statistics,
 * the scaling comparison. Only what a view paints leaves the inference process.
 */
import { attentionDims, attentionEntropy, compareScaling, meanAttentionDistance, rolloutLayers, rolloutRowOf } from '../shared/analytics';
import type { AnswerOf, QueryAnswer, TensorQuery } from '../shared/queries';
import { float32ToHalf } from '../shared/float16';
import type { StoredInspection, TensorStore } from './tensorStore';

/** Fetches an entry's scores (a run with the softmax inputs fetched) when a query needs them. */
export type ScoresFetcher = (e: StoredInspection) => Promise<Float32Array>;

export async function answerQuery(store: TensorStore, q: TensorQuery, fetchScores: ScoresFetcher): Promise<QueryAnswer> {
  const e = store.get(q.inspection);
  const { summary: s, attention } = e.inspection;
  const dims = attentionDims(s.layers, s.heads, s.layout);
  const n = dims.tokens;
  switch (q.kind) {
    case 'rows': {
      const [from, to] = q.layers ?? [0, s.layers];
      return { kind: 'rows', token: q.token, layers: [from, to], rows: float32ToHalf(queryRows(attention, dims, q.token, from, to)) };
    }
    case 'head': {
      const start = (q.layer * s.heads + q.head) * n * n;
      return { kind: 'head', layer: q.layer, head: q.head, map: attention.slice(start, start + n * n) };
    }
    case 'rollout': {
      const key = `${q.fusion}|${q.discardRatio}|${q.disabledHeads.join(',')}`;
      let ms = 0;
      if (e.rollout?.key !== key) {
        const t0 = performance.now();
        const heads = new Array<boolean>(s.layers * s.heads).fill(true);
        for (const lh of q.disabledHeads) heads[lh] = false;
        e.rollout = undefined; // the old layers go before the new ones are made
        e.rollout = { key, layers: rolloutLayers(attention, dims, { fusion: q.fusion, discardRatio: q.discardRatio, heads }) };
        store.grew(e.id);
        ms = performance.now() - t0;
      }
      return { kind: 'rollout', token: q.token, row: rolloutRowOf(e.rollout.layers, dims, q.token), ms };
    }
    case 'headStats':
      e.headStats ??= { meanDistance: meanAttentionDistance(attention, dims, s.layout), entropy: attentionEntropy(attention, dims) };
      return { kind: 'headStats', ...e.headStats } satisfies AnswerOf<'headStats'>;
    case 'scaling': {
      if (!e.scaling) {
        if (e.inspection.scores.length === 0) {
          e.inspection.scores = await fetchScores(e);
          store.grew(e.id);
        }
        const { scaled, unscaled } = compareScaling(e.inspection.scores, dims, s.headDim);
        e.scaling = { scaledEntropy: scaled.entropy, unscaledEntropy: unscaled.entropy, scaledMax: scaled.maxWeight, unscaledMax: unscaled.maxWeight };
      }
      return { kind: 'scaling', ...e.scaling };
    }
  }
}

/** Every head's row of one query, layers [from, to): [to - from, heads, tokens]. */
export function queryRows(att: Float32Array, dims: { heads: number; tokens: number }, token: number, from: number, to: number): Float32Array {
  const n = dims.tokens;
  const out = new Float32Array((to - from) * dims.heads * n);
  for (let lh = from * dims.heads, o = 0; lh < to * dims.heads; lh++, o += n) {
    const row = (lh * n + token) * n;
    out.set(att.subarray(row, row + n), o);
  }
  return out;
}
