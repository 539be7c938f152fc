import { test } from 'node:test';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, existsSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkWritableDir, checkWritableFile, descriptorOf, fileSource, writeFileAtomic, writeFilesAtomic, writeFilesOrRescue } from '../../src/io/atomic.js';
import { decodeSafetensors, encodeSafetensors, safetensorsParts } from '../../src/io/safetensors.js';
import { TreegateError } from '../../src/core/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-atomic-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('writes bytes and strings, replacing the old file, leaving no temp files', () => {
  withTmp((dir) => {
    const p = join(dir, 'model.safetensors');
    writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
    writeFileAtomic(p, 'héllo');
    assert.equal(readFileSync(p, 'utf8'), 'héllo');
    writeFileAtomic(p, new Uint8Array(0));
    assert.equal(readFileSync(p).length, 0);
    const big = new Uint8Array(3_000_000).map((_, i) => i & 0xff);
    writeFileAtomic(p, big);
    assert.deepEqual(readFileSync(p), Buffer.from(big));
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  });
});

test('writes from a Uint8Array view with an offset', () => {
  withTmp((dir) => {
    const p = join(dir, 'f');
    const base = new Uint8Array([9, 9, 1, 2, 3, 9]);
    writeFileAtomic(p, base.subarray(2, 5));
    assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
  });
});

