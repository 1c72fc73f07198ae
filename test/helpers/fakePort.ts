/** A stand-in for a webview panel's port: records what the host posts (and when), and lets a test wait for a message or send one. */
import type { HostToWebview } from '../../src/shared/protocol';

export class FakePort {
  readonly posted: HostToWebview[] = [];
  /** performance.now() of each posted message, in step with `posted`. */
  readonly postedAt: number[] = [];
  private listener: ((m: unknown) => void) | undefined;
  private waiters: { test: (m: HostToWebview) => boolean; resolve: (m: HostToWebview) => void }[] = [];

  postMessage(m: HostToWebview): Promise<boolean> {
    this.posted.push(m);
    this.postedAt.push(performance.now());
    for (const w of [...this.waiters]) if (w.test(m)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(m);
    }
    return Promise.resolve(true);
  }

  onDidReceiveMessage(l: (m: unknown) => void) {
    this.listener = l;
    return { dispose: () => (this.listener = undefined) };
  }

  /** A message from the webview. */
  send(m: unknown): void {
    this.listener?.(m);
  }

  /** The next posted message that passes `test` (rejects after timeoutMs, naming what was posted and `context()`). */
  until(test: (m: HostToWebview) => boolean, what = 'the message', timeoutMs = 60_000, context = () => ''): Promise<HostToWebview> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const extra = context();
        reject(new Error(`no ${what} within ${timeoutMs} ms (got ${this.posted.map((m) => m.type).join(', ')})${extra ? `; ${extra}` : ''}`));
      }, timeoutMs);
      this.waiters.push({ test, resolve: (m) => { clearTimeout(t); resolve(m); } });
    });
  }

  /** The next posted message of this type. */
  next<T extends HostToWebview['type']>(type: T, timeoutMs = 60_000, context = () => ''): Promise<Extract<HostToWebview, { type: T }>> {
    return this.until((m) => m.type === type, type, timeoutMs, context) as Promise<Extract<HostToWebview, { type: T }>>;
  }
}
