/**
 * Inspection panels in VS Code: one per image (opening the same image again reveals its panel), restored
 * after a window reload by a WebviewPanelSerializer from the webview's saved PanelState.
 */
import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { makeNonce, panelHtml } from './html';
import { PanelController, type PanelDeps } from './panelController';

export const VIEW_TYPE = 'vitInspector.panel';

function key(path: string): string {
  return process.platform === 'win32' ? path.toLowerCase() : path;
}

export class PanelManager implements vscode.WebviewPanelSerializer, vscode.Disposable {
  private readonly panels = new Map<string, { panel: vscode.WebviewPanel; controller: PanelController }>();
  private active: PanelController | undefined;

  constructor(private readonly extensionUri: vscode.Uri, private readonly deps: PanelDeps) {}

  /** The panel last focused (for Export and Show Model Summary), if it is still open. */
  get activeController(): PanelController | undefined {
    return this.active;
  }

  get controllers(): PanelController[] {
    return [...this.panels.values()].map((p) => p.controller);
  }

  open(image: vscode.Uri, column: vscode.ViewColumn = vscode.ViewColumn.Active): PanelController {
    const existing = this.panels.get(key(image.fsPath));
    if (existing) {
      existing.panel.reveal();
      return existing.controller;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, basename(image.fsPath), { viewColumn: column, preserveFocus: false },
      this.webviewOptions());
    return this.attach(panel, image.fsPath);
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const imagePath = typeof state === 'object' && state !== null ? (state as { imagePath?: unknown }).imagePath : undefined;
    if (typeof imagePath !== 'string' || !imagePath || !isFile(imagePath)) {
      this.deps.log(`not restoring a panel: ${typeof imagePath === 'string' ? `${imagePath} is gone` : 'no image in its state'}`);
      panel.dispose();
      return;
    }
    const existing = this.panels.get(key(imagePath));
    if (existing) {
      panel.dispose();
      existing.panel.reveal();
      return;
    }
    panel.webview.options = this.webviewOptions();
    this.attach(panel, imagePath);
  }

  private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      enableFindWidget: false,
      // Everything the webview needs is in dist/ (script) and media/ (styles, icons); nothing else is readable.
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    };
  }

  private attach(panel: vscode.WebviewPanel, imagePath: string): PanelController {
    const webview = panel.webview;
    panel.title = basename(imagePath);
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.png');
    webview.html = panelHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'panel.css')).toString(),
      nonce: makeNonce(),
      imagePath,
      title: basename(imagePath),
    });
    const controller = new PanelController(imagePath, webview, this.deps);
    const k = key(imagePath);
    this.panels.set(k, { panel, controller });
    this.active = controller;
    panel.onDidChangeViewState((e) => {
      if (e.webviewPanel.active) this.active = controller;
    });
    panel.onDidDispose(() => {
      if (this.panels.get(k)?.controller === controller) this.panels.delete(k);
      if (this.active === controller) this.active = undefined;
      controller.dispose();
    });
    void controller.inspect(); // starts loading the model while the webview loads
    return controller;
  }

  dispose(): void {
    for (const { panel } of [...this.panels.values()]) panel.dispose();
    this.panels.clear();
  }
}

function isFile(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}
