// Reads chosen entries of a zip file (stored or deflated) in place, without unpacking the rest: the demo and
// the tests read CIFAR-10 images straight from ../shared/data/cifar10-jpeg.zip.
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

/** @param {string} file @param {(name: string) => boolean} wanted @returns {Map<string, Buffer>} */
export function readZipEntries(file, wanted) {
  const buf = readFileSync(file);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  let p = buf.readUInt32LE(eocd + 16);
  const found = new Map();
  for (let i = 0, n = buf.readUInt16LE(eocd + 10); i < n; i++) {
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extra = buf.readUInt16LE(p + 30);
    const comment = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (wanted(name)) {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + size);
      found.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    }
    p += 46 + nameLen + extra + comment;
  }
  return found;
}
