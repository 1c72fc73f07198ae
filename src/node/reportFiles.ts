/** The files a report consists of (kept apart from report.ts so that the host can name them without loading sharp). */
import type { Inspection } from '../shared/types';

export const REPORT_FILES = ['report.json', 'attention.npy', 'patches.png', 'heads.png', 'rollout.png'] as const;

/** The files writeReport writes for this inspection: a windowed model's attention is one file per stage. */
export function reportFiles(inspection: Pick<Inspection, 'summary'>): string[] {
  const stages = inspection.summary.stages;
  if (!stages) return [...REPORT_FILES];
  return REPORT_FILES.flatMap((f) => (f === 'attention.npy' ? stages.map((_, s) => stageFile(s)) : [f]));
}

/** A windowed model's stage s (0-based) attention file. */
export function stageFile(s: number): string {
  return `attention-stage${s + 1}.npy`;
}
