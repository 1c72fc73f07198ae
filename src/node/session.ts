/**
 * onnxruntime sessions: created from in-memory bytes (the model as edited, weights mapped from the file), with
 * model-local functions inlined first, and onnxruntime's errors cut to one line for the user.
 */
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InspectorError } from '../shared/errors';
import { DataType, ModelProto } from '../shared/onnxFields';
import { ProtoReader } from './onnx/protobuf';

/**
 * A session from in-memory bytes. `modelDir`: the folder external data is read from (onnxruntime would
 * otherwise resolve it against the working directory); onnxruntime also refuses paths that leave it.
 */
export async function createSession(bytes: Uint8Array, threads: number, name: string, modelDir?: string): Promise<ort.InferenceSession> {
  try {
    // Errors reach the user as one-line messages; onnxruntime's own log lines would add a second copy on stderr.
    const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionMode: 'sequential', logSeverityLevel: 4 };
    if (threads > 0) options.intraOpNumThreads = threads;
    if (modelDir) options.extra = { session: { model_external_initializers_file_folder_path: modelDir } };
    return await ort.InferenceSession.create(bytes, options);
  } catch (e) {
    throw new InspectorError('unsupported-model', `onnxruntime could not load ${name}: ${firstLine(e)}. Check that the file is a complete ONNX model.`);
  }
}

/** Whether ModelProto.functions is present: model-local functions, as torch's dynamo exporter writes. */
export function hasLocalFunctions(bytes: Uint8Array): boolean {
  try {
    const r = new ProtoReader(bytes);
    while (!r.done) {
      const t = r.tag();
      if (t.field === ModelProto.FUNCTIONS) return true;
      r.skip(t.wire);
    }
  } catch {
    // parseOnnx has read the model already; anything odd here just means no inlining.
  }
  return false;
}

/**
 * The model with its local functions inlined, as onnxruntime itself inlines them when it loads a model
 * (with graph optimisations off, nothing else changes). Exporters that wrap each module in a function
 * (torch.onnx.dynamo_export: one function per nn.Module) hide the attention softmaxes, and the patch Conv,
 * inside function bodies, where they can neither be found nor made graph outputs.
 */
export async function inlineLocalFunctions(bytes: Uint8Array, name: string, modelDir: string): Promise<Uint8Array> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'vit-inspector-inline-'));
  const file = join(dir, 'inlined.onnx');
  try {
    const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'disabled', optimizedModelFilePath: file, logSeverityLevel: 4 };
    options.extra = { session: { model_external_initializers_file_folder_path: modelDir } };
    const session = await ort.InferenceSession.create(bytes, options).catch((e) => {
      throw new InspectorError('unsupported-model', `onnxruntime could not load ${name}: ${firstLine(e)}. Check that the file is a complete ONNX model.`);
    });
    await session.release();
    return new Uint8Array(await fsp.readFile(file));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

export function elemName(t: number): string {
  const names: Record<number, string> = {
    [DataType.FLOAT]: 'float32', [DataType.UINT8]: 'uint8', [DataType.INT8]: 'int8', [DataType.INT32]: 'int32', [DataType.INT64]: 'int64',
    [DataType.FLOAT16]: 'float16', [DataType.DOUBLE]: 'float64',
  };
  return names[t] ?? `type ${t}`;
}

export function firstLine(e: unknown): string {
  return withoutNativeLocations((e instanceof Error ? e.message : String(e)).split('\n')[0]).slice(0, 200).replace(/\.+$/, '');
}

/**
 * onnxruntime prefixes some messages with its C++ source location and function ("/onnxruntime_src/…/
 * tensorprotoutils.cc:2183 onnxruntime::common::Status onnxruntime::utils::F(const onnx::NodeProto&, …)
 * Unsupported attribute …"): of no use to the user, and it pushes the reason past the cut. Keep the reason.
 */
export function withoutNativeLocations(message: string): string {
  let s = message;
  for (let m = /\S+\.(?:cc|cpp|cxx|h|hpp):\d+\s+/.exec(s); m; m = /\S+\.(?:cc|cpp|cxx|h|hpp):\d+\s+/.exec(s)) {
    let rest = s.slice(m.index + m[0].length);
    if (/^[\w:<>~&*, ]+\(/.test(rest)) {
      // a C++ signature: skip to its closing parenthesis
      let depth = 0;
      let i = rest.indexOf('(');
      for (; i < rest.length; i++) {
        if (rest[i] === '(') depth++;
        else if (rest[i] === ')' && --depth === 0) break;
      }
      rest = rest.slice(i + 1).replace(/^\s*(const\s*)?/, '');
    } else rest = rest.replace(/^[A-Z]\w*\s+/, ''); // a bare function name
    s = s.slice(0, m.index) + rest;
  }
  return s.trim();
}
