/**
 * The webview's side of the queries (src/shared/queries.ts): request ids, and which answer is still wanted.
 * Per lane only the latest request counts: an answer to an older one (the query moved on meanwhile) is
 * ignored, and the host drops older requests that had not left yet. DOM-free.
 */
import { laneOf, type QueryAnswer, type TensorQuery } from '../../src/shared/queries';

export class QueryBook {
  private nextId = 1;
  /** Latest request per lane, with its query (to tell what an answer is for). */
  private readonly latest = new Map<string, { requestId: number; query: TensorQuery }>();
  /** Lanes by the query they last asked for (same key as `sameAs`): a repeat of an asked query is not sent again. */
  private readonly asked = new Map<string, string>();

  /** A request for `query`, or null when the same query is already the latest of its lane (asked or answered). */
  request(query: TensorQuery): { requestId: number; query: TensorQuery } | null {
    const lane = laneOf(query);
    const key = JSON.stringify(query);
    if (this.asked.get(lane) === key) return null;
    const r = { requestId: this.nextId++, query };
    this.latest.set(lane, r);
    this.asked.set(lane, key);
    return r;
  }

  /** The query an answer is for, if it is the latest of its lane and of the same kind; null otherwise. */
  accept(requestId: unknown, answer: unknown): { query: TensorQuery; answer: QueryAnswer } | null {
    if (typeof requestId !== 'number' || typeof answer !== 'object' || answer === null) return null;
    for (const r of this.latest.values()) {
      if (r.requestId !== requestId) continue;
      if ((answer as { kind?: unknown }).kind !== r.query.kind) return null;
      return { query: r.query, answer: answer as QueryAnswer };
    }
    return null;
  }

  /** Forgets every lane (a new inspection: nothing asked yet). */
  reset(): void {
    this.latest.clear();
    this.asked.clear();
  }

  /** Forgets what a lane asked, so the same query is sent again (after an error, say). */
  forget(query: TensorQuery): void {
    this.asked.delete(laneOf(query));
  }
}
