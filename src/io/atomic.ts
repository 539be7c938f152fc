import {
  accessSync, closeSync, constants as fsConstants, existsSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, mkdtempSync, openSync, readlinkSync, readSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { check, isPermissionError, osReason, TreegateError } from '../core/errors.js';
import { isStream } from '../core/streams.js';
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
 * Writes `bytes` to `path` atomically: the data goes to a temporary sibling of the file it replaces
 * (`<dir>/.<base>.tmp-<pid>-<random>`), is fsynced, and is renamed over it; then the directory is fsynced. Readers
 * see either the old file or the complete new one. On failure the temporary file is removed, the previous file is
 * left untouched, and a TreegateError naming `path` and the OS error is thrown. A symbolic link is followed (the
 * file it names is replaced, the link stays; a dangling one's file is made where it points), a replaced file keeps its
 * permissions, and one this user may not write is refused. A device, a named pipe or one of this process's open
 * files by descriptor (/dev/null, a FIFO, /dev/fd/N) is written to as it stands, never replaced (nor atomically).
 */
export function writeFileAtomic(path: string, bytes: FileContents): void {
  writeFilesAtomic([{ path, bytes }]);
}

/** A failure after every file was renamed into place: the directory could not be fsynced. */
class NotSyncedError extends TreegateError {}

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
    // a folder in the way fails its rename, and a read-only file is one its owner keeps: both found before anything is written
    for (let i = 0; i < files.length; i++) {
      const { path } = files[i], { at, stat } = targets[i];
      if (stat?.isDirectory()) throw new TreegateError(`cannot write ${path}: it is a directory (EISDIR)`, 'move it away, or write somewhere else');
      if (stat?.isFile()) checkNotReadOnly(path, at);
    }
    for (let i = 0; i < files.length; i++) {
      const { path, bytes } = files[i], { at, stat, inPlace } = targets[i];
      temps.push(inPlace ? (contentsParts(path, bytes), null) : writeTemp(path, at, bytes, stat?.isFile() ? stat : null));
    }
  } catch (e) {
    removeTemps();
    if (files.length > 1 && e instanceof TreegateError) throw new TreegateError(`${e.message}; none of ${names} was replaced`);
    throw e;
  }
  for (let i = 0; i < files.length; i++) {
    const tmp = temps[i];
    try {
      if (tmp === null) writeInPlace(targets[i].at, targets[i].stat!, files[i].bytes);
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
      throw new NotSyncedError(`wrote ${files.map((f) => f.path).join(', ')} but could not fsync the directory ${dir}: ${osReason(e)}`, osHint(e));
    }
  }
}

/**
 * writeFilesAtomic for files of one folder, and where that fails (a full disk, the folder removed) the same files
 * written to a new folder `treegate-rescue-*` of the OS's temporary folder instead, where it has room, which the
 * error's hint names: the work that made them (a training run) is not lost with the process. `otherwise`: what the
 * hint says to do where they cannot be written there either.
 */
export function writeFilesOrRescue(files: ReadonlyArray<{ path: string; bytes: FileContents }>, otherwise: string): void {
  const dir = dirname(resolve(files[0]?.path ?? '.'));
  check(files.every((f) => dirname(resolve(f.path)) === dir) && new Set(files.map((f) => basename(f.path))).size === files.length,
    'writeFilesOrRescue: the files must have distinct names in one folder');
  try {
    writeFilesAtomic(files);
  } catch (e) {
    if (!(e instanceof TreegateError) || e instanceof NotSyncedError) throw e; // (in place already)
    let rescue: string | null = null;
    try {
      rescue = mkdtempSync(join(tmpdir(), 'treegate-rescue-'));
      const into = rescue;
      writeFilesAtomic(files.map((f) => ({ path: join(into, basename(f.path)), bytes: f.bytes })));
    } catch {
      if (rescue !== null) rmSync(rescue, { recursive: true, force: true });
      rescue = null;
    }
    const one = files.length === 1, names = files.map((f) => basename(f.path)).join(', ');
    const fix = e.hint ? `; ${e.hint}` : '';
    throw new TreegateError(e.problem, rescue !== null
      ? `${names} ${one ? 'was' : 'were'} written to ${rescue} instead: move ${one ? 'it' : 'them'} to ${dir} once the cause is fixed${fix}`
      : `${one ? 'it' : 'they'} could not be written to ${tmpdir()} either: ${otherwise}${fix}`);
  }
}

/** Paths of this process's open files by descriptor (the shell's redirections): written where they stand. */
const DESCRIPTOR_PATH = /^\/(?:dev\/(?:(stdin|stdout|stderr)|fd\/(\d+))|proc\/(self|thread-self|\d+)\/fd\/(\d+))$/;

/** The descriptor of this process a path names (/dev/stdout 1, /dev/fd/N and /proc/self/fd/N N), or null for any other path. */
export function descriptorOf(path: string): number | null {
  const m = DESCRIPTOR_PATH.exec(resolve(path));
  if (!m || (m[3] !== undefined && /^\d+$/.test(m[3]) && Number(m[3]) !== process.pid)) return null;
  return m[1] !== undefined ? ['stdin', 'stdout', 'stderr'].indexOf(m[1]) : Number(m[2] ?? m[4]);
}

