/**
 * A model's summary, layer by layer (parameters, multiply-adds per example, routing, usage), as train, eval and
 * inspect print it and write it in --json, and as the training report's tables show it; counts as people read them.
 */
import type { Model, TreeStats } from '../layers/model.js';
import { count } from './html.js';

/** Per-layer summary shared by train, eval and inspect (human and --json output). */
export interface LayerSummary {
  /** position in Model.layers (activations included) */
  index: number;
  /** number among the linear layers, from 1, as --tree-layers counts them */
  layer: number;
  kind: string;
  inputSize: number;
  outputSize: number;
  parameters: number;
  macsPerExample: { training: number; inference: number };
  depth?: number;
  blocks?: number;
  gating?: string;
  /** tree layers: whether the projection gaters were trained (straight-through) or stayed fixed */
  straightThrough?: boolean;
  experts?: number;
  topK?: number;
  balance?: number;
  deadLeaves?: number;
  leafUsage?: number[][];
}

/**
 * Balance and dead leaves come with the routed layers whose leaf usage was counted since the last reset (none
 * counted, as in `inspect --no-usage`, leaves them out); `withUsage` adds the counts themselves.
 */
export function modelSummary(model: Model, withUsage = false) {
  const stats = new Map(model.treeStats().map((s) => [s.layer, s]));
  const layers: LayerSummary[] = [];
  model.layers.forEach((l, index) => {
    if (l.kind === 'activation') return;
    const c = l.config();
    const layer = model.layerNumber(index);
    const s: LayerSummary = {
      index, layer, kind: l.kind, inputSize: l.inputSize, outputSize: l.outputSize,
      parameters: l.parameterCount(), macsPerExample: l.macs(),
    };
    const st = stats.get(layer);
    if (st && st.usage.some((counts) => counts.some((c) => c > 0))) {
      Object.assign(s, { balance: st.balance, deadLeaves: st.deadLeaves });
      if (withUsage) s.leafUsage = st.usage;
    }
    if (c.kind === 'tree' || c.kind === 'flat') Object.assign(s, { depth: c.depth, blocks: c.blocks, gating: c.gating });
    if (c.kind === 'tree') s.straightThrough = c.straightThrough ?? false;
    if (c.kind === 'moe') Object.assign(s, { experts: c.experts, topK: c.topK });
    layers.push(s);
  });
  const macs = model.macs();
  const parameters = model.parameterCount();
  return {
    parameters,
    macsPerExample: macs,
    capacityToComputation: { training: parameters / macs.training, inference: parameters / macs.inference },
    layers,
  };
}

/**
 * Where one class makes up at least half of a test set's `rows` labels: what always answering it would score, said
 * beside a model's test accuracy (on imbalanced data a high accuracy may be that class's share alone); null where no
 * class does. `labels`: the classes' names (a CSV file's), else they are named by number.
 */
export function majorityNote(y: Int32Array, rows: number, labels?: readonly string[] | null): string | null {
  const counts = new Map<number, number>();
  for (let i = 0; i < rows; i++) counts.set(y[i], (counts.get(y[i]) ?? 0) + 1);
  let best = -1, n = 0;
  for (const [c, k] of counts) if (k > n || (k === n && c < best)) [best, n] = [c, k];
  if (rows === 0 || 2 * n < rows) return null;
  const name = labels?.[best] !== undefined ? `'${labels[best]}'` : `class ${best}`;
  return `(always answering the most common class, ${name}, would score ${(100 * n / rows).toFixed(2)}% on these examples)`;
}

/** One class's figures on a test set: its examples, those predicted to be of it, those of both; recall and precision (null where there is nothing to divide by). */
export interface ClassFigures { label: string; examples: number; predicted: number; correct: number; recall: number | null; precision: number | null }

/**
 * Each class's figures from the predicted classes of `rows` examples (−1: none, an example whose outputs overflowed)
 * and their labels: where one class is most of the data, accuracy alone hides how the others do.
 */
export function perClassFigures(predicted: Int32Array, y: Int32Array, rows: number, labels: readonly string[]): ClassFigures[] {
  const examples = new Array<number>(labels.length).fill(0), guessed = examples.slice(), correct = examples.slice();
  for (let i = 0; i < rows; i++) {
    examples[y[i]]++;
    if (predicted[i] >= 0) guessed[predicted[i]]++;
    if (predicted[i] === y[i]) correct[y[i]]++;
  }
  return labels.map((label, c) => ({
    label, examples: examples[c], predicted: guessed[c], correct: correct[c],
    recall: examples[c] > 0 ? correct[c] / examples[c] : null, precision: guessed[c] > 0 ? correct[c] / guessed[c] : null,
  }));
}

/**
 * The leaves (experts) a routed layer's counted examples would leave unused if each went to a leaf drawn uniformly at
 * random: over its blocks, leaves · (1 − 1/leaves)^(the block's examples). Dead leaves up to about this many are
 * sampling, not routing.
 */
export function unusedAtRandom(t: TreeStats): number {
  return t.usage.reduce((a, b) => a + t.leaves * (1 - 1 / t.leaves) ** b.reduce((x, y) => x + y, 0), 0);
}

/** "1 example", "2 examples": a count and its noun, plural where it is not one. */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** "2 epochs of 229 training examples are 8 steps of 64": how many steps a run's epochs make (train's and the experiments' warnings of a short run). */
export function epochStepsText(epochs: number, trainExamples: number, batchSize: number): string {
  const steps = epochs * Math.ceil(trainExamples / batchSize);
  return `${count(epochs)} epoch${epochs === 1 ? '' : 's'} of ${count(trainExamples)} training examples ${steps === 1 ? 'is 1 step' : `are ${count(steps)} steps`} of ${batchSize}`;
}

export function formatCount(n: number): string {
  if (n < 1e3) return String(n);
  // the unit chosen after rounding: 999 960 is 1.00M, not 1000.0k
  for (const [scale, unit, digits] of [[1e3, 'k', 1], [1e6, 'M', 2]] as const) {
    const shown = (n / scale).toFixed(digits);
    if (Number(shown) < 1000) return `${shown}${unit}`;
  }
  return `${(n / 1e9).toFixed(2)}G`;
}

/** Bytes in GiB, as the memory checks say them: "23.43 GiB". */
export function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** A plain-text table of the layers. */
export function layerTable(layers: LayerSummary[]): string {
  const rows = [['layer', 'kind', 'shape', 'routing', 'params', 'MACs train', 'MACs infer', 'balance', 'dead leaves']];
  for (const l of layers) {
    rows.push([
      String(l.layer), l.kind, `${l.inputSize}→${l.outputSize}`,
      l.kind === 'tree' || l.kind === 'flat' ? `k=${l.depth} B=${l.blocks} ${l.gating}${l.straightThrough ? ' straight-through' : ''}` : l.kind === 'moe' ? `E=${l.experts} top-${l.topK}` : '',
      formatCount(l.parameters), formatCount(l.macsPerExample.training), formatCount(l.macsPerExample.inference),
      l.balance === undefined ? '' : l.balance.toFixed(3), l.deadLeaves === undefined ? '' : String(l.deadLeaves),
    ]);
  }
  return textTable(rows);
}

/** Rows of cells as plain-text columns, each as wide as its widest cell, two spaces apart. */
export function textTable(rows: string[][]): string {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((v, c) => v.padEnd(w[c])).join('  ').trimEnd()).join('\n');
}
