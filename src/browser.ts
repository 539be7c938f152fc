/**
 * treegate for browsers and bundlers (the package's "browser" export): everything in
 * src/portable.ts, with the WebAssembly backend loaded from the module's bytes or URL. Kernels run
 * on the js reference until useWasm() resolves.
 */
import { TreegateError } from './core/errors.js';
import { getBackend, registerBackend, setBackend } from './kernels/backend.js';
import { checkWasmOptions, loadWasmBackendAsync, mib, type WasmBackend, type WasmOptions } from './kernels/wasm/core.js';
import { workerSource, type ThreadHost } from './kernels/wasm/threads.js';

export * from './portable.js';

/**
 * Loads wasm/treegate.wasm (shipped as `treegate/treegate.wasm`; pass its URL, fetch(url) or its Response, or
 * its bytes), registers the wasm backend and selects it: call it before making or loading a model. A backend an
 * earlier call made stops its web workers. With
 * `treegate/treegate-threads.wasm` (a shared memory) the arrays of models made while it is selected live in
 * the module's memory and are read in place; `options.residentBytes` bounds them, with the copies of other
 * inference tables (default 3.5 GiB, all of wasm32's 4 but the calls' own, and less where the browser gives a smaller
 * shared memory; 0 copies every array on every call).
 * Those arrays are views of a SharedArrayBuffer: hand a slice() to Web APIs that refuse shared views (TextDecoder,
 * Blob). Given `treegate/treegate-threads.wasm` in a cross-origin isolated page, the kernels run on web workers too
 * (`options.threads`, default navigator.hardwareConcurrency); elsewhere it runs on the page's thread. A page whose
 * Content-Security-Policy refuses the workers (they need worker-src blob:) runs on its own thread, with a console
 * warning saying so.
 */
export async function useWasm(source: Response | PromiseLike<Response> | ArrayBuffer | Uint8Array | URL | string, options: WasmOptions = {}): Promise<WasmBackend> {
  checkWasmOptions(options); // before anything is fetched
  options ??= {}; // (null passes the check, as it does for loadWasmBackend)
  let src: Response | PromiseLike<Response> | ArrayBuffer | Uint8Array;
  if (typeof source === 'string' || source instanceof URL) {
    // a relative URL is resolved as fetch resolves it: against the document's base URL (a <base href> of a router's
    // deep links; a srcdoc frame's parent), a worker's location; Node has no page to resolve it against
    const g = globalThis as { document?: { baseURI?: string }; location?: { href: string } };
    const base = g.document?.baseURI ?? g.location?.href;
    let url: URL;
    try {
      url = new URL(source, base);
    } catch {
      throw new TreegateError(`useWasm(${JSON.stringify(String(source))}): not a URL${base ? '' : ' (a relative one needs a page to resolve it against)'}`,
        "pass an absolute URL, e.g. new URL('treegate.wasm', import.meta.url), or the module's bytes");
    }
    if (url.protocol === 'file:') {
      // fetch reads no file: URLs (Node: "not implemented"; a browser page opened from disk: blocked)
      throw new TreegateError(`useWasm(${url.href}): fetch cannot read a file: URL`,
        "serve the page and treegate.wasm over HTTP, or pass the module's bytes, e.g. in Node readFileSync(new URL(import.meta.resolve('treegate/treegate.wasm')))");
    }
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new TreegateError(`useWasm(${url.href}): fetching the module failed (${(e as Error).message})`,
        'check that the URL serves wasm/treegate.wasm or wasm/treegate-threads.wasm (the package\'s treegate/…), that a ' +
        'Content-Security-Policy\'s connect-src allows it, and that another origin serves it with CORS');
    }
    src = response;
  } else {
    src = source;
  }
  const host = browserThreadHost();
  const inNode = typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';
  if (host === null && options.threads !== undefined && options.threads > 1) {
    // threads asked for where no web worker can share the module's memory: said, not silently one
    console.warn(`treegate: useWasm: ${options.threads} threads asked for, but ${!inNode ? notIsolated()
      : "this is not a page (in Node, loadWasmBackend from 'treegate' runs the wasm kernels on worker threads)"}: the kernels run on one thread`);
  }
  const b = await loadWasmBackendAsync(src, options, host);
  if (host === null && !inNode && options.threads === undefined && b.info().sharedMemory) {
    // the threads module is how a page asks for threads: one thread without a word would pass for a slow machine
    console.warn(`treegate: useWasm: treegate-threads.wasm loaded, but ${notIsolated()}: the kernels run on one thread`);
  }
  if (host !== null && options.threads !== undefined && options.threads > 1 && b.info().maxThreads === 1) {
    // an isolated page given the plain module: its memory is not shared, so no worker can run on it
    console.warn(`treegate: useWasm: ${options.threads} threads asked for, but the module given has no shared memory (treegate/treegate.wasm): ` +
      'pass treegate/treegate-threads.wasm for threads; the kernels run on one thread');
  }
  const limit = b.info().memoryLimit;
  if (limit < 2 ** 32) {
    // a browser that refused wasm32's 4 GiB of shared memory (createWasmBackend tried smaller ones)
    console.warn(`treegate: useWasm: this browser refused a shared memory of 4 GiB; the wasm kernels' memory may grow to ${mib(limit)}, ` +
      'and a call whose arrays do not fit in it fails (treegate.wasm, one thread, asks for no shared memory: its memory grows as far as the device allows)');
  }
  await b.whenStarted(); // its web workers up before the page's next synchronous call
  const refused = host?.failure();
  if (refused) {
    // the page's thread takes the parts no worker claims, so nothing waits; but the thread count would say 2 where
    // the kernels run on one: it says 1, and why
    b.setThreads(1);
    console.warn(`treegate: the wasm backend's web workers could not start (${refused}): its kernels run on the page's thread alone. ` +
      "A page with a Content-Security-Policy must allow them: worker-src blob: (and script-src 'wasm-unsafe-eval' for the module), " +
      "and where it requires Trusted Types, the policy treegate makes for their blob: URL: trusted-types treegate");
  }
  // a backend an earlier useWasm made stops its web workers (models made on it keep their arrays)
  const earlier = getBackend(b.name) as Partial<WasmBackend> | undefined;
  registerBackend(b);
  setBackend(b.name);
  if (earlier && earlier !== b && typeof earlier.close === 'function') earlier.close();
  return b;
}

