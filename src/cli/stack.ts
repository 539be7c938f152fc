import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A stack trace whose frames in compiled files with a source map beside them (dist/'s modules, and the CLI bundled into
 * dist/cli/main.js) name the TypeScript source's file, line and column, as `node --enable-source-maps` would have
 * printed them (--verbose's traces, for a bug report). Frames without a map, or already in a source file, are kept.
 */
export function sourceStack(stack: string): string {
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (file: string): SourceMap | null => {
    if (!maps.has(file)) {
      let map: SourceMap | null = null;
      try {
        if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
      } catch {
        // a map that cannot be read: the frame as it is
      }
      maps.set(file, map);
    }
    return maps.get(file)!;
  };
  return stack.replace(/(file:\/\/\/[^\s()]+?\.m?js|\/[^\s()]+?\.m?js):(\d+):(\d+)/g, (frame: string, at: string, line: string, column: string) => {
    const file = at.startsWith('file:') ? fileURLToPath(at) : at, map = mapOf(file);
    const entry = map?.findEntry(Number(line) - 1, Number(column) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
    if (!entry?.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined) return frame;
    const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(dirname(file), entry.originalSource);
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}
