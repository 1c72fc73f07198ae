/**
 * window.__vitInspectorBench, for bench/figures/panel.ts and the harness: only the development build
 * (dist/dev/webview.js) installs it; the shipped dist/webview.js does not contain it.
 */
import type { App } from '../app';
import type { Action } from '../logic/state';
import type { Part } from '../schedule';

declare global {
  interface Window {
    __vitInspectorBench?: { moveQuery(token: number): Promise<number>; breakdown(): Record<string, number> };
  }
}

export function installBenchHook(deps: { app: App; dispatch: (a: Action) => void; flushNow: (...parts: Part[]) => void; breakdown: Partial<Record<string, number>> }): void {
  window.__vitInspectorBench = {
    /**
     * Sets the query as a click does, waits for the answer with the token's rows (the round trip to the
     * inference process, or the harness's stand-in), repaints what a real move repaints and returns the
     * milliseconds from the click to every head repainted.
     */
    async moveQuery(token: number): Promise<number> {
      const t0 = performance.now();
      deps.app.hoverQuery = null;
      deps.dispatch({ type: 'setQuery', token });
      const channel = new MessageChannel();
      const tick = () => new Promise<void>((resolve) => { channel.port1.onmessage = () => resolve(); channel.port2.postMessage(0); });
      while (deps.app.model.rows?.token !== token) {
        await tick();
        if (performance.now() - t0 > 30_000) throw new Error(`no rows for token ${token} within 30 s`);
      }
      deps.flushNow('heads');
      return performance.now() - t0;
    },
    /** Per-part milliseconds of the last repaint (heads, patches, compare, ...). */
    breakdown: () => ({ ...deps.breakdown }) as Record<string, number>,
  };
}
