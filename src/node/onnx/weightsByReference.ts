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
import { DataLocation, GraphProto, ModelProto, StringStringEntryProto, TensorProto } from '../../shared/onnxFields';
import { ProtoError, ProtoReader, ProtoWriter, WireType, encodeVarint } from './protobuf';

/** Smaller tensors stay in place: shapes, axes and scales are read from them, and each reference costs onnxruntime a file mapping. */
export const MIN_BYTES = 4096;
const WINDOW = 1 << 20;
/** A field's header: its tag (at most 5 bytes) and, for LEN and VARINT, one varint (at most 10 bytes). */
const HEADER_BYTES = 15;

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

/** The field at pos: its header is read by the one protobuf reader (ProtoReader) from a copy of its first bytes. */
function fieldAt(c: FileCursor, pos: number, end: number): Field {
  const r = new ProtoReader(c.read(pos, Math.min(end, pos + HEADER_BYTES)));
  const { field, wire } = r.tag();
  let payload = pos + r.pos;
  let next: number;
  if (wire === WireType.VARINT) next = (r.varint(), pos + r.pos);
  else if (wire === WireType.I64) next = payload + 8;
  else if (wire === WireType.I32) next = payload + 4;
  else {
    const len = r.varint();
    payload = pos + r.pos;
    next = payload + len;
  }
  if (next < payload || next > end) throw new Bail('field past the end of its message'); // a negative (garbage) length too
  return { field, wire, start: pos, payload, end: next };
}

/** The fields of the message occupying [start, end), read lazily one at a time. */
function* fields(c: FileCursor, start: number, end: number): Generator<Field> {
  for (let pos = start; pos < end;) {
    const f = fieldAt(c, pos, end);
    yield f;
    pos = f.end;
  }
}

function lenField(field: number, payload: Uint8Array[]): Uint8Array[] {
  const size = payload.reduce((a, p) => a + p.length, 0);
  return [new ProtoWriter().tag(field, WireType.LEN).raw(encodeVarint(size)).finish(), ...payload];
}

/** A TensorProto whose large raw_data becomes a reference to [offset, offset + length) of `location`. */
function tensor(c: FileCursor, f: Field, location: string, total: { referenced: number }): Uint8Array[] {
  const kept: Uint8Array[] = [];
  let raw: Field | null = null;
  for (const t of fields(c, f.payload, f.end)) {
    if (t.field === TensorProto.EXTERNAL_DATA || t.field === TensorProto.DATA_LOCATION) return [c.read(f.start, f.end)];
    if (t.field === TensorProto.RAW_DATA && t.wire === WireType.LEN && t.end - t.payload >= MIN_BYTES && !raw) raw = t;
    else kept.push(c.read(t.start, t.end));
  }
  if (!raw) return [c.read(f.start, f.end)];
  total.referenced += raw.end - raw.payload;
  const entry = (key: string, value: string) => new ProtoWriter().string(StringStringEntryProto.KEY, key).string(StringStringEntryProto.VALUE, value);
  const ref = new ProtoWriter()
    .bytes(TensorProto.EXTERNAL_DATA, entry('location', location))
    .bytes(TensorProto.EXTERNAL_DATA, entry('offset', String(raw.payload)))
    .bytes(TensorProto.EXTERNAL_DATA, entry('length', String(raw.end - raw.payload)))
    .varint(TensorProto.DATA_LOCATION, DataLocation.EXTERNAL)
    .finish();
  return lenField(GraphProto.INITIALIZER, [...kept, ref]);
}

function graph(c: FileCursor, g: Field, location: string, total: { referenced: number }): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (const f of fields(c, g.payload, g.end)) {
    if (f.field === GraphProto.INITIALIZER && f.wire === WireType.LEN) parts.push(...tensor(c, f, location, total));
    else parts.push(c.read(f.start, f.end));
  }
  return lenField(ModelProto.GRAPH, parts);
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
      if (f.field === ModelProto.GRAPH && f.wire === WireType.LEN) {
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
    if (e instanceof Bail || e instanceof ProtoError) return null;
    throw e;
  } finally {
    closeSync(fd);
  }
}
