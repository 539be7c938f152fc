import { checkInt, TreegateError } from '../core/errors.js';
import { matrix, Scratch, type Matrix } from '../core/tensor.js';
import { backend } from '../kernels/backend.js';
import type { ActivationConfig, ActivationFn, Layer, Macs, Mode } from './layer.js';
import type { Param } from './param.js';

/** Elementwise ReLU or tanh; keeps its output for backward. */
export class Activation implements Layer {
  readonly kind = 'activation';
  readonly inputSize: number;
  readonly outputSize: number;
  private y: Matrix | null = null;
  private out = new Scratch();
  private dx = new Scratch();

  constructor(readonly fn: ActivationFn, size: number) {
    if (fn !== 'relu' && fn !== 'tanh') {
      throw new TreegateError(`unknown activation '${fn}'`, 'use relu or tanh');
    }
    this.inputSize = this.outputSize = checkInt(size, `${fn} activation: size`, 1);
  }

  config(): ActivationConfig {
    return { kind: 'activation', fn: this.fn };
  }

  params(): Param[] {
    return [];
  }

  dispose(): void {}

  forward(x: Matrix, mode: Mode): Matrix {
    const count = x.rows * x.cols, be = backend();
    const y = this.out.get(count);
    if (this.fn === 'relu') be.reluForward(x.data, y, count);
    else be.tanhForward(x.data, y, count);
    const out = matrix(x.rows, x.cols, y);
    this.y = mode === 'train' ? out : null;
    return out;
  }

  backward(dy: Matrix, needInputGrad: boolean): Matrix | null {
    const y = this.y;
    if (!y) throw new Error('activation: backward without a train forward');
    if (!needInputGrad) return null;
    const count = y.rows * y.cols, be = backend();
    const dx = this.dx.get(count);
    if (this.fn === 'relu') be.reluBackward(y.data, dy.data, dx, count);
    else be.tanhBackward(y.data, dy.data, dx, count);
    return matrix(y.rows, y.cols, dx);
  }

  parameterCount(): number {
    return 0;
  }

  macs(): Macs {
    return { training: 0, inference: 0 };
  }
}
