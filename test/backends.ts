/**
 * Running a test on every kernel backend. Separate from helpers.ts: importing src/kernels/select.ts makes
 * the fastest backend the default, which test files that import only helpers.ts must not get.
 */
import { test } from 'node:test';
import { backend, setBackend } from '../src/kernels/backend.js';
import { registerAvailableBackends } from '../src/kernels/select.js';

/**
 * Registers `name` once per kernel backend that loads here (js always; wasm and native where built), each run with
 * that backend selected and the previous one restored after: what holds on js must hold on every backend.
 */
export function testOnEveryBackend(name: string, fn: (backendName: string) => void | Promise<void>): void {
  for (const be of registerAvailableBackends()) {
    test(`${name} [${be}]`, async () => {
      const before = backend().name;
      setBackend(be);
      try {
        await fn(be);
      } finally {
        setBackend(before);
      }
    });
  }
}