test('fails cleanly when the directory is missing', () => {
  withTmp((dir) => {
    const p = join(dir, 'gone', 'model.safetensors');
    assert.throws(() => writeFileAtomic(p, 'x'), (e: unknown) => {
      assert.ok(e instanceof TreegateError);
      assert.ok(e.message.includes(p), e.message);
      assert.match(e.message, /ENOENT/);
      assert.match(e.hint ?? '', /does not exist: create it first/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), []);
  });
});

test('a folder that exists but makes no files (/proc) is named as such, not as missing', { skip: !existsSync('/proc/self') && 'no /proc here' }, () => {
  assert.throws(() => writeFileAtomic('/proc/self/model.safetensors', 'x'), (e: unknown) => {
    assert.ok(e instanceof TreegateError);
    assert.match(e.hint ?? '', /\/proc\/self exists but no file can be made in it/);
    return true;
  });
});

test('fails cleanly when the directory was removed after a previous write', () => {
  withTmp((dir) => {
    const sub = join(dir, 'out');
    mkdirSync(sub);
    const p = join(sub, 'm');
    writeFileAtomic(p, 'v1');
    rmSync(sub, { recursive: true });
    assert.throws(() => writeFileAtomic(p, 'v2'), /ENOENT/);
    assert.equal(existsSync(sub), false);
  });
});

test('target that is a directory: error, directory intact, no temp file left', () => {
  withTmp((dir) => {
    const p = join(dir, 'target');
    mkdirSync(p);
    writeFileSync(join(p, 'inside'), 'keep');
    assert.throws(() => writeFileAtomic(p, 'new'), (e: unknown) => {
      assert.ok(e instanceof TreegateError);
      assert.ok(e.message.includes(p), e.message);
      assert.match(e.message, /EISDIR|ENOTEMPTY|EEXIST|EPERM/);
      return true;
    });
    assert.equal(readFileSync(join(p, 'inside'), 'utf8'), 'keep');
    assert.deepEqual(readdirSync(dir), ['target']);
  });
});

test('a failed write leaves the previous file intact', () => {
  withTmp((dir) => {
    const p = join(dir, 'model');
    writeFileAtomic(p, 'old contents');
    // Parent path component is a file: creating the temp file fails with ENOTDIR.
    assert.throws(() => writeFileAtomic(join(p, 'x'), 'new'), /ENOTDIR/);
    // Contents of the wrong type are rejected before anything is written.
    assert.throws(() => writeFileAtomic(p, 42 as unknown as string), TreegateError);
    // A failure after the temp file exists (here: reading the data throws) removes it.
    class Exploding extends Uint8Array {
      override get length(): number { throw new Error('boom'); }
    }
    assert.throws(() => writeFileAtomic(p, new Exploding(4)), (e: unknown) => {
      assert.ok(e instanceof TreegateError);
      assert.match(e.message, /failed to write: boom/);
      return true;
    });
    // a list of parts must hold byte arrays only
    assert.throws(() => writeFileAtomic(p, [new Uint8Array(2), 'text'] as unknown as Uint8Array[]),
      (e: unknown) => e instanceof TreegateError && /contents must be a string, a Uint8Array or an array of them/.test(e.message));
    assert.equal(readFileSync(p, 'utf8'), 'old contents');
    assert.deepEqual(readdirSync(dir), ['model']);
  });
});

test('a symbolic link is followed (its file replaced, the link kept), a replaced file keeps its permissions', () => {
  withTmp((dir) => {
    mkdirSync(join(dir, 'real'));
    const file = join(dir, 'real', 'preds.csv'), link = join(dir, 'preds.csv');
    writeFileSync(file, 'old');
    symlinkSync(join('real', 'preds.csv'), link);
    checkWritableFile(link);
    writeFileAtomic(link, 'new');
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link was replaced by a file');
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.deepEqual(readdirSync(join(dir, 'real')), ['preds.csv']);
    for (const mode of [0o600, 0o640, 0o755]) {
      chmodSync(file, mode);
      writeFileAtomic(file, `mode ${mode}`);
      assert.equal(statSync(file).mode & 0o7777, mode);
      assert.equal(readFileSync(file, 'utf8'), `mode ${mode}`);
    }
    chmodSync(file, 0o4755); // setuid and the like are not handed on
    writeFileAtomic(file, 'plain');
    assert.equal(statSync(file).mode & 0o7777, 0o755);
    // a dangling link's file is made where it points (a relative link from the link's folder, a chain of links
    // followed), the link staying; into a folder that does not exist, or through a loop, it is refused
    const dangling = join(dir, 'dangling'), chain = join(dir, 'chain');
    symlinkSync('real/made.csv', dangling);
    symlinkSync('dangling', chain);
    writeFileAtomic(chain, 'here');
    assert.ok(lstatSync(dangling).isSymbolicLink() && lstatSync(chain).isSymbolicLink());
    assert.equal(readFileSync(join(dir, 'real', 'made.csv'), 'utf8'), 'here');
    unlinkSync(join(dir, 'real', 'made.csv'));
    const nowhere = join(dir, 'nowhere-link');
    symlinkSync(join(dir, 'nowhere', 'x'), nowhere);
    for (const f of [() => writeFileAtomic(nowhere, 'x'), () => checkWritableFile(nowhere)]) {
      assert.throws(f, /cannot write .*nowhere-link: it is a symbolic link to .*nowhere\/x, whose folder does not exist \(create that folder, or remove the link/);
    }
    assert.ok(lstatSync(nowhere).isSymbolicLink() && !existsSync(join(dir, 'nowhere')));
    symlinkSync('loop-b', join(dir, 'loop-a'));
    symlinkSync('loop-a', join(dir, 'loop-b'));
    assert.throws(() => writeFileAtomic(join(dir, 'loop-a'), 'x'), /its symbolic links form a loop \(ELOOP\)/);
    // a link to a folder is the folder: refused before anything is replaced
    symlinkSync(join(dir, 'real'), join(dir, 'folder-link'));
    assert.throws(() => writeFileAtomic(join(dir, 'folder-link'), 'x'), /EISDIR/);
    assert.throws(() => checkWritableFile(join(dir, 'folder-link')), /exists and is not a file/);
    assert.deepEqual(readdirSync(join(dir, 'real')), ['preds.csv']);
  });
});

test('a device (/dev/null) or a named pipe is written to as it stands, never replaced; one no process reads is an error, not a wait', { skip: !existsSync('/dev/null') && 'no /dev/null here' }, () => {
  assert.throws(() => checkWritableFile('/dev/null'), /\/dev\/null is a device, not a file \(name a file to write\)/); // (where a file is meant)
  checkWritableFile('/dev/null', { inPlace: true });
  writeFileAtomic('/dev/null', 'discarded');
  writeFilesAtomic([{ path: '/dev/null', bytes: new Uint8Array(5) }, { path: '/dev/null', bytes: 'twice' }]);
  assert.ok(statSync('/dev/null').isCharacterDevice());
  assert.ok(!readdirSync('/dev').some((f) => f.startsWith('.null.tmp-')), 'a temporary file was left in /dev');
  withTmp((dir) => {
    // contents of the wrong type for a device are refused before any file is replaced
    const a = join(dir, 'a');
    writeFileSync(a, 'old');
    assert.throws(() => writeFilesAtomic([{ path: a, bytes: 'new' }, { path: '/dev/null', bytes: 42 as unknown as string }]), TreegateError);
    assert.equal(readFileSync(a, 'utf8'), 'old');
  });
  withTmp((dir) => {
    const fifo = join(dir, 'pipe');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return; // (no mkfifo here)
    assert.throws(() => checkWritableFile(fifo), /pipe is a named pipe, not a file/);
    checkWritableFile(fifo, { inPlace: true });
    assert.throws(() => writeFileAtomic(fifo, 'x'), /cannot write .*pipe: failed to write to it: no process reads the pipe \(ENXIO\)/);
    assert.ok(statSync(fifo).isFIFO());
  });
});

test('descriptorOf names the descriptor of this process a path stands for, and nothing else', () => {
  for (const [path, fd] of [['/dev/stdout', 1], ['/dev/stderr', 2], ['/dev/fd/7', 7], ['/proc/self/fd/1', 1], [`/proc/${process.pid}/fd/3`, 3],
    ['/proc/1/fd/1', null], ['/dev/null', null], ['/dev/fd', null], ['out.csv', null]] as const) {
    assert.equal(descriptorOf(path), fd, path);
  }
});

test('a read-only file is refused, not replaced', () => {
  // as root every file is writable: the check runs as user nobody then (setpriv, of util-linux)
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'treegate-readonly-'));
  try {
    chmodSync(dir, 0o777);
    const file = join(dir, 'kept.csv');
    writeFileSync(file, 'keep');
    chmodSync(file, 0o444);
    const script = "import { checkWritableFile, writeFileAtomic } from './src/io/atomic.ts'; const f = process.argv[1]; " +
      'for (const call of [() => checkWritableFile(f), () => writeFileAtomic(f, "new")]) { try { call(); console.log("replaced"); } catch (e) { console.log(e.message); } }';
    const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, file];
    const r = root ? spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...node], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HOME: dir } })
      : spawnSync(node[0], node.slice(1), { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), Array(2).fill(`${file} is read-only (to replace it, make it writable: chmod u+w; or write somewhere else)`));
    assert.equal(readFileSync(file, 'utf8'), 'keep');
    assert.deepEqual(readdirSync(dir), ['kept.csv']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFilesOrRescue: files that cannot be written go to a new folder of the temporary folder, which the hint names', () => {
  withTmp((dir) => {
    const saved = process.env.TMPDIR;
    const out = join(dir, 'out'), rescueIn = join(dir, 'tmp');
    mkdirSync(join(out, 'b'), { recursive: true }); // a folder where the second file goes: nothing can be replaced
    mkdirSync(rescueIn);
    writeFileSync(join(out, 'a'), 'old');
    const files = [{ path: join(out, 'a'), bytes: 'new a' }, { path: join(out, 'b'), bytes: new Uint8Array([7]) }];
    try {
      process.env.TMPDIR = rescueIn;
      assert.throws(() => writeFilesOrRescue(files, 'do it again'), (e: unknown) => {
        assert.ok(e instanceof TreegateError);
        const [folder] = readdirSync(rescueIn);
        assert.match(folder, /^treegate-rescue-/);
        assert.equal(e.hint, `a, b were written to ${join(rescueIn, folder)} instead: move them to ${out} once the cause is fixed`);
        assert.equal(readFileSync(join(rescueIn, folder, 'a'), 'utf8'), 'new a');
        assert.deepEqual([...readFileSync(join(rescueIn, folder, 'b'))], [7]);
        return true;
      });
      assert.equal(readFileSync(join(out, 'a'), 'utf8'), 'old');
      // one file: the hint says "it"
      assert.throws(() => writeFilesOrRescue([files[1]], 'do it again'), (e: unknown) => e instanceof TreegateError
        && new RegExp(`^b was written to ${rescueIn}/treegate-rescue-\\w+ instead: move it to ${out} once the cause is fixed`).test(e.hint ?? ''));
      for (const folder of readdirSync(rescueIn)) rmSync(join(rescueIn, folder), { recursive: true });
      // no temporary folder to write to either: the hint says so, and nothing is left behind
      process.env.TMPDIR = join(dir, 'missing');
      assert.throws(() => writeFilesOrRescue(files, 'do it again'), (e: unknown) =>
        e instanceof TreegateError && e.hint === `they could not be written to ${join(dir, 'missing')} either: do it again`);
      assert.throws(() => writeFilesOrRescue([files[0], { path: join(dir, 'elsewhere'), bytes: 'x' }], 'unused'), /the files must have distinct names in one folder/);
      assert.throws(() => writeFilesOrRescue([files[0], files[0]], 'unused'), /the files must have distinct names in one folder/);
      assert.deepEqual(readdirSync(dir).sort(), ['out', 'tmp']);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    writeFilesOrRescue([files[0]], 'unused');
    assert.equal(readFileSync(join(out, 'a'), 'utf8'), 'new a');
  });
});

