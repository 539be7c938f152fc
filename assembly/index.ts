/**
 * treegate WebAssembly kernels (SIMD128). Entry of `scripts/build-wasm.mjs`;
 * loaded by src/kernels/wasm/. No managed runtime: every function works on raw
 * byte addresses of the exported memory, which the loader fills and grows.
 */
export { gemm, rowsNT, gemmScratchBytes, gemmTransposes, gemmPackedB, packB, packedBBytes } from './gemm';
export {
  addRowVector, addArrays, addPathsCols, addColumnSums, rowDots, scaleRows, reluForward, reluBackward, tanhForward, tanhBackward, softmaxCrossEntropy,
  gatherRows, scatterRows,
} from './elementwise';

/** First free byte after static data: the loader's arena starts here. */
export function heapBase(): usize {
  return __heap_base;
}
export { sgdUpdate, adamUpdate, nodeStep, pathStep } from './optim';
