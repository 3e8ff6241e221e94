/**
 * The only importer of the generated binding. It narrows its types and turns the native
 * `TypeError: ` / `RangeError: ` message prefixes into the matching JS error classes.
 * @module
 */
import * as binding from '../native/index.js';

export type NativeOptimizer = binding.NativeOptimizer;
export type NativeParamState = binding.NativeParamState;
export type NativeLookahead = binding.NativeLookahead;
/** Kernel names the native engine knows. */
export type KernelName = 'sgd' | 'adam' | 'rmsprop' | 'adagrad' | 'radam' | 'nadam' | 'adamax' | 'adadelta' | 'adabound' | 'lamb' | 'lion';

/** Re-throws a native error as the JS error class its message names. */
export function mapNativeError(e: unknown, ctx: string, rename?: (msg: string) => string): never {
  if (e instanceof Error) {
    const m = /^(TypeError|RangeError): ([\s\S]*)$/.exec(e.message);
    if (m) {
      const msg = `${ctx}: ${rename ? rename(m[2]!) : m[2]}`;
      throw m[1] === 'TypeError' ? new TypeError(msg) : new RangeError(msg);
    }
  }
  throw e;
}

export function createNativeOptimizer(kind: KernelName): NativeOptimizer {
  return new binding.NativeOptimizer(kind);
}

/** The native slow weights of one `Lookahead`. */
export function createNativeLookahead(): NativeLookahead {
  return new binding.NativeLookahead();
}

export const native = {
  gradNorms: (grads: Float32Array[], normType: number, out: Float64Array | null): number => binding.gradNorms(grads, normType, out),
  clipGradNorm: (grads: Float32Array[], maxNorm: number, normType: number, errorIfNonfinite: boolean, out: Float64Array | null): number =>
    binding.clipGradNorm(grads, maxNorm, normType, errorIfNonfinite, out),
  clipGradValue: (grads: Float32Array[], clipValue: number): void => binding.clipGradValue(grads, clipValue),
  setNumThreads: (n: number): void => binding.setNumThreads(n),
  getNumThreads: (): number => binding.getNumThreads(),
  simdLevel: (): string => binding.simdLevel(),
  detectedSimdLevel: (): string => binding.detectedSimdLevel(),
};

/** The nn layers' kernels (crate/src/nn), used by `ts/nn`. */
export const nnNative = {
  linearForward: binding.linearForward,
  linearBackward: binding.linearBackward,
  conv2dForward: binding.conv2dForward,
  conv2dBackward: binding.conv2dBackward,
  maxPool2dForward: binding.maxPool2dForward,
  maxPool2dBackward: binding.maxPool2dBackward,
  reluForward: binding.reluForward,
  reluBackward: binding.reluBackward,
  dropoutForward: binding.dropoutForward,
  dropoutBackward: binding.dropoutBackward,
  crossEntropy: binding.crossEntropy,
};
