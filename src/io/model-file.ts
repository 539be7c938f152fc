import { closeSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { check, osReason, shown, TreegateError, unreadableHint } from '../core/errors.js';
import type { Model } from '../layers/model.js';
import { checkReplaceable, fileSource, isFolder, writeFileAtomic } from './atomic.js';
import { decodeModel, encodeModelParts, MODEL_FORMAT } from './model-codec.js';
import { safetensorsMetadata } from './safetensors.js';

export { decodeModel, encodeModel, MODEL_FORMAT } from './model-codec.js';

/**
 * Writes the model atomically: a reader sees the old file or the whole new one, never a partial one. The weights are
 * written from where they are, in parts: no copy of them in memory, and no limit on the file's size.
 */
export function saveModel(path: string, model: Model): void {
  check(typeof path === 'string' && path.trim() !== '', `saveModel needs a file path, got ${shown(path)}`, "pass e.g. 'model.safetensors'");
  check(typeof model === 'object' && model !== null && typeof (model as Partial<Model>).params === 'function',
    `saveModel(${path}, …) needs a Model, got ${shown(model)}`, 'pass the model to save second');
  check(!isFolder(path), `${path} is a folder`, `pass a file path, e.g. ${join(path, 'model.safetensors')}`);
  // a model replaces a model (an earlier save), never another file: nothing already saved is lost to a wrong path
  checkReplaceable(path, 0, () => isModelFile(path), {
    problem: `${path} exists and is not a treegate model file: saving would replace it`, fix: 'save to another path, or remove that file first',
  });
  writeFileAtomic(path, encodeModelParts(model));
}

/**
 * The `format` its metadata names where `path` is a safetensors file (MODEL_FORMAT, CHECKPOINT_FORMAT, or another
 * program's), else undefined. Only the header is read, not checked against the rest: a damaged or cut-short model
 * is still one, which a new save may replace.
 */
export function safetensorsFormat(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return safetensorsMetadata(fileSource(fd, fstatSync(fd).size, path), path).format;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether `path` is a safetensors file whose metadata names this library's model format (safetensorsFormat). */
export function isModelFile(path: string): boolean {
  return safetensorsFormat(path) === MODEL_FORMAT;
}

/** Reads a model file written by saveModel, each tensor straight into the model's array (no other copy of the file). Every problem is a TreegateError naming the file. */
export function loadModel(path: string): Model {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TreegateError(`cannot open model file ${path}: ${code === 'ENOENT' ? 'no such file' : osReason(e)}`,
      unreadableHint(e) ?? 'pass a model file: the modelPath treegate train prints, or a path given to saveModel');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TreegateError(`${path} is not a file`, 'pass a model file: the model.safetensors treegate train writes, or a path given to saveModel');
    return decodeModel(fileSource(fd, st.size, path), path);
  } finally {
    closeSync(fd);
  }
}
