/** A stand-in for a webview panel's port: records what the host posts, and lets a test wait for a message type or send one. */
import type { HostToWebview } from '../../src/shared/protocol';

export class FakePort {
  readonly posted: HostToWebview[] = [];
  private listener: ((m: unknown) => void) | undefined;
  private waiters: { type: string; resolve: (m: HostToWebview) => void }[] = [];

  postMessage(m: HostToWebview): Promise<boolean> {
    this.posted.push(m);
    for (const w of [...this.waiters]) if (w.type === m.type) {
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

  /** The next posted message of this type (rejects after timeoutMs, naming what was posted). */
  next<T extends HostToWebview['type']>(type: T, timeoutMs = 60_000): Promise<Extract<HostToWebview, { type: T }>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms (got ${this.posted.map((m) => m.type).join(', ')})`)), timeoutMs);
      this.waiters.push({ type, resolve: (m) => { clearTimeout(t); resolve(m as Extract<HostToWebview, { type: T }>); } });
    });
  }
}
