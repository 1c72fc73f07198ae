/**
 * Which models load: the configured path, or the default ViT and CNN embedded in the extension
 * (media/models/vit-cifar10, media/models/cnn-cifar10), and the recently picked models kept in globalState.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_VIT = join('media', 'models', 'vit-cifar10');
export const DEFAULT_CNN = join('media', 'models', 'cnn-cifar10');
export const RECENT_LIMIT = 8;

/** The part of vscode.Memento used for the recent lists. */
export interface MementoLike {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): PromiseLike<void>;
}

export type ModelKind = 'vit' | 'cnn';

export function recentKey(kind: ModelKind): string {
  return kind === 'vit' ? 'vitInspector.recentModels' : 'vitInspector.recentCnnModels';
}

export function resolveModels(extensionPath: string, configured: { model: string; cnnModel: string }): { vit: string; cnn: string } {
  return {
    vit: configured.model || join(extensionPath, DEFAULT_VIT),
    cnn: configured.cnnModel || join(extensionPath, DEFAULT_CNN),
  };
}

/** The recent models of a kind that still exist, most recent first. */
export function recentModels(state: MementoLike, kind: ModelKind): string[] {
  const v = state.get<unknown>(recentKey(kind));
  return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string' && existsSync(p)).slice(0, RECENT_LIMIT) : [];
}

export async function rememberModel(state: MementoLike, kind: ModelKind, path: string): Promise<void> {
  const v = state.get<unknown>(recentKey(kind));
  const old = Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : [];
  await state.update(recentKey(kind), [path, ...old.filter((p) => p !== path)].slice(0, RECENT_LIMIT));
}
