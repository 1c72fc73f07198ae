/**
 * Windowed, hierarchical models (Swin): the stage selector above the views. The host sends one stage at a
 * time as if it were a plain ViT (that stage's dense attention, grid, layers and heads), so every other view
 * shows the chosen stage unchanged. Picking a stage carries the query to the token of the new grid under the
 * same spot of the image, and asks the host for that stage. Rollout stays within a stage: patch merging
 * between stages mixes 2×2 tokens through a learned layer, which attention does not describe.
 */
import type { StageSummary } from '../../src/shared/types';
import { stageQuery } from '../../src/shared/windows';
import { app, post, vscode } from '../app';
import { toSaved } from '../logic/state';
import { h } from '../dom/skeleton';

/** The stage on show (0-based), or null for a plain ViT. */
export function currentStage(): number | null {
  const p = app.model.payload;
  return p?.summary.stages ? (p.stage ?? 0) : null;
}

/** " (stage 2 of 4 only)" for the rollout's status line of a windowed model, else "". */
export function stageSuffix(): string {
  const s = currentStage();
  const n = app.model.payload?.summary.stages?.length ?? 0;
  return s === null ? '' : ` (stage ${s + 1} of ${n} only)`;
}

export function stageLabel(s: StageSummary, i: number): string {
  const window = s.window[0] === s.window[1] ? `${s.window[0]}×${s.window[0]}` : `${s.window[0]}×${s.window[1]}`;
  const shifts = s.shifts.map((p) => (p[0] === p[1] ? String(p[0]) : `${p[0]},${p[1]}`)).join(' ');
  return `Stage ${i + 1}: ${s.grid[0]}×${s.grid[1]} tokens, ${window} windows, ${s.layers} block${s.layers === 1 ? '' : 's'} (shifts ${shifts}), ${s.heads} heads`;
}

/** Shows (or removes) the stage bar for a new payload, and the masking lab's note. */
export function setupStages(): void {
  const p = app.model.payload!;
  const stages = p.summary.stages;
  const { els } = app;
  let bar = document.getElementById('vi-stages');
  let maskNote = document.getElementById('vi-mask-windowed');
  if (!stages) {
    bar?.remove();
    maskNote?.remove();
    return;
  }
  const current = p.stage ?? 0;
  if (!bar) {
    bar = h('section', { id: 'vi-stages', class: 'vi-stages', 'aria-label': 'Stages of a windowed model' });
    els.tabs.before(bar);
  }
  const select = h('vscode-dropdown', { id: 'vi-stage', 'aria-label': 'Stage' },
    ...stages.map((s, i) => h('vscode-option', { value: String(i), selected: i === current }, stageLabel(s, i)))) as HTMLElement & { value: string };
  select.addEventListener('change', () => {
    const s = Number(select.value);
    if (Number.isInteger(s) && s !== currentStage()) selectStage(s);
  });
  bar.replaceChildren(
    h('label', { for: 'vi-stage', class: 'vi-stage-label' }, 'Stage'), select,
    h('p', { class: 'vi-hint', id: 'vi-stage-note' },
      'Windowed model: each block attends within its windows only (0 elsewhere), shown at the tokens\u2019 image positions with the cyclic shift undone. '
      + 'Heads, query and rollout are per stage: rollout does not cross patch merging.'),
  );
  if (!maskNote) {
    maskNote = h('p', { id: 'vi-mask-windowed', class: 'vi-hint' }, 'Masking is not available for windowed models: each block attends within its own shifted windows.');
    els.runMasked.parentElement?.after(maskNote);
  }
}

/** Whether the masking lab is off (windowed models). */
export function maskingUnavailable(): boolean {
  return !!app.model.payload?.summary.stages;
}

function selectStage(s: number): void {
  const p = app.model.payload!;
  const stages = p.summary.stages!;
  const from = stages[p.stage ?? 0].grid;
  const to = stages[s].grid;
  // Saved before the host answers, so that the new stage's payload restores this query (heads indices do not carry over).
  app.state = { ...app.state, query: stageQuery(app.state.query, from, to), layer: 0, disabledHeads: [], enlarged: null, cursor: { layer: 0, head: 0 }, maskedTokens: [] };
  vscode.setState(toSaved(app.state));
  post({ type: 'selectStage', stage: s });
}
