/** UI actions: reduces the state, saves it (debounced) and marks dirty the parts each change touches. */
import { app, dims, vscode } from './app';
import type { Action } from './logic/state';
import { reduce, toSaved } from './logic/state';
import { allParts, invalidate, partView } from './schedule';
import type { Part } from './schedule';
import { askForNeeds } from './needs';
import { setupHeads } from './views/heads';

const saving = { timer: 0 };

/** Saves the state with the webview (VS Code keeps it across reloads) 150 ms after the last change. */
export function save(): void {
  clearTimeout(saving.timer);
  saving.timer = window.setTimeout(() => vscode.setState(toSaved(app.state)), 150);
}

export function dispatch(a: Action): void {
  const d = dims();
  if (!d) return;
  const prev = app.state;
  app.state = reduce(prev, a, d);
  const state = app.state;
  if (state === prev) return;
  save();
  const parts: Part[] = ['controls'];
  if (prev.query !== state.query) parts.push('heads', 'patches', 'enlarged', 'rollout', 'compare', 'mask', 'maskResult', 'anatomy');
  if (prev.layer !== state.layer) parts.push('patches', 'compare', 'scaling', 'maskResult', 'anatomy');
  if (prev.cnnDepth !== state.cnnDepth) parts.push('compare');
  if (prev.disabledHeads !== state.disabledHeads) parts.push('heads', 'headsOv', 'patches', 'enlarged', 'compare', 'chart', 'maskResult');
  if (prev.massThreshold !== state.massThreshold) parts.push('rollout');
  if (prev.maskedTokens !== state.maskedTokens) parts.push('mask');
  if (prev.enlarged !== state.enlarged || prev.cursor !== state.cursor) parts.push('headsOv', 'enlarged');
  if (prev.showImage !== state.showImage) { setupHeads(); parts.push('heads', 'headsOv'); }
  if (prev.view !== state.view) parts.push(...allParts().filter((p) => partView[p] === state.view));
  invalidate(...parts);
  askForNeeds(); // the rollout row, a masked run's layer, ... for the new state
}
