/**
 * The safetensors container format (https://github.com/huggingface/safetensors):
 *
 *   8 bytes   N, little-endian u64: length of the JSON header
 *   N bytes   UTF-8 JSON header (treegate pads it with spaces to a multiple of 8)
 *   rest      data buffer
 *
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]}
 * (byte offsets into the data buffer) and may hold "__metadata__", a
 * string→string map. treegate writes and reads only F32 (little-endian float32).
 */
import { isObject, shown, TreegateError } from '../core/errors.js';

export interface TensorEntry { shape: number[]; data: Float32Array }

/** Largest header accepted, as in the reference implementation. */
const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * Largest file encodeSafetensors makes as one array (bytes): 4 GiB, the longest Uint8Array Node 20 makes. Larger
 * files are written from safetensorsParts and read through a ByteSource, which hold no such array.
 */
const MAX_ARRAY_BYTES = 2 ** 32;
/** Bytes per view of a tensor's data in safetensorsParts, and per read into one (a view holds at most 4 GiB). */
const VIEW_BYTES = 2 ** 30;

/**
 * Random access to a file's bytes, so that a file need not be one array: `size` bytes in all, and read(offset, into)
 * fills `into` from that offset (throwing where it cannot).
 */
export interface ByteSource { readonly size: number; read(offset: number, into: Uint8Array): void }

/** A file's bytes as the readers take them: in memory (a Uint8Array, an ArrayBuffer or another view of one) or a ByteSource. */
export type FileBytes = Uint8Array | ArrayBuffer | ArrayBufferView | ByteSource;

/** The bytes of an array as a ByteSource. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, into) => into.set(bytes.subarray(offset, offset + into.length)) };
}

function fail(source: string, message: string): never {
  throw new TreegateError(`${source}: ${message}`);
}

/** Number of elements of `shape`, or -1 if it exceeds Number.MAX_SAFE_INTEGER. */
function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return -1;
  }
  return n;
}

function isSafeNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}


/**
 * A safetensors file of F32 tensors (in the given order, contiguous) and optional string metadata, as consecutive
 * parts to be written in turn: the length and header, then each tensor's bytes in place (views of their data, at
 * most 1 GiB each; copies on a big-endian machine). A file of any size is written this way without one array of it.
 */
export function safetensorsParts(
  tensors: Array<{ name: string; shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TreegateError(`safetensors metadata value for "${k}" must be a string`);
      meta[k] = v;
    }
    header[METADATA_KEY] = meta;
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name === METADATA_KEY) {
      throw new TreegateError(`invalid safetensors tensor name ${JSON.stringify(t.name)}`);
    }
    if (seen.has(t.name)) throw new TreegateError(`duplicate safetensors tensor name "${t.name}"`);
    seen.add(t.name);
    if (!Array.isArray(t.shape) || !t.shape.every(isSafeNonNegInt)) {
      throw new TreegateError(`tensor "${t.name}": shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
    const n = elementCount(t.shape);
    if (n !== t.data.length) {
      throw new TreegateError(`tensor "${t.name}": shape [${t.shape.join(', ')}] has ${n} elements but data has ${t.data.length}`);
    }
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  let headerBytes = new TextEncoder().encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad > 0) {
    json += ' '.repeat(pad);
    headerBytes = new TextEncoder().encode(json);
  }
  if (headerBytes.length > MAX_HEADER_BYTES) {
    throw new TreegateError(`safetensors header would be ${headerBytes.length} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const head = new Uint8Array(8 + headerBytes.length);
  new DataView(head.buffer).setUint32(0, headerBytes.length, true);
  head.set(headerBytes, 8);
  const parts: Uint8Array[] = [head];
  for (const t of tensors) {
    for (let b = 0; b < t.data.length * 4; b += VIEW_BYTES) {
      const len = Math.min(VIEW_BYTES, t.data.length * 4 - b);
      if (LITTLE_ENDIAN) {
        parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset + b, len));
      } else {
        const piece = new Uint8Array(len), view = new DataView(piece.buffer);
        for (let i = 0; i < len; i += 4) view.setFloat32(i, t.data[(b + i) / 4], true);
        parts.push(piece);
      }
    }
  }
  return parts;
}

