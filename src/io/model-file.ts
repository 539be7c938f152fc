import { closeSync, fstatSync, openSync } from 'node:fs';
import { TreegateError } from '../core/errors.js';
import type { Model } from '../layers/model.js';
import { fileSource, writeFileAtomic } from './atomic.js';
import { decodeModel, encodeModelParts } from './model-codec.js';

export { decodeModel, encodeModel, MODEL_FORMAT } from './model-codec.js';

/**
 * Writes the model atomically: a reader sees the old file or the whole new one, never a partial one. The weights are
 * written from where they are, in parts: no copy of them in memory, and no limit on the file's size.
 */
export function saveModel(path: string, model: Model): void {
  writeFileAtomic(path, encodeModelParts(model));
}

/** Reads a model file written by saveModel, each tensor straight into the model's array (no other copy of the file). Every problem is a TreegateError naming the file. */
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
    return decodeModel(fileSource(fd, st.size, path), path);
  } finally {
    closeSync(fd);
  }
}
