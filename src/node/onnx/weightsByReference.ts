/**
 * Reads an .onnx file without its weights: every initializer's raw_data of at least MIN_BYTES is left in
 * the file and referenced instead as ONNX external data (location = the file itself, offset, length).
 *
 * Why: everything ViT Inspector does to a model (parse, find the attention, add outputs, key mask) needs
 * only the graph, while a ViT-B file is 330 MB of weights. Reading them into JavaScript, copying them
 * once more to append outputs, and having onnxruntime parse them out of that buffer cost about three
 * times onnxruntime's own load from the path (BENCHMARKS.md, "End to end"). With the weights referenced,
 * JavaScript reads a few hundred kB and onnxruntime maps the weights from the file as it does for any
 * external-data model. The file is only read, never written.
 *
 * Returns null when the file cannot be read this way (cut, garbage, or data where a graph should be):
 * the caller then reads the whole file, and the parser says exactly what is wrong with it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { ProtoWriter, WireType, encodeVarint } from './protobuf';

/** Smaller tensors stay in place: shapes, axes and scales are read from them, and each reference costs onnxruntime a file mapping. */
export const MIN_BYTES = 4096;
const WINDOW = 1 << 20;
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const EXTERNAL = 1;

class Bail extends Error {}

/** Positioned reads through a 1 MB window, so that skipping a tensor's data costs nothing. */
class FileCursor {
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(private readonly fd: number, readonly size: number) {}

  byte(pos: number): number {
    if (pos < this.windowStart || pos >= this.windowStart + this.window.length) this.load(pos);
    return this.window[pos - this.windowStart];
  }

  /** A copy of [start, end). */
  read(start: number, end: number): Uint8Array {
    if (start >= this.windowStart && end <= this.windowStart + this.window.length) {
      return Uint8Array.prototype.slice.call(this.window, start - this.windowStart, end - this.windowStart);
    }
    const out = new Uint8Array(end - start);
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.fd, out, done, out.length - done, start + done);
      if (n <= 0) throw new Bail('short read');
      done += n;
    }
    return out;
  }

  private load(pos: number): void {
    if (pos >= this.size) throw new Bail('past the end');
    const buf = Buffer.allocUnsafe(Math.min(WINDOW, this.size - pos));
    const n = readSync(this.fd, buf, 0, buf.length, pos);
    if (n <= 0) throw new Bail('short read');
    this.window = buf.subarray(0, n);
    this.windowStart = pos;
  }
}

interface Field {
  field: number;
  wire: number;
  start: number; // where the tag begins
  payload: number; // where the value (after the length, for LEN) begins
  end: number;
}

function varintAt(c: FileCursor, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = c.byte(pos++);
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, pos];
    scale *= 128;
  }
  throw new Bail('varint too long');
}

/** The fields of the message occupying [start, end), read lazily one at a time. */
function* fields(c: FileCursor, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = varintAt(c, pos);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    let payload = afterTag;
    let next: number;
    if (wire === WireType.VARINT) next = varintAt(c, afterTag)[1];
    else if (wire === WireType.I64) next = afterTag + 8;
    else if (wire === WireType.I32) next = afterTag + 4;
    else if (wire === WireType.LEN) {
      const [len, afterLen] = varintAt(c, afterTag);
      payload = afterLen;
      next = afterLen + len;
    } else throw new Bail(`wire type ${wire}`);
    if (field === 0 || next > end) throw new Bail('field past the end of its message');
    yield { field, wire, start: pos, payload, end: next };
    pos = next;
  }
}

function lenField(field: number, payload: Uint8Array[]): Uint8Array[] {
  const size = payload.reduce((a, p) => a + p.length, 0);
  return [Uint8Array.from([...encodeVarint(field * 8 + WireType.LEN), ...encodeVarint(size)]), ...payload];
}

/** A TensorProto whose large raw_data becomes a reference to [offset, offset + length) of `location`. */
function tensor(c: FileCursor, f: Field, location: string, total: { referenced: number }): Uint8Array[] {
  const kept: Uint8Array[] = [];
  let raw: Field | null = null;
  for (const t of fields(c, f.payload, f.end)) {
    if (t.field === TENSOR_EXTERNAL_DATA || t.field === TENSOR_DATA_LOCATION) return [c.read(f.start, f.end)];
    if (t.field === TENSOR_RAW_DATA && t.wire === WireType.LEN && t.end - t.payload >= MIN_BYTES && !raw) raw = t;
    else kept.push(c.read(t.start, t.end));
  }
  if (!raw) return [c.read(f.start, f.end)];
  total.referenced += raw.end - raw.payload;
  const entry = (key: string, value: string) => new ProtoWriter().string(1, key).string(2, value);
  const ref = new ProtoWriter()
    .bytes(TENSOR_EXTERNAL_DATA, entry('location', location))
    .bytes(TENSOR_EXTERNAL_DATA, entry('offset', String(raw.payload)))
    .bytes(TENSOR_EXTERNAL_DATA, entry('length', String(raw.end - raw.payload)))
    .varint(TENSOR_DATA_LOCATION, EXTERNAL)
    .finish();
  return lenField(GRAPH_INITIALIZER, [...kept, ref]);
}

function graph(c: FileCursor, g: Field, location: string, total: { referenced: number }): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (const f of fields(c, g.payload, g.end)) {
    if (f.field === GRAPH_INITIALIZER && f.wire === WireType.LEN) parts.push(...tensor(c, f, location, total));
    else parts.push(c.read(f.start, f.end));
  }
  return lenField(MODEL_GRAPH, parts);
}

/**
 * The model's bytes with its large initializers referenced in `file` rather than held, and how many bytes
 * of tensor data were left in the file; null when the file is not a well-formed ModelProto (read it whole instead).
 * `location`: the file's name as onnxruntime resolves it, relative to the model's folder.
 */
export function readWithWeightsByReference(file: string, size: number, location: string): { bytes: Uint8Array; referenced: number } | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const c = new FileCursor(fd, size);
    const parts: Uint8Array[] = [];
    const total = { referenced: 0 };
    let sawGraph = false;
    for (const f of fields(c, 0, size)) {
      if (f.field === MODEL_GRAPH && f.wire === WireType.LEN) {
        parts.push(...graph(c, f, location, total));
        sawGraph = true;
      } else parts.push(c.read(f.start, f.end));
    }
    if (!sawGraph) return null;
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    return { bytes, referenced: total.referenced };
  } catch (e) {
    if (e instanceof Bail) return null;
    throw e;
  } finally {
    closeSync(fd);
  }
}
