/**
 * holdFolder: a folder's lock names its process; a running holder is an error naming it, an ended one's lock is taken
 * over, and the lock goes when its process exits (a failed run's exit hooks see the folder without it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { heldByOther, holdFolder, LOCK_FILE, STARTING_MS } from '../../src/io/folder-lock.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('a running holder is named; an ended one\'s lock is taken over; the lock goes at exit, before the other exit hooks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-lock-'));
  try {
    const lock = join(dir, LOCK_FILE);
    // another process holds it (its id in the lock): refused, naming it and the lock to remove
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    writeFileSync(lock, `${other.pid}\n`);
    assert.throws(() => holdFolder(dir, 'treegate run'),
      new RegExp(`is in use by another treegate run \\(process ${other.pid}, since \\d{4}-.*\\): two runs there would mix their files .*remove ${lock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(readFileSync(lock, 'utf8'), `${other.pid}\n`, 'the holder\'s lock is left as it was');
    // it ends without removing its lock (killed): the lock is taken over; the same for a lock of no valid process id
    const ended = new Promise((r) => other.once('exit', r));
    other.kill('SIGKILL');
    await ended;
    for (const stale of [`${other.pid}\n`, 'garbage']) {
      writeFileSync(lock, stale);
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
        import { holdFolder } from './src/io/folder-lock.ts';
        import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
        const dir = ${JSON.stringify(dir)};
        process.once('exit', () => console.log('at exit: ' + readdirSync(dir).join(',')));
        holdFolder(dir, 'treegate run');
        console.log('held: ' + readFileSync(dir + '/${LOCK_FILE}', 'utf8').trim() + ' = ' + process.pid);
        process.exit(2);
      `], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(child.status, 2, child.stderr);
      const [held, atExit] = child.stdout.trim().split('\n');
      const [a, b] = held.replace('held: ', '').split(' = ');
      assert.equal(a, b, `${stale.trim()}: the lock names the process that took it over`);
      assert.equal(atExit, 'at exit:', 'the lock is gone before the exit hooks registered earlier run');
      assert.deepEqual(readdirSync(dir), []);
    }
    // a lock of this process itself (a second hold in one process) is its own
    holdFolder(dir, 'treegate run');
    holdFolder(dir, 'treegate run');
    assert.equal(readFileSync(lock, 'utf8'), `${process.pid}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!existsSync(dir));
});

test('an empty lock younger than STARTING_MS is a run starting (made, its id not yet written): refused, and held by another; an older one is taken over', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-lock-starting-'));
  try {
    const lock = join(dir, LOCK_FILE);
    writeFileSync(lock, '');
    assert.throws(() => holdFolder(dir, 'treegate run'),
      /is in use by another treegate run \(starting: its lock, made \d{4}-[^,]*, names no process yet\): two runs there would mix their files/);
    assert.equal(heldByOther(dir), true);
    assert.equal(readFileSync(lock, 'utf8'), '', 'left as it was');
    // made STARTING_MS and more ago: its process ended before it wrote its id
    const old = (Date.now() - STARTING_MS - 1000) / 1000;
    utimesSync(lock, old, old);
    assert.equal(heldByOther(dir), false);
    holdFolder(dir, 'treegate run');
    assert.equal(readFileSync(lock, 'utf8'), `${process.pid}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('heldByOther: only a lock naming another process that runs (a run refused there leaves that run\'s folders alone)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-lock-'));
  try {
    const lock = join(dir, LOCK_FILE);
    assert.equal(heldByOther(dir), false, 'no lock');
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    writeFileSync(lock, `${other.pid}\n`);
    assert.equal(heldByOther(dir), true, 'a running other process');
    const ended = new Promise((r) => other.once('exit', r));
    other.kill('SIGKILL');
    await ended;
    assert.equal(heldByOther(dir), false, 'an ended process');
    writeFileSync(lock, 'garbage');
    assert.equal(heldByOther(dir), false, 'no process id');
    // 0 and -1 name no process (kill(0 or -1, 0) would signal a group or every process, and succeed)
    for (const id of ['0', '-1']) {
      writeFileSync(lock, `${id}\n`);
      assert.equal(heldByOther(dir), false, `process ${id}`);
    }
    holdFolder(dir, 'treegate run'); // such a lock is taken over
    assert.equal(readFileSync(lock, 'utf8'), `${process.pid}\n`);
    writeFileSync(lock, `${process.pid}\n`);
    assert.equal(heldByOther(dir), false, 'this process');
    assert.equal(heldByOther(join(dir, 'missing')), false, 'no folder');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock naming a running process this one may not signal (another user\'s: kill(pid, 0) refused with EPERM) is that process\'s', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-lock-'));
  try {
    const lock = join(dir, LOCK_FILE), pid = process.pid + 1;
    writeFileSync(lock, `${pid}\n`);
    // (the tests may run as root, which may signal any process: the refusal is made here)
    t.mock.method(process, 'kill', () => { throw Object.assign(new Error('kill EPERM'), { code: 'EPERM', errno: -1, syscall: 'kill' }); });
    assert.equal(heldByOther(dir), true);
    assert.throws(() => holdFolder(dir, 'treegate run'), new RegExp(`is in use by another treegate run \\(process ${pid}, since `));
    assert.equal(readFileSync(lock, 'utf8'), `${pid}\n`, 'the lock is left as it was');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder below a file (ENOTDIR) is not held and no error: the caller\'s checks say what is wrong', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-lock-'));
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    holdFolder(join(file, 'out'), 'treegate run');
    holdFolder(join(dir, 'missing', 'out'), 'treegate run');
    assert.equal(heldByOther(join(file, 'out')), false);
    assert.deepEqual(readdirSync(dir), ['a-file']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('at exit a process removes its own lock only: one that another run holds by then (its own lock removed meanwhile) stays', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-lock-'));
  try {
    const lock = join(dir, LOCK_FILE);
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
      import { holdFolder } from './src/io/folder-lock.ts';
      import { writeFileSync } from 'node:fs';
      holdFolder(${JSON.stringify(dir)}, 'treegate run');
      // the lock removed by hand, and another run took the folder
      writeFileSync(${JSON.stringify(lock)}, '4242\\n');
    `], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(readFileSync(lock, 'utf8'), '4242\n', 'the other run\'s lock is left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runs that find the same stale lock at once: one takes the folder over, the others are refused naming it (ten folders, eight runs started together)', async () => {
  const base = mkdtempSync(join(tmpdir(), 'treegate-lock-race-'));
  try {
    const rounds = 10, runs = 8, dirs = Array.from({ length: rounds }, (_, r) => join(base, `d${r}`));
    for (const d of dirs) {
      mkdirSync(d);
      writeFileSync(join(d, LOCK_FILE), 'garbage'); // stale: names no process
    }
    // every run waits for the same moment, then tries each folder 150 ms apart, and keeps what it holds until all are
    // done (an early run's exit would free a folder for a late one)
    const at = Date.now() + 4000, end = at + rounds * 150 + 2000;
    const results = await Promise.all(Array.from({ length: runs }, () => new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
        import { holdFolder } from './src/io/folder-lock.ts';
        const dirs = ${JSON.stringify(dirs)}, at = ${at}, end = ${end}, out = [];
        for (let r = 0; r < dirs.length; r++) {
          while (Date.now() < at + 150 * r) {}
          try { holdFolder(dirs[r], 'treegate run'); out.push('held'); } catch (e) { out.push(/is in use by another treegate run/.test(e.message) ? 'refused' : e.message); }
        }
        const late = Date.now() > end - 1000;
        while (Date.now() < end) {}
        console.log(JSON.stringify({ out, late }));
      `], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d) => { text += d; });
      child.on('error', reject);
      child.on('exit', () => resolve(text));
    })));
    const parsed = results.map((t) => JSON.parse(t) as { out: string[]; late: boolean });
    assert.ok(parsed.every((p) => !p.late), 'a run started too late to overlap the others (a machine too busy): the check would prove nothing');
    for (let r = 0; r < rounds; r++) {
      const outcomes = parsed.map((p) => p.out[r]);
      assert.equal(outcomes.filter((o) => o === 'held').length, 1, `folder ${r}: ${outcomes.join(', ')}`);
      assert.equal(outcomes.filter((o) => o === 'refused').length, runs - 1, `folder ${r}: ${outcomes.join(', ')}`);
    }
    assert.deepEqual(dirs.flatMap((d) => readdirSync(d)), [], 'every lock gone with its run, no takeover lock left');
    // a takeover lock older than STARTING_MS was left by a run that ended in the middle of one: removed, then the stale lock taken over
    const d = dirs[0], takeover = join(d, `${LOCK_FILE}.takeover`);
    writeFileSync(join(d, LOCK_FILE), 'garbage');
    writeFileSync(takeover, '');
    utimesSync(takeover, new Date(Date.now() - 2 * STARTING_MS), new Date(Date.now() - 2 * STARTING_MS));
    holdFolder(d, 'treegate run');
    assert.deepEqual([readdirSync(d), readFileSync(join(d, LOCK_FILE), 'utf8')], [[LOCK_FILE], `${process.pid}\n`]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
