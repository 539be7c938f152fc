import * as elementwise from './elementwise.js';
import { addPaths } from './paths.js';
import { gemmNN, gemmNT, gemmStrided, gemmTN } from './gemm.js';
import { groupedBackwardInput, groupedBackwardWeight, groupedForward, packedFloats, packNodes, routedForward, type PackNodes, type RoutedForward } from './grouped.js';
import { adamUpdate, sgdUpdate } from './optim.js';
import { groupedBackwardWeightStep, pathWeightStep, type GroupedBackwardWeightStep, type PathWeightStep } from './weight-step.js';
import { OutOfMemoryError, TreegateError } from '../core/errors.js';
import { withArgumentChecks } from './checked.js';

/**
 * The seam between layers and kernels. Layers call only these functions; a
 * backend is a complete set of them. `js` is the plain TypeScript reference;
 * faster backends (WebAssembly, native) must match it over the shape tables in
 * test/kernels and may fall back to it for awkward shapes. An op's outputs must not
 * overlap its inputs (the backends read and write them in different orders).
 */
export interface Backend {
  readonly name: string;
  /**
   * n zeros where this backend's kernels read and write an array fastest: a plain Float32Array (native: a view of
   * one that starts on a cache line), except on the wasm backend with a shared memory, which makes it in its
   * module's memory and addresses it in place rather than copying it in and out of every call (parameters,
   * optimizer state and inference tables are made so). Such an array is an ordinary Float32Array to every other
   * backend and to JS; its memory is reused once the array itself is collected or released, so keep the array, not
   * only a subarray of it (or copy what you keep with slice()).
   * In a browser such a view is on a SharedArrayBuffer, which some Web APIs refuse (TextDecoder, Blob, fetch
   * bodies) and postMessage shares rather than copies: hand them a slice().
   */
  readonly floats: (n: number) => Float32Array;
  /**
   * Gives back an array this backend's floats() made (the wasm backend: its block of the module's memory, which
   * the next floats() may reuse; collection would give it back too, but only after a major collection). The
   * array must not be used afterwards. Any other array: nothing happens.
   */
  readonly release: (a: Float32Array) => void;
  readonly gemmStrided: typeof gemmStrided;
  readonly gemmNT: typeof gemmNT;
  readonly gemmNN: typeof gemmNN;
  readonly gemmTN: typeof gemmTN;
  readonly groupedForward: typeof groupedForward;
  readonly routedForward: RoutedForward;
  /** Node tables in the layout this backend's forward products read with `packed` set (grouped.ts): made once, used many times. */
  readonly packNodes: PackNodes;
  /** Floats of one node's table in packNodes' layout. */
  readonly packedFloats: (m: number, s: number) => number;
  readonly groupedBackwardInput: typeof groupedBackwardInput;
  readonly groupedBackwardWeight: typeof groupedBackwardWeight;
  readonly groupedBackwardWeightStep: GroupedBackwardWeightStep;
  readonly pathWeightStep: PathWeightStep;
  readonly addRowVector: typeof elementwise.addRowVector;
  readonly addArrays: typeof elementwise.addArrays;
  readonly addPaths: typeof addPaths;
  readonly addColumnSums: typeof elementwise.addColumnSums;
  readonly rowDots: typeof elementwise.rowDots;
  readonly scaleRows: typeof elementwise.scaleRows;
  readonly reluForward: typeof elementwise.reluForward;
  readonly reluBackward: typeof elementwise.reluBackward;
  readonly tanhForward: typeof elementwise.tanhForward;
  readonly tanhBackward: typeof elementwise.tanhBackward;
  readonly softmaxCrossEntropy: typeof elementwise.softmaxCrossEntropy;
  readonly gatherRows: typeof elementwise.gatherRows;
  readonly scatterRows: typeof elementwise.scatterRows;
  readonly sgdUpdate: typeof sgdUpdate;
  readonly adamUpdate: typeof adamUpdate;
  /**
   * Optional: the rows from which the tree layer trains a node on path sums by default (its collapseFrom;
   * without it 32). A backend whose products are slow beside its memory gains from collapsing smaller
   * nodes.
   */
  readonly collapseRows?: number;
}

