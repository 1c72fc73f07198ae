/**
 * Minimal protobuf wire-format reader and writer. The reader works on byte ranges of one Uint8Array and
 * never copies payloads; every length is checked against the enclosing range, so a cut or garbage file
 * ends in a ProtoError (never a RangeError or an allocation bigger than the file calls for).
 */

export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

/** Why reading stopped: the data ended too early, or it is not protobuf at all. */
export class ProtoError extends Error {
  constructor(readonly kind: 'truncated' | 'malformed', message: string) {
    super(message);
    this.name = 'ProtoError';
  }
}

export interface Tag {
  field: number;
  wire: number;
}

const TWO_32 = 4294967296;
// Fatal: names in a real model are valid UTF-8, so invalid bytes mean garbage, not a model.
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Shared by a reader and its sub-readers. With clipAtEnd, a length that runs past the end of the whole
 * buffer is clipped (and noted in `clipped`) instead of failing, so a cut file can be parsed up to the cut
 * and told apart from garbage, which soon fails with a 'malformed' error.
 */
export interface ReadState {
  clipAtEnd: boolean;
  clipped: boolean;
}

export class ProtoReader {
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    readonly state: ReadState = { clipAtEnd: false, clipped: false },
  ) {
    if (start < 0 || end > buf.length || start > end) throw new ProtoError('malformed', 'range outside the data');
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number, what: string): void {
    if (this.pos + n <= this.end) return;
    // Running past the end of the whole buffer means a cut; past an inner message's end means garbage.
    const kind = this.end === this.buf.length ? 'truncated' : 'malformed';
    throw new ProtoError(kind, `ends inside ${what}`);
  }

  /** A varint as a number; 64-bit values keep their sign (two's complement) and lose precision past 2^53. */
  varint(): number {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      this.need(1, 'a varint');
      const b = this.buf[this.pos++];
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if (b < 0x80) return (hi | 0) * TWO_32 + (lo >>> 0);
    }
    throw new ProtoError('malformed', 'varint longer than 10 bytes');
  }

  tag(): Tag {
    const t = this.varint();
    if (t < 0 || t > 0x1fffffff * 8 + 7) throw new ProtoError('malformed', 'bad field tag');
    const field = Math.floor(t / 8);
    const wire = t & 7;
    if (field === 0) throw new ProtoError('malformed', 'field number 0');
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) throw new ProtoError('malformed', `wire type ${wire}`);
    return { field, wire };
  }

  /** Range [start, end) of a length-delimited payload, checked against this reader's range. */
  lenRange(what = 'a length-delimited field'): [number, number] {
    let n = this.varint();
    if (n < 0) throw new ProtoError('malformed', `negative length in ${what}`);
    if (this.state.clipAtEnd && this.end === this.buf.length && this.pos + n > this.end) {
      n = this.end - this.pos;
      this.state.clipped = true;
    }
    this.need(n, what);
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  sub(what?: string): ProtoReader {
    const [s, e] = this.lenRange(what);
    return new ProtoReader(this.buf, s, e, this.state);
  }

  bytes(what?: string): Uint8Array {
    const [s, e] = this.lenRange(what);
    return this.buf.subarray(s, e);
  }

  string(what = 'a string'): string {
    const b = this.bytes(what);
    try {
      return decoder.decode(b);
    } catch {
      // A string cut by the end of a truncated file may end mid-character.
      if (this.state.clipped && this.pos === this.buf.length) return new TextDecoder().decode(b);
      throw new ProtoError('malformed', `invalid UTF-8 in ${what}`);
    }
  }

  fixed32(): number {
    this.need(4, 'a fixed32');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getUint32(0, true);
    this.pos += 4;
    return v;
  }

  float(): number {
    this.need(4, 'a float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8, 'a double');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  fixed64(): number {
    this.need(8, 'a fixed64');
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return dv.getInt32(4, true) * TWO_32 + dv.getUint32(0, true);
  }

  skip(wire: number): void {
    if (wire === WireType.VARINT) this.varint();
    else if (wire === WireType.I64) (this.need(8, 'a fixed64'), (this.pos += 8));
    else if (wire === WireType.I32) (this.need(4, 'a fixed32'), (this.pos += 4));
    else if (wire === WireType.LEN) this.lenRange();
    else throw new ProtoError('malformed', `wire type ${wire}`);
  }

  /** Repeated varints: packed (LEN) or one unpacked element, pushed onto out. */
  varints(wire: number, out: number[]): void {
    if (wire === WireType.VARINT) out.push(this.varint());
    else if (wire === WireType.LEN) {
      const r = this.sub('a packed field');
      while (!r.done) out.push(r.varint());
    } else throw new ProtoError('malformed', `wire type ${wire} for a varint field`);
  }

  /** Repeated floats: packed (LEN) or one unpacked element. */
  floats(wire: number, out: number[]): void {
    if (wire === WireType.I32) out.push(this.float());
    else if (wire === WireType.LEN) {
      const r = this.sub('a packed field');
      while (!r.done) out.push(r.float());
    } else throw new ProtoError('malformed', `wire type ${wire} for a float field`);
  }

  doubles(wire: number, out: number[]): void {
    if (wire === WireType.I64) out.push(this.double());
    else if (wire === WireType.LEN) {
      const r = this.sub('a packed field');
      while (!r.done) out.push(r.double());
    } else throw new ProtoError('malformed', `wire type ${wire} for a double field`);
  }

  /** Checks the wire type of a known field, so garbage is told apart from a valid message. */
  expect(t: Tag, wire: number): void {
    if (t.wire !== wire) throw new ProtoError('malformed', `field ${t.field} has wire type ${t.wire}, expected ${wire}`);
  }
}

// ---- writer: just enough to build small messages and append fields ----

const encoder = new TextEncoder();

export function encodeVarint(value: number): number[] {
  const out: number[] = [];
  if (value < 0) {
    // 64-bit two's complement: always 10 bytes
    let lo = value % TWO_32 >>> 0;
    let hi = Math.floor(value / TWO_32) >>> 0;
    for (let i = 0; i < 9; i++) {
      out.push((lo & 0x7f) | 0x80);
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi = hi >>> 7;
    }
    out.push(lo & 0x01);
    return out;
  }
  let v = Math.floor(value);
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** Builds a message by appending fields. */
export class ProtoWriter {
  private parts: Uint8Array[] = [];
  private size = 0;

  raw(bytes: Uint8Array | number[]): this {
    const b = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  tag(field: number, wire: number): this {
    return this.raw(encodeVarint(field * 8 + wire));
  }

  varint(field: number, value: number): this {
    return this.tag(field, WireType.VARINT).raw(encodeVarint(value));
  }

  bytes(field: number, payload: Uint8Array | ProtoWriter): this {
    const b = payload instanceof ProtoWriter ? payload.finish() : payload;
    return this.tag(field, WireType.LEN).raw(encodeVarint(b.length)).raw(b);
  }

  string(field: number, s: string): this {
    return this.bytes(field, encoder.encode(s));
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.tag(field, WireType.I32).raw(b);
  }

  packedVarints(field: number, values: number[]): this {
    return this.bytes(field, Uint8Array.from(values.flatMap(encodeVarint)));
  }

  packedFloats(field: number, values: number[]): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  get length(): number {
    return this.size;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
