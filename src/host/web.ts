/** The `browser` entry for VS Code for the Web: ViT Inspector needs native code, so every command says so. */
import type * as vscode from 'vscode';
import { activateUnsupported, WEB_MESSAGE } from './unsupported';

export function activate(context: vscode.ExtensionContext): void {
  const commands = (context.extension.packageJSON as { contributes?: { commands?: { command: string }[] } }).contributes?.commands ?? [];
  activateUnsupported(context, WEB_MESSAGE, commands.map((c) => c.command));
}

export function deactivate(): void {}