/** The parts of a file (safetensorsParts) joined into one array, which holds at most MAX_ARRAY_BYTES. */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (total > MAX_ARRAY_BYTES) {
    throw new TreegateError(`these tensors make a file of ${(total / 2 ** 30).toFixed(2)} GiB, over the ${MAX_ARRAY_BYTES / 2 ** 30} GiB one array holds`,
      'write it in parts (encodeModelParts, encodeCheckpointParts, safetensorsParts: saveModel and writeCheckpoint do), or make the model smaller');
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Encodes F32 tensors (in the given order, contiguous) and optional string metadata as one safetensors file's bytes. */
export function encodeSafetensors(
  tensors: Array<{ name: string; shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  return joinParts(safetensorsParts(tensors, metadata));
}

/**
 * Finds duplicate object keys in (already valid) JSON text, which JSON.parse
 * would silently collapse. Returns the first duplicate key, or undefined.
 */
function findDuplicateKey(text: string): string | undefined {
  // Stack of containers: a Set of keys for objects, null for arrays.
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < text.length) {
        const cj = text.charCodeAt(j);
        if (cj === 0x5c /* \ */) j += 2;
        else if (cj === 0x22) break;
        else j++;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) return key;
        top.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    } else if (c === 0x3a /* : */) {
      expectKey = false;
    }
  }
  return undefined;
}

interface RawEntry { name: string; shape: number[]; begin: number; end: number }

/**
 * Decodes and fully validates a safetensors file holding F32 tensors, from its bytes or a ByteSource (a file of any
 * size, read as it is needed). Everything is checked before any tensor memory is allocated; every problem
 * is reported as a TreegateError whose message starts with `source`.
 * Tensor data is read into fresh Float32Arrays.
 */
export function decodeSafetensors(
  input: FileBytes,
  source: string,
): { tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const { tensors, metadata } = readSafetensors(input, source);
  const decoded = new Map<string, TensorEntry>();
  for (const [name, t] of tensors) {
    const data = new Float32Array(t.size);
    t.read(data);
    decoded.set(name, { shape: t.shape, data });
  }
  return { tensors: decoded, metadata };
}

/** A tensor of a file whose header is read: its shape and size, and read(into) to fill an array of that size from the file. */
export interface StoredTensor { readonly shape: number[]; readonly size: number; read(into: Float32Array): void }

/**
 * A safetensors file's header, checked as decodeSafetensors checks it, and its tensors to read where the caller
 * wants them (a model's own arrays: no second copy of its weights).
 */
export function readSafetensors(input: FileBytes, source: string): { tensors: Map<string, StoredTensor>; metadata: Record<string, string> } {
  const { file, entries, metadata, dataStart } = readHeader(input, source);
  const tensors = new Map<string, StoredTensor>();
  for (const e of entries) {
    const size = (e.end - e.begin) / 4;
    tensors.set(e.name, {
      shape: [...e.shape], size,
      // a view of at most VIEW_BYTES at a time
      read(into: Float32Array): void {
        if (into.length !== size) throw new TreegateError(`${source}: tensor ${JSON.stringify(e.name)} holds ${size} values, not ${into.length}`);
        for (let b = 0; b < e.end - e.begin; b += VIEW_BYTES) {
          const len = Math.min(VIEW_BYTES, e.end - e.begin - b);
          if (LITTLE_ENDIAN) {
            file.read(dataStart + e.begin + b, new Uint8Array(into.buffer, into.byteOffset + b, len));
          } else {
            const piece = new Uint8Array(len), pieceView = new DataView(piece.buffer);
            file.read(dataStart + e.begin + b, piece);
            for (let i = 0; i < len; i += 4) into[(b + i) / 4] = pieceView.getFloat32(i, true);
          }
        }
      },
    });
  }
  return { tensors, metadata };
}

/** The metadata of a safetensors file, from its header read as a JSON object (not checked against the tensors' data: a cut-short file still shows it); no tensor is read. */
export function safetensorsMetadata(input: FileBytes, source: string): Record<string, string> {
  return readHeaderObject(input, source).metadata;
}

/**
 * The header of a safetensors file as a JSON object and its metadata, checked as such (length, UTF-8, JSON, no
 * duplicate keys, metadata of strings), not yet against the tensors' data.
 */
