/**
 * The native engine's thread pool and SIMD level.
 * @module
 */
import { native } from './native.js';
import { checkNumber } from './validate.js';

/** A SIMD instruction-set level of the native kernels. */
export type SimdLevel = 'avx512' | 'avx2' | 'baseline';

/**
 * Sets how many threads optimizer steps use (the default is the number of available cores, or
 * the `FERROPTIM_NUM_THREADS` environment variable). Results do not depend on it.
 * @example
 * ```ts
 * setNumThreads(1);
 * ```
 * @throws TypeError or RangeError unless `n` is an integer in [1, 1024].
 */
export function setNumThreads(n: number): void {
  checkNumber('setNumThreads', 'n', n, { integer: true, min: 1, max: 1024 });
  native.setNumThreads(n);
}

/**
 * The number of threads optimizer steps (and the nn kernels) use: the last {@link setNumThreads},
 * else `FERROPTIM_NUM_THREADS`, else the number of available cores.
 * @example
 * ```ts
 * console.log(`${getNumThreads()} threads`);
 * ```
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
 */
export function getDetectedSimdLevel(): SimdLevel {
  return native.detectedSimdLevel() as SimdLevel;
}