test('checkWritableDir creates missing directories and leaves no probe', () => {
  withTmp((dir) => {
    const d = join(dir, 'a', 'b', 'c');
    checkWritableDir(d);
    assert.deepEqual(readdirSync(d), []);
    checkWritableDir(d); // already exists: fine
    assert.deepEqual(readdirSync(d), []);
  });
});

test('removeCreatedOnFailure: a failed exit removes the empty folders it made, unless another process holds them; a successful one none', () => {
  withTmp((dir) => {
    const script = "import { removeCreatedOnFailure } from './src/io/atomic.ts'; import { mkdirSync } from 'node:fs'; " +
      'const [code, ...folders] = process.argv.slice(1); ' +
      "for (const f of folders) { removeCreatedOnFailure(f + '/run', { keep: () => f.endsWith('held') }); mkdirSync(f + '/run', { recursive: true }); } " +
      'process.exit(Number(code));';
    const run = (code: number, ...folders: string[]) => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, String(code),
      ...folders.map((f) => join(dir, f))], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(run(2, 'failed', 'held').status, 2);
    assert.equal(run(0, 'done').status, 0);
    assert.deepEqual(readdirSync(dir).sort(), ['done', 'held']);
    assert.deepEqual([readdirSync(join(dir, 'done')), readdirSync(join(dir, 'held'))], [['run'], ['run']]);
  });
});