/**
 * Where writing `path` lands, what is there now (null: nothing), and whether it is written in place: a device, a
 * named pipe, or an open file named by its descriptor (/dev/stdout) is, through the path given; else the file a
 * symbolic link names (so that the link stays a link; a dangling one's file is made where it points, as a shell's
 * `>` makes it), or `path` itself, made absolute.
 */
function landing(path: string): { at: string; stat: Stats | null; inPlace: boolean } {
  let stat: Stats | null = null;
  try {
    stat = statSync(path);
  } catch { /* nothing there yet, or a dangling link */ }
  if (stat === null) return { at: danglingTarget(path) ?? resolve(path), stat, inPlace: false };
  if (isStream(stat) || descriptorOf(path) !== null) return { at: resolve(path), stat, inPlace: true };
  return { at: realpathSync(path), stat, inPlace: false };
}

/**
 * Where the dangling symbolic link `path` points, a chain of links followed (null: `path` is no link). Its folder
 * must exist: a link is not followed into folders made for it.
 */
function danglingTarget(path: string): string | null {
  let at = resolve(path);
  for (let hops = 0; ; hops++) {
    let link: string | null = null;
    try {
      if (lstatSync(at).isSymbolicLink()) link = readlinkSync(at);
    } catch { /* nothing there: where the chain ends */ }
    if (link === null) break;
    if (hops === 40) throw new TreegateError(`cannot write ${path}: its symbolic links form a loop (ELOOP)`, 'remove the loop, or write somewhere else');
    at = resolve(dirname(at), link);
  }
  if (at === resolve(path)) return null;
  if (!existsSync(dirname(at))) {
    throw new TreegateError(`cannot write ${path}: it is a symbolic link to ${at}, whose folder does not exist`,
      'create that folder, or remove the link to write a file in its place');
  }
  return at;
}

/** A file this user may not write is one its owner keeps: refused, not replaced (a rename would ignore its mode). */
function checkNotReadOnly(path: string, at: string): void {
  try {
    accessSync(at, fsConstants.W_OK);
  } catch (e) {
    if (!isPermissionError(e) && (e as NodeJS.ErrnoException).code !== 'EROFS') return;
    throw new TreegateError(`${path} is read-only`, 'to replace it, make it writable: chmod u+w; or write somewhere else');
  }
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

/**
 * Writes to a device, pipe or open file as it stands: appended (a shell's `>` file has been emptied already, and
 * /dev/null has nothing to truncate). A named pipe no process reads is an error, not a wait for a reader forever.
 */
function writeInPlace(at: string, stat: Stats, bytes: FileContents): void {
  if (stat.isFIFO()) {
    try {
      closeSync(openSync(at, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENXIO') throw Object.assign(new Error('ENXIO: no process reads the pipe'), { code: 'ENXIO' });
      throw e;
    }
  }
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
      // its permissions (not setuid and the like); best effort: a file system that keeps none (vfat) refuses
      try { fchmodSync(fd, old.mode & 0o777); } catch { /* the default mode then */ }
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

/**
 * For a command about to create the folder `dir` (with checkWritableDir or checkWritableFile, and any missing folders
 * above it): on a failed exit (a code other than 0; every failure ends in process.exit) it removes those still empty,
 * from `deepest` (a folder inside `dir` it also makes; `dir` itself by default) up, unless `keep()` (another process
 * holds the folder: a command refused there would take that one's empty folders). Nothing where `dir` exists already.
 */
export function removeCreatedOnFailure(dir: string, options: { deepest?: string; keep?: () => boolean } = {}): void {
  const top = missingAncestor(dir);
  if (top === null) return;
  process.once('exit', (code) => { if (code !== 0 && !options.keep?.()) removeEmptyFolders(options.deepest ?? dir, top); });
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
    throw new TreegateError(`directory ${dir} is not writable: ${osReason(e)}`, osHint(e, dir));
  }
}

/**
 * Makes sure a file can be written at `path` later: its folder (the folder of the file a link names) as
 * checkWritableDir, nothing other than a file already there (a folder of that name would fail the final rename,
 * after the work that produced the file), and not a read-only file. `inPlace`: a device, named pipe or open file
 * named by its descriptor (/dev/null, a FIFO, /dev/fd/N), which writeFilesAtomic writes to as it stands, is taken
 * too (predict's output); elsewhere it is refused.
 */
export function checkWritableFile(path: string, options: { inPlace?: boolean } = {}): void {
  const { at, stat, inPlace } = landing(path);
  if (inPlace) {
    if (options.inPlace) return;
    throw new TreegateError(`${path} is ${stat!.isFIFO() ? 'a named pipe' : stat!.isCharacterDevice() ? 'a device' : 'an open file named by its descriptor'}, not a file`,
      'name a file to write');
  }
  checkWritableDir(dirname(at));
  if (stat !== null && !stat.isFile()) throw new TreegateError(`${path} exists and is not a file`, 'move it away, or write somewhere else');
  if (stat !== null) checkNotReadOnly(path, at);
}

/** Whether `path` is a folder (a link to one too); false where nothing is there or it cannot be read. */
export function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
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
