/**
 * Shared handling of constructor options: merge with defaults after rejecting unknown keys.
 * @module
 */
import { checkKnownKeys, checkOptions } from '../validate.js';

/**
 * Options every optimizer takes besides its hyperparameters (they are not per group).
 * @group Optimizers
 * @category Base class and parameters
 */
export interface CommonOptions {
  /**
   * Skip a step whose gradients hold a NaN or an infinity, leaving parameters and state untouched
   * (an extra read of the gradients before the update). See `Optimizer.lastStepApplied`.
   * @defaultValue false
   */
  skipNonFinite?: boolean;
}

/**
 * Keys of {@link CommonOptions}, and `stateDtype`, which every optimizer's constructor reads (one
 * without low-precision state accepts only `'float32'`, with a RangeError naming the option).
 */
export const COMMON_OPTION_KEYS: readonly string[] = ['skipNonFinite', 'stateDtype'];

/**
 * Merges user options over defaults, rejecting unknown keys; values are checked by the optimizer.
 * Common options ({@link CommonOptions}) pass through for the base class to take out.
 */
export function withDefaults<O extends object>(label: string, defaults: Required<O>, options: (Partial<O> & CommonOptions) | undefined): Required<O> & CommonOptions {
  const opts = checkOptions(label, options);
  checkKnownKeys(label, opts, [...Object.keys(defaults), ...COMMON_OPTION_KEYS]);
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) out[k] = Array.isArray(v) ? [...v] : v;
  return out as Required<O> & CommonOptions;
}

/** The name of an option in messages: `lr`, or `lr (param group 1)`. */
export function optionName(key: string, where: string): string {
  return where === 'options' ? key : `${key} (${where})`;
}
