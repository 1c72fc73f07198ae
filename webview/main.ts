/**
 * ViT Inspector webview entry (bundled to dist/webview.js, browser IIFE). Registers the toolkit, receives the host's
 * messages, builds the page, wires its events and installs the benchmark hook. The shared state is `app` (./app);
 * repaints are scheduled by ./schedule and drawn by ./views; maths lives in ./logic (DOM-free, unit tested).
 */
import './dom/cspNonce'; // first: before the toolkit's modules run
import {
  provideVSCodeDesignSystem, vsCodeButton, vsCodeCheckbox, vsCodeDropdown, vsCodeOption, vsCodePanels, vsCodePanelTab,
  vsCodePanelView, vsCodeProgressRing,
} from '@vscode/webview-ui-toolkit';
import type { HostToWebview } from '../src/shared/protocol';
import { app, post, setAppState, vscode } from './app';
import { handleHostMessage } from './logic/messages';
import { toSaved } from './logic/state';
import { readTheme } from './dom/draw';
import { buildSkeleton } from './dom/skeleton';
import { dispatch } from './dispatch';
import { wireEvents } from './events';
import { applyModelChanges } from './inspection';
import { breakdown, flushNow, setPainters } from './schedule';
import { installBenchHook } from './dev/benchHook';

declare const VIT_INSPECTOR_DEV: boolean; // set by scripts/build.mjs (esbuild define): true only in dist/dev/
import { painters } from './views/painters';
import { mountExplain } from './views/explain';

setPainters(painters);

window.addEventListener('message', (e: MessageEvent) => {
  const r = handleHostMessage(app.model, e.data as HostToWebview, app.queries);
  if (!r) return;
  app.model = r.model;
  applyModelChanges(r.changed);
});

function boot(): void {
  provideVSCodeDesignSystem().register(
    vsCodeButton(), vsCodeCheckbox(), vsCodeDropdown(), vsCodeOption(), vsCodePanels(), vsCodePanelTab(), vsCodePanelView(), vsCodeProgressRing(),
  );
  const root = document.getElementById('app');
  root?.replaceChildren(); // the host's "Loading…" placeholder
  app.els = buildSkeleton(root ?? document.body);
  setAppState('waiting');
  app.theme = readTheme();
  // save the image path at once, so a reload before the first inspection can still restore the panel
  const path = document.body.dataset.imagePath;
  if (path && path !== app.state.imagePath) {
    app.state = { ...app.state, imagePath: path, maskedTokens: [] };
    vscode.setState(toSaved(app.state));
  }
  wireEvents();
  const compare = document.getElementById('vi-distance-chart')?.parentElement;
  if (compare) mountExplain(compare);

  // The benchmark's hook: only in the development build (dist/dev/webview.js), never in the shipped bundle.
  if (VIT_INSPECTOR_DEV) installBenchHook({ app, dispatch, flushNow, breakdown });

  post({ type: 'ready' });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot, { once: true });
else boot();
