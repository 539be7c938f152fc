import {
  closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { isPermissionError, osReason, TreegateError } from '../core/errors.js';
import type { ByteSource } from './safetensors.js';

/** Bytes per read or write call: Node refuses one of more than 2 GiB (a model file of a deep tree is larger). */
const IO_PIECE = 2 ** 30;

/**
 * The open file `fd` of `size` bytes (as fstat gave it) as a ByteSource: each read takes IO_PIECE at a time, and a
 * file that ends before `size` (cut while it was read) is an error naming `path`.
 */
export function fileSource(fd: number, size: number, path: string): ByteSource {
  return {
    size,
    read(offset: number, into: Uint8Array): void {
      let off = 0;
      while (off < into.length) {
        const r = readSync(fd, into, off, Math.min(into.length - off, IO_PIECE), offset + off);
        if (r === 0) {
          throw new TreegateError(`${path}: the file ends at byte ${offset + off}, before the ${size} bytes it held when opened (it changed while it was read)`,
            'read it again once whatever writes it has finished');
        }
        off += r;
      }
    },
  };
}

/**
 * What to do about a failed file-system call, where the error says. `dir`: the folder a file was to be made in, where
 * ENOENT may come from a folder that exists but makes no files (/proc, /sys), not from a missing one.
 */
function osHint(e: unknown, dir?: string): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' && dir !== undefined && existsSync(dir)) {
    return `${dir} exists but no file can be made in it (a virtual file system, like /proc): choose a folder on a disk`;
  }
  if (isPermissionError(e) || code === 'EROFS') return 'choose a folder this user may write to (--out)';
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'free some disk space, or write elsewhere';
  if (code === 'ENOTDIR') return 'a part of the path is a file, not a folder: choose another path';
  if (code === 'ENOENT') return 'the folder does not exist: create it first, or choose another path';
  return undefined;
}

/** fsync a directory so a rename inside it is durable; best effort where the OS cannot (Windows). */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Some platforms/filesystems cannot open or fsync directories; the rename itself succeeded.
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A file's contents: text (UTF-8), bytes, or bytes in parts written in turn (a file larger than one array holds). */
export type FileContents = string | Uint8Array | readonly Uint8Array[];

/** Whether two paths name one file (the same path, or links to one file). */
export function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * Writes `bytes` to `path` atomically: the data goes to a temporary sibling
 * (`<dir>/.<base>.tmp-<pid>-<random>`), is fsynced, and is renamed over the
 * target; then the directory is fsynced. Readers see either the old file or
 * the complete new one. On failure the temporary file is removed, the previous
 * file at `path` is left untouched, and a TreegateError naming `path` and the
 * OS error is thrown. A symbolic link is followed (the file it names is replaced, the link stays), a replaced
 * file's permissions are kept, and a device or pipe (/dev/null, a FIFO) is written to as it is, never replaced.
 */
export function writeFileAtomic(path: string, bytes: FileContents): void {
  writeFilesAtomic([{ path, bytes }]);
}

/**
 * Writes several files that belong together (a run's model, metrics and results) as writeFileAtomic does each,
 * but renames them over their targets only once all are written and fsynced: a failure while writing (a full
 * disk) leaves every earlier file as it was, and no temporary file. The error names the file and says so.
 */
export function writeFilesAtomic(files: ReadonlyArray<{ path: string; bytes: FileContents }>): void {
  const names = files.map((f) => basename(f.path)).join(', ');
  const targets = files.map((f) => landing(f.path));
  const temps: Array<string | null> = [];
  const removeTemps = (from = 0) => {
    for (const t of temps.slice(from)) {
      if (t === null) continue;
      try { unlinkSync(t); } catch { /* best effort */ }
    }
  };
  try {
    for (let i = 0; i < files.length; i++) {
      const { path, bytes } = files[i], { at, stat } = targets[i];
      temps.push(stat !== null && isStream(stat) ? (contentsParts(path, bytes), null) : writeTemp(path, at, bytes, stat?.isFile() ? stat : null));
    }
    // a folder in the way fails its rename, which must be found before any file is replaced
    for (let i = 0; i < files.length; i++) {
      if (targets[i].stat?.isDirectory()) throw new TreegateError(`cannot write ${files[i].path}: failed to rename the temporary file over it: EISDIR: it is a directory`);
    }
  } catch (e) {
    removeTemps();
    if (files.length > 1 && e instanceof TreegateError) throw new TreegateError(`${e.message}; none of ${names} was replaced`);
    throw e;
  }
  for (let i = 0; i < files.length; i++) {
    const tmp = temps[i];
    try {
      if (tmp === null) writeStream(targets[i].at, files[i].bytes);
      else renameSync(tmp, targets[i].at);
    } catch (e) {
      removeTemps(i);
      const replaced = files.slice(0, i).map((f) => basename(f.path)).join(', ');
      const state = files.length === 1 ? '' : i === 0 ? `; none of ${names} was replaced` : `; only ${replaced} replaced`;
      const how = tmp === null ? 'failed to write to it' : 'failed to rename the temporary file over it';
      throw new TreegateError(`cannot write ${files[i].path}: ${how}: ${osReason(e)}${state}`, osHint(e));
    }
  }
  for (const dir of new Set(targets.filter((_, i) => temps[i] !== null).map((t) => dirname(t.at)))) {
    try {
      fsyncDir(dir);
    } catch (e) {
      throw new TreegateError(`wrote ${files.map((f) => f.path).join(', ')} but could not fsync the directory ${dir}: ${osReason(e)}`, osHint(e));
    }
  }
}