/** The plain TypeScript kernels behind the same argument checks as the fast backends (checked.ts). */
export const jsBackend: Backend = withArgumentChecks({
  name: 'js',
  floats: (n) => new Float32Array(n),
  release: () => {},
  gemmStrided, gemmNT, gemmNN, gemmTN,
  groupedForward, routedForward, packNodes, packedFloats, groupedBackwardInput, groupedBackwardWeight, groupedBackwardWeightStep,
  pathWeightStep,
  ...elementwise,
  addPaths,
  sgdUpdate, adamUpdate,
  // scalar products, far slower than its memory: a node of 8 rows saves more in products than its tables cost
  // (path-sums.ts, collapseFrom)
  collapseRows: 8,
});

const registry = new Map<string, Backend>([['js', jsBackend]]);
let current: Backend | null = null;
let chooseDefault: () => Backend = () => jsBackend;

/**
 * Registers a backend under its name (used by faster backends when they load). Throws a TreegateError naming what
 * is missing where `b` lacks a name or any op of the reference (a backend is a complete set of them), or where it
 * takes the reference's name, 'js'. A backend of the same name is replaced (useWasm loads a module in place of
 * another this way); if that one was selected, `b` is selected in its place.
 */
export function registerBackend(b: Backend): void {
  const fix = 'start from the reference and replace the ops you have: { ...jsBackend, name: \'mine\', gemmNT: myGemmNT }';
  if (typeof b?.name !== 'string' || b.name === '') throw new TreegateError('registerBackend: the backend has no name', fix);
  const ops = b as unknown as Record<string, unknown>, reference = jsBackend as unknown as Record<string, unknown>;
  const missing = Object.keys(reference).filter((k) => typeof reference[k] === 'function' && typeof ops[k] !== 'function');
  if (missing.length > 0) throw new TreegateError(`registerBackend: backend '${b.name}' lacks ${missing.join(', ')}`, fix);
  if (b.name === jsBackend.name && b !== jsBackend) throw new TreegateError("registerBackend: 'js' names the reference, which stays", 'give the backend a name of its own');
  registry.set(b.name, b);
  if (current?.name === b.name) current = b;
}

/** Gives `a` back to whichever registered backend's floats() made it (see Backend.release). */
export function releaseFloats(a: Float32Array): void {
  for (const b of registry.values()) b.release(a);
}

/** The backend registered under `name`, or undefined (selects nothing). */
export function getBackend(name: string): Backend | undefined {
  return registry.get(name);
}

/** The names of the registered backends ('js' always; 'wasm' and 'native' where loaded), in registration order. */
export function backendNames(): string[] {
  return [...registry.keys()];
}

/** The backend layers use now; on first use without a choice, the default chooser picks it (js, or the fastest this platform has once treegate's Node or browser entry is imported). */
export function backend(): Backend {
  return (current ??= chooseDefault());
}

/**
 * backend().floats(n) for `what` (a parameter, its gradient, an optimizer's moment), where an allocation that fails
 * (a model too large for this machine's memory) is an error naming what and how much, not a bare RangeError.
 */
export function floatsFor(what: string, n: number): Float32Array {
  try {
    return backend().floats(n);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const bytes = n * 4, [unit, size] = bytes >= 2 ** 30 ? ['GiB', 2 ** 30] : bytes >= 2 ** 20 ? ['MiB', 2 ** 20] : ['KiB', 2 ** 10];
    throw new OutOfMemoryError(`${what}: cannot allocate ${n} floats (${Number((bytes / size).toPrecision(3))} ${unit}): ${e.message}`,
      'make the model smaller, with a lower depth or narrower layers, or free memory: training with Adam holds four arrays of the weights\' size (the weights, their gradients and two moments)');
  }
}

/** Sets how backend() picks when nothing was selected (select.ts installs the auto choice). */
export function setDefaultChooser(f: () => Backend): void {
  chooseDefault = f;
}

/** Selects a backend by name; throws a clear error naming the available ones. */
export function setBackend(name: string): Backend {
  const b = registry.get(name);
  if (!b && (name === 'native' || name === 'wasm')) {
    // the fast backends are loaded on demand: setBackend only switches between those loaded
    throw new TreegateError(`the ${name} backend is not loaded (loaded: ${backendNames().join(', ')})`,
      `selectBackend('${name}') loads and selects it in Node${name === 'wasm' ? '; in a page, await useWasm(url); one you loaded yourself with loadWasmBackend needs registerBackend(backend) first' : ''}`);
  }
  if (!b) throw new TreegateError(`unknown backend '${name}'`, `available: ${backendNames().join(', ')}`);
  current = b;
  return b;
}
