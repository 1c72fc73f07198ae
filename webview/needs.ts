/**
 * What the views on show need from the inference process, asked for after every change (the query book
 * sends a query only when it differs from the latest of its lane): the query's rows always; the rollout row
 * in the Heads view; per-head statistics in ViT vs CNN; the scaling statistics and the masked run's rows in
 * Scaling & masking.
 */
import { app, ask, dims, query } from './app';

export function askForNeeds(): void {
  const p = app.model.payload;
  const d = dims();
  if (!p || !d) return;
  const { state } = app;
  const token = query();
  ask({ kind: 'rows', inspection: p.id, token });
  if (state.view === 'heads') {
    ask({ kind: 'rollout', inspection: p.id, token, fusion: state.fusion, discardRatio: state.discardRatio, disabledHeads: [...state.disabledHeads] });
  }
  if (state.view === 'compare') ask({ kind: 'headStats', inspection: p.id });
  if (state.view === 'scaling') {
    ask({ kind: 'scaling', inspection: p.id });
    const mr = app.model.maskResult;
    if (mr && mr.inspection !== p.id) ask({ kind: 'rows', inspection: mr.inspection, token, layers: [state.layer, state.layer + 1] });
  }
}
