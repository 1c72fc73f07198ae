/** The extension's commands: inspect (explorer, picker, active image preview), select models, export, summary. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { isInspectorError } from '../shared/errors';
import type { ModelSummary } from '../shared/types';
import { recentModels, rememberModel, type ModelKind } from './models';
import type { PanelManager } from './panel';
import type { ClientLike, PanelCommand, PanelController } from './panelController';
import { SECTION, type EffectiveSettings } from './settings';
import { summaryMarkdown } from './summary';
import { reportFiles } from '../node/reportFiles';

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff', 'avif'];
const IMAGE_PREVIEW = 'imagePreview.previewEditor';
const MAX_PANELS_AT_ONCE = 8;

export interface CommandContext {
  state: vscode.Memento;
  panels: PanelManager;
  client(): ClientLike & { summary(modelPath: string, opts: { signal?: AbortSignal; threads?: number; maxModelMB?: number }): Promise<ModelSummary> };
  settings(): EffectiveSettings;
  models(): { vit: string; cnn: string };
  log(line: string): void;
}

export function isImage(path: string): boolean {
  const ext = path.split('.').pop()?.toLowerCase() ?? '';
  return IMAGE_EXTENSIONS.includes(ext);
}

/** The image shown by the built-in image preview in the active tab (or the active tab of any group). */
export function activeImage(): vscode.Uri | undefined {
  const groups = [vscode.window.tabGroups.activeTabGroup, ...vscode.window.tabGroups.all];
  for (const g of groups) {
    const input = g.activeTab?.input;
    if (input instanceof vscode.TabInputCustom && input.viewType === IMAGE_PREVIEW) return input.uri;
  }
  return undefined;
}

export interface Registered {
  disposables: vscode.Disposable[];
  /** A button in a panel's webview ('command' message), with the panel it came from. */
  panelCommand(command: PanelCommand, controller: PanelController): Promise<void>;
}

