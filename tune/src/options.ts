/**
 * Checks of option objects (samplers, pruners, the study and its trials): one message format for
 * an unknown option, with a hint when an Optuna user wrote its snake_case name.
 * @module
 */
import { describe } from './distributions.js';

/** Optuna's snake_case option names, mapped to ours, for hints. */
const SNAKE_HINTS: Readonly<Record<string, string>> = {
  consider_prior: 'considerPrior',
  prior_weight: 'priorWeight',
  consider_magic_clip: 'considerMagicClip',
  consider_endpoints: 'considerEndpoints',
  n_startup_trials: 'nStartupTrials',
  n_ei_candidates: 'nEiCandidates',
  warn_independent_sampling: 'warnIndependentSampling',
  constant_liar: 'constantLiar',
  constraints_func: 'constraintsFunc',
  categorical_distance_func: 'categoricalDistanceFunc',
};

/**
 * Returns `options` (undefined reads as `{}`) once it is a plain object whose keys are all in `allowed`.
 * @throws TypeError if `options` is not an object; RangeError naming an unknown option.
 */
export function checkOptions(where: string, options: unknown, allowed: readonly string[], unsupported: Readonly<Record<string, string>> = {}): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where}: expected options to be an object, received ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const value = (options as Record<string, unknown>)[key];
    if (key in unsupported) throw new RangeError(`${where}: ${key} is not supported: ${unsupported[key]} (received ${describe(value)})`);
    const hint = SNAKE_HINTS[key];
    const tail = hint !== undefined && allowed.includes(hint) ? `; did you mean ${hint}?` : `; the options are ${allowed.join(', ')}`;
    throw new RangeError(`${where}: unknown option ${JSON.stringify(key)} (received ${describe(value)})${tail}`);
  }
  return options as Record<string, unknown>;
}

/** A boolean option (undefined → `fallback`). */
export function boolOption(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${where}: expected ${name} to be a boolean, received ${describe(value)}`);
  return value;
}

/** An integer option in `[min, +inf)` (undefined → `fallback`). */
export function intOption(where: string, name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${where}: expected ${name} to be an integer >= ${min}, received ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${where}: expected ${name} to be an integer >= ${min}, received ${describe(value)}`);
  return value;
}

/** A function option (undefined → null). */
export function fnOption<F>(where: string, name: string, value: unknown): F | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'function') throw new TypeError(`${where}: expected ${name} to be a function, received ${describe(value)}`);
  return value as F;
}