test('checkWritableDir rejects a file and a path under a file', () => {
  withTmp((dir) => {
    const f = join(dir, 'file');
    writeFileSync(f, 'x');
    assert.throws(() => checkWritableDir(f), (e: unknown) => {
      assert.ok(e instanceof TreegateError);
      assert.ok(e.message.includes(f));
      return true;
    });
    assert.throws(() => checkWritableDir(f), new RegExp(`${f} exists but is not a directory`));
    assert.throws(() => checkWritableDir(join(f, 'sub')), TreegateError);
    assert.deepEqual(readdirSync(dir), ['file']);
  });
});

test('checkWritableDir on a folder of a virtual file system (/proc) says that no file can be made there, not that it is missing', { skip: !existsSync('/proc/self') && 'no /proc here' }, () => {
  assert.throws(() => checkWritableDir('/proc'), /directory \/proc is not writable: .*\(\/proc exists but no file can be made in it \(a virtual file system, like \/proc\): choose a folder on a disk\)/);
});

test('a safetensors file over 2 GiB (one read or write call\'s limit) is written from its parts and read back through a file source', { timeout: 300_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-big-'));
  try {
    if (statfsSync(dir).bavail * statfsSync(dir).bsize < 6 * 2 ** 30) {
      t.skip('less than 6 GiB free in the temporary folder');
      return;
    }
    // one tensor of 2 GiB + 24 bytes (three views of at most 1 GiB each), then a small one after it
    const big = new Float32Array(2 ** 29 + 6), small = Float32Array.of(7, 8, 9);
    const marks = [0, 2 ** 28 - 1, 2 ** 28, 2 ** 29 - 1, 2 ** 29, big.length - 1];
    for (const i of marks) big[i] = 1 + (i % 251);
    const path = join(dir, 'big.safetensors');
    writeFileAtomic(path, safetensorsParts([{ name: 'big', shape: [big.length], data: big }, { name: 'small', shape: [3], data: small }], { k: 'v' }));
    const fd = openSync(path, 'r');
    try {
      const back = decodeSafetensors(fileSource(fd, fstatSync(fd).size, path), path);
      const b = back.tensors.get('big')!.data;
      assert.equal(b.length, big.length);
      for (const i of marks) assert.equal(b[i], big[i], `element ${i}`);
      assert.deepEqual([...back.tensors.get('small')!.data], [7, 8, 9]);
      assert.deepEqual(back.metadata, { k: 'v' });
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file source says so where the file ends before the size it had when opened', () => {
  withTmp((dir) => {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, encodeSafetensors([{ name: 'w', shape: [4], data: Float32Array.of(1, 2, 3, 4) }]));
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      truncateSync(path, size - 4);
      assert.throws(() => decodeSafetensors(fileSource(fd, size, path), path), (e: unknown) => e instanceof TreegateError
        && e.message.includes(`${path}: the file ends at byte ${size - 4}, before the ${size} bytes it held when opened`));
    } finally {
      closeSync(fd);
    }
  });
});

