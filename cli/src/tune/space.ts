/**
 * The search space of `ferroptim tune`: which optimizers, and which numeric options of each, a
 * study samples. Read from a small JSON file (`--space`), checked with zod and against the
 * optimizers' option specs (the registry's descriptors, and the option tables of Adafactor, Muon
 * and LBFGS), then sampled define-by-run with Optuna's parameter names.
 *
 * The file:
 * ```json
 * {
 *   "optimizer": { "choices": ["adam", "sgd", "adamw"] },
 *   "lr": { "low": 1e-5, "high": 0.1, "log": true },
 *   "conditional": {
 *     "sgd": { "momentum": { "low": 0.8, "high": 0.99 } },
 *     "adamw": { "weight_decay": { "low": 1e-5, "high": 1e-2, "log": true } }
 *   }
 * }
 * ```
 * `optimizer.choices` are names of {@link TUNABLE_OPTIMIZERS}; every other top-level key is an
 * option every chosen optimizer has, sampled in every trial; `conditional.NAME` holds the options
 * sampled only when the trial's optimizer is NAME. A parameter is `{ low, high, log?, step? }`
 * (a float, log-uniform with `log`, on a grid with `step`). Parameter names are the options' names
 * in snake_case (`weight_decay`) or camelCase (`weightDecay`); the study records them as written.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { OptionSpec } from 'ferroptim';
import { OPTIMIZER_NAMES, optimizerLabel, optimizerOptionSpecs } from '../demos/optimizer-spec.js';
import type { Distribution, FrozenTrial, Trial } from 'ferroptim-tune';
import { z } from 'zod';

/** One float parameter: `[low, high]`, log-uniform or uniform, optionally on a grid of `step`. */
export interface FloatParam {
  low: number;
  high: number;
  log: boolean;
  step: number | null;
}

/** A search space: the optimizer (categorical), options of every trial, options of one optimizer. */
export interface SearchSpace {
  /** The choices of the categorical parameter `optimizer` (names of {@link TUNABLE_OPTIMIZERS}). */
  optimizers: string[];
  /** Options sampled in every trial, by parameter name (`lr`). */
  shared: Record<string, FloatParam>;
  /** Options sampled only for one optimizer: `{ sgd: { momentum: ... } }`. */
  conditional: Record<string, Record<string, FloatParam>>;
}

/** A space error: `where` names the flag or the file and key; the CLI makes it a usage error. */
export class SpaceError extends Error {}

/**
 * The article's study: optimizer ∈ {Adam, SGD, AdamW}, lr log-uniform in [1e-5, 1e-1], momentum
 * uniform in [0.8, 0.99] only for SGD, weight_decay log-uniform in [1e-5, 1e-2] only for AdamW.
 */
export function articleSpace(): SearchSpace {
  return {
    optimizers: ['adam', 'sgd', 'adamw'],
    shared: { lr: { low: 1e-5, high: 1e-1, log: true, step: null } },
    conditional: {
      sgd: { momentum: { low: 0.8, high: 0.99, log: false, step: null } },
      adamw: { weight_decay: { low: 1e-5, high: 1e-2, log: true, step: null } },
    },
  };
}

/** The name of the categorical parameter that picks the optimizer. */
export const OPTIMIZER_PARAM = 'optimizer';

const finite = z.number().refine(Number.isFinite, { message: 'expected a finite number' });
const PARAM = z
  .strictObject({
    low: finite,
    high: finite,
    log: z.boolean().optional(),
    step: finite.refine((s) => s > 0, { message: 'expected a number > 0' }).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.low > p.high) ctx.addIssue({ code: 'custom', message: `low (${p.low}) must not exceed high (${p.high})`, path: ['low'] });
    if (p.log && p.low <= 0) ctx.addIssue({ code: 'custom', message: `a log range needs low > 0, received ${p.low}`, path: ['low'] });
    if (p.log && p.step !== undefined) ctx.addIssue({ code: 'custom', message: 'step cannot be combined with log', path: ['step'] });
  });
const FILE = z
  .object({
    optimizer: z.strictObject({ choices: z.array(z.string()).min(1, { message: 'expected at least one optimizer' }) }),
    conditional: z.record(z.string(), z.record(z.string(), PARAM)).optional(),
  })
  .catchall(PARAM);

