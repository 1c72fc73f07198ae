/**
 * Queries on a stored inspection: the inference process keeps each inspection's tensors and answers these,
 * so that no one else ever holds the whole [layers, heads, tokens, tokens] tensor. One request shape and one
 * answer shape per kind (a discriminated union on `kind`): a new view adds a kind here, a case in
 * src/node/tensorStore.ts's `answer`, and a check in `parseQuery`.
 */
import type { HeadFusion } from './analytics';
import { halfToFloat32 } from './float16';

/** A rows answer's values as float32 (its float16 bits decoded). */
export function rowValues(a: { rows: Uint16Array }, out?: Float32Array): Float32Array {
  return halfToFloat32(a.rows, out);
}

export type TensorQuery =
  /** Every head's attention row of one query token: [layers, heads, tokens] (keys in token order, prefix included). `layers` limits it to [from, to). */
  | { kind: 'rows'; inspection: number; token: number; layers?: [number, number] }
  /** One head's full map [tokens, tokens]. */
  | { kind: 'head'; inspection: number; layer: number; head: number }
  /** Row `token` of the attention rollout [tokens] for these rollout settings, and how long the rollout's layers took (0 when cached). */
  | { kind: 'rollout'; inspection: number; token: number; fusion: HeadFusion; discardRatio: number; disabledHeads: number[] }
  /** Per head [layers * heads]: mean attention distance (input pixels) and row entropy (nats). */
  | { kind: 'headStats'; inspection: number }
  /** Per head [layers * heads]: entropy and max weight of softmax(QK^T/sqrt(d_k)) and of softmax(QK^T). Fetches the scores on first use. */
  | { kind: 'scaling'; inspection: number };

export type QueryKind = TensorQuery['kind'];

export type QueryAnswer =
  /**
   * `rows` holds float16 bits (decode with rowValues): every head's row of a query is what a query move carries
   * to the webview, and VS Code compresses what it carries (code-server: a deflated WebSocket) at a cost per byte.
   * Half precision keeps 11 significant bits, finer than anything the views draw or print.
   */
  | { kind: 'rows'; token: number; layers: [number, number]; rows: Uint16Array }
  | { kind: 'head'; layer: number; head: number; map: Float32Array }
  | { kind: 'rollout'; token: number; row: Float32Array; ms: number }
  | { kind: 'headStats'; meanDistance: Float32Array; entropy: Float32Array }
  | { kind: 'scaling'; scaledEntropy: Float32Array; unscaledEntropy: Float32Array; scaledMax: Float32Array; unscaledMax: Float32Array };

export type AnswerOf<K extends QueryKind> = Extract<QueryAnswer, { kind: K }>;

/**
 * Requests in the same lane supersede each other: only the latest one is worth answering (a query move
 * makes the previous move's rows stale). Different inspections and different kinds never supersede.
 */
export function laneOf(q: TensorQuery): string {
  return `${q.inspection}:${q.kind}${q.kind === 'rows' && q.layers ? `:${q.layers.join('-')}` : ''}`;
}

/** The sizes a query is checked against. */
export interface QueryBounds {
  layers: number;
  heads: number;
  tokens: number;
}

const int = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v < hi;

/** Validates a query from an untrusted sender (the webview) against the inspection's sizes; null if it is not exactly a TensorQuery. */
export function parseQuery(raw: unknown, inspection: number, b: QueryBounds): TensorQuery | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const q = raw as Record<string, unknown>;
  if (q.inspection !== inspection) return null;
  switch (q.kind) {
    case 'rows': {
      if (!int(q.token, 0, b.tokens)) return null;
      if (q.layers === undefined) return { kind: 'rows', inspection, token: q.token };
      const l = q.layers;
      if (!Array.isArray(l) || l.length !== 2 || !int(l[0], 0, b.layers) || !int(l[1], l[0] + 1, b.layers + 1)) return null;
      return { kind: 'rows', inspection, token: q.token, layers: [l[0], l[1]] };
    }
    case 'head':
      return int(q.layer, 0, b.layers) && int(q.head, 0, b.heads) ? { kind: 'head', inspection, layer: q.layer, head: q.head } : null;
    case 'rollout': {
      const d = q.disabledHeads;
      if (!int(q.token, 0, b.tokens) || !(q.fusion === 'mean' || q.fusion === 'max' || q.fusion === 'min')) return null;
      if (typeof q.discardRatio !== 'number' || !(q.discardRatio >= 0 && q.discardRatio < 1)) return null;
      if (!Array.isArray(d) || d.length > b.layers * b.heads || !d.every((x) => int(x, 0, b.layers * b.heads))) return null;
      return { kind: 'rollout', inspection, token: q.token, fusion: q.fusion, discardRatio: q.discardRatio, disabledHeads: [...new Set(d as number[])].sort((x, y) => x - y) };
    }
    case 'headStats':
    case 'scaling':
      return { kind: q.kind, inspection };
    default:
      return null;
  }
}
