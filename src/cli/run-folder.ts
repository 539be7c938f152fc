/**
 * A training run's folder (--out): which files a new run may replace there, the checkpoints it resumes from, the
 * space it needs, and the hashes its checkpoints record of its data and files.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { check, isObject, TreegateError } from '../core/errors.js';
import type { PreparedData } from '../data/prepare.js';
import { checkReplaceable, fileSource, sameFile, type FileContents } from '../io/atomic.js';
import { listCheckpoints, loadNewestCheckpoint, type LoadedCheckpoint, type RunState } from '../io/checkpoint.js';
import { isModelFile } from '../io/model-file.js';
import { counted } from '../report/summary.js';
import type { TrainCliOptions } from './train-checks.js';

/** SHA-256 of a file's contents as they are written (text, bytes or parts), or of a file (fileSha256). */
export function sha256(contents: FileContents): string {
  const h = createHash('sha256');
  for (const part of typeof contents === 'string' || ArrayBuffer.isView(contents) ? [contents] : contents) h.update(part);
  return h.digest('hex');
}
/** SHA-256 of a file's contents; null if it cannot be read (missing, a folder). */
export function fileSha256(file: string): string | null {
  return filesSha256([file]);
}

/** filesSha256's buffer: one for the process, in place of a fresh one each call (whose pages are dear to touch) */
let hashBuffer: Uint8Array | undefined;

/**
 * SHA-256 of files' contents one after another (a model file may pass what one read takes: read 1 MiB at a time);
 * null if one cannot be read (missing, a folder).
 */
export function filesSha256(files: readonly string[]): string | null {
  const h = createHash('sha256'), buffer = hashBuffer ??= new Uint8Array(1 << 20);
  for (const file of files) {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const src = fileSource(fd, fstatSync(fd).size, file);
      for (let off = 0; off < src.size; off += buffer.length) {
        const piece = buffer.subarray(0, Math.min(buffer.length, src.size - off));
        src.read(off, piece);
        h.update(piece);
      }
    } catch {
      return null;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return h.digest('hex');
}

/**
 * SHA-256 of the prepared data, every split's inputs and labels (after normalization, so a changed file, dataset
 * or split shows): saved with each checkpoint, so that a run resumes on the data it began with or says it cannot.
 */
export function dataFingerprint(data: PreparedData): string {
  const h = createHash('sha256');
  for (const set of [data.train, data.validation, data.test]) {
    const { rows, cols, data: x } = set.x;
    h.update(`${rows}×${cols};`);
    h.update(new Uint8Array(x.buffer, x.byteOffset, rows * cols * 4));
    h.update(new Uint8Array(set.y.buffer, set.y.byteOffset, set.y.byteLength));
  }
  return h.digest('hex');
}

/**
 * A run writes its model at the end (and its checkpoints on the way): one whose files cannot fit in the free space
 * of --out's file system is refused before it trains, not after. Counted: the model file (4 bytes a parameter),
 * and with checkpoints (--checkpoint-every, or a resumed run, which ends with one) those kept plus the one being
 * written (the weights and the optimizer's state each, and with --keep-best the best epoch's weights), less those
 * already there. The metrics and headers are small.
 */
export function checkDiskSpace(out: string, params: number, o: TrainCliOptions, checkpointing: boolean, existingCheckpoints: number): void {
  const fs = statfsSync(out);
  if (fs.blocks === 0) return; // a file system that does not say (some FUSE and network ones)
  const free = fs.bavail * fs.bsize, model = 4 * params, checkpoint = model * ((o.optimizer === 'adam' ? 3 : 2) + (o.keepBest ? 1 : 0));
  const newCheckpoints = checkpointing ? Math.max(1, o.keepCheckpoints + 1 - existingCheckpoints) : 0;
  const need = model + newCheckpoints * checkpoint;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 1)} MiB`;
  check(need <= free, `--out ${out} has ${mb(free)} free, and this run writes about ${mb(need)} there (the model ${mb(model)}` +
    `${newCheckpoints > 0 ? `, ${counted(newCheckpoints, 'checkpoint')} of ${mb(checkpoint)}` : ''}): it would fail after training`,
    `free space there, choose an --out on another disk${newCheckpoints > 1 ? ', lower --keep-checkpoints' : ''}, or make the model smaller (--depth, --hidden)`);
}

/**
 * A run replaces the model, metrics and result files in its --out folder only where they are a treegate run's (an
 * earlier run's, or a model saved through the API): `--out .` in a folder of someone's own result.json is an error.
 */
export function checkRunFiles(out: string, modelPath: string, metricsPath: string, resultPath: string): void {
  const resultOurs = (head: string) => {
    try {
      const r: unknown = JSON.parse(head);
      return typeof r === 'object' && r !== null && 'testAccuracy' in r && 'modelPath' in r;
    } catch {
      return false;
    }
  };
  const files: Array<[string, number, (head: string) => boolean]> = [
    [modelPath, 8, () => isModelFile(modelPath)],
    [metricsPath, 32, (head) => /^\{"type":"(step|epoch)"/.test(head)],
    [resultPath, 64 << 20, resultOurs],
  ];
  check(!existsSync(join(out, 'results.json')), `--out ${out} holds results.json, an experiment's: a training run there would mix its files with the experiment's`,
    'choose another --out');
  for (const [path, length, ours] of files) {
    checkReplaceable(path, length, ours, {
      problem: `--out ${out} holds ${basename(path)}, which is not a treegate run's: training would replace it`,
      fix: 'choose another --out, or move that file away first',
    });
  }
}

