/** The files a report consists of (kept apart from report.ts so that the host can name them without loading sharp). */
export const REPORT_FILES = ['report.json', 'attention.npy', 'patches.png', 'heads.png', 'rollout.png'] as const;
