/** NumPy .npy files (format 1.0, little-endian float32, C order) so attention can be read with np.load. */

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeNpy(data: Float32Array, shape: number[]): Buffer {
  const header = npyHeader(data, shape);
  const out = Buffer.allocUnsafe(header.length + data.length * 4); // every byte is written below
  header.copy(out, 0);
  out.set(npyBody(data), header.length);
  return out;
}

/**
 * The same file as encodeNpy's in two parts, header and data, without copying the data into one buffer
 * (on little-endian machines the data part is a view of `data`): write them one after the other.
 */
export function npyParts(data: Float32Array, shape: number[]): [Buffer, Uint8Array] {
  return [npyHeader(data, shape), npyBody(data)];
}

/** Magic, version 1.0, header length and the header dict, padded with spaces and a \n to a multiple of 64 bytes. */
function npyHeader(data: Float32Array, shape: number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape [${shape}] holds ${count} values, data has ${data.length}`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces and ending in \n to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = Buffer.alloc(total);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  return out;
}

/** The values as little-endian float32 bytes. */
function npyBody(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], i * 4);
  return out;
}

/** Reads float32 .npy files (versions 1.0 to 3.0, C order); anything else throws. */
export function decodeNpy(buf: Uint8Array): { data: Float32Array; shape: number[] } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || !b.subarray(0, 6).equals(MAGIC)) throw new Error('decodeNpy: not an .npy file');
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + headerLen);
  const descr = header.match(/'descr':\s*'([^']+)'/)?.[1];
  if (descr !== '<f4') throw new Error(`decodeNpy: only little-endian float32 ('<f4') is supported, got ${descr}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('decodeNpy: Fortran order is not supported');
  const dims = header.match(/'shape':\s*\(([^)]*)\)/)?.[1];
  if (dims === undefined) throw new Error('decodeNpy: no shape in header');
  const shape = dims.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, c) => a * c, 1);
  const offset = start + headerLen;
  if (b.length < offset + count * 4) throw new Error('decodeNpy: file is shorter than its shape');
  const data = new Float32Array(count);
  if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(b.subarray(offset, offset + count * 4));
  else for (let i = 0; i < count; i++) data[i] = b.readFloatLE(offset + i * 4);
  return { data, shape };
}
