/**
 * Finds the ONNX file and its Hugging Face configs from what the user pointed at: an .onnx file, or a folder
 * holding model.onnx or onnx/model.onnx (Optimum's layout) with optional config.json and preprocessor_config.json.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { InspectorError } from '../shared/errors';
import { readWithWeightsByReference } from './onnx/weightsByReference';
import { checkModelSize, sizeLimit, type SizeLimit } from './modelSize';
import { openClipPreprocessing, timmLabels, timmPreprocessing } from './libraryConfigs';
import type { PreprocessorFile } from '../shared/types';

export type JsonObject = Record<string, unknown>;

export interface ModelSource {
  name: string; // file or folder name
  onnxPath: string;
  dir: string; // folder the configs were looked for in
  /**
   * The ONNX bytes. With `weightsByReference`, large initializers are not in them but referenced as external
   * data in onnxPath itself (`referencedBytes` of the file); pass dirname(onnxPath) to onnxruntime as the
   * external data folder.
   */
  bytes: Uint8Array;
  referencedBytes: number;
  config: JsonObject | null;
  preprocessorConfig: JsonObject | null;
  /** Where preprocessorConfig came from: preprocessor_config.json, or a timm or OpenCLIP config translated (libraryConfigs.ts). */
  preprocessorFile: PreprocessorFile;
  /** Notes on that translation. */
  preprocessorNotes: string[];
  labels: string[] | null; // from config.json's id2label (or timm's label_names), by index
}

export interface ModelSourceOptions {
  /** Refuse models larger than this many MB (checked with stat, before reading). 0 or absent: automatic, from the machine's memory (modelSize.ts). */
  maxModelMB?: number;
  /** Leave large weights in the file (onnx/weightsByReference.ts): for callers that need the graph and hand the model to onnxruntime. */
  weightsByReference?: boolean;
}

const CANDIDATES = ['model.onnx', join('onnx', 'model.onnx')];

export async function resolveModelSource(path: string, opts: ModelSourceOptions = {}): Promise<ModelSource> {
  const info = await statOrThrow(path, 'model');
  let onnxPath: string;
  let dir: string | null; // null: a bare .onnx file whose folder's configs are not its own
  let name: string;
  if (info.isDirectory()) {
    onnxPath = await findOnnxInFolder(path);
    dir = path;
    name = basename(path);
  } else {
    if (extname(path).toLowerCase() !== '.onnx') {
      throw new InspectorError('not-onnx', `${basename(path)} is not an .onnx file. Pass an .onnx model or a folder containing model.onnx.`);
    }
    onnxPath = path;
    dir = configDirFor(path);
    name = basename(path);
  }
  const { bytes, referencedBytes } = await readModel(onnxPath, sizeLimit(opts.maxModelMB), opts.weightsByReference ?? false);
  const config = dir ? await readJsonIfPresent(join(dir, 'config.json')) : null;
  let preprocessorConfig = dir ? await readJsonIfPresent(join(dir, 'preprocessor_config.json')) : null;
  let preprocessorFile: PreprocessorFile = 'preprocessor_config.json';
  let preprocessorNotes: string[] = [];
  if (!preprocessorConfig && dir) {
    const openClip = await readJsonIfPresent(join(dir, 'open_clip_config.json'));
    const library = timmPreprocessing(config) ?? (openClip ? openClipPreprocessing(openClip) : null);
    if (library) ({ config: preprocessorConfig, file: preprocessorFile, notes: preprocessorNotes } = library);
  }
  const labels = labelsFrom(config) ?? timmLabels(config);
  return { name, onnxPath, dir: dir ?? dirname(path), bytes, referencedBytes, config, preprocessorConfig, preprocessorFile, preprocessorNotes, labels };
}

/** A file named model.onnx belongs to its folder (or, in onnx/model.onnx, to the parent); other names do not. */
function configDirFor(file: string): string | null {
  if (basename(file) !== 'model.onnx') return null;
  const dir = dirname(file);
  return basename(dir) === 'onnx' ? dirname(dir) : dir;
}

async function findOnnxInFolder(folder: string): Promise<string> {
  for (const rel of CANDIDATES) {
    const p = join(folder, rel);
    const st = await fs.stat(p).catch(() => null);
    if (st?.isFile()) return p;
  }
  const others = (await fs.readdir(folder).catch(() => [] as string[])).filter((f) => f.toLowerCase().endsWith('.onnx'));
  const hint = others.length ? ` It has ${others.slice(0, 3).join(', ')}: pass that file directly.` : ' Export the model to ONNX first.';
  throw new InspectorError('file-not-found', `No model.onnx or onnx/model.onnx in ${folder}.${hint}`);
}

async function readModel(file: string, limit: SizeLimit, byReference: boolean): Promise<{ bytes: Uint8Array; referencedBytes: number }> {
  const st = await statOrThrow(file, 'model');
  checkModelSize(st.size, limit, basename(file));
  if (st.size === 0) throw new InspectorError('empty-file', `${basename(file)} is empty (0 bytes). Re-export or re-download the model.`);
  // A symlinked file (a Hugging Face cache snapshot) is read whole: its data may not lie in the model's folder.
  if (byReference && !(await fs.lstat(file)).isSymbolicLink()) {
    const lean = readWithWeightsByReference(file, st.size, basename(file));
    if (lean) return { bytes: lean.bytes, referencedBytes: lean.referenced };
  }
  return { bytes: await readModelBytes(file), referencedBytes: 0 };
}

/** The whole file. */
export async function readModelBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (e) {
    throw fsError(e, file, 'model');
  }
}

async function readJsonIfPresent(file: string): Promise<JsonObject | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsError(e, file, 'config');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InspectorError('bad-config', `${file} is not valid JSON (${(e as Error).message}). Fix or delete the file.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InspectorError('bad-config', `${file} must hold a JSON object. Fix or delete the file.`);
  }
  return value as JsonObject;
}

/** id2label ({"0": "cat", ...}) as an array by index; gaps are filled with the index itself. */
export function labelsFrom(config: JsonObject | null): string[] | null {
  const map = config?.id2label;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return null;
  const entries = Object.entries(map as JsonObject)
    .filter(([k]) => /^\d+$/.test(k))
    .map(([k, v]) => [Number(k), String(v)] as const);
  if (!entries.length) return null;
  const labels = Array.from({ length: Math.max(...entries.map(([i]) => i)) + 1 }, (_, i) => String(i));
  for (const [i, label] of entries) labels[i] = label;
  return labels;
}

async function statOrThrow(path: string, what: string) {
  try {
    return await fs.stat(path);
  } catch (e) {
    throw fsError(e, path, what);
  }
}

export function fsError(e: unknown, path: string, what: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new InspectorError('file-not-found', `${path} does not exist. Check the ${what} path.`);
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'EIO') {
    return new InspectorError('unreadable', `${path} cannot be read (${code}). Check its permissions.`);
  }
  // Any other file system error (a symlink loop, a name too long, a socket, ...) is the path's fault too.
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
    return new InspectorError('unreadable', `${path} cannot be read (${code}). Check that it is a regular file you can open.`);
  }
  return e instanceof Error ? e : new Error(String(e));
}