function readHeaderObject(input: FileBytes, source: string):
  { file: ByteSource; header: Record<string, unknown>; metadata: Record<string, string>; dataStart: number } {
  // (isView, not instanceof: a Uint8Array of another realm, or of a subclass, is bytes too; an ArrayBuffer, or a view of
  // another type, is read as its bytes)
  const given = input as unknown;
  let file: ByteSource;
  if (Object.prototype.toString.call(given) === '[object ArrayBuffer]') file = bytesSource(new Uint8Array(given as ArrayBuffer));
  else if (ArrayBuffer.isView(given)) file = bytesSource(new Uint8Array(given.buffer, given.byteOffset, given.byteLength));
  else if (typeof given === 'object' && given !== null && Number.isSafeInteger((given as ByteSource).size) && typeof (given as ByteSource).read === 'function') file = given as ByteSource;
  else throw new TreegateError(`${source}: expected the file's bytes (a Uint8Array) or a ByteSource, got ${shown(given)}`, 'pass e.g. new Uint8Array(await file.arrayBuffer())');
  if (file.size < 8) {
    fail(source, `file is too short to be a safetensors file (${file.size} bytes; at least 8 are needed for the header length)`);
  }
  const prefix = new Uint8Array(8);
  file.read(0, prefix);
  const view = new DataView(prefix.buffer);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 4294967296 + lo; // exact up to 2^53; anything with hi > 0 is rejected below anyway
  if (hi !== 0 || headerLen > MAX_HEADER_BYTES) {
    // the exact 64-bit value: past 2^53 a Number would print a rounded one; a file of text (JSON, HTML, CSV) is
    // said to be one
    const text = prefix.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
    fail(source, `safetensors header length ${view.getBigUint64(0, true)} is larger than the ${MAX_HEADER_BYTES}-byte limit ` +
      (text ? `(the file begins with text, ${JSON.stringify(new TextDecoder().decode(prefix))}: a text file (JSON, HTML, CSV …), not a safetensors file)` : '(not a safetensors file, or corrupt)'));
  }
  if (headerLen > file.size - 8) {
    fail(source, `safetensors header length ${headerLen} exceeds the ${file.size - 8} bytes after the length field (file truncated or not a safetensors file)`);
  }
  if (headerLen < 2) fail(source, `safetensors header length ${headerLen} is too small to hold a JSON object`);

  const headerBytes = new Uint8Array(headerLen);
  file.read(8, headerBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    fail(source, 'safetensors header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(source, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) fail(source, 'safetensors header must be a JSON object');
  const dup = findDuplicateKey(text);
  if (dup !== undefined) fail(source, `safetensors header has duplicate key ${JSON.stringify(dup)}`);

  // Metadata.
  const metaPairs: Array<[string, string]> = [];
  if (Object.prototype.hasOwnProperty.call(header, METADATA_KEY)) {
    const meta = header[METADATA_KEY];
    if (meta !== null) {
      if (!isObject(meta)) fail(source, '"__metadata__" must be an object mapping strings to strings');
      for (const [k, v] of Object.entries(meta)) {
        if (typeof v !== 'string') fail(source, `"__metadata__" value for ${JSON.stringify(k)} must be a string, got ${v === null ? 'null' : typeof v}`);
        metaPairs.push([k, v]);
      }
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays a plain key.
  const metadata: Record<string, string> = Object.fromEntries(metaPairs);
  return { file, header, metadata, dataStart: 8 + headerLen };
}

/** The header of a safetensors file, checked whole (decodeSafetensors), and where its data begins. */
function readHeader(input: FileBytes, source: string):
  { file: ByteSource; entries: RawEntry[]; metadata: Record<string, string>; dataStart: number } {
  const { file, header, metadata, dataStart } = readHeaderObject(input, source);
  const dataLen = file.size - dataStart;

  // Tensor entries.
  const entries: RawEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    const what = `tensor ${JSON.stringify(name)}`;
    if (!isObject(info)) fail(source, `${what}: entry must be an object with dtype, shape and data_offsets`);
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      if (!Object.prototype.hasOwnProperty.call(info, field)) fail(source, `${what}: entry is missing "${field}"`);
    }
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') fail(source, `${what}: dtype must be a string, got ${JSON.stringify(dtype)}`);
    if (dtype !== 'F32') fail(source, `${what} has dtype ${dtype}; treegate reads only F32 (float32) tensors`);
    if (!Array.isArray(shape) || !shape.every(isSafeNonNegInt)) {
      fail(source, `${what}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const count = elementCount(shape);
    if (count < 0) fail(source, `${what}: shape [${shape.join(', ')}] has too many elements`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSafeNonNegInt)) {
      fail(source, `${what}: data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(source, `${what}: data_offsets begin ${begin} is after end ${end}`);
    if (end > dataLen) fail(source, `${what}: data_offsets end ${end} is beyond the ${dataLen}-byte data buffer (file truncated?)`);
    if (count * 4 !== end - begin) {
      fail(source, `${what}: shape [${shape.join(', ')}] needs ${count} float32 values (${count * 4} bytes) but data_offsets span ${end - begin} bytes`);
    }
    entries.push({ name, shape: shape as number[], begin, end });
  }

  // The ranges must tile the data buffer exactly, in order.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: RawEntry | undefined;
  for (const e of sorted) {
    if (e.begin < pos) {
      fail(source, `tensor ${JSON.stringify(e.name)} (bytes ${e.begin}..${e.end}) overlaps tensor ${JSON.stringify(prev!.name)} (bytes ${prev!.begin}..${prev!.end})`);
    }
    if (e.begin > pos) {
      fail(source, `gap of ${e.begin - pos} bytes in the data buffer before tensor ${JSON.stringify(e.name)} (offset ${pos})`);
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) {
    fail(source, `${dataLen - pos} bytes at the end of the data buffer belong to no tensor (trailing data or corrupt header)`);
  }

  return { file, entries, metadata, dataStart };
}
