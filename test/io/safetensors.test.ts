import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSafetensors, encodeSafetensors, readSafetensors, safetensorsParts } from '../../src/io/safetensors.js';
import { TreegateError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';

const SRC = '/models/m.safetensors';

/** Builds a file from a raw header object/string and a data buffer. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), headerLenOverride?: number): Uint8Array {
  const json = typeof header === 'string' ? header : JSON.stringify(header);
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  const v = new DataView(out.buffer);
  const n = headerLenOverride ?? h.length;
  v.setUint32(0, n % 4294967296, true);
  v.setUint32(4, Math.floor(n / 4294967296), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => decodeSafetensors(bytes, SRC), (e: unknown) => {
    assert.ok(e instanceof TreegateError, `expected TreegateError, got ${e}`);
    assert.ok(e.message.startsWith(`${SRC}: `), `message should start with source: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

function bitsEqual(a: Float32Array, b: Float32Array): void {
  assert.equal(a.length, b.length);
  assert.deepEqual(new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length));
}

test('round trip is bit-exact, keeps order, shapes and metadata', () => {
  const rng = new Rng(1);
  const special = new Float32Array([0, -0, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38, -1.5]);
  const big = new Float32Array(3 * 4 * 5).map(() => rng.normal());
  const tensors = [
    { name: 'layers.0.weight', shape: [3, 4, 5], data: big },
    { name: 'special', shape: [8], data: special },
    { name: 'scalar', shape: [], data: new Float32Array([42.5]) },
    { name: 'empty', shape: [0], data: new Float32Array(0) },
    { name: 'empty2', shape: [3, 0, 2], data: new Float32Array(0) },
    { name: 'ünïcødé', shape: [1, 1], data: new Float32Array([7]) },
  ];
  const meta = { format: 'treegate-model/1', config: JSON.stringify({ a: [1, 2], s: 'x"y' }) };
  const bytes = encodeSafetensors(tensors, meta);
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0, 'header padded to a multiple of 8');
  const { tensors: out, metadata } = decodeSafetensors(bytes, SRC);
  assert.deepEqual(metadata, meta);
  assert.deepEqual([...out.keys()].sort(), tensors.map((t) => t.name).sort());
  for (const t of tensors) {
    const e = out.get(t.name)!;
    assert.deepEqual(e.shape, t.shape);
    bitsEqual(e.data, t.data);
  }
  // Written in the given order, contiguous.
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  let pos = 0;
  for (const t of tensors) {
    assert.deepEqual(header[t.name].data_offsets, [pos, pos + t.data.length * 4]);
    assert.equal(header[t.name].dtype, 'F32');
    pos += t.data.length * 4;
  }
  assert.equal(bytes.length, 8 + headerLen + pos);
  // Little-endian data: first float of `big` at the start of the buffer.
  assert.equal(new DataView(bytes.buffer).getFloat32(8 + headerLen, true), big[0]);
});

test('decoded data does not alias the input and works from an unaligned view', () => {
  const data = new Float32Array([1, 2, 3]);
  const enc = encodeSafetensors([{ name: 'a', shape: [3], data }]);
  const shifted = new Uint8Array(enc.length + 1);
  shifted.set(enc, 1);
  const view = shifted.subarray(1);
  const out = decodeSafetensors(view, SRC).tensors.get('a')!;
  bitsEqual(out.data, data);
  view.fill(0);
  assert.deepEqual(Array.from(out.data), [1, 2, 3]);
});

test('encodes from Float32Array views with a byte offset', () => {
  const base = new Float32Array([9, 1, 2, 3, 9]);
  const enc = encodeSafetensors([{ name: 'v', shape: [3], data: base.subarray(1, 4) }]);
  assert.deepEqual(Array.from(decodeSafetensors(enc, SRC).tensors.get('v')!.data), [1, 2, 3]);
});

test('no tensors and no metadata', () => {
  const enc = encodeSafetensors([]);
  const { tensors, metadata } = decodeSafetensors(enc, SRC);
  assert.equal(tensors.size, 0);
  assert.deepEqual(metadata, {});
});

test('accepts files from other writers (unpadded header, no metadata, shuffled header order)', () => {
  const data = new Uint8Array(12);
  new DataView(data.buffer).setFloat32(0, 1.5, true);
  new DataView(data.buffer).setFloat32(4, 2.5, true);
  new DataView(data.buffer).setFloat32(8, 3.5, true);
  const bytes = build({
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    a: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
  }, data);
  const { tensors } = decodeSafetensors(bytes, SRC);
  assert.deepEqual(Array.from(tensors.get('a')!.data), [1.5]);
  assert.deepEqual(Array.from(tensors.get('b')!.data), [2.5, 3.5]);
});

test('encode rejects bad input', () => {
  assert.throws(() => encodeSafetensors([{ name: 'a', shape: [2, 2], data: new Float32Array(3) }]), TreegateError);
  assert.throws(() => encodeSafetensors([{ name: 'a', shape: [-1], data: new Float32Array(0) }]), TreegateError);
  assert.throws(() => encodeSafetensors([{ name: 'a', shape: [1.5], data: new Float32Array(0) }]), TreegateError);
  assert.throws(() => encodeSafetensors([
    { name: 'a', shape: [1], data: new Float32Array(1) },
    { name: 'a', shape: [1], data: new Float32Array(1) },
  ]), /duplicate/);
  assert.throws(() => encodeSafetensors([{ name: '__metadata__', shape: [1], data: new Float32Array(1) }]), TreegateError);
  assert.throws(() => encodeSafetensors([], { a: 1 as unknown as string }), TreegateError);
});

test('rejects truncated and tiny files', () => {
  rejects(new Uint8Array(0), /too short/);
  rejects(new Uint8Array(7), /too short/);
  const good = encodeSafetensors([{ name: 'w', shape: [4], data: new Float32Array([1, 2, 3, 4]) }], { k: 'v' });
  for (const cut of [8, 9, 20, good.length - 20, good.length - 1]) {
    rejects(good.subarray(0, cut), /exceeds|beyond|truncated|too small/);
  }
  // Extra bytes at the end.
  const longer = new Uint8Array(good.length + 4);
  longer.set(good);
  rejects(longer, /belong to no tensor/);
});

test('rejects absurd header lengths without allocating', () => {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xffffffff, true);
  v.setUint32(4, 0xffffffff, true);
  rejects(b, /header length 18446744073709551615 is larger.*\(not a safetensors file, or corrupt\)/); // the exact value, not a rounded Number
  // a text file given for a model is said to be one
  rejects(new TextEncoder().encode('{"testAccuracy": 0.98}\n'), /the file begins with text, "\{\\"testAc": a text file \(JSON, HTML, CSV …\), not a safetensors file/);
  v.setUint32(0, 100_000_001, true);
  v.setUint32(4, 0, true);
  rejects(b, /limit/);
  v.setUint32(0, 1000, true);
  rejects(b, /exceeds/);
  v.setUint32(0, 0, true);
  rejects(b, /too small/);
});

// that these are rejected before anything of the claimed size is allocated is checked in fuzz.test.ts
test('rejects a header claiming 2^40 elements', () => {
  rejects(build({ w: { dtype: 'F32', shape: [1 << 20, 1 << 20], data_offsets: [0, 2 ** 42] } }), /beyond/);
  rejects(build({ w: { dtype: 'F32', shape: [1 << 20, 1 << 20], data_offsets: [0, 16] } }, new Uint8Array(16)), /needs 1099511627776/);
  rejects(build({ w: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 16] } }, new Uint8Array(16)), /too many elements/);
});

test('rejects random bytes', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 200; trial++) {
    const b = new Uint8Array(rng.int(200));
    for (let i = 0; i < b.length; i++) b[i] = rng.int(256);
    if (trial % 2 === 0 && b.length >= 8) {
      // plausible header length so the JSON path is exercised
      new DataView(b.buffer).setUint32(0, rng.int(b.length - 7), true);
      new DataView(b.buffer).setUint32(4, 0, true);
    }
    assert.throws(() => decodeSafetensors(b, SRC), TreegateError);
  }
});

test('rejects bad UTF-8 and bad JSON', () => {
  const bad = build('{"a":1}');
  bad[10] = 0xff;
  rejects(bad, /UTF-8/);
  rejects(build('{"a": '), /not valid JSON/);
  rejects(build('not json'), /not valid JSON/);
  rejects(build('[1,2,3]'), /must be a JSON object/);
  rejects(build('null'), /must be a JSON object/);
  rejects(build('"str"'), /must be a JSON object/);
});

test('rejects malformed entries', () => {
  const d4 = new Uint8Array(4);
  rejects(build({ w: 5 }, d4), /entry must be an object/);
  rejects(build({ w: { shape: [1], data_offsets: [0, 4] } }, d4), /missing "dtype"/);
  rejects(build({ w: { dtype: 'F32', data_offsets: [0, 4] } }, d4), /missing "shape"/);
  rejects(build({ w: { dtype: 'F32', shape: [1] } }, d4), /missing "data_offsets"/);
  rejects(build({ w: { dtype: 32, shape: [1], data_offsets: [0, 4] } }, d4), /dtype must be a string/);
  rejects(build({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, d4), /dtype F16; treegate reads only F32/);
  rejects(build({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /only F32/);
  rejects(build({ w: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }, d4), /dtype I32; treegate reads only F32/); // (4 bytes a value, as F32)
  rejects(build({ w: { dtype: 'F32', shape: 1, data_offsets: [0, 4] } }, d4), /shape must be an array/);
  rejects(build({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, d4), /shape must be an array of non-negative/);
  rejects(build({ w: { dtype: 'F32', shape: [0.5], data_offsets: [0, 4] } }, d4), /shape/);
  rejects(build({ w: { dtype: 'F32', shape: ['1'], data_offsets: [0, 4] } }, d4), /shape/);
  rejects(build({ w: { dtype: 'F32', shape: [2 ** 53], data_offsets: [0, 4] } }, d4), /shape/);
  rejects(build({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, d4), /needs 2 float32 values/);
  rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, d4), /data_offsets must be/);
  rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, d4), /data_offsets must be/);
  rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, d4), /data_offsets must be/);
  rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, d4), /data_offsets must be/);
  rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: ['0', '4'] } }, d4), /data_offsets must be/);
  rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, d4), /begin 4 is after end 0/);
  rejects(build({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, d4), /beyond the 4-byte data buffer/);
});

test('rejects overlapping ranges, gaps and uncovered bytes', () => {
  const d8 = new Uint8Array(8);
  rejects(build({
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
  }, d8), /overlaps/);
  rejects(build({
    a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    b: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
  }, d8), /overlaps/);
  rejects(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8), /gap of 4 bytes/);
  rejects(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, d8), /4 bytes at the end/);
  rejects(build({}, d8), /8 bytes at the end/);
});

test('rejects bad metadata and duplicate keys', () => {
  rejects(build({ __metadata__: { a: 1 } }), /"__metadata__" value for "a" must be a string/);
  rejects(build({ __metadata__: ['x'] }), /"__metadata__" must be an object/);
  rejects(build({ __metadata__: 'x' }), /"__metadata__" must be an object/);
  rejects(build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)),
    /duplicate key "a"/);
  rejects(build('{"__metadata__":{"k":"1","k":"2"}}'), /duplicate key "k"/);
  // Escaped keys that decode to the same string are duplicates too; a key equal to a value is not.
  rejects(build('{"__metadata__":{"k":"x","\\u006b":"y"}}'), /duplicate key "k"/);
  const ok = decodeSafetensors(build('{"__metadata__":{"k":"k","a\\"b":"[{,}]"}}'), SRC);
  assert.deepEqual(ok.metadata, { k: 'k', 'a"b': '[{,}]' });
  // __proto__ as a metadata key stays a plain key.
  const proto = decodeSafetensors(build('{"__metadata__":{"__proto__":"x"}}'), SRC);
  assert.equal(Object.getOwnPropertyDescriptor(proto.metadata, '__proto__')?.value, 'x');
});

test('the bytes may come as a Uint8Array, an ArrayBuffer or another view; anything else is named', () => {
  const bytes = encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }], { format: 'x' });
  for (const input of [bytes, bytes.slice().buffer, new DataView(bytes.slice().buffer)]) {
    assert.deepEqual(decodeSafetensors(input, 'f').metadata, { format: 'x' });
  }
  for (const bad of [null, [...bytes], 'bytes']) {
    assert.throws(() => decodeSafetensors(bad as never, 'f'), /f: expected the file's bytes \(a Uint8Array\) or a ByteSource, got/);
  }
});

test('the header is padded with the fewest spaces (0 to 7) that make its length a multiple of 8, none where it already is', () => {
  // names of 1 to 8 letters give unpadded headers of every length modulo 8, one of them already a multiple of 8
  const residues = new Set<number>();
  for (let k = 1; k <= 8; k++) {
    const name = 'abcdefgh'.slice(0, k);
    const json = JSON.stringify({ [name]: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
    residues.add(json.length % 8);
    const bytes = encodeSafetensors([{ name, shape: [1], data: new Float32Array([2]) }]);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n, Math.ceil(json.length / 8) * 8, `header of ${json.length} bytes padded to ${n}`);
    assert.equal(bytes.length, 8 + n + 4);
    assert.equal(new TextDecoder().decode(bytes.subarray(8, 8 + n)), json + ' '.repeat(n - json.length));
  }
  assert.equal(residues.size, 8);
});

test('encode refuses data longer or shorter than the shape holds', () => {
  for (const len of [3, 5]) {
    for (const write of [encodeSafetensors, safetensorsParts]) {
      assert.throws(() => write([{ name: 'a', shape: [2, 2], data: new Float32Array(len) }]),
        (e: unknown) => e instanceof TreegateError && e.message === `tensor "a": shape [2, 2] has 4 elements but data has ${len}`);
    }
  }
});

test('an empty tensor may share its begin with another tensor, listed before or after it (ranges sorted by begin, then end)', () => {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setFloat32(0, 1.5, true);
  new DataView(data.buffer).setFloat32(4, -2, true);
  // listed before or after the tensor it shares its begin with
  for (const header of [
    { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, e: { dtype: 'F32', shape: [0], data_offsets: [0, 0] } },
    { e: { dtype: 'F32', shape: [0], data_offsets: [0, 0] }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } },
  ]) {
    const { tensors } = decodeSafetensors(build(header, data), SRC);
    assert.deepEqual(Array.from(tensors.get('a')!.data), [1.5, -2]);
    assert.deepEqual(tensors.get('e')!.shape, [0]);
    assert.equal(tensors.get('e')!.data.length, 0);
  }
});

test('a stored tensor is read only into an array of its own size', () => {
  const bytes = encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }]);
  const w = readSafetensors(bytes, SRC).tensors.get('w')!;
  assert.equal(w.size, 2);
  for (const len of [1, 3]) {
    const into = new Float32Array(len).fill(7);
    assert.throws(() => w.read(into), (e: unknown) => e instanceof TreegateError && e.message === `${SRC}: tensor "w" holds 2 values, not ${len}`);
    assert.deepEqual(Array.from(into), new Array(len).fill(7), 'nothing read');
  }
  const into = new Float32Array(2);
  w.read(into);
  assert.deepEqual(Array.from(into), [1, 2]);
});

test('"__metadata__": null is read as no metadata (as the reference reader takes it)', () => {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setFloat32(0, 3, true);
  const bytes = build({ __metadata__: null, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data);
  const { tensors, metadata } = decodeSafetensors(bytes, SRC);
  assert.deepEqual(metadata, {});
  assert.deepEqual(Array.from(tensors.get('w')!.data), [3]);
});