/**
 * writeFilesAtomic, and where that fails (a full disk, a folder removed) the same files written to a new folder
 * `treegate-rescue-*` of the OS's temporary folder instead, which the error's hint names, so that the work that made
 * them (a training run) is not lost with the process. `otherwise`: what the hint says to do where that fails too.
 */
export function writeFilesOrRescue(files: ReadonlyArray<{ path: string; bytes: FileContents }>, otherwise: string): void {
  try {
    writeFilesAtomic(files);
  } catch (e) {
    if (!(e instanceof TreegateError)) throw e;
    let rescue: string | null = null;
    try {
      rescue = mkdtempSync(join(tmpdir(), 'treegate-rescue-'));
      const into = rescue;
      writeFilesAtomic(files.map((f) => ({ path: join(into, basename(f.path)), bytes: f.bytes })));
    } catch {
      if (rescue !== null) rmSync(rescue, { recursive: true, force: true });
      rescue = null;
    }
    const fix = e.hint ? `${e.hint}, then ` : '';
    const names = files.map((f) => basename(f.path)).join(', ');
    throw new TreegateError(e.problem, rescue !== null
      ? `${names} were written to ${rescue} instead: ${fix}move them into ${dirname(resolve(files[0].path))}`
      : `they could not be written to ${tmpdir()} either: ${fix}${otherwise}`);
  }
}

/**
 * Where writing `path` lands, and what is there now (null: nothing): the file a symbolic link names (so that the
 * link stays a link; a dangling one is replaced), else `path` itself, made absolute.
 */
function landing(path: string): { at: string; stat: Stats | null } {
  let stat: Stats | null = null;
  try {
    stat = statSync(path);
  } catch { /* nothing there yet, or a dangling link */ }
  // a stream is opened through the path given (/dev/stdout names a pipe no path reaches)
  if (stat === null || isStream(stat)) return { at: resolve(path), stat };
  return { at: realpathSync(path), stat };
}

/** A character device or a pipe (/dev/null, /dev/stdout, a FIFO): written to in place, never replaced by a rename. */
function isStream(st: Stats): boolean {
  return st.isCharacterDevice() || st.isFIFO() || st.isSocket();
}

/** The contents as byte arrays; a TreegateError naming `path` for anything else. */
function contentsParts(path: string, bytes: FileContents): readonly Uint8Array[] {
  const parts = typeof bytes === 'string' ? [Buffer.from(bytes, 'utf8')] : bytes instanceof Uint8Array ? [bytes] : bytes;
  if (!Array.isArray(parts) || !parts.every((p) => p instanceof Uint8Array)) {
    throw new TreegateError(`cannot write ${path}: contents must be a string, a Uint8Array or an array of them`);
  }
  return parts;
}

function writeAll(fd: number, parts: readonly Uint8Array[]): void {
  for (const data of parts) {
    let off = 0;
    while (off < data.length) {
      off += writeSync(fd, data, off, Math.min(data.length - off, IO_PIECE));
    }
  }
}

