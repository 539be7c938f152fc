/**
 * SIGINT and SIGTERM in the commands that run long (train, experiment): one stop, however the signal is sent.
 */
import { SIGNAL_EXIT } from './options.js';

export type StopSignal = keyof typeof SIGNAL_EXIT;

/**
 * Listens for SIGINT and SIGTERM until off(): the first calls `first`; another, in a later turn of the event loop,
 * calls `again` (by default: exit at once with 128 + the signal's number). A repeat in the first one's turn is one
 * signal sent twice, not a second Ctrl-C: GNU timeout, for one, sends its signal to the run and then to the run's
 * process group, and both can arrive before the run looks (counted as two, they quit a run before it saved
 * anything).
 */
export function onStopSignals(first: (sig: StopSignal) => void,
  again: (sig: StopSignal) => void = (sig) => process.exit(SIGNAL_EXIT[sig])): { off(): void } {
  let seen = false, firstTurn = false;
  const on = (sig: StopSignal) => () => {
    if (seen) {
      if (!firstTurn) again(sig);
      return;
    }
    seen = true;
    firstTurn = true;
    setImmediate(() => { firstTurn = false; });
    first(sig);
  };
  const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') };
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  return {
    off() {
      process.off('SIGINT', handlers.SIGINT);
      process.off('SIGTERM', handlers.SIGTERM);
    },
  };
}

/**
 * Until the run's own handlers take over (installed before this is turned off, so that no signal meets the default
 * action in between): a signal exits with its code through process.exit, so that the exit hooks remove the folder
 * lock and the empty folders a new run made (the default action would skip them and leave a stale lock).
 */
export function stopBeforeStart(what: string): { off(): void } {
  return onStopSignals((sig) => {
    process.stderr.write(`treegate: ${sig}: stopped before ${what} began; nothing was written\n`);
    process.exit(SIGNAL_EXIT[sig]);
  });
}