/** `weight_decay` → `weightDecay` (the registry's option keys are camelCase). */
export function optionKey(param: string): string {
  return param.replace(/[-_]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
}

/** `weightDecay` → `weight-decay` (the flag of `ferroptim train`). */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The optimizers a study can choose: the registry's, and those outside it whose options do not
 * depend on another choice (Adafactor, Muon + AdamW, L-BFGS; not Lookahead).
 */
export const TUNABLE_OPTIMIZERS: readonly string[] = Object.freeze(OPTIMIZER_NAMES.filter((n) => optimizerOptionSpecs(n) !== undefined));

function specsOf(optimizer: string): Readonly<Record<string, OptionSpec>> {
  return optimizerOptionSpecs(optimizer)!;
}

function numericOptions(optimizer: string): string[] {
  return Object.entries(specsOf(optimizer))
    .filter(([, o]) => o.type === 'number' || o.type === 'derived')
    .map(([k]) => k);
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function inRule(v: number, r: { min?: number; above?: number; max?: number; below?: number }): boolean {
  return (r.min === undefined || v >= r.min) && (r.above === undefined || v > r.above) && (r.max === undefined || v <= r.max) && (r.below === undefined || v < r.below);
}

function ruleText(r: { min?: number; above?: number; max?: number; below?: number }): string {
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.above !== undefined) parts.push(`> ${r.above}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  if (r.below !== undefined) parts.push(`< ${r.below}`);
  return parts.join(' and ') || 'any number';
}

/** Checks one parameter against an optimizer's descriptor; `where` prefixes the message. */
function checkOption(where: string, optimizer: string, name: string, p: FloatParam): void {
  const label = optimizerLabel(optimizer);
  const key = optionKey(name);
  const spec = specsOf(optimizer)[key];
  const known = numericOptions(optimizer).map(snake).join(', ');
  if (spec === undefined) throw new SpaceError(`${where}: ${label} has no option ${JSON.stringify(name)} (its numeric options: ${known})`);
  if (spec.type !== 'number' && spec.type !== 'derived') {
    throw new SpaceError(`${where}: ${label}'s option ${JSON.stringify(name)} is ${spec.type === 'pair' ? 'a pair of numbers' : 'a boolean'}; only numeric options can be searched (${known})`);
  }
  for (const [end, v] of [['low', p.low], ['high', p.high]] as const) {
    if (!inRule(v, spec.range)) throw new SpaceError(`${where}.${end}: ${label}'s ${name} must be ${ruleText(spec.range)}, received ${v}`);
  }
  // Trials sample floats: an integer option needs integer ends and an integer step.
  if (spec.range.integer && !(Number.isInteger(p.low) && Number.isInteger(p.high) && p.step !== null && Number.isInteger(p.step))) {
    throw new SpaceError(`${where}: ${label}'s ${name} is an integer: give integer low and high and an integer step (e.g. "step": 1), received ${JSON.stringify(p)}`);
  }
}

function same(a: FloatParam, b: FloatParam): boolean {
  return a.low === b.low && a.high === b.high && a.log === b.log && a.step === b.step;
}

function param(p: z.infer<typeof PARAM>): FloatParam {
  return { low: p.low, high: p.high, log: p.log ?? false, step: p.step ?? null };
}

/**
 * Checks a space against the registry: known optimizers, options each of them has, ranges their
 * descriptors accept, one distribution per parameter name.
 * @param where How messages name the space: `--space FILE` or `the default space`.
 * @throws SpaceError naming the key.
 */
export function checkSpace(space: SearchSpace, where: string): SearchSpace {
  const seen = new Set<string>();
  space.optimizers.forEach((o, i) => {
    if (!TUNABLE_OPTIMIZERS.includes(o)) {
      const hint = TUNABLE_OPTIMIZERS.includes(o.toLowerCase()) ? ` (did you mean ${JSON.stringify(o.toLowerCase())}?)` : '';
      throw new SpaceError(`${where}: optimizer.choices[${i}]: unknown optimizer ${JSON.stringify(o)}${hint}; a study can choose ${TUNABLE_OPTIMIZERS.join(', ')}`);
    }
    if (seen.has(o)) throw new SpaceError(`${where}: optimizer.choices[${i}]: ${JSON.stringify(o)} is listed twice`);
    seen.add(o);
  });
  for (const [name, p] of Object.entries(space.shared)) {
    if (name === OPTIMIZER_PARAM || name === 'conditional') throw new SpaceError(`${where}: ${name}: reserved name`);
    for (const o of space.optimizers) checkOption(`${where}: ${name}`, o, name, p);
  }
  const byName = new Map<string, { p: FloatParam; at: string }>();
  for (const [o, params] of Object.entries(space.conditional)) {
    if (!space.optimizers.includes(o)) throw new SpaceError(`${where}: conditional.${o}: ${JSON.stringify(o)} is not one of optimizer.choices (${space.optimizers.join(', ')})`);
    for (const [name, p] of Object.entries(params)) {
      const at = `conditional.${o}.${name}`;
      if (name === OPTIMIZER_PARAM) throw new SpaceError(`${where}: ${at}: reserved name`);
      if (Object.hasOwn(space.shared, name)) throw new SpaceError(`${where}: ${at}: ${name} is already sampled for every optimizer (top level); remove one of them`);
      checkOption(`${where}: ${at}`, o, name, p);
      const before = byName.get(name);
      if (before && !same(before.p, p)) {
        throw new SpaceError(`${where}: ${at}: differs from ${before.at}; a parameter name has one distribution in a study (give one of them another name, e.g. ${name}_${o})`);
      }
      byName.set(name, { p, at });
    }
  }
  return space;
}

/**
 * Reads and checks a space file.
 * @throws SpaceError naming the file and the key (`--space s.json: lr.low: ...`).
 */
export function readSpaceFile(path: string): SearchSpace {
  const where = `--space ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SpaceError(`${where}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SpaceError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = FILE.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.map(String).join('.');
    let message = issue.message;
    if (issue.code === 'invalid_type' && key === '') message = 'expected an object like {"optimizer": {"choices": ["adam"]}, "lr": {"low": 1e-5, "high": 0.1, "log": true}}';
    else if (issue.code === 'invalid_type' && issue.path.length === 1 && key !== 'optimizer' && key !== 'conditional') message = `expected a parameter {"low": ..., "high": ..., "log"?: true, "step"?: ...}; ${message}`;
    throw new SpaceError(`${where}: ${key || '(top level)'}: ${message}`);
  }
  const { optimizer, conditional, ...rest } = parsed.data;
  const space: SearchSpace = {
    optimizers: optimizer.choices,
    shared: Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, param(v as z.infer<typeof PARAM>)])),
    conditional: Object.fromEntries(Object.entries(conditional ?? {}).map(([o, ps]) => [o, Object.fromEntries(Object.entries(ps).map(([k, v]) => [k, param(v)]))])),
  };
  return checkSpace(space, where);
}

