/**
 * onStopSignals (src/cli/signals.ts), what train and experiment stop on: a signal sent twice at once (GNU timeout
 * sends it to the run and to its process group) is one stop; another in a later turn of the event loop is a second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onStopSignals, type StopSignal } from '../../src/cli/signals.js';

const turn = () => new Promise((r) => setImmediate(r));
/** Until the listeners have run: signals reach them through the event loop. */
const settle = async () => { for (let i = 0; i < 5; i++) { await new Promise((r) => setTimeout(r, 20)); await turn(); } };

test('a signal sent twice at once is one stop; one in a later turn is the second; off() removes the listeners', async () => {
  const firsts: StopSignal[] = [], agains: StopSignal[] = [];
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const s = onStopSignals((sig) => firsts.push(sig), (sig) => agains.push(sig));
  try {
    // the same signal twice and the other one, from one synchronous call site: one turn
    process.kill(process.pid, 'SIGINT');
    process.kill(process.pid, 'SIGINT');
    process.kill(process.pid, 'SIGTERM');
    await settle();
    assert.deepEqual(firsts, ['SIGINT']);
    assert.deepEqual(agains, [], 'repeats in the first one\'s turn are not a second signal');
    process.kill(process.pid, 'SIGTERM');
    await settle();
    assert.deepEqual(agains, ['SIGTERM'], 'a signal in a later turn is the second');
    assert.deepEqual(firsts, ['SIGINT']);
  } finally {
    s.off();
  }
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);
});

test('stopBeforeStart: a SIGTERM before the run began exits 143 (its own code, not SIGINT\'s 130), saying nothing was written', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    "const { stopBeforeStart } = await import('./src/cli/signals.ts'); stopBeforeStart('training'); console.log('ready'); setTimeout(() => {}, 60_000);"],
  { cwd: fileURLToPath(new URL('../../', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 143, stderr);
  assert.equal(stderr, 'treegate: SIGTERM: stopped before training began; nothing was written\n');
});
