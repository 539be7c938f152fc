/**
 * One run at a time in a folder: two `treegate train` (or `experiment`) processes writing into the same --out at
 * once would mix their checkpoints (a resume could take the other run's) and replace each other's files.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { osReason, TreegateError } from '../core/errors.js';

/** The lock's name in the folder: it holds the process id of the run that holds the folder. */
export const LOCK_FILE = '.treegate.lock';

/** Whether a process of this id runs (one of another user's too: kill(pid, 0) is refused, not failed, for it). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether another running process holds `dir` (its lock names a process other than this one, and that process runs). */
export function heldByOther(dir: string): boolean {
  try {
    const pid = Number(readFileSync(join(dir, LOCK_FILE), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && running(pid);
  } catch {
    return false;
  }
}

/**
 * Holds `dir` for this process until it exits (a folder that does not exist is not held): a lock file naming its process id, made only where
 * none is (O_EXCL). A lock whose process has ended (a run killed with no chance to remove it) is taken over; one
 * whose process runs is an error naming it. The lock goes when this process exits, before any other exit hook (a
 * failed run's empty folder is then removed by its own).
 */
export function holdFolder(dir: string, what: string): void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // no folder to hold: the caller's checks say what is wrong
      if (code !== 'EEXIST' || attempt > 0) throw new TreegateError(`cannot lock ${dir}: ${osReason(e)}`, `remove ${path} if no ${what} is writing there`);
      let pid = NaN, since = '';
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
        since = statSync(path).mtime.toISOString();
      } catch { /* removed meanwhile: tried again */ }
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && running(pid)) {
        throw new TreegateError(`${dir} is in use by another ${what} (process ${pid}, since ${since}): two runs there would mix their files`,
          `wait for it to end, or write to another folder; if no ${what} is running there, remove ${path}`);
      }
      try { unlinkSync(path); } catch { /* gone already */ }
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
