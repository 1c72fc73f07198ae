/**
 * ViT Inspector's extension host side. The host never loads onnxruntime: one InferenceClient (created on
 * first use, disposed on deactivate) runs every model in a supervised child process (dist/worker.js).
 */
import * as vscode from 'vscode';
import { register, pickModel, type CommandContext } from './commands';
import { InferenceClient } from '../node/inferenceClient';
import { resolveModels } from './models';
import { PanelManager, VIEW_TYPE } from './panel';
import type { PanelDeps } from './panelController';
import { readSettings, SECTION } from './settings';
import { contributedCommands, nativeSupportProblem } from './platform';
import { activateUnsupported } from './unsupported';
import { registerSurvey } from './survey';

let client: InferenceClient | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const unsupported = nativeSupportProblem(context.extensionPath);
  if (unsupported) return activateUnsupported(context, unsupported, contributedCommands(context.extensionPath));
  const out = vscode.window.createOutputChannel('ViT Inspector', { log: true });
  context.subscriptions.push(out);
  const log = (line: string) => out.info(line);
  let warnedRestricted = false;

  const settings = () => {
    const s = readSettings(vscode.workspace.getConfiguration(SECTION), vscode.workspace.isTrusted);
    if (s.ignored.length && !warnedRestricted) {
      warnedRestricted = true;
      log(`Restricted Mode: ignoring the workspace's ${s.ignored.join(', ')}`);
      void vscode.window.showWarningMessage(
        `This workspace is not trusted, so its ${s.ignored.join(' and ')} setting is ignored: the default or your own model loads.`,
        'Manage Workspace Trust').then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
    }
    return s;
  };
  const models = () => resolveModels(context.extensionPath, settings());
  const getClient = () => (client ??= new InferenceClient({ workerPath: context.asAbsolutePath('dist/worker.js'), log }));

  const deps: PanelDeps = {
    client: getClient,
    settings,
    models,
    log,
    withProgress: (title, quiet, task) => Promise.resolve(vscode.window.withProgress(
      { location: quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification, title, cancellable: !quiet },
      (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        return task(ac.signal, (message) => progress.report({ message }));
      })),
    showError: (message, action, panel) => {
      const labels = { selectModel: 'Select Model…', selectCnn: 'Select CNN…', retry: 'Try Again' } as const;
      const buttons = action ? [labels[action]] : [];
      void vscode.window.showErrorMessage(message, ...buttons, 'Show Log').then((choice) => {
        if (choice === 'Show Log') out.show(true);
        else if (choice === labels.retry) void panel.inspect();
        else if (choice === labels.selectModel) void pickModel(cmdCtx, 'vit');
        else if (choice === labels.selectCnn) void pickModel(cmdCtx, 'cnn');
      });
    },
    runCommand: (command, panel) => void registered.panelCommand(command, panel),
  };

  const panels = new PanelManager(context.extensionUri, deps);
  const cmdCtx: CommandContext = { state: context.globalState, panels, client: getClient, settings, models, log };
  const registered = register(cmdCtx);
  context.subscriptions.push(
    panels,
    registerSurvey({ storage: context.globalStorageUri, workerPath: context.asAbsolutePath('dist/worker.js'), settings, models, log }),
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, panels),
    ...registered.disposables,
    vscode.workspace.onDidChangeConfiguration((e) => {
      const rerun = ['model', 'cnnModel', 'threads', 'maxModelSizeMB', 'topK'].some((k) => e.affectsConfiguration(`${SECTION}.${k}`));
      if (rerun) for (const c of panels.controllers) void c.inspect();
      else if (e.affectsConfiguration(`${SECTION}.colormap`)) for (const c of panels.controllers) c.postSettings(settings());
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      warnedRestricted = false;
      for (const c of panels.controllers) void c.inspect();
    }),
    { dispose: () => deactivate() },
  );
  log(`activated (${vscode.workspace.isTrusted ? 'trusted' : 'restricted'} workspace)`);
}

export function deactivate(): void {
  client?.dispose();
  client = undefined;
}
