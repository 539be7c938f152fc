import { closeSync, existsSync, fstatSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { check, checkInt, isObject, isPermissionError, osReason, TreegateError } from '../core/errors.js';
import type { Model } from '../layers/model.js';
import type { Optimizer } from '../train/optim.js';
import { fileSource, writeFileAtomic } from './atomic.js';
import { decodeCheckpoint, disposeCheckpoint, encodeCheckpointParts, type DecodedCheckpoint, type RunState, type RunToSave } from './checkpoint-codec.js';
import { safetensorsMetadata } from './safetensors.js';

/**
 * Checkpoint files (the bytes: checkpoint-codec.ts). Written atomically (temporary file, fsync,
 * rename): a crash at any moment leaves the previous checkpoints intact.
 */
export { CHECKPOINT_FORMAT, decodeCheckpoint, encodeCheckpoint, type DecodedCheckpoint, type RunState, type RunToSave } from './checkpoint-codec.js';

/** A checkpoint loadNewestCheckpoint loaded: the decoded checkpoint and the file it came from. */
export interface LoadedCheckpoint extends DecodedCheckpoint { path: string }

function checkpointName(step: number): string {
  return `step-${String(step).padStart(9, '0')}.safetensors`;
}

/**
 * Writes a checkpoint atomically into `dir` (which must exist) and deletes the oldest of those before it, keeping
 * `keep` in all up to its step. Returns its path. Checkpoints of later steps are left alone, and
 * loadNewestCheckpoint tries them first: one a resumed run skipped as damaged (the run writes that step again), or
 * another run's, so give each run a folder of its own.
 */
export function writeCheckpoint(dir: string, model: Model, optimizer: Optimizer, run: RunToSave, keep: number): string {
  checkInt(keep, 'checkpoints to keep', 1);
  const parts = encodeCheckpointParts(model, optimizer, run); // checks the run first: its progress names the file
  const name = checkpointName(run.progress.step), path = join(dir, name);
  writeFileAtomic(path, parts);
  // names sort as their steps do (nine digits); this one is among them
  for (const old of listCheckpoints(dir).filter((p) => basename(p) <= name).slice(keep)) {
    try {
      unlinkSync(old);
    } catch {
      // already gone: nothing to do
    }
  }
  return path;
}

/** Checkpoint files in `dir`, newest (highest step) first; temporary files of interrupted writes and anything not a regular file are not listed. */
export function listCheckpoints(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    // checkpoints that may be there but cannot be listed are not "none": a new run would write beside them
    throw new TreegateError(`cannot list the checkpoints in ${dir}: ${osReason(e)}`, permissionHint(e, dir));
  }
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  return names.filter((n) => /^step-\d{9}\.safetensors$/.test(n)).sort().reverse().map((n) => join(dir, n)).filter(isFile);
}

/**
 * The newest checkpoint in `dir` that reads and validates (decodeCheckpoint, then `validate`, which checks what
 * the caller stores in the run's options and extra state and throws a TreegateError naming the problem); each one
 * that does not is reported through `warn` (naming it and why) and the previous one is tried. Throws when none is usable.
 */
export function loadNewestCheckpoint(dir: string, warn: (line: string) => void = (line) => console.warn(line),
  validate: (run: RunState, path: string) => void = () => {}): LoadedCheckpoint {
  check(typeof warn === 'function' && typeof validate === 'function', 'loadNewestCheckpoint: warn and validate must be functions',
    'pass (line) => console.warn(line) or leave warn out; validate is optional');
  const files = listCheckpoints(dir);
  if (files.length === 0) {
    const hint = 'pass the folder that writeCheckpoint wrote to';
    if (!existsSync(dir)) throw new TreegateError(`${dir} does not exist`, hint);
    if (!statSync(dir).isDirectory()) throw new TreegateError(`${dir} is not a folder`, hint);
    throw new TreegateError(`no checkpoint in ${dir}`, 'writeCheckpoint writes its files there, named step-NNNNNNNNN.safetensors');
  }
  for (const path of files) {
    try {
      const decoded = readCheckpoint(path);
      try {
        validate(decoded.run, path);
      } catch (e) {
        disposeCheckpoint(decoded); // (on wasm: its blocks of the module's memory are reused by the next one tried)
        throw e;
      }
      return { path, ...decoded };
    } catch (e) {
      if (!(e instanceof TreegateError) && !(e instanceof Error && 'code' in e)) throw e;
      // a file this user may not read is not a damaged one: skipped, it would resume from an older step
      const hint = permissionHint(e, dir);
      if (hint) throw new TreegateError(`cannot read checkpoint ${path}: ${osReason(e)}`, hint);
      const why = e instanceof Error ? e.message : String(e);
      warn(`treegate: warning: skipping checkpoint ${path}: ${why.startsWith(`${path}: `) ? why.slice(path.length + 2) : why}`);
    }
  }
  throw new TreegateError(`no valid checkpoint in ${dir}: ${files.map((f) => basename(f)).join(', ')} ${files.length > 1 ? 'were all' : 'was'} skipped (see the warnings)`);
}

/** For a permission error, what to do about it (the files are not damaged); undefined for any other error. */
function permissionHint(e: unknown, dir: string): string | undefined {
  return isPermissionError(e) ? `give this user read access to ${dir} and its files (nothing there is damaged), or run as the user who wrote them` : undefined;
}

/** A checkpoint file decoded, read a tensor at a time (never the whole file as one array). */
function readCheckpoint(path: string): DecodedCheckpoint {
  const fd = openSync(path, 'r');
  try {
    return decodeCheckpoint(fileSource(fd, fstatSync(fd).size, path), path);
  } finally {
    closeSync(fd);
  }
}

/**
 * The `extra` state of the newest checkpoint in `dir`, from its header alone (no tensor is read); null where there
 * is none or it does not read. For what must be known before a checkpoint loads, such as the backend that made it.
 */
export function newestCheckpointExtra(dir: string): Record<string, unknown> | null {
  const path = listCheckpoints(dir)[0];
  if (path === undefined) return null;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const extra: unknown = JSON.parse(safetensorsMetadata(fileSource(fd, fstatSync(fd).size, path), path).extra ?? 'null');
    return isObject(extra) ? extra : null;
  } catch {
    return null; // loadNewestCheckpoint says what is wrong with it
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
