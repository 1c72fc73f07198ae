/**
 * Effective settings of the extension, read through a small interface so that tests can run without VS Code.
 * In an untrusted workspace the workspace (and folder) values of the model paths are ignored: only the
 * user's own (global) value or the embedded default loads, so opening a folder cannot make the extension
 * load a model file that the folder chose.
 */
import type { PanelSettings } from '../shared/protocol';

export const SECTION = 'vitInspector';
export const COLORMAPS = ['viridis', 'inferno', 'magma', 'plasma', 'turbo', 'cividis'] as const;
/** Settings a workspace may not set while it is untrusted (also listed in package.json restrictedConfigurations). */
export const RESTRICTED_KEYS = ['model', 'cnnModel'] as const;

/** The part of vscode.WorkspaceConfiguration this module uses. */
export interface ConfigLike {
  get<T>(key: string): T | undefined;
  inspect<T>(key: string): { defaultValue?: T; globalValue?: T; workspaceValue?: T; workspaceFolderValue?: T } | undefined;
}

export interface EffectiveSettings {
  /** Configured ViT model path, '' = the embedded default. */
  model: string;
  /** Configured CNN model path, '' = the embedded default. */
  cnnModel: string;
  threads: number;
  colormap: PanelSettings['colormap'];
  topK: number;
  maxModelSizeMB: number;
  /** Restricted keys whose workspace value was ignored because the workspace is untrusted. */
  ignored: string[];
}

function restricted(config: ConfigLike, key: string, trusted: boolean, ignored: string[]): string {
  if (trusted) return str(config.get<string>(key));
  const i = config.inspect<string>(key);
  if (i && (str(i.workspaceValue) || str(i.workspaceFolderValue))) ignored.push(`${SECTION}.${key}`);
  return str(i?.globalValue) || str(i?.defaultValue);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}

function int(v: unknown, fallback: number, min: number, max: number): number {
  const n = typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : fallback;
  return Math.min(max, Math.max(min, n));
}

export function readSettings(config: ConfigLike, trusted: boolean): EffectiveSettings {
  const ignored: string[] = [];
  const colormap = config.get<string>('colormap');
  return {
    model: restricted(config, 'model', trusted, ignored),
    cnnModel: restricted(config, 'cnnModel', trusted, ignored),
    threads: int(config.get('threads'), 0, 0, 256),
    colormap: (COLORMAPS as readonly string[]).includes(colormap ?? '') ? (colormap as PanelSettings['colormap']) : 'viridis',
    topK: int(config.get('topK'), 5, 1, 100),
    maxModelSizeMB: int(config.get('maxModelSizeMB'), 0, 0, 1 << 20), // 0: automatic (src/node/modelSize.ts)
    ignored,
  };
}

export function panelSettings(s: EffectiveSettings): PanelSettings {
  return { colormap: s.colormap, topK: s.topK };
}
