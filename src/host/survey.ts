/**
 * "Survey Folder…": the explorer's context menu on a folder (or the Command Palette) runs `survey` over it
 * with the configured ViT (and the configured CNN's measured receptive field beside it), in as many inference processes as there are cores, with a cancellable
 * notification; then a page shows figure 7 over the folder. The results live in the extension's storage,
 * one folder per (images, models): surveying the same folder again resumes a stopped survey, or redoes
 * nothing if it is complete.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { runSurvey } from '../node/survey/run';
import { isInspectorError } from '../shared/errors';
import { makeNonce } from './html';
import type { EffectiveSettings } from './settings';
import { surveyPageHtml } from './surveyPage';

export const SURVEY_COMMAND = 'vitInspector.surveyFolder';
export const SURVEY_VIEW = 'vitInspector.survey';
const MAX_JOBS = 4;

export interface SurveyContext {
  storage: vscode.Uri;
  workerPath: string;
  settings(): EffectiveSettings;
  models(): { vit: string; cnn: string };
  log(line: string): void;
}

export function registerSurvey(ctx: SurveyContext): vscode.Disposable {
  return vscode.commands.registerCommand(SURVEY_COMMAND, async (uri?: vscode.Uri) => {
    let folder = uri?.scheme === 'file' ? uri.fsPath : undefined;
    if (!folder) {
      const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Survey', title: 'ViT Inspector: choose a folder of images', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
      folder = picked?.[0]?.fsPath;
    }
    if (!folder) return;
    await surveyFolder(ctx, folder);
  });
}

export async function surveyFolder(ctx: SurveyContext, folder: string): Promise<void> {
  const settings = ctx.settings();
  const { vit: model, cnn } = ctx.models();
  const outDir = join(ctx.storage.fsPath, 'surveys', `${basename(folder)}-${createHash('sha1').update(`${folder}\u0000${model}\u0000${cnn}`).digest('hex').slice(0, 10)}`);
  // Each process holds its own copy of the model: a few are enough to keep the cores busy without filling the memory.
  const jobs = Math.min(availableParallelism(), MAX_JOBS);
  ctx.log(`survey of ${folder} with ${model} and ${cnn} into ${outDir} (${jobs} processes)`);
  try {
    const { summary, progress } = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `ViT Inspector: surveying ${basename(folder)}`, cancellable: true },
      async (report, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        let shown = 0;
        return runSurvey({
          modelPath: model, cnn: { modelPath: cnn }, imagesDir: folder, outDir, jobs, maxModelMB: settings.maxModelSizeMB,
          threads: settings.threads > 0 ? settings.threads : undefined,
          workerPath: ctx.workerPath, signal: ac.signal, log: ctx.log,
          onProgress: (p) => {
            const share = p.total ? (100 * p.done) / p.total : 100;
            const eta = p.etaMs === null ? '' : `, about ${Math.ceil(p.etaMs / 1000)} s left`;
            report.report({ increment: share - shown, message: `${p.done}/${p.total} images${p.failed ? ` (${p.failed} failed)` : ''}, ${p.rate.toFixed(1)}/s${eta}` });
            shown = share;
          },
        });
      });
    ctx.log(`survey of ${folder}: ${summary.images} images, ${summary.failed} failed, ${(progress.elapsedMs / 1000).toFixed(1)} s`);
    if (summary.images === 0) {
      void vscode.window.showWarningMessage(`ViT Inspector: ${basename(folder)} has no image that could be read (${summary.failed} failed).`);
      return;
    }
    const panel = vscode.window.createWebviewPanel(SURVEY_VIEW, `Survey: ${basename(folder)}`, vscode.ViewColumn.Active, { enableScripts: false });
    panel.webview.html = surveyPageHtml({ folder: basename(folder), outDir, nonce: makeNonce(), summary });
  } catch (e) {
    const message = isInspectorError(e) ? e.message : `Unexpected error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    ctx.log(`survey of ${folder}: ${message}`);
    if (isInspectorError(e) && e.code === 'cancelled') void vscode.window.showInformationMessage(`ViT Inspector: ${message}`);
    else void vscode.window.showErrorMessage(`ViT Inspector: ${message}`);
  }
}
