/**
 * Blocks of a region of a module's linear memory, handed out and taken back: the arrays the wasm backend's
 * `floats` makes there (parameters, optimizer state, inference tables), which its kernels then read and write in
 * place. First fit over a free list kept sorted by address and merged with its neighbours; the region's top
 * comes down when its last block is freed. Addresses and sizes are bytes, multiples of 64 (cache lines).
 */
export class Heap {
  /** Free blocks below `top`: [address, bytes], by address, none touching another. */
  private readonly free: Array<[number, number]> = [];
  /** The end of the region in use (its start while nothing is). */
  top: number;

  constructor(readonly start: number) {
    this.top = start;
  }

  /** The address of a block of `bytes`, or -1 where it would take the region's top above `limit`. */
  alloc(bytes: number, limit: number): number {
    const size = Math.ceil(bytes / 64) * 64;
    for (let i = 0; i < this.free.length; i++) {
      const [at, n] = this.free[i];
      if (n < size) continue;
      if (n === size) this.free.splice(i, 1);
      else this.free[i] = [at + size, n - size];
      return at;
    }
    if (this.top + size > limit) return -1;
    const at = this.top;
    this.top += size;
    return at;
  }

  /** Takes back the block of `bytes` at `at` (as alloc gave it). */
  release(at: number, bytes: number): void {
    const size = Math.ceil(bytes / 64) * 64;
    let i = 0;
    while (i < this.free.length && this.free[i][0] < at) i++;
    this.free.splice(i, 0, [at, size]);
    // merge with the next block, then with the one before
    if (i + 1 < this.free.length && this.free[i][0] + this.free[i][1] === this.free[i + 1][0]) {
      this.free[i][1] += this.free[i + 1][1];
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1][0] + this.free[i - 1][1] === this.free[i][0]) {
      this.free[i - 1][1] += this.free[i][1];
      this.free.splice(i, 1);
      i--;
    }
    if (this.free[i][0] + this.free[i][1] === this.top) {
      this.top = this.free[i][0];
      this.free.splice(i, 1);
    }
  }

  /** Bytes in blocks handed out and not taken back. */
  get used(): number {
    return this.top - this.start - this.free.reduce((t, [, n]) => t + n, 0);
  }
}
