import { check, checkInt } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { checkShape, matrix, Scratch, type Matrix } from '../core/tensor.js';
import { backend, releaseFloats } from '../kernels/backend.js';
import { PackedAffine } from './inference.js';
import { drain, normalSteps } from './init.js';
import type { DenseConfig, Layer, Macs, Mode } from './layer.js';
import { Param } from './param.js';

/** y = W x + b with W: (m, n), b: (m). He-normal weights, zero bias. */
export class Dense implements Layer {
  readonly kind = 'dense';
  readonly weight: Param; // (m, n)
  readonly bias: Param; // (m)
  private x: Matrix | null = null; // cached input of the last train forward
  private out = new Scratch();
  private dx = new Scratch();
  private packed = new PackedAffine(); // inference: W as the backend's packNodes lays it out, every row in one node

  constructor(readonly inputSize: number, readonly outputSize: number, readonly name = 'dense') {
    checkInt(inputSize, `${name}: input size`, 1);
    checkInt(outputSize, `${name}: output size`, 1);
    check(inputSize * outputSize <= 2 ** 31 - 1, `${name}: ${outputSize}×${inputSize} weights do not fit in one array`, 'lower the widths');
    this.weight = new Param(`${name}.weight`, [outputSize, inputSize], 1, new Float32Array([1]));
    this.bias = new Param(`${name}.bias`, [outputSize]);
  }

  /** He normal weights, zero bias. */
  init(rng: Rng): this {
    drain(this.initSteps(rng));
    return this;
  }

  /** init in steps (layers/init.ts): the same draws, yielding every INIT_STEP of them. */
  *initSteps(rng: Rng): Generator<void, void, void> {
    yield* normalSteps(rng, this.weight.data, Math.sqrt(2 / this.inputSize));
    this.bias.data.fill(0);
  }

  config(): DenseConfig {
    return { kind: 'dense', inputSize: this.inputSize, outputSize: this.outputSize };
  }

  params(): Param[] {
    return [this.weight, this.bias];
  }

  dispose(): void {
    this.packed.drop(releaseFloats);
    for (const p of this.params()) p.dispose();
  }

  forward(x: Matrix, mode: Mode): Matrix {
    checkShape(x, this.inputSize, `${this.name} input`);
    const N = x.rows, n = this.inputSize, m = this.outputSize, be = backend();
    const y = this.out.get(N * m);
    if (mode === 'infer') {
      // the weights packed once (as the tree layers' leaf tables are), one node over all rows
      this.packed.forward(be, this.weight, m, n, x.data, N, this.bias.data, y);
    } else {
      be.gemmNT(N, m, n, x.data, 0, this.weight.data, 0, y, 0, false);
      be.addRowVector(y, N, m, this.bias.data);
    }
    this.x = mode === 'train' ? x : null;
    return matrix(N, m, y);
  }

  backward(dy: Matrix, needInputGrad: boolean): Matrix | null {
    const x = this.x;
    if (!x) throw new Error(`${this.name}: backward without a train forward`);
    checkShape(dy, this.outputSize, `${this.name} output gradient`, x.rows);
    const N = x.rows, n = this.inputSize, m = this.outputSize, be = backend();
    be.gemmTN(m, n, N, dy.data, 0, x.data, 0, this.weight.grad, 0, true); // dW += dyᵀ x
    be.addColumnSums(dy.data, N, m, this.bias.grad); // db += Σ dy
    this.weight.touch(0);
    this.bias.touch(0);
    if (!needInputGrad) return null;
    const dx = this.dx.get(N * n);
    be.gemmNN(N, n, m, dy.data, 0, this.weight.data, 0, dx, 0, false); // dx = dy W
    return matrix(N, n, dx);
  }

  parameterCount(): number {
    return this.weight.size + this.bias.size;
  }

  macs(): Macs {
    const mn = this.inputSize * this.outputSize;
    return { training: mn, inference: mn };
  }
}