/**
 * The space with `--optimizers` (replaces the choices; conditionals of dropped optimizers go) and
 * `--lr LOW:HIGH` (a log-uniform lr) applied.
 * @throws SpaceError naming the flag.
 */
export function applyShortcuts(space: SearchSpace, optimizers: string | undefined, lr: string | undefined): SearchSpace {
  const out: SearchSpace = { optimizers: [...space.optimizers], shared: { ...space.shared }, conditional: { ...space.conditional } };
  if (optimizers !== undefined) {
    const names = optimizers.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
    if (names.length === 0) throw new SpaceError(`--optimizers expects a comma-separated list of optimizers (${TUNABLE_OPTIMIZERS.join(', ')}), received ${JSON.stringify(optimizers)}`);
    for (const n of names) {
      if (!TUNABLE_OPTIMIZERS.includes(n)) throw new SpaceError(`--optimizers: unknown optimizer ${JSON.stringify(n)} in ${JSON.stringify(optimizers)}; a study can choose ${TUNABLE_OPTIMIZERS.join(', ')}`);
    }
    if (new Set(names).size !== names.length) throw new SpaceError(`--optimizers lists an optimizer twice: ${JSON.stringify(optimizers)}`);
    out.optimizers = names;
    out.conditional = Object.fromEntries(Object.entries(space.conditional).filter(([o]) => names.includes(o)));
  }
  if (lr !== undefined) {
    const m = /^\s*([^:]+):([^:]+)\s*$/.exec(lr);
    const low = m ? Number(m[1]) : NaN;
    const high = m ? Number(m[2]) : NaN;
    if (!(m && m[1]!.trim() !== '' && m[2]!.trim() !== '' && Number.isFinite(low) && Number.isFinite(high) && low > 0 && low <= high)) {
      throw new SpaceError(`--lr expects LOW:HIGH with 0 < LOW <= HIGH (searched log-uniformly), received ${JSON.stringify(lr)}`);
    }
    out.shared.lr = { low, high, log: true, step: null };
  }
  if (optimizers !== undefined || lr !== undefined) {
    const flags = [optimizers !== undefined ? `--optimizers ${optimizers}` : '', lr !== undefined ? `--lr ${lr}` : ''].filter(Boolean).join(' ');
    checkSpace(out, flags);
  }
  return out;
}

