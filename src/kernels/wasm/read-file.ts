/**
 * Node-only: reads the default module file. Kept apart from core.ts so that a
 * browser bundle can map this file away (loadWasmBackendAsync never calls it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The bytes of the file at `url`, or null when it does not exist. */
export function readFileBytes(url: URL): Uint8Array | null {
  const path = fileURLToPath(url);
  if (!existsSync(path)) return null;
  return readFileSync(path);
}
