/**
 * What every optimizer class does alike with its live param groups and its state dict's framing:
 * `Optimizer` and the classes outside the registry (Adafactor, Muon, LBFGS) call these, so
 * that their checks and messages stay the same.
 * @module
 * @internal
 */
import { Parameter } from '../tensor.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';
import type { OptimizerStateDict } from './optimizer.js';

/** A copy of an option's value that does not share an array with the original. @internal */
export function cloneOption(v: unknown): unknown {
  return Array.isArray(v) ? [...v] : v;
}

/** The state keys of `params`, by position: names when all are present and unique, else positions. @internal */
export function stateKeys(params: readonly Parameter[]): string[] {
  const names = params.map((p) => p.name);
  const unique = names.every((n) => n !== undefined) && new Set(names).size === names.length;
  return unique ? (names as string[]) : names.map((_, i) => String(i));
}

/** `zeroGrad`'s options, checked: whether to set the gradients to `null` (default false). @internal */
export function setToNoneOption(ctx: string, options: unknown): boolean {
  const o = checkOptions(ctx, options);
  checkKnownKeys(ctx, o, ['setToNone']);
  return o.setToNone === undefined ? false : checkBoolean(ctx, 'setToNone', o.setToNone);
}

/** Zeroes the gradients of `params` in place (a `null` grad stays so), or sets them to `null`. @internal */
export function clearGrads(params: Iterable<Parameter>, setToNone: boolean): void {
  for (const p of params) {
    if (setToNone) p.grad = null;
    else p.grad?.fill(0);
  }
}

/** `loadStateDict`'s options, checked: whether loading is strict (default true). @internal */
export function strictOption(ctx: string, options: unknown): boolean {
  const opts = checkOptions(ctx, options);
  checkKnownKeys(ctx, opts, ['strict']);
  return opts.strict === undefined ? true : checkBoolean(ctx, 'strict', opts.strict);
}

/** Throws unless `sd` is an object with an object `state` and an array `paramGroups`. @internal */
export function checkStateDictShape(ctx: string, sd: { state?: unknown; paramGroups?: unknown } | null): void {
  if (sd === null || typeof sd !== 'object' || typeof sd.state !== 'object' || sd.state === null || Array.isArray(sd.state) || !Array.isArray(sd.paramGroups)) {
    throw new TypeError(`${ctx}: expected an object with state and paramGroups, received ${describeValue(sd)}`);
  }
}

/**
 * The entries of a saved `state`, each with its parameter's id (`idOf`) and its name in messages
 * (`state["KEY"]`): an entry whose key is not a parameter is a RangeError when `strict` and
 * skipped otherwise; one that is not an object is a TypeError.
 * @internal
 */