/** The distributions a study's trials used, by parameter name (the first trial that has a parameter gives it). */
export function studyDistributions(trials: readonly FrozenTrial[]): Record<string, Distribution> {
  const out: Record<string, Distribution> = {};
  for (const t of trials) for (const [k, d] of Object.entries(t.distributions)) out[k] ??= d;
  return out;
}

/** The distribution of each parameter, as the trials record them (for compatibility checks). */
export function spaceDistributions(space: SearchSpace): Record<string, Distribution> {
  const out: Record<string, Distribution> = { [OPTIMIZER_PARAM]: { type: 'categorical', choices: [...space.optimizers] } };
  const float = (p: FloatParam): Distribution => ({ type: 'float', low: p.low, high: p.high, log: p.log, step: p.step });
  for (const [k, p] of Object.entries(space.shared)) out[k] = float(p);
  for (const params of Object.values(space.conditional)) for (const [k, p] of Object.entries(params)) out[k] = float(p);
  return out;
}

/**
 * Why the space cannot continue a study whose trials used `existing` distributions (Optuna's
 * rules: the same kind, the same log flag, the same categorical choices), or null.
 */
export function incompatibility(space: SearchSpace, existing: Readonly<Record<string, Distribution>>): string | null {
  for (const [name, d] of Object.entries(spaceDistributions(space))) {
    const old = existing[name];
    if (old === undefined) continue;
    if (old.type !== d.type) return `${name} is a ${old.type} parameter in the study, a ${d.type} one in this space`;
    if (old.type === 'categorical' && d.type === 'categorical') {
      if (old.choices.length !== d.choices.length || old.choices.some((c, i) => c !== d.choices[i])) {
        return `the study's trials chose ${name} from [${old.choices.join(', ')}]; this space has [${d.choices.join(', ')}] (categorical choices cannot change within a study)`;
      }
    } else if (old.type !== 'categorical' && d.type !== 'categorical' && old.log !== d.log) {
      return `${name} is sampled ${old.log ? 'log-uniformly' : 'uniformly'} in the study, ${d.log ? 'log-uniformly' : 'uniformly'} in this space`;
    }
  }
  return null;
}

/** What one trial's suggestions give: the optimizer, its options (camelCase) and the parameters. */
export interface Suggested {
  optimizer: string;
  options: Record<string, number>;
  params: Record<string, string | number>;
}

/** Samples one trial's configuration, define-by-run, in the article's order (optimizer, lr, then the optimizer's own). */
export function suggest(trial: Trial, space: SearchSpace): Suggested {
  const optimizer = trial.suggestCategorical(OPTIMIZER_PARAM, space.optimizers);
  const params: Record<string, string | number> = { [OPTIMIZER_PARAM]: optimizer };
  const options: Record<string, number> = {};
  const take = (name: string, p: FloatParam) => {
    const v = trial.suggestFloat(name, p.low, p.high, p.log ? { log: true } : p.step !== null ? { step: p.step } : {});
    params[name] = v;
    options[optionKey(name)] = v;
  };
  for (const [name, p] of Object.entries(space.shared)) take(name, p);
  for (const [name, p] of Object.entries(space.conditional[optimizer] ?? {})) take(name, p);
  return { optimizer, options, params };
}

/** The space as one line of text for the first lines of output. */
export function describeSpace(space: SearchSpace): string {
  const range = (p: FloatParam) => `${p.log ? 'log ' : ''}[${p.low}, ${p.high}]${p.step !== null ? ` step ${p.step}` : ''}`;
  const parts = [`optimizer ∈ {${space.optimizers.join(', ')}}`, ...Object.entries(space.shared).map(([k, p]) => `${k} ${range(p)}`)];
  for (const [o, ps] of Object.entries(space.conditional)) for (const [k, p] of Object.entries(ps)) parts.push(`${k} ${range(p)} (${o})`);
  return parts.join(', ');
}
