/**
 * Builders of bad inputs for the reliability tests, made at test time (in os.tmpdir()) from the test
 * fixtures: models rewritten field by field with the project's own protobuf reader and writer, and
 * hand-made PNG chunks. Nothing here writes next to the fixtures.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { isInspectorError } from '../../src/shared/errors';
import { ProtoReader, ProtoWriter, WireType, encodeVarint } from '../../src/node/onnx/protobuf';
import { FIXTURES, REPO } from './fixtures';

export const VIT_DIR = join(FIXTURES, 'vit');
export const vitModel = (name: string) => join(VIT_DIR, `${name}.onnx`);
export const vitImage = (name: string) => join(VIT_DIR, `${name}.png`);

/** One field of a protobuf message: its number, wire type, and byte ranges (whole field; payload for LEN). */
export interface Field {
  field: number;
  wire: number;
  start: number;
  end: number;
  payload: [number, number] | null;
}

export function fieldsOf(buf: Uint8Array, start = 0, end = buf.length): Field[] {
  const r = new ProtoReader(buf, start, end);
  const out: Field[] = [];
  while (!r.done) {
    const s = r.pos;
    const t = r.tag();
    let payload: [number, number] | null = null;
    if (t.wire === WireType.LEN) payload = r.lenRange();
    else r.skip(t.wire);
    out.push({ field: t.field, wire: t.wire, start: s, end: r.pos, payload });
  }
  return out;
}

/**
 * Rebuilds a message, letting `edit` replace a field: return the new payload of a LEN field (a Uint8Array
 * or ProtoWriter), null to drop the field, or undefined to keep it as it is.
 */
export function rewrite(buf: Uint8Array, edit: (f: Field, buf: Uint8Array) => Uint8Array | ProtoWriter | null | undefined, start = 0, end = buf.length): Uint8Array {
  const w = new ProtoWriter();
  for (const f of fieldsOf(buf, start, end)) {
    const r = edit(f, buf);
    if (r === undefined) w.raw(buf.subarray(f.start, f.end));
    else if (r !== null) w.bytes(f.field, r);
  }
  return w.finish();
}

/** Rewrites the graph (ModelProto field 7) of a model. */
export function rewriteGraph(model: Uint8Array, edit: (f: Field, buf: Uint8Array) => Uint8Array | ProtoWriter | null | undefined): Uint8Array {
  return rewrite(model, (f, b) => (f.field === 7 && f.payload ? rewrite(b, edit, ...f.payload) : undefined));
}

function stringField(buf: Uint8Array, range: [number, number], field: number): string | null {
  for (const f of fieldsOf(buf, ...range)) if (f.field === field && f.payload) return Buffer.from(buf.subarray(...f.payload)).toString('utf8');
  return null;
}

/** The fixture with every Softmax replaced by a com.microsoft fused attention op type (never run: refused on parse). */
export function fusedAttentionModel(src = vitModel('vit_hf_style'), opType = 'Attention'): Uint8Array {
  return rewriteGraph(readFileSync(src), (f, b) => {
    if (f.field !== 1 || !f.payload || stringField(b, f.payload, 4) !== 'Softmax') return undefined;
    return new ProtoWriter()
      .raw(rewrite(b, (nf) => (nf.field === 4 ? new TextEncoder().encode(opType) : undefined), ...f.payload))
      .string(7, 'com.microsoft');
  });
}

/**
 * The fixture with its largest initializer moved to external data at `location` (offset 0, its own
 * length). With `writeData`, the weights are written to that location relative to the model's folder.
 */
export function externalDataModel(location: string, src = vitModel('vit_hf_style')): { bytes: Uint8Array; tensor: string; data: Uint8Array } {
  const bytes = readFileSync(src);
  // Find the largest initializer with raw_data.
  let best: { start: number; raw: [number, number] } | null = null;
  for (const f of fieldsOf(bytes)) {
    if (f.field !== 7 || !f.payload) continue;
    for (const g of fieldsOf(bytes, ...f.payload)) {
      if (g.field !== 5 || !g.payload) continue;
      const raw = fieldsOf(bytes, ...g.payload).find((t) => t.field === 9)?.payload;
      if (raw && (!best || raw[1] - raw[0] > best.raw[1] - best.raw[0])) best = { start: g.start, raw };
    }
  }
  if (!best) throw new Error('no raw_data initializer');
  const target = best;
  const data = Uint8Array.from(bytes.subarray(...target.raw));
  let tensor = '';
  const entry = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
  const out = rewriteGraph(bytes, (g, b) => {
    if (g.field !== 5 || g.start !== target.start || !g.payload) return undefined;
    tensor = stringField(b, g.payload, 8) ?? '';
    return new ProtoWriter()
      .raw(rewrite(b, (t) => (t.field === 9 ? null : undefined), ...g.payload))
      .bytes(13, entry('location', location))
      .bytes(13, entry('offset', '0'))
      .bytes(13, entry('length', String(data.length)))
      .varint(14, 1);
  });
  return { bytes: out, tensor, data };
}

