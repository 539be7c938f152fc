/**
 * Errors a user can fix: bad options, malformed files, mismatched shapes.
 * The CLI prints `message` (and `hint`) on one line and exits with code 2;
 * anything else is a bug and keeps its stack trace.
 */
export class TreegateError extends Error {
  /** what to do about it, where the error says (also in `message`, in parentheses after `problem`) */
  readonly hint: string | undefined;
  /** what is wrong: `message` without the hint */
  readonly problem: string;
  constructor(message: string, hint?: string) {
    super(hint ? `${message} (${hint})` : message);
    this.name = 'TreegateError';
    this.hint = hint;
    this.problem = message;
  }
}

/** An allocation the machine refused, named (what it was for, how large): the CLI says what to lower. */
export class OutOfMemoryError extends TreegateError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'OutOfMemoryError';
  }
}

/** Throws a TreegateError unless `cond` holds. */
export function check(cond: unknown, message: string, hint?: string): asserts cond {
  if (!cond) throw new TreegateError(message, hint);
}

/** `v` where it is a finite number above 0 (a rate, a scale), else a TreegateError: "`what` must be a finite number > 0". */
export function checkPositive(v: unknown, what: string, hint?: string): number {
  check(typeof v === 'number' && Number.isFinite(v) && v > 0, `${what} must be a finite number > 0, got ${shown(v)}`, hint);
  return v;
}

/** A JSON object: not null, not an array (`typeof` says 'object' of both). */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A value as an error message shows it: numbers, booleans and short strings as they are, anything larger by its kind
 * and size (an array passed where a number belongs would otherwise print every element).
 */
export function shown(v: unknown): string {
  if (typeof v === 'string') {
    const chars = [...v]; // by code point: a cut never splits a surrogate pair
    return chars.length > 40 ? `${JSON.stringify(chars.slice(0, 40).join(''))}… (${chars.length} characters)` : JSON.stringify(v);
  }
  const of = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (ArrayBuffer.isView(v)) return 'length' in v ? `a ${v.constructor.name} of ${of(Number(v.length), 'element')}` : `a ${v.constructor.name} of ${of(v.byteLength, 'byte')}`;
  if (Array.isArray(v)) return `an array of ${of(v.length, 'element')}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
}

/**
 * Checks that an options or config object holds only the settings `known` (a misspelt one would otherwise be
 * ignored, and its default taken without a word); `what` names the object in the message.
 */
export function checkKeys(o: object, known: readonly string[], what: string): void {
  const unknown = Object.keys(o).filter((key) => !known.includes(key));
  check(unknown.length === 0, `${what}: unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => shown(key)).join(', ')}`,
    `the settings are ${known.join(', ')}`);
}

/** Checks that `v` is an integer in [min, max]; `what` names it in the message. */
export function checkInt(v: number, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  check(Number.isInteger(v) && v >= min && v <= max,
    `${what} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got ${shown(v)}`);
  return v;
}

/** Checks that `v` is a finite number in [min, max]. */
export function checkNumber(v: number, what: string, min = -Infinity, max = Infinity): number {
  const range = max === Infinity ? (min === -Infinity ? '' : ` ≥ ${min}`) : min === -Infinity ? ` ≤ ${max}` : ` in [${min}, ${max}]`;
  check(Number.isFinite(v) && v >= min && v <= max, `${what} must be a finite number${range}, got ${shown(v)}`);
  return v;
}

/**
 * A failed file-system call's reason in words, then its code: Node's "EACCES: permission denied, open '/x/y'"
 * reads "permission denied (EACCES)" (the caller's message names the path; Node's may name a temporary file).
 */
export function osReason(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    const words = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1];
    if (code && words) return `${words} (${code})`;
    if (code && !e.message.startsWith(code)) return `${code}: ${e.message}`;
    return e.message;
  }
  return String(e);
}

/** Whether a file-system call failed on permissions (EACCES, EPERM): a file or folder this user may not use. */
export function isPermissionError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

/** The hint for a file this user may not read; undefined for any other error. */
export function unreadableHint(e: unknown): string | undefined {
  return isPermissionError(e) ? 'this user may not read it: change its permissions, or copy it somewhere readable' : undefined;
}
