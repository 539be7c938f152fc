import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDX_HEADER_MAX, readIdx, readIdxHeader } from '../../src/data/idx.js';
import { TreegateError } from '../../src/core/errors.js';

const SRC = 'data/x-idx3-ubyte';

function idx(dims: number[], data: number[] | Uint8Array, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = type;
  out[3] = dims.length;
  const v = new DataView(out.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => readIdx(bytes, SRC), (e: unknown) => {
    assert.ok(e instanceof TreegateError, String(e));
    assert.ok(e.message.startsWith(`${SRC}: `), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

test('reads 1-D and 3-D unsigned byte files', () => {
  const a = readIdx(idx([3], [7, 8, 9]), SRC);
  assert.deepEqual(a.dims, [3]);
  assert.deepEqual([...a.data], [7, 8, 9]);
  const b = readIdx(idx([2, 2, 3], Array.from({ length: 12 }, (_, i) => i)), SRC);
  assert.deepEqual(b.dims, [2, 2, 3]);
  assert.deepEqual([...b.data], Array.from({ length: 12 }, (_, i) => i));
  const c = readIdx(idx([0, 28, 28], []), SRC);
  assert.deepEqual(c.dims, [0, 28, 28]);
  assert.equal(c.data.length, 0);
});

test('dimensions are big-endian', () => {
  const r = readIdx(idx([258], new Uint8Array(258)), SRC);
  assert.deepEqual(r.dims, [258]);
});

test('works on a view with a byte offset', () => {
  const f = idx([2], [5, 6]);
  const big = new Uint8Array(f.length + 3);
  big.set(f, 3);
  assert.deepEqual([...readIdx(big.subarray(3), SRC).data], [5, 6]);
});

test('rejects short files and bad magic', () => {
  rejects(new Uint8Array(0), /too short/);
  rejects(new Uint8Array([0, 0, 8]), /too short/);
  rejects(new Uint8Array([1, 0, 8, 1, 0, 0, 0, 0]), /magic/);
  rejects(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0]), /gzip/);
});

test('rejects unsupported types and dimension counts', () => {
  rejects(idx([1], [0], 0x0d), /0x0d \(float \(float32\)\) is not supported/);
  rejects(idx([1], [0], 0x42), /unknown IDX data type 0x42/);
  rejects(idx([], []), /0 dimensions/);
  rejects(idx([1, 1, 1, 1, 1], [0]), /5 dimensions/);
});

test('rejects truncated headers and data, and trailing bytes', () => {
  rejects(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1, 0, 0]), /truncated: the header declares 3 dimensions/);
  rejects(idx([4], [1, 2, 3]), /truncated: dimensions \[4\] need 4 data bytes but only 3/);
  rejects(idx([2], [1, 2, 3]), /1 trailing bytes/);
  // Huge dims fail fast without allocating.
  rejects(idx([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [1]), /truncated/);
  const full = idx([10, 28, 28], new Uint8Array(7840));
  rejects(full.subarray(0, full.length - 1), /truncated/);
});

test('the magic number is two zero bytes, each checked; the gzip hint is for gzip\'s two bytes alone; signed bytes are refused', () => {
  rejects(new Uint8Array([0, 1, 8, 1, 0, 0, 0, 1, 0]), /bad IDX magic number: the first two bytes must be 0, got 0x00 0x01 \(the MNIST folder/);
  rejects(new Uint8Array([0x1f, 0, 8, 1, 0, 0, 0, 1, 0]), /got 0x1f 0x00 \(the MNIST folder/);
  rejects(new Uint8Array([0, 0x8b, 8, 1, 0, 0, 0, 1, 0]), /got 0x00 0x8b \(the MNIST folder/);
  // 0x09 is a byte too, but signed: read as unsigned, -1 would be 255
  rejects(idx([1], [0xff], 0x09), /IDX data type 0x09 \(signed byte\) is not supported; only 0x08 \(unsigned byte\) is/);
});

test('readIdxHeader reads the header from the first bytes and checks the file\'s length, as readIdx does the whole file', () => {
  const full = idx([10, 28, 28], new Uint8Array(7840));
  assert.deepEqual(readIdxHeader(full.subarray(0, IDX_HEADER_MAX), full.length, SRC), { dims: [10, 28, 28], offset: 16, count: 7840 });
  assert.deepEqual(readIdxHeader(idx([3], [1, 2, 3]), 11, SRC), { dims: [3], offset: 8, count: 3 });
  for (const [size, re] of [[full.length - 1, /truncated: dimensions \[10, 28, 28\] need 7840 data bytes but only 7839/], [full.length + 2, /2 trailing bytes/],
    [3, /too short to be an IDX file \(3 bytes/], [12, /truncated: the header declares 3 dimensions \(16 header bytes\) but the file has only 12 bytes/]] as const) {
    assert.throws(() => readIdxHeader(full.subarray(0, IDX_HEADER_MAX), size, SRC), (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  }
});