/** The fixture with one initializer's dims claiming `dims` (its data unchanged): a tensor far larger than the file. */
export function hugeTensorModel(dims = [1_000_000, 1_000_000], src = vitModel('vit_hf_style')): Uint8Array {
  let done = false;
  return rewriteGraph(readFileSync(src), (g, b) => {
    if (done || g.field !== 5 || !g.payload) return undefined;
    done = true;
    return new ProtoWriter().packedVarints(1, dims).raw(rewrite(b, (t) => (t.field === 1 ? null : undefined), ...g.payload));
  });
}

/** A model whose graph field claims `claimed` bytes (4 GB by default) in a file of a few bytes. */
export function lengthBombModel(claimed = 2 ** 32): Uint8Array {
  // ir_version 7, then graph (field 7) of `claimed` bytes holding the start of one node named "A"
  return Uint8Array.from([0x08, 0x07, 0x3a, ...encodeVarint(claimed), 0x0a, 0x03, 0x1a, 0x01, 0x41]);
}

/** A copy of a fixture's Hugging Face folder in `dir`/`name`, with files replaced or added. */
export function modelFolder(dir: string, name: string, fixture = 'vit_hf_style', replace: Record<string, string | Uint8Array> = {}): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  for (const f of ['model.onnx', 'config.json', 'preprocessor_config.json']) copyFileSync(join(VIT_DIR, fixture, f), join(folder, f));
  for (const [f, content] of Object.entries(replace)) writeFileSync(join(folder, f), content);
  return folder;
}

/** The small CNN fixture, gunzipped into `dir`. */
export function cnnModel(dir: string, name = 'cnn_small'): string {
  const p = join(dir, `${name}.onnx`);
  writeFileSync(p, zlib.gunzipSync(readFileSync(join(FIXTURES, 'cnn', `${name}.onnx.gz`))));
  return p;
}

// ---- images ----

export function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

/**
 * A decompression bomb: a PNG of a few kB whose IDAT is a valid zlib stream of `rows` blank rows of a
 * width × height RGB image (the rest would inflate to width × height × 3 bytes: 2.7 GB at 30000²).
 */
export function bombPng(width = 30000, height = 30000, rows = 64): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const idat = zlib.deflateSync(Buffer.alloc(rows * (1 + width * 3)), { level: 9 });
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** The PNG with the payload of its first IDAT chunk overwritten by 0xff (CRC kept stale, like bit rot). */
export function corruptPng(png: Uint8Array): Buffer {
  const b = Buffer.from(png);
  let o = 8;
  while (o + 8 <= b.length) {
    const len = b.readUInt32BE(o);
    const type = b.toString('latin1', o + 4, o + 8);
    if (type === 'IDAT') {
      b.fill(0xff, o + 8 + 2, o + 8 + len); // keep the zlib header, wreck the deflate data
      return b;
    }
    o += 12 + len;
  }
  throw new Error('no IDAT');
}

/** A Windows BMP (2×2, 24-bit): a real image in a format the inspector does not read. */
export function bmp(): Buffer {
  const row = 8; // 2 px × 3 bytes, padded to 4
  const data = Buffer.alloc(row * 2, 0x80);
  const h = Buffer.alloc(54);
  h.write('BM', 0, 'latin1');
  h.writeUInt32LE(54 + data.length, 2);
  h.writeUInt32LE(54, 10);
  h.writeUInt32LE(40, 14);
  h.writeInt32LE(2, 18);
  h.writeInt32LE(2, 22);
  h.writeUInt16LE(1, 26);
  h.writeUInt16LE(24, 28);
  h.writeUInt32LE(data.length, 34);
  return Buffer.concat([h, data]);
}

// ---- the inference child process, seen from the test ----

export const WORKER = join(REPO, 'dist', 'worker.js');

/** Resident memory of a process in MB (Linux: /proc/<pid>/status VmRSS); NaN where /proc is missing. */
export function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/** Waits until the process is gone (reaped); false if it still runs after timeoutMs. */
export async function waitForExit(pid: number, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !isAlive(pid);
}

/**
 * Asserts that an error is what a user would see: an InspectorError with the code, one line, no stack
 * trace or internal paths of the inspector, matching the pattern. Returns the message.
 */
export function assertUserError(e: unknown, code: string | readonly string[], pattern?: RegExp): string {
  assert.ok(isInspectorError(e), `expected an InspectorError, got ${e instanceof Error ? e.stack : String(e)}`);
  const codes = typeof code === 'string' ? [code] : code;
  assert.ok(codes.includes(e.code), `code ${e.code} (expected ${codes.join(' or ')}): ${e.message}`);
  assert.ok(!/[\r\n]/.test(e.message), `one line: ${e.message}`);
  assert.doesNotMatch(e.message, /\bat \S+ \(|\.(ts|js|cc|cpp|h):\d+|dist[\\/](worker|cli)\.js|node_modules/, `no stack trace: ${e.message}`);
  assert.ok(e.message.length >= 8 && e.message.length < 600, `a short sentence: ${e.message}`);
  if (pattern) assert.match(e.message, pattern);
  return e.message;
}
