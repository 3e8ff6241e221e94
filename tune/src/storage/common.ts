/**
 * Checks and errors the storages share (the journal storages and {@link PostgresStorage}).
 * @module
 * @internal
 */
import { describe, distributionToJson, jsonToDistribution, type Distribution } from '../distributions.js';
import { UpdateFinishedTrialError } from '../types.js';

/**
 * The error for a missing study or trial: `code` is `'ENOSTUDY'` or `'ENOTRIAL'`.
 * @param where The caller, for the message.
 * @param detail Which one (`with id 3`, `named "a"`).
 * @internal
 */
export function notFound(where: string, kind: 'study' | 'trial', detail: string): Error {
  return Object.assign(new Error(`${where}: no ${kind} ${detail}`), { code: kind === 'study' ? 'ENOSTUDY' : 'ENOTRIAL' });
}

/**
 * Optuna's error for a write to a finished trial (its message, word for word).
 * @internal
 */
export function finishedError(number: number | string): UpdateFinishedTrialError {
  return new UpdateFinishedTrialError(`Trial#${number} has already finished and can not be updated.`);
}

/**
 * Sets an own, enumerable property (`__proto__` included, which plain assignment would not).
 * @internal
 */
export function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/**
 * Checks an options argument: an object (undefined reads as `{}`) whose keys are all in `known`.
 * @throws TypeError naming the caller and the option.
 * @internal
 */
export function checkOptionNames(where: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw new TypeError(`${where}: expected options to be an object, received ${describe(options)}`);
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new TypeError(`${where}: unknown option ${JSON.stringify(k)} (known: ${known.join(', ')})`);
  }
  return options as Record<string, unknown>;
}

/**
 * Checks a distribution given by a caller by writing its JSON and reading it back.
 * @returns The distribution as read back, and its JSON text (as Optuna writes it).
 * @throws TypeError naming `name` if it is not a valid distribution.
 * @internal
 */
export function checkDistribution(where: string, name: string, d: unknown): { distribution: Distribution; json: string } {
  try {
    const json = distributionToJson(d as Distribution);
    return { distribution: jsonToDistribution(json), json };
  } catch (e) {
    throw new TypeError(`${where}: ${name} is not a valid distribution (${(e as Error).message}), received ${describe(d)}`);
  }
}
