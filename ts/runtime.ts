/**
 * The native engine's thread pool and SIMD level.
 * @module
 */
import { native } from './native.js';
import { describeValue } from './validate.js';

/**
 * A SIMD instruction-set level of the native kernels.
 * @group Runtime
 */
export type SimdLevel = 'avx512' | 'avx2' | 'baseline';

/**
 * Sets how many threads optimizer steps and the nn kernels use (the default is the number of
 * available cores, or the `FERROPTIM_NUM_THREADS` environment variable). Results do not depend
 * on it.
 *
 * @remarks
 * There is one thread pool per process: worker threads share it, so a call from any of them
 * resizes the pool for all (as `torch.set_num_threads` sets the process's intra-op pool). `n`
 * threads are the calling thread and `n − 1` helpers; a helper spins for 2 ms after its last task
 * before it sleeps, so the native calls of a training step find it awake (as OpenMP's threads
 * spin in PyTorch); with more threads than available cores, helpers sleep at once. A call with
 * the current size does nothing; otherwise the old pool's threads have exited when it returns
 * (unless a step on another worker thread is still using them, in which case they exit when it
 * finishes). The bound is 4 × the available cores, and at least 64: the kernels are
 * limited by memory bandwidth, so threads beyond the cores only add switching, and the bound
 * keeps a mistaken call from starting thousands of threads.
 * @example
 * ```ts
 * setNumThreads(1);
 * ```
 * @throws TypeError unless `n` is a number; RangeError unless it is an integer in
 * [1, max(4 × available cores, 64)].
 * @group Runtime
 */
export function setNumThreads(n: number): void {
  const expected = `expected n to be an integer >= 1 and <= ${native.maxNumThreads()} (4 × the available cores, at least 64)`;
  if (typeof n !== 'number') throw new TypeError(`setNumThreads: ${expected}, received ${describeValue(n)}`);
  if (!Number.isInteger(n) || n < 1 || n > native.maxNumThreads()) throw new RangeError(`setNumThreads: ${expected}, received ${describeValue(n)}`);
  native.setNumThreads(n);
}

/**
 * The number of threads optimizer steps (and the nn kernels) use, process-wide: the last
 * {@link setNumThreads}, else `FERROPTIM_NUM_THREADS`, else the number of available cores. An
 * unusable `FERROPTIM_*` value (such as `FERROPTIM_NUM_THREADS=abc`) is ignored with a
 * `FerroptimWarning` (code `FERROPTIM_INVALID_ENV`), emitted once when ferroptim is loaded.
 * @example
 * ```ts
 * console.log(`${getNumThreads()} threads`);
 * ```
 * @group Runtime
 */
export function getNumThreads(): number {
  return native.getNumThreads();
}

/**
 * The SIMD level the kernels run at: the best the CPU supports, or a lower one forced with the
 * `FERROPTIM_SIMD` environment variable (`avx512`, `avx2`, `baseline`) before the first step.
 * Results are bit-identical at every level; only the speed differs.
 * @example
 * ```ts
 * // FERROPTIM_SIMD=baseline node train.js
 * getSimdLevel(); // 'baseline'
 * ```
 * @group Runtime
 */
export function getSimdLevel(): SimdLevel {
  return native.simdLevel() as SimdLevel;
}

/**
 * The best SIMD level this CPU supports, whatever `FERROPTIM_SIMD` forces ('baseline' on CPUs
 * other than x86-64).
 * @example
 * ```ts
 * console.log(`running ${getSimdLevel()} of ${getDetectedSimdLevel()}`);
 * ```
 * @group Runtime
 */
export function getDetectedSimdLevel(): SimdLevel {
  return native.detectedSimdLevel() as SimdLevel;
}
