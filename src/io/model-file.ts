import { closeSync, fstatSync, openSync } from 'node:fs';
import { TreegateError } from '../core/errors.js';
import type { Model } from '../layers/model.js';
import { readAll, writeFileAtomic } from './atomic.js';
import { decodeModel, encodeModel } from './model-codec.js';
import { MAX_FILE_BYTES } from './safetensors.js';

export { decodeModel, encodeModel, MODEL_FORMAT } from './model-codec.js';

/** Largest model or checkpoint file read (bytes): as large as one is written. */
export const MAX_MODEL_BYTES = MAX_FILE_BYTES;

/** Writes the model atomically: a reader sees the old file or the whole new one, never a partial one. */
export function saveModel(path: string, model: Model): void {
  writeFileAtomic(path, encodeModel(model));
}

/** Reads a model file written by saveModel. Every problem is a TreegateError naming the file. */
export function loadModel(path: string): Model {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TreegateError(`cannot open model file ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? String(e)}`,
      'pass the modelPath printed by treegate train');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TreegateError(`${path} is not a file`, 'pass the model.safetensors file written by treegate train');
    if (st.size > MAX_MODEL_BYTES) throw new TreegateError(`${path} is ${st.size} bytes, more than the ${MAX_MODEL_BYTES}-byte limit for a model file`);
    return decodeModel(readAll(fd, st.size), path);
  } finally {
    closeSync(fd);
  }
}
