/** Arrays one after another in one new array of the same type (serialised protobuf parts, stacked attention). */
export function concat<T extends Uint8Array | Float32Array>(parts: readonly T[], Make: new (length: number) => T): T {
  const out = new Make(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
