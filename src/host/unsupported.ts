/**
 * Where ViT Inspector cannot run (no native build for this platform, or VS Code for the Web), every
 * contributed command and a restored panel answer with one clear error message instead of failing.
 * No Node imports: the web bundle (src/host/web.ts) uses this too.
 */
import * as vscode from 'vscode';

const PANEL_VIEW_TYPE = 'vitInspector.panel';

export function activateUnsupported(context: vscode.ExtensionContext, message: string, commandIds: string[]): void {
  const show = () => void vscode.window.showErrorMessage(message);
  for (const id of commandIds) context.subscriptions.push(vscode.commands.registerCommand(id, show));
  context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
      panel.dispose();
      show();
    },
  }));
}

export const WEB_MESSAGE = 'ViT Inspector runs models with native onnxruntime and cannot run in VS Code for the Web: '
  + 'use VS Code on the desktop, or a remote (Codespaces, Remote-SSH, Dev Containers, WSL), where it runs on the remote machine.';
