/**
 * Shared handling of constructor options: merge with defaults after rejecting unknown keys.
 * @module
 */
import { checkKnownKeys, checkOptions } from '../validate.js';

/** Merges user options over defaults, rejecting unknown keys; values are checked by the optimizer. */
export function withDefaults<O extends object>(label: string, defaults: Required<O>, options: O | undefined): Required<O> {
  const opts = checkOptions(label, options);
  checkKnownKeys(label, opts, Object.keys(defaults));
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) out[k] = Array.isArray(v) ? [...v] : v;
  return out as Required<O>;
}

/** The name of an option in messages: `lr`, or `lr (param group 1)`. */
export function optionName(key: string, where: string): string {
  return where === 'options' ? key : `${key} (${where})`;
}
