/**
 * End to end: one MNIST training epoch of the default tree model
 * (TRAIN_DEFAULTS of `treegate train`, the same code path: prepareMnist,
 * Model, train() with epochs 1) on each registered backend, against the dense
 * MLP of the same inference compute (784–256–256–10, ReLU) trained with
 * tfjs-layers on tfjs-backend-wasm (tf.sequential, dense layers, adam 0.001,
 * batch 64, softmax cross-entropy). Both train on the same normalized inputs;
 * neither evaluates a validation set inside the timing.
 *
 * --quick (default): the first 5 000 examples of the training split, reported
 * as time per example and extrapolated to a full epoch; --full: the whole
 * training split (55 000 examples), one repeat.
 */
import { Rng } from '../src/core/rng.js';
import { TRAIN_DEFAULTS } from '../src/cli/train.js';
import { takeFirst, type Dataset } from '../src/data/dataset.js';
import { prepareMnist } from '../src/data/prepare.js';
import { setBackend } from '../src/kernels/backend.js';
import { Model, mlpConfig } from '../src/layers/model.js';
import { train } from '../src/train/trainer.js';
import {
  loadBackends, threadsNote, loadTfLayers, loadTfWasm, ratio, settle, type BenchContext, type BenchResult, type Table,
} from './common.js';
import { fmtMs, measure, type Candidate } from '../src/experiments/timing.js';

const QUICK_EXAMPLES = 5000;

/** A row of the section's data (bench/targets.ts reads it). */
export interface EpochRow {
  candidate: string; examples: number; ms: number; usPerExample: number; fullEpochSeconds: number; vsTfjs: number; repeats: number;
}

export async function runEpoch(ctx: BenchContext): Promise<BenchResult> {
  const backends = await loadBackends();
  const tf = await loadTfWasm();
  const tl = tf ? await loadTfLayers() : null;
  const d = TRAIN_DEFAULTS;

  // the data as `treegate train` prepares it (same seed, same split, same normalization)
  const rng = new Rng(d.seed);
  const data = prepareMnist({}, rng.fork());
  const modelRngState = rng.fork().getState(); // the model's init stream, reused for every repeat
  const trainRngState = rng.fork().getState();
  const fullEpoch = data.train.x.rows;
  const set: Dataset = ctx.quick ? takeFirst(data.train, Math.min(QUICK_EXAMPLES, fullEpoch)) : data.train;
  const E = set.x.rows;
  ctx.log(`epoch: ${E} training examples${ctx.quick ? ` (quick slice of ${fullEpoch})` : ''}`);

  const config = mlpConfig({
    inputSize: 784, numClasses: 10, hidden: d.hidden, treeLayers: d.treeLayers, depth: d.depth, blocks: d.blocks,
    gating: d.gating, activation: 'relu', nodeInit: 'zero', decayGamma: 1,
  });
  const cands: Candidate[] = [];
  let model: Model | null = null;
  for (const be of backends) {
    cands.push({
      name: `treegate ${be}, tree model`,
      before: () => {
        setBackend(be);
        model?.dispose(); // the wasm backend's memory back for the next one
        model = new Model({ ...config, normalization: data.normalization }, Rng.fromState(modelRngState));
      },
      run: () => train(model!, { x: set.x, y: set.y }, null, {
        epochs: 1, batchSize: d.batchSize, lr: d.lr, schedule: d.schedule,
        optimizer: { kind: d.optimizer, weightDecay: 0 },
      }, Rng.fromState(trainRngState)).optimizer.dispose(),
    });
  }

  let cleanup = (): void => {};
  if (tf && tl) {
    const xs = tf.tensor2d(set.x.data.subarray(0, E * 784), [E, 784]);
    const ys = tf.oneHot(tf.tensor1d(set.y, 'int32'), 10);
    let mlp: ReturnType<typeof tl.sequential> | null = null;
    cands.push({
      name: 'tfjs-layers on tfjs-backend-wasm, dense MLP',
      before: async () => {
        await settle();
        mlp?.dispose();
        mlp = tl.sequential({
          layers: [
            tl.layers.dense({ inputShape: [784], units: d.hidden[0], activation: 'relu', kernelInitializer: 'heNormal' }),
            tl.layers.dense({ units: d.hidden[1], activation: 'relu', kernelInitializer: 'heNormal' }),
            tl.layers.dense({ units: 10, activation: 'softmax' }),
          ],
        });
        mlp.compile({ optimizer: tf.train.adam(d.lr), loss: 'categoricalCrossentropy' });
      },
      run: async () => void (await mlp!.fit(xs, ys, { epochs: 1, batchSize: d.batchSize, shuffle: true, verbose: 0 })),
    });
    cleanup = () => {
      mlp?.dispose();
      xs.dispose();
      ys.dispose();
    };
  }

  const ms = await measure(cands, ctx.quick
    ? { budgetMs: 1, minRepeats: 3, maxRepeats: 3, warmupCalls: 1, warmupMs: 0, log: ctx.log }
    : { budgetMs: 1, minRepeats: 1, maxRepeats: 1, warmupCalls: 0, warmupMs: 0, log: ctx.log });
  cleanup();

  const base = ms.find((q) => q.name.startsWith('tfjs-layers'));
  const data_ = ms.map((q): EpochRow => ({
    candidate: q.name, examples: E, ms: q.ms, usPerExample: (q.ms * 1e3) / E, fullEpochSeconds: (q.ms / E) * fullEpoch / 1e3,
    vsTfjs: base ? q.ms / base.ms : NaN, repeats: q.repeats,
  }));
  const table: Table = {
    title: `MNIST training epoch, default tree model (784–256–[tree k=${d.depth}, ${d.gating}]–10, batch ${d.batchSize}, adam) vs tfjs-layers dense MLP 784–256–256–10`,
    head: ['engine', `time (${E} examples)`, 'µs / example', `≈ full epoch (${fullEpoch})`, 'time ÷ tfjs-layers MLP', 'repeats'],
    rows: data_.map((r) => [r.candidate, fmtMs(r.ms), r.usPerExample.toFixed(0), `${r.fullEpochSeconds.toFixed(1)} s`, ratio(r.vsTfjs), String(r.repeats)]),
    notes: [
      ctx.quick ? `quick: the first ${E} examples of the ${fullEpoch}-example training split; the full-epoch column extrapolates linearly`
        : 'full: the whole training split, one repeat, no warm-up',
      'treegate: the `treegate train` path (prepareMnist, Model, train() with epochs 1), model built outside the timing, no validation pass',
      'time ÷ tfjs-layers MLP ≤ 1.00× meets the target of issue 3 (no slower)',
      threadsNote(backends),
    ],
  };
  return { name: 'epoch', tables: [table], notes: [], data: { examples: E, fullEpoch, rows: data_ } };
}
