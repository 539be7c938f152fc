/**
 * Fault injection for the tests of `treegate train`, through environment variables the tests set (unset, nothing
 * happens): a NaN in a weight or a batch, an overflowing test example, a signal as the run's files are written.
 */
import type { Matrix } from '../core/tensor.js';
import type { Model } from '../layers/model.js';

/**
 * Fault injection for the tests of non-finite handling: TREEGATE_FAULT_NAN=weight:S puts a NaN into the
 * first weight before step S, TREEGATE_FAULT_NAN=input:S into that step's batch, TREEGATE_FAULT_NAN=test:0 makes the
 * first test example's features float32's largest value once training is done (faultTestSet), where outputs overflow.
 */
export function faultInjection(model: Model): ((step: number, x: Float32Array) => void) | undefined {
  const m = /^(weight|input):(\d+)$/.exec(process.env.TREEGATE_FAULT_NAN ?? '');
  if (!m) return undefined;
  const at = Number(m[2]);
  return (step, x) => {
    if (step !== at) return;
    if (m[1] === 'weight') model.params()[0].data[0] = NaN;
    else x[0] = NaN;
  };
}

export function faultTestSet(x: Matrix): void {
  if (process.env.TREEGATE_FAULT_NAN === 'test:0') x.data.fill(3.4e38, 0, x.cols);
}

/** Fault injection for the tests of signals: TREEGATE_FAULT_SIGNAL=SIGINT (or SIGTERM) is sent to this process just before it writes its files. */
export function faultSignal(): void {
  const sig = process.env.TREEGATE_FAULT_SIGNAL;
  if (sig === 'SIGINT' || sig === 'SIGTERM') process.kill(process.pid, sig);
}
