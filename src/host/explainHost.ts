/**
 * The panel's `explain` request on the host side: runs the passes in the inference process under a cancellable
 * progress indicator (cancelling stops the child's passes), and answers the webview with the result or a
 * one-line reason. No vscode import (PanelDeps.withProgress is vscode.window.withProgress in the extension).
 */
import { basename } from 'node:path';
import { isInspectorError } from '../shared/errors';
import type { ExplainRequest, Explanation } from '../shared/explainTypes';
import type { HostToWebview } from '../shared/protocol';

export interface ExplainDeps {
  explain(req: ExplainRequest, opts: { signal?: AbortSignal; onProgress?: (message: string, fraction?: number) => void }): Promise<Explanation>;
  withProgress<T>(title: string, quiet: boolean, task: (signal: AbortSignal, report: (message: string) => void) => Promise<T>): Promise<T>;
  post(message: HostToWebview): Promise<boolean>;
  log(line: string): void;
}

export class ExplainRunner {
  private current: AbortController | undefined;

  constructor(private readonly deps: ExplainDeps) {}

  /** Runs one explanation; a newer request (or dispose) cancels the one before. */
  async run(imagePath: string, models: { vit: string; cnn: string }, target: number | null, settings: { threads: number; maxModelMB: number }): Promise<void> {
    this.current?.abort();
    const ac = new AbortController();
    this.current = ac;
    const name = basename(imagePath);
    try {
      const t0 = Date.now();
      const result = await this.deps.withProgress(`ViT Inspector: explaining ${name}`, false, (signal, report) => {
        signal.addEventListener('abort', () => ac.abort(), { once: true });
        return this.deps.explain(
          { modelPath: models.vit, cnnPath: models.cnn || undefined, image: imagePath, target: target ?? undefined, threads: settings.threads, maxModelMB: settings.maxModelMB },
          { signal: ac.signal, onProgress: (m, f) => report(f === undefined ? m : `${m} ${Math.round(f * 100)}%`) },
        );
      });
      if (this.current !== ac) return;
      this.deps.log(`explained ${name} in ${Date.now() - t0} ms`);
      await this.deps.post({ type: 'explanation', result });
    } catch (e) {
      if (this.current !== ac) return;
      const message = isInspectorError(e) ? e.message : `Unexpected error: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
      this.deps.log(`explain ${name}: ${message}`);
      await this.deps.post({ type: 'explanation', result: null, error: message });
    } finally {
      if (this.current === ac) this.current = undefined;
    }
  }

  dispose(): void {
    this.current?.abort();
  }
}
