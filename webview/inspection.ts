/** Applies the model's changes from host messages to the page: progress, errors, settings, and setting up a new inspection. */
import { app, setAppState, vscode } from './app';
import { attentionDims } from '../src/shared/analytics';
import { askForNeeds } from './needs';
import type { Change } from './logic/messages';
import { restoreState } from './logic/state';
import { imageCanvas } from './dom/draw';
import { save } from './dispatch';
import { allParts, flush, invalidate, markDirty, paintNow } from './schedule';
import { setupControls } from './views/controls';
import { setupHeads } from './views/heads';
import { setupStages } from './views/stages';
import { renderPredictions, renderSummary } from './views/tables';

export function applyModelChanges(changed: Change[]): void {
  const { els, model } = app;
  if (changed.includes('progress')) {
    els.progress.hidden = !model.progress;
    els.progressText.textContent = model.progress ?? '';
  }
  if (changed.includes('error')) {
    els.error.hidden = !model.error;
    els.errorText.textContent = model.error?.message ?? '';
    const action = model.error?.action;
    els.errorButton.hidden = !action;
    els.errorButton.textContent = action === 'selectModel' ? 'Select model…' : action === 'selectCnn' ? 'Select CNN…' : 'Retry';
    if (!model.payload) setAppState(model.error ? 'error' : 'waiting');
  }
  if (changed.includes('payload') && model.payload) {
    app.inspectionAt = performance.now();
    app.firstPosted = false;
    setupPayload();
    return;
  }
  if (changed.includes('settings') && model.payload) {
    renderPredictions(els.predictions, model.payload.predictions.slice(0, model.settings.topK));
    setupHeads();
    invalidate('heads', 'patches', 'enlarged', 'rollout', 'compare', 'maskResult');
  }
  if (changed.includes('maskResult')) { invalidate('maskResult'); askForNeeds(); }
  if (changed.includes('rows')) invalidate('heads', 'patches', 'enlarged', 'compare', 'maskResult', 'anatomy');
  if (changed.includes('maskRows')) invalidate('maskResult');
  if (changed.includes('rollout')) invalidate('rollout');
  if (changed.includes('headStats')) invalidate('chart');
  if (changed.includes('scaling')) { app.scalingDone = -1; invalidate('scaling'); }
}

/** The image's full path: the host's serializer reopens the panel from PanelState.imagePath after a reload. */
function imagePathOf(p: { imageName: string; imagePath?: string } | null): string | undefined {
  return p?.imagePath || document.body.dataset.imagePath || p?.imageName || undefined;
}

function setupPayload(): void {
  const p = app.model.payload!;
  const d = app.model.dims!;
  const { els } = app;
  const saved = vscode.getState() ?? app.state;
  app.state = restoreState(saved, d, imagePathOf(p));
  app.analysis = { dims: attentionDims(p.summary.layers, p.summary.heads, p.summary.layout) };
  app.queries.reset();
  app.image = imageCanvas(p.image);
  app.lastPatch = d.prefixTokens.length + Math.floor(d.grid[0] / 2) * d.grid[1] + Math.floor(d.grid[1] / 2); // the centre patch
  app.hoverQuery = null;
  app.scalingDone = -1;
  const patches = d.tokens - d.prefixTokens.length;
  app.scratchMap = new Float32Array(patches);
  app.scratchMap2 = new Float32Array(patches);
  els.empty.hidden = true;
  els.tabs.hidden = false;
  setAppState('ready');
  els.title.textContent = `${p.imageName} — ${p.summary.name}`;
  els.tabs.setAttribute('activeid', `tab-${app.state.view}`);
  setupStages();
  setupControls();
  setupHeads();
  renderPredictions(els.predictions, p.predictions.slice(0, app.model.settings.topK));
  renderSummary();
  markDirty(...allParts());
  // the page paints now without the heatmaps; they come with the answer to the query's rows
  paintNow('heads');
  flush();
  askForNeeds();
  save();
}