/** The file a CSV run without a test file writes its held-out examples to, in its --out folder. */
export const HELD_OUT = 'heldout-test.csv';

/**
 * A run replaces (a CSV run without --test-csv) or removes (any other) the heldout-test.csv of its folder: only one
 * an earlier run there wrote, which its result.json names as its test file beside its model (both absolute paths,
 * which move together with the folder). Someone's own file of that name, or one whose run's result is gone, is an
 * error before training; the run's data files are not touched (checked apart).
 */
export function checkHeldOutFile(out: string, resultPath: string, replaces: boolean, inputs: Array<string | undefined>): void {
  const heldOut = join(out, HELD_OUT);
  if (!existsSync(heldOut) || inputs.some((f) => f !== undefined && sameFile(f, heldOut))) return;
  const { testCsv, modelPath } = readRunResult(resultPath) ?? {}; // (none: nothing names the file)
  const named = typeof testCsv === 'string' && typeof modelPath === 'string' && basename(testCsv) === HELD_OUT && dirname(testCsv) === dirname(modelPath);
  check(named, `--out ${out} holds ${HELD_OUT}, which no result.json there names as its run's test file: training would ${replaces ? 'replace' : 'remove'} it`,
    'choose another --out, or move that file away first');
}

/**
 * How to start over where a run's folder holds checkpoints: a new run there is refused (--checkpoint-every) or
 * leaves --resume pointing at the old run, so it goes into another --out or follows the deletion of the checkpoints.
 */
export function newRunIn(out: string): string {
  return `start a new run (without --resume) with another --out, or delete ${join(out, 'checkpoints')} first to reuse ${out}`;
}

/** The newest usable checkpoint of the run in `dir` (--resume): loadNewestCheckpoint, its errors in train's words. */
export function newestCheckpointOf(dir: string, log: (line: string) => void, validate: (run: RunState, path: string) => void): LoadedCheckpoint {
  const hint = 'pass the --out folder of the run to resume';
  check(existsSync(dir), `${dir} does not exist`, hint);
  check(statSync(dir).isDirectory(), `${dir} is a file, not a run's folder`, hint);
  const checkpoints = join(dir, 'checkpoints');
  check(listCheckpoints(checkpoints).length > 0, `no checkpoint in ${checkpoints}`,
    basename(dir) === 'checkpoints' && listCheckpoints(dir).length > 0 ? `${dir} is a run's checkpoint folder: pass the run's folder, --resume ${dirname(dir)}`
      : 'a run writes checkpoints with --checkpoint-every, and when Ctrl-C or SIGTERM stops it; one that ended or was killed otherwise cannot be resumed');
  try {
    return loadNewestCheckpoint(checkpoints, log, validate);
  } catch (e) {
    // every checkpoint was skipped, each with a warning
    throw e instanceof TreegateError && e.hint === undefined ? new TreegateError(e.message, newRunIn(dir)) : e;
  }
}

/** The fields of a training run's result.json (train writes it; eval and train read some back); null where there is none or it is not a JSON object. */
export function readRunResult(path: string): Record<string, unknown> | null {
  try {
    const r: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return isObject(r) ? r : null;
  } catch {
    return null;
  }
}