/**
 * Why a page has no web workers for the kernels: it is not cross-origin isolated, and (where it is not a secure
 * context: http from an address other than localhost) the headers that would isolate it are ignored there.
 */
function notIsolated(): string {
  const headers = 'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp';
  return (globalThis as { isSecureContext?: boolean }).isSecureContext === false
    ? `the page is not cross-origin isolated: it is not a secure context (http from an address other than localhost), where browsers ignore the headers that isolate a page (serve it over https, or from localhost, with ${headers})`
    : `the page is not cross-origin isolated (serve it with ${headers})`;
}

type ScriptUrlPolicy = { createScriptURL(url: string): unknown };
let scriptUrlPolicy: ScriptUrlPolicy | null | undefined;

/**
 * The workers' blob: URL as a TrustedScriptURL where the page has Trusted Types (a page that requires them refuses a
 * plain string for a worker's script): made by a policy named 'treegate' that passes blob: URLs alone. A page whose
 * trusted-types directive does not allow that name refuses the policy; the URL then goes as it is, and the workers'
 * failure is warned of.
 */
function trustedScriptUrl(url: string): unknown {
  if (scriptUrlPolicy === undefined) {
    const tt = (globalThis as { trustedTypes?: { createPolicy(name: string, rules: { createScriptURL(url: string): string }): ScriptUrlPolicy } }).trustedTypes;
    try {
      scriptUrlPolicy = tt?.createPolicy('treegate', {
        createScriptURL: (u) => {
          if (!u.startsWith('blob:')) throw new TypeError(`treegate's Trusted Types policy passes its workers' blob: URLs alone, not ${u}`);
          return u;
        },
      }) ?? null;
    } catch {
      scriptUrlPolicy = null;
    }
  }
  return scriptUrlPolicy ? scriptUrlPolicy.createScriptURL(url) : url;
}

/**
 * Web workers for the wasm kernels of treegate-threads.wasm, where the page can share memory with them (it is
 * cross-origin isolated); null elsewhere, and the backend runs on the page's thread. Each worker runs threads.ts's
 * program from a blob URL, takes its WorkerData from its first message (answering it, so that an error after that is
 * no failure to start), and closes itself when close() stops it. failure() says why a worker could not start.
 */
function browserThreadHost(): (ThreadHost & { failure(): string | null }) | null {
  const g = globalThis as unknown as {
    crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number };
    Worker?: new (url: string) => {
      postMessage(data: unknown): void; onmessage: (() => void) | null; onerror: ((e: { message?: string }) => void) | null;
    };
  };
  const WorkerCtor = g.Worker;
  if (!g.crossOriginIsolated || typeof WorkerCtor !== 'function') return null;
  let url: string | null = null;
  let failed: string | null = null;
  return {
    cores: Math.max(1, g.navigator?.hardwareConcurrency ?? 1),
    start(data) {
      url ??= URL.createObjectURL(new Blob([`${workerSource()}self.onmessage = (e) => { self.onmessage = null; self.postMessage(0); run(e.data); self.close(); };\n`],
        { type: 'text/javascript' }));
      // a policy that refuses blob: workers throws here in some browsers, and fires the worker's error event in others;
      // an error after the worker's first message (it has started) is no failure to start
      try {
        const worker = new WorkerCtor(trustedScriptUrl(url) as string);
        let started = false;
        worker.onmessage = () => { started = true; };
        worker.onerror = (e) => { if (!started) failed ??= e.message || 'a web worker failed to load its script'; };
        worker.postMessage(data);
      } catch (e) {
        failed ??= (e as Error).message;
      }
    },
    failure: () => failed,
  };
}
