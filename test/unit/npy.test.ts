import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, encodeNpy, npyParts } from '../../src/node/npy';

const PYTHON = '/usr/bin/python3';
const hasNumpy = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

test('the header is NPY 1.0, <f4, C order, padded to 64 bytes and ending in a newline', () => {
  for (const shape of [[2, 3, 4, 4], [5], [0], []]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const buf = encodeNpy(new Float32Array(n), shape);
    const headerLen = buf.readUInt16LE(8);
    assert.deepEqual([...buf.subarray(0, 8)], [0x93, 78, 85, 77, 80, 89, 1, 0]);
    assert.equal((10 + headerLen) % 64, 0);
    const header = buf.toString('latin1', 10, 10 + headerLen);
    assert.ok(header.endsWith('\n'));
    assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(.*\), \} *\n$/);
    assert.equal(buf.length, 10 + headerLen + n * 4);
  }
  assert.match(encodeNpy(new Float32Array(5), [5]).toString('latin1', 10, 80), /'shape': \(5,\)/, 'one-element tuple keeps its comma');
});

test('round trip keeps the shape and every value exactly', () => {
  const data = Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => Math.sin(i) * 1e3 + i / 7);
  data[3] = -0;
  data[4] = Number.NaN;
  const back = decodeNpy(encodeNpy(data, [2, 3, 5]));
  assert.deepEqual(back.shape, [2, 3, 5]);
  assert.deepEqual(back.data, data);
  assert.throws(() => encodeNpy(data, [4, 4]), /holds 16 values/);
  assert.throws(() => decodeNpy(Buffer.from('not numpy at all')), /not an \.npy/);
});

test('npyParts: the file encodeNpy makes, in two parts, the data part a view of the values (no copy)', () => {
  const backing = Float32Array.from({ length: 3 + 2 * 3 * 4 }, (_, i) => i / 3 - 2);
  const data = backing.subarray(3); // at an offset into a larger buffer
  const [header, body] = npyParts(data, [2, 3, 4]);
  assert.ok(Buffer.concat([header, body]).equals(encodeNpy(data, [2, 3, 4])));
  assert.equal(header.length % 64, 0);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
    assert.equal(body.buffer, data.buffer, 'a view on a little-endian machine');
    assert.equal(body.byteOffset, data.byteOffset);
  }
  assert.throws(() => npyParts(data, [5, 5]), /holds 25 values/);
});

test('numpy reads what encodeNpy writes, and encodeNpy reads what numpy writes', { skip: !hasNumpy && 'no numpy' }, async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'vit-npy-'));
  const file = join(dir, 'a.npy');
  const data = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
  await fs.writeFile(file, encodeNpy(data, [2, 3, 4]));
  const script = `import numpy as np, sys
a = np.load(sys.argv[1])
assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)
assert a[1, 2, 3] == 23 * 0.5 - 3 and a[0, 1, 0] == 4 * 0.5 - 3
np.save(sys.argv[2], np.arange(6, dtype='<f4').reshape(3, 2) / 4)`;
  const r = spawnSync(PYTHON, ['-c', script, file, join(dir, 'b.npy')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const b = decodeNpy(await fs.readFile(join(dir, 'b.npy')));
  assert.deepEqual(b.shape, [3, 2]);
  assert.deepEqual([...b.data], [0, 0.25, 0.5, 0.75, 1, 1.25]);
});