/** Writes to a device or pipe as it is (opened for writing, not truncated: /dev/null has nothing to truncate). */
function writeStream(at: string, bytes: FileContents): void {
  const fd = openSync(at, 'a');
  try {
    writeAll(fd, contentsParts(at, bytes));
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `bytes` to a new temporary sibling of `at` (the file `path` lands on), fsynced and closed, with the
 * permissions of `old` (the file it will replace) where there is one; returns its path. On failure removes it and
 * throws an error naming `path`.
 */
function writeTemp(path: string, at: string, bytes: FileContents, old: Stats | null): string {
  const parts = contentsParts(path, bytes);
  const tmp = join(dirname(at), `.${basename(at)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  let tmpCreated = false;
  let stage = 'create a temporary file next to it';
  try {
    fd = openSync(tmp, 'wx', 0o644);
    tmpCreated = true;
    if (old !== null) {
      stage = 'give the temporary file the permissions of the file it replaces';
      fchmodSync(fd, old.mode & 0o7777);
    }
    stage = 'write';
    writeAll(fd, parts);
    stage = 'fsync';
    fsyncSync(fd);
    const closing = fd;
    fd = undefined;
    closeSync(closing);
    return tmp;
  } catch (e) {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* already failing */ }
    }
    if (tmpCreated) {
      try { unlinkSync(tmp); } catch { /* best effort */ }
    }
    throw new TreegateError(`cannot write ${path}: failed to ${stage}: ${osReason(e)}`, osHint(e, dirname(at)));
  }
}

/**
 * mkdir -p, one level at a time. (mkdirSync's own `recursive` option can spin
 * forever on some pseudo-filesystems such as /proc, so it is not used.)
 */
function mkdirs(abs: string, shown: string): void {
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    try {
      statSync(p);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new TreegateError(`cannot create directory ${shown}: ${osReason(e)}`, osHint(e) ?? 'choose another path');
      const parent = dirname(p);
      if (parent === p) break;
      missing.push(p);
      p = parent;
    }
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue; // created concurrently
      throw new TreegateError(`cannot create directory ${shown}: ${osReason(e)}`, osHint(e) ?? 'choose another path');
    }
  }
}

/** The outermost folder on the way to `path` that does not exist yet (what checkWritableDir would create first), or null. */
export function missingAncestor(path: string): string | null {
  let top: string | null = null;
  for (let p = resolve(path); ; p = dirname(p)) {
    if (existsSync(p)) return top;
    top = p;
    if (dirname(p) === p) return top;
  }
}

/** Removes `path` and its parents up to `top`, each only while it is an empty folder (what a failed run created). */
export function removeEmptyFolders(path: string, top: string): void {
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      rmdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return; // not empty
    }
    if (p === resolve(top) || dirname(p) === p) return;
  }
}

/**
 * Makes sure `dir` exists (creating it and its parents if missing) and that
 * files can be created in it, by writing and deleting a probe file. Throws a
 * TreegateError saying what failed.
 */
export function checkWritableDir(dir: string): void {
  mkdirs(resolve(dir), dir);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new TreegateError(`cannot access directory ${dir}: ${osReason(e)}`, osHint(e));
  }
  if (!isDir) throw new TreegateError(`${dir} exists but is not a directory`, 'move the file away, or choose another folder');
  const probe = join(dir, `.treegate-probe-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(probe, 'wx', 0o644);
    closeSync(fd);
    fd = undefined;
    unlinkSync(probe);
  } catch (e) {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* ignore */ }
    }
    try { unlinkSync(probe); } catch { /* may not exist */ }
    throw new TreegateError(`directory ${dir} is not writable: ${osReason(e)}`, osHint(e));
  }
}

/**
 * Makes sure a file can be written at `path` later: its folder (the folder of the file a link names) as
 * checkWritableDir, and nothing other than a file already there (a folder of that name would fail the final rename,
 * after the work that produced the file); a device or pipe is written to as it is.
 */
export function checkWritableFile(path: string): void {
  const { at, stat } = landing(path);
  if (stat !== null && isStream(stat)) return; // written to as it is (writeFilesAtomic)
  checkWritableDir(dirname(at));
  if (stat !== null && !stat.isFile()) throw new TreegateError(`${path} exists and is not a file`, 'move it away, or write somewhere else');
}

/**
 * Refuses to replace an existing file that is not of the kind about to be written there (`ours(head)` on its first
 * `length` bytes, as UTF-8 text): an --out naming a run's own files, a model or someone's data is an error, not a loss. An empty
 * file (mktemp's) holds nothing to lose.
 */
export function checkReplaceable(path: string, length: number, ours: (head: string) => boolean, refusal: { problem: string; fix: string }): void {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return; // (checkWritableFile says what is wrong with a folder)
    size = st.size;
  } catch {
    return; // nothing there
  }
  if (size === 0) return;
  if (length === 0) { // nothing to read: `ours` looks at the file itself
    if (!ours('')) throw new TreegateError(refusal.problem, refusal.fix);
    return;
  }
  const head = Buffer.alloc(Math.min(length, size));
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!ours(head.subarray(0, read).toString('utf8'))) throw new TreegateError(refusal.problem, refusal.fix);
}
