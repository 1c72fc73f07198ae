import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float32ToHalf, halfToFloat32, toHalfBits } from '../../src/shared/float16';

test('float -> half bits: IEEE 754 binary16 values, rounding to nearest even, overflow, underflow, specials', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [0.1, 0x2e66],
    [65520, 0x7c00], // rounds up past the largest half: Infinity
    [2 ** -24, 0x0001], [2 ** -14, 0x0400], [1e-8, 0x0000],
    [1 + 2 ** -11, 0x3c00], // a tie: to even
    [1 + 3 * 2 ** -11, 0x3c02],
    [Infinity, 0x7c00], [-Infinity, 0xfc00],
  ];
  for (const [v, bits] of cases) assert.equal(toHalfBits(v), bits, `${v}`);
  assert.ok(Number.isNaN(halfToFloat32(new Uint16Array([toHalfBits(NaN)]))[0]));
});

test('half bits -> float32 and back are exact for every finite half', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const floats = halfToFloat32(all);
  assert.equal(floats[0x3c00], 1);
  assert.equal(floats[0x7bff], 65504);
  assert.equal(floats[0x0001], 2 ** -24);
  assert.equal(floats[0xfc00], -Infinity);
  const back = float32ToHalf(floats);
  for (let i = 0; i < 65536; i++) if (!Number.isNaN(floats[i])) assert.equal(back[i], i, `half ${i.toString(16)}`);
});