export function register(ctx: CommandContext): Registered {
  const openImages = (uris: vscode.Uri[]) => {
    const images = uris.filter((u) => u.scheme === 'file' && isImage(u.fsPath));
    if (!images.length) {
      void vscode.window.showWarningMessage(`ViT Inspector opens images (${IMAGE_EXTENSIONS.join(', ')}) on this machine's disk.`);
      return;
    }
    if (images.length > MAX_PANELS_AT_ONCE) ctx.log(`${images.length} images selected: opening the first ${MAX_PANELS_AT_ONCE}`);
    for (const u of images.slice(0, MAX_PANELS_AT_ONCE)) ctx.panels.open(u);
  };

  const pickImages = async () => {
    const uris = await vscode.window.showOpenDialog({
      canSelectMany: true, canSelectFiles: true, canSelectFolders: false, openLabel: 'Inspect',
      title: 'ViT Inspector: choose an image', filters: { Images: IMAGE_EXTENSIONS },
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    if (uris?.length) openImages(uris);
  };

  const inspectActive = async () => {
    const uri = activeImage();
    if (uri) return openImages([uri]);
    const choice = await vscode.window.showInformationMessage('No image is open in the image preview.', 'Inspect Image…');
    if (choice) await pickImages();
  };

  const showSummary = async (controller?: PanelController) => {
    let summary: ModelSummary | undefined = (controller ?? ctx.panels.activeController)?.current?.summary;
    if (!summary) {
      const modelPath = ctx.models().vit;
      const settings = ctx.settings();
      try {
        summary = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `ViT Inspector: reading ${basename(modelPath)}`, cancellable: true },
          async (_p, token) => {
            const ac = new AbortController();
            token.onCancellationRequested(() => ac.abort());
            // Read from the graph (onnxruntime's shape inference): no image, and no run for a model of static shapes.
            return ctx.client().summary(modelPath, { signal: ac.signal, threads: settings.threads, maxModelMB: settings.maxModelSizeMB });
          });
      } catch (e) {
        return showError(e, 'selectModel');
      }
    }
    const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: summaryMarkdown(summary) });
    await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  };

  const exportAttention = async (controller?: PanelController) => {
    const c = controller ?? ctx.panels.activeController ?? (ctx.panels.controllers.length === 1 ? ctx.panels.controllers[0] : undefined);
    const inspection = c?.current;
    if (!c || !inspection) {
      const choice = await vscode.window.showInformationMessage(
        c ? 'The inspection is still running: export when it has finished.' : 'Open an inspection panel first, then export its attention.',
        ...(c ? [] : ['Inspect Image…']));
      if (choice) await pickImages();
      return;
    }
    const target = await vscode.window.showOpenDialog({
      canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Export Here',
      title: `ViT Inspector: export the attention of ${basename(c.imagePath)}`,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(dirname(c.imagePath)),
    });
    if (!target?.length) return;
    const dir = target[0].fsPath;
    const existing = reportFiles(inspection).filter((f) => existsSync(join(dir, f)));
    if (existing.length) {
      const ok = await vscode.window.showWarningMessage(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} in ${basename(dir)}. Overwrite?`,
        { modal: true, detail: dir }, 'Overwrite');
      if (ok !== 'Overwrite') return;
    }
    try {
      const files = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'ViT Inspector: exporting' },
        () => c.exportReport(dir, { colormap: ctx.settings().colormap })); // written by the inference process, which holds the tensors
      ctx.log(`exported ${files.length} files to ${dir}`);
      const open = await vscode.window.showInformationMessage(`Exported ${files.map((f) => basename(f)).join(', ')} to ${dir}.`, 'Open report.json');
      if (open) await vscode.window.showTextDocument(vscode.Uri.file(join(dir, 'report.json')));
    } catch (e) {
      ctx.log(`export failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      void vscode.window.showErrorMessage(`Could not export to ${dir}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  };

  const showError = async (e: unknown, action: 'selectModel' | 'selectCnn') => {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    if (isInspectorError(e) && e.code === 'cancelled') return;
    const label = action === 'selectModel' ? 'Select Model…' : 'Select CNN…';
    if ((await vscode.window.showErrorMessage(message, label)) === label) await selectModel(action === 'selectModel' ? 'vit' : 'cnn');
  };

  const selectModel = (kind: ModelKind) => pickModel(ctx, kind);

  const disposables = [
    vscode.commands.registerCommand('vitInspector.inspect', async (uri?: vscode.Uri, uris?: vscode.Uri[]) => {
      if (Array.isArray(uris) && uris.length) return openImages(uris);
      if (uri instanceof vscode.Uri) return openImages([uri]);
      const active = activeImage();
      return active ? openImages([active]) : pickImages();
    }),
    vscode.commands.registerCommand('vitInspector.inspectImage', pickImages),
    vscode.commands.registerCommand('vitInspector.inspectActiveImage', inspectActive),
    vscode.commands.registerCommand('vitInspector.selectModel', () => selectModel('vit')),
    vscode.commands.registerCommand('vitInspector.selectCnn', () => selectModel('cnn')),
    vscode.commands.registerCommand('vitInspector.export', () => exportAttention()),
    vscode.commands.registerCommand('vitInspector.showSummary', () => showSummary()),
  ];
  const panelCommand = async (command: PanelCommand, controller: PanelController) => {
    if (command === 'selectModel') return selectModel('vit');
    if (command === 'selectCnn') return selectModel('cnn');
    if (command === 'export') return exportAttention(controller);
    if (command === 'showSummary') return showSummary(controller);
    if (command === 'retry') return controller.inspect();
  };
  return { disposables, panelCommand };
}

interface ModelItem extends vscode.QuickPickItem {
  value?: string; // '' = embedded default
  browse?: 'file' | 'folder';
}

/** Quick pick: browse for an .onnx file or a model folder, the embedded default, or a recent model. */
export async function pickModel(ctx: CommandContext, kind: ModelKind): Promise<void> {
  const key = kind === 'vit' ? 'model' : 'cnnModel';
  const current = kind === 'vit' ? ctx.settings().model : ctx.settings().cnnModel;
  const what = kind === 'vit' ? 'Vision Transformer' : 'CNN for comparison';
  const mark = (v: string) => (v === current ? '$(check) ' : '');
  const items: ModelItem[] = [
    { label: '$(file) Choose an .onnx file…', browse: 'file' },
    { label: '$(folder) Choose a model folder…', description: 'model.onnx with config.json and preprocessor_config.json', browse: 'folder' },
    { label: `${mark('')}$(package) Embedded default`, description: kind === 'vit' ? 'ViT trained on CIFAR-10' : 'CNN trained on CIFAR-10', value: '' },
  ];
  const recent = recentModels(ctx.state, kind);
  if (recent.length) {
    items.push({ label: 'Recent', kind: vscode.QuickPickItemKind.Separator });
    for (const p of recent) items.push({ label: `${mark(p)}${basename(p)}`, description: dirname(p), value: p });
  }
  const picked = await vscode.window.showQuickPick(items, { title: `ViT Inspector: select the ${what}`, placeHolder: current || 'Embedded default', matchOnDescription: true });
  if (!picked) return;
  let value = picked.value;
  if (picked.browse) {
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: picked.browse === 'file', canSelectFolders: picked.browse === 'folder', canSelectMany: false,
      openLabel: 'Use This Model', title: `ViT Inspector: choose the ${what}`,
      ...(picked.browse === 'file' ? { filters: { 'ONNX models': ['onnx'] } } : {}),
    });
    if (!uris?.length) return;
    value = uris[0].fsPath;
    if (picked.browse === 'folder' && !existsSync(join(value, 'model.onnx'))) {
      const onnx = safeList(value).filter((f) => f.endsWith('.onnx'));
      if (!onnx.length) {
        void vscode.window.showErrorMessage(`${basename(value)} has no .onnx model in it. Choose a folder with model.onnx (and config.json), or an .onnx file.`, 'Select Model…')
          .then((c) => c && pickModel(ctx, kind));
        return;
      }
    }
  }
  if (value === undefined) return;
  if (value) await rememberModel(ctx.state, kind, value);
  await setModel(ctx, key, value);
}

/** Stores the choice where it takes effect: the workspace if a trusted workspace sets it, else the user settings. */
async function setModel(ctx: CommandContext, key: 'model' | 'cnnModel', value: string): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const i = config.inspect<string>(key);
  const before = key === 'model' ? ctx.settings().model : ctx.settings().cnnModel;
  const target = vscode.workspace.isTrusted && i?.workspaceValue ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update(key, value, target);
  ctx.log(`${SECTION}.${key} = ${JSON.stringify(value)} (${target === vscode.ConfigurationTarget.Workspace ? 'workspace' : 'user'} settings)`);
  // A changed setting re-runs the panels (see extension.ts); the same choice again re-runs the active one.
  if (before === value) void ctx.panels.activeController?.inspect();
}

function safeList(dir: string): string[] {
  try {
    return statSync(dir).isDirectory() ? readdirSync(dir) : [];
  } catch {
    return [];
  }
}
