/**
 * One run at a time in a folder: two `treegate train` (or `experiment`) processes writing into the same --out at
 * once would mix their checkpoints (a resume could take the other run's) and replace each other's files.
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { osReason, TreegateError } from '../core/errors.js';

/** The lock's name in the folder: it holds the process id of the run that holds the folder. */
export const LOCK_FILE = '.treegate.lock';

/**
 * How long an empty lock is taken for one being made: its process creates it (O_EXCL), then writes its id into it, and
 * a run that read it in between took it for stale and held the folder too. An empty lock older than this was left by
 * a process that ended in between, and is taken over.
 */
export const STARTING_MS = 2000;

/** Whether a process of this id runs (one of another user's too: kill(pid, 0) is refused, not failed, for it). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The lock at `path`: the process id it names (NaN or 0 where it names none), when it was made, and whether it is one
 * being made (empty, younger than STARTING_MS); null where there is none (or it cannot be read).
 */
function readLock(path: string): { pid: number; since: Date; starting: boolean } | null {
  let fd: number | undefined;
  try {
    // (through one descriptor: its text and time are one file's, not a removed lock's text and its successor's time)
    fd = openSync(path, 'r');
    const since = fstatSync(fd).mtime, text = readFileSync(fd, 'utf8');
    return { pid: Number(text.trim()), since, starting: text === '' && Date.now() - since.getTime() < STARTING_MS };
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether the lock is another running process's: one being made, or naming a process other than this one that runs. */
function othersLock(lock: ReturnType<typeof readLock>): boolean {
  return lock !== null && (lock.starting || (Number.isSafeInteger(lock.pid) && lock.pid > 0 && lock.pid !== process.pid && running(lock.pid)));
}

/** Whether another running process holds `dir` (its lock is one being made, or names a process other than this one, and that process runs). */
export function heldByOther(dir: string): boolean {
  return othersLock(readLock(join(dir, LOCK_FILE)));
}

/**
 * The lock's companion while a run replaces a stale lock (`LOCK_FILE.takeover`, made only where none is): of runs that
 * find the same stale lock at once (started together after a crash), one replaces it and the others then find its
 * run's lock, where each would otherwise remove the lock another had just made in its place and all would hold the
 * folder. One older than STARTING_MS was left by a run that ended in the middle of a takeover, and is removed.
 */
const TAKEOVER = '.takeover';

/** How long holdFolder waits for other runs' takeovers before it gives up. */
const WAIT_MS = 2 * STARTING_MS;

/** Blocks this thread for `ms` milliseconds. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Removes the lock at `path` where it is still stale (not another running process's), as the one run replacing it:
 * false where another run is replacing it (the caller tries again).
 */
function removeStale(path: string, what: string): boolean {
  const takeover = path + TAKEOVER;
  try {
    closeSync(openSync(takeover, 'wx', 0o644));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new TreegateError(`cannot lock ${dirname(path)}: ${osReason(e)}`, `remove ${path} if no ${what} is writing there`);
    try {
      if (Date.now() - statSync(takeover).mtimeMs > STARTING_MS) unlinkSync(takeover);
    } catch { /* gone already */ }
    return false;
  }
  try {
    // judged again as the one run that may remove it: another run may have replaced it since this one read it, or
    // removed it, and then a third made its own (a lock none read now may be one made after this read: left)
    const lock = readLock(path);
    if (lock !== null && !othersLock(lock)) unlinkSync(path);
  } catch { /* gone already */ } finally {
    try { unlinkSync(takeover); } catch { /* removed as stale by another run: its time is long past */ }
  }
  return true;
}

/**
 * Holds `dir` for this process until it exits (a folder that does not exist is not held): a lock file naming its process id, made only where
 * none is (O_EXCL). A lock whose process has ended (a run killed with no chance to remove it) is taken over, by one
 * run where several find it at once (removeStale); one whose process runs, or an empty one younger than STARTING_MS (a
 * run starting), is an error naming it. The lock goes when this process exits, before any other exit hook (a
 * failed run's empty folder is then removed by its own).
 */
export function holdFolder(dir: string, what: string): void {
  const path = join(dir, LOCK_FILE), start = Date.now();
  for (;;) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // no folder to hold: the caller's checks say what is wrong
      if (code !== 'EEXIST') throw new TreegateError(`cannot lock ${dir}: ${osReason(e)}`, `remove ${path} if no ${what} is writing there`);
      if (Date.now() - start > WAIT_MS) {
        throw new TreegateError(`cannot lock ${dir}: its lock ${path} could not be replaced in ${WAIT_MS / 1000} s (another ${what} taking it over, or a lock that cannot be read)`,
          `remove ${path} and ${path}${TAKEOVER} if no ${what} is writing there`);
      }
      // (one removed meanwhile reads as none: tried again)
      const lock = readLock(path);
      if (lock && othersLock(lock)) {
        throw new TreegateError(`${dir} is in use by another ${what} (${lock.starting ? 'starting: its lock, made' : `process ${lock.pid}, since`} ${lock.since.toISOString()}` +
          `${lock.starting ? ', names no process yet' : ''}): two runs there would mix their files`,
          `wait for it to end, or write to another folder; if no ${what} is running there, remove ${path}`);
      }
      if (!removeStale(path, what)) pause(5);
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    process.prependOnceListener('exit', () => {
      try {
        if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
      } catch { /* gone already */ }
    });
    return;
  }
}