export function stateEntries(ctx: string, state: object, idOf: ReadonlyMap<string, number>, strict: boolean): Array<[id: number, where: string, entry: Record<string, unknown>]> {
  const out: Array<[number, string, Record<string, unknown>]> = [];
  for (const [key, entry] of Object.entries(state)) {
    const id = idOf.get(key);
    const where = `state[${JSON.stringify(key)}]`;
    if (id === undefined) {
      if (strict) throw new RangeError(`${ctx}: state has an entry for ${JSON.stringify(key)}, which is not a parameter of this optimizer`);
      continue;
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new TypeError(`${ctx}: expected ${where} to be an object, received ${describeValue(entry)}`);
    out.push([id, where, entry as Record<string, unknown>]);
  }
  return out;
}

/**
 * Whether the saved param groups have the same parameter keys, group by group, as `ours`
 * (`keyOf` gives a live parameter's key); with `strict`, a mismatch throws.
 * @internal
 */
export function savedGroupsMatch(
  ctx: string,
  saved: OptimizerStateDict['paramGroups'],
  ours: ReadonlyArray<{ params: readonly Parameter[] }>,
  keyOf: (p: Parameter) => string | undefined,
  strict: boolean,
): boolean {
  const matches =
    saved.length === ours.length && saved.every((g, i) => Array.isArray(g?.params) && g.params.length === ours[i]!.params.length && g.params.every((k, j) => k === keyOf(ours[i]!.params[j]!)));
  if (strict && !matches) {
    throw new RangeError(`${ctx}: the saved param groups do not match this optimizer's (${saved.length} saved groups, ${ours.length} here, or different parameter keys); pass { strict: false } to load what matches`);
  }
  return matches;
}

/**
 * The live param groups, each checked to still be an object with a `params` array; `ctx` begins
 * the messages.
 * @internal
 */
export function checkGroupArray<G extends { params: readonly unknown[] }>(ctx: string, groups: G[]): G[] {
  if (!Array.isArray(groups)) throw new TypeError(`${ctx}: expected paramGroups to be an array, received ${describeValue(groups)}`);
  groups.forEach((g, gi) => {
    if (g === null || typeof g !== 'object' || !Array.isArray(g.params)) {
      throw new TypeError(`${ctx}: expected param group ${gi} to be an object with a params array, received ${describeValue(g)}`);
    }
  });
  return groups;
}

/**
 * Checks, before `zeroGrad` changes any gradient, that every entry of every group's `params` is a
 * Parameter and (unless `setToNone`) that its gradient has the parameter's length; `idOf` gives
 * the position that names parameter `p`, entry `j` of its group, in messages.
 * @internal
 */
export function checkZeroGrad(ctx: string, groups: ReadonlyArray<{ params: readonly unknown[] }>, setToNone: boolean, idOf: (p: Parameter, j: number) => number): void {
  groups.forEach((g, gi) =>
    g.params.forEach((p, j) => {
      if (!(p instanceof Parameter)) throw new TypeError(`${ctx}: expected param group ${gi}.params[${j}] to be a Parameter, received ${describeValue(p)}`);
      const grad = p.grad;
      if (!setToNone && grad !== null && grad.length !== p.numel) {
        throw new RangeError(`${ctx}: expected grad of ${Parameter.describe(p, idOf(p, j))} to have length ${p.numel}, received ${grad.length} (its buffer was detached or transferred)`);
      }
    }),
  );
}

/** Whether a constructor's params entry `x` is a param group `{ params, ...options }`. @internal */
export function isGroupInput(x: unknown): boolean {
  return x !== null && typeof x === 'object' && !(x instanceof Parameter) && !ArrayBuffer.isView(x) && 'params' in x;
}

/**
 * The entries of a constructor's `params`, checked to be a non-empty iterable; `what` says what
 * it may hold in the message.
 * @internal
 */
export function paramsList(label: string, params: unknown, what = 'an array of Parameters or of param groups'): unknown[] {
  if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${label}: expected params to be ${what}, received ${describeValue(params)}`);
  }
  const list = [...(params as Iterable<unknown>)];
  if (list.length === 0) throw new RangeError(`${label}: expected a non-empty parameter list, received an empty one`);
  return list;
}

/**
 * The param groups a constructor's `params` gives: its entries when all are groups, else one
 * group of them all (each checked to be a Parameter).
 * @internal
 */
export function groupInputs(label: string, params: unknown): Array<Record<string, unknown>> {
  const list = paramsList(label, params);
  if (list.every(isGroupInput)) return list as Array<Record<string, unknown>>;
  const bad = list.findIndex((x) => !(x instanceof Parameter));
  if (bad >= 0) {
    throw new TypeError(`${label}: expected params[${bad}] to be a Parameter, received ${describeValue(list[bad])} (or pass only param groups { params, ...options })`);
  }
  return [{ params: list }];
}

/**
 * A param group given to a constructor or `addParamGroup` (`where` names it), checked to be an
 * options object with known keys (`params`, `initialLr` and `optionKeys`) and a non-empty
 * iterable `params`: the object and the entries of its `params`.
 * @internal
 */
export function groupInput(label: string, where: string, input: unknown, optionKeys: readonly string[]): { g: Record<string, unknown>; members: unknown[] } {
  if (input instanceof Parameter) {
    throw new TypeError(`${label}: expected ${where} to be a param group { params: [...], ...options }, received a Parameter`);
  }
  const g = checkOptions(`${label}: ${where}`, input);
  checkKnownKeys(`${label}: ${where}`, g, ['params', 'initialLr', ...optionKeys]);
  const ps = g.params;
  if (ps === null || typeof ps !== 'object' || typeof (ps as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${label}: expected ${where}.params to be an array of Parameters, received ${describeValue(ps)}`);
  }
  const members = [...(ps as Iterable<unknown>)];
  if (members.length === 0) throw new RangeError(`${label}: expected ${where}.params to be non-empty, received an empty list`);
  return { g, members };
}

/**
 * The options `optionKeys` of `given`, each cloned, those it lacks taken from `fallback` (the
 * defaults, or the live group a saved one loads into).
 * @internal
 */
export function mergeOptions(optionKeys: readonly string[], given: Record<string, unknown>, fallback: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of optionKeys) out[k] = cloneOption(given[k] !== undefined ? given[k] : (fallback as Record<string, unknown>)[k]);
  return out;
}

/** A live group's entry in `stateDict`'s paramGroups: its parameters' keys (`keyOf`), then its options `optionKeys`, cloned. @internal */
export function savedGroup(g: { params: readonly Parameter[] }, keyOf: (p: Parameter) => string, optionKeys: readonly string[]): Record<string, unknown> & { params: string[] } {
  const out: Record<string, unknown> & { params: string[] } = { params: g.params.map(keyOf) };
  for (const k of optionKeys) out[k] = cloneOption((g as Record<string, unknown>)[k]);
  return out;
}

/**
 * The options saved param group `i` loads into live group `live`: checked to be an object, with
 * known keys when `strict`, its options (those it lacks kept from `live`) checked by `check`, its
 * `initialLr` a number >= 0.
 * @internal
 */
export function savedGroupOptions(
  ctx: string,
  saved: unknown,
  i: number,
  strict: boolean,
  optionKeys: readonly string[],
  live: object,
  check: (ctx: string, g: Record<string, unknown>, where: string) => unknown,
): Record<string, unknown> {
  if (saved === null || typeof saved !== 'object') throw new TypeError(`${ctx}: expected paramGroups[${i}] to be an object, received ${describeValue(saved)}`);
  const s = saved as Record<string, unknown>;
  if (strict) checkKnownKeys(`${ctx}: param group ${i}`, s, ['params', 'initialLr', ...optionKeys]);
  const merged = mergeOptions(optionKeys, s, live);
  check(ctx, merged, `saved param group ${i}`);
  if (s.initialLr !== undefined) merged.initialLr = checkNumber(ctx, `initialLr of param group ${i}`, s.initialLr, { min: 0 });
  return merged;
}