test('the new file is fsynced before its rename, and its folder after it (a crash then leaves the old file or the whole new one)', { skip: !existsSync('/proc/self/fd') && 'no /proc here' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-fsync-')), target = join(dir, 'model.safetensors');
  writeFileSync(target, 'old');
  const synced: string[] = [];
  const real = fs.fsyncSync;
  // (the module imports fsyncSync by name: syncBuiltinESMExports carries the patch to that binding, and back)
  fs.fsyncSync = (fd: number) => {
    const st = fstatSync(fd);
    synced.push(`${readlinkSync(`/proc/self/fd/${fd}`)} ${st.isDirectory() ? '(a folder)' : `holding ${st.size}`}`);
    real(fd);
  };
  syncBuiltinESMExports();
  try {
    writeFileAtomic(target, 'new bytes');
  } finally {
    fs.fsyncSync = real;
    syncBuiltinESMExports();
  }
  assert.equal(synced.length, 2, synced.join('; '));
  assert.match(synced[0], new RegExp(`^${dir}/\\.model\\.safetensors\\.tmp-[^/]+ holding 9$`), 'the temporary file, whole, before its rename');
  assert.equal(synced[1], `${dir} (a folder)`, 'then the folder');
  assert.equal(readFileSync(target, 'utf8'), 'new bytes');
  rmSync(dir, { recursive: true });
});

test('an open file named by its descriptor (/dev/fd/N, a shell\'s redirection) is appended to where it stands: neither replaced nor emptied', { skip: !existsSync('/dev/fd') && 'no /dev/fd here' }, () => {
  withTmp((dir) => {
    const file = join(dir, 'log.csv');
    const fd = openSync(file, 'a'); // as a shell's >> opens it
    try {
      fs.writeSync(fd, 'old\n');
      const ino = statSync(file).ino;
      writeFilesAtomic([{ path: `/dev/fd/${fd}`, bytes: 'a\n' }, { path: `/dev/fd/${fd}`, bytes: new Uint8Array([98, 10]) }]);
      assert.equal(readFileSync(file, 'utf8'), 'old\na\nb\n');
      assert.equal(statSync(file).ino, ino, 'the same file, not one renamed over it');
      assert.deepEqual(readdirSync(dir), ['log.csv']);
    } finally {
      closeSync(fd);
    }
  });
});

/** Runs `fn` with the node:fs function `name` replaced by `fake` (given the real one), for the modules that import it by name too. */
function withFsPatched<K extends 'renameSync' | 'fsyncSync'>(name: K, fake: (real: typeof fs[K]) => typeof fs[K], fn: () => void): void {
  const real = fs[name];
  (fs as Record<K, typeof fs[K]>)[name] = fake(real);
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    (fs as Record<K, typeof fs[K]>)[name] = real;
    syncBuiltinESMExports();
  }
}

test('a rename that fails after others were done says which files were replaced, and leaves no temporary file', () => {
  withTmp((dir) => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => join(dir, n));
    for (const f of [a, b, c]) writeFileSync(f, 'old');
    let renames = 0;
    withFsPatched('renameSync', (real) => (from, to) => {
      if (++renames === 2) throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
      real(from, to);
    }, () => {
      assert.throws(() => writeFilesAtomic([{ path: a, bytes: 'new' }, { path: b, bytes: 'new' }, { path: c, bytes: 'new' }]), (e: unknown) =>
        e instanceof TreegateError && e.message.startsWith(`cannot write ${b}: failed to rename the temporary file over it: `) && e.message.endsWith('; only a replaced'));
    });
    assert.deepEqual([a, b, c].map((f) => readFileSync(f, 'utf8')), ['new', 'old', 'old']);
    assert.deepEqual(readdirSync(dir).sort(), ['a', 'b', 'c'], 'no temporary file');
  });
});

test('a folder that cannot be fsynced after the renames is an error saying the files were written; writeFilesOrRescue does not copy them elsewhere', () => {
  withTmp((dir) => {
    const saved = process.env.TMPDIR;
    const out = join(dir, 'out'), rescueIn = join(dir, 'tmp');
    mkdirSync(out);
    mkdirSync(rescueIn);
    try {
      process.env.TMPDIR = rescueIn;
      withFsPatched('fsyncSync', (real) => (fd) => {
        if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
        real(fd);
      }, () => {
        for (const write of [() => writeFileAtomic(join(out, 'a'), 'new'), () => writeFilesOrRescue([{ path: join(out, 'a'), bytes: 'new' }], 'unused')]) {
          assert.throws(write, (e: unknown) => e instanceof TreegateError && new RegExp(`^wrote ${out}/a but could not fsync the directory ${out}: .*EIO`).test(e.message) && e.hint === undefined);
        }
      });
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    assert.equal(readFileSync(join(out, 'a'), 'utf8'), 'new');
    assert.deepEqual(readdirSync(rescueIn), [], 'nothing rescued: the files are in place');
  });
});
