/**
 * A one-MatMul ONNX model written by hand: the few protobuf fields of
 * onnx.proto that ModelProto { ir_version, opset_import, graph } needs.
 *   Y (M×N) = MatMul(A (M×K), B (K×N)), all float32, static shapes.
 */

/** Protobuf writer: varints and length-delimited fields only. */
class Pb {
  private bytes: number[] = [];
  private varint(v: number): void {
    while (v > 0x7f) {
      this.bytes.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.bytes.push(v);
  }
  int(field: number, v: number): this {
    this.varint(field << 3);
    this.varint(v);
    return this;
  }
  raw(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.raw(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.raw(field, m.done());
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

/** ValueInfoProto { name = 1, type = 2 { tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { dim_value = 1 } } } } } */
function valueInfo(name: string, dims: number[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, new Pb().int(1, d));
  const tensor = new Pb().int(1, FLOAT).msg(2, shape);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensor));
}

/** The serialized ModelProto of Y = MatMul(A, B) with A (M×K), B (K×N). */
export function matMulModel(M: number, N: number, K: number): Uint8Array {
  const node = new Pb().str(1, 'A').str(1, 'B').str(2, 'Y').str(3, 'matmul').str(4, 'MatMul'); // NodeProto
  const graph = new Pb() // GraphProto: node = 1, name = 2, input = 11, output = 12
    .msg(1, node).str(2, 'gemm')
    .msg(11, valueInfo('A', [M, K])).msg(11, valueInfo('B', [K, N]))
    .msg(12, valueInfo('Y', [M, N]));
  return new Pb() // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 { domain = 1, version = 2 }
    .int(1, 8).str(2, 'treegate-bench').msg(7, graph).msg(8, new Pb().str(1, '').int(2, 13))
    .done();
}
