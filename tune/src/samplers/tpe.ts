/**
 * The Tree-structured Parzen Estimator: a port of Optuna 5.1's `TPESampler`
 * (`optuna/samplers/_tpe/sampler.py`) for single-objective studies.
 *
 * TPE splits the finished trials into the best ones ("below", a fraction `gamma`) and the
 * rest ("above"), fits a Parzen estimator l(x) to the below trials' parameters and g(x) to the
 * above ones', draws `nEiCandidates` points from l(x), and suggests the candidate maximizing
 * log l(x) − log g(x) (which maximizes expected improvement under TPE's model).
 * @module
 */
import { describe, isSingle, toInternal, type Distribution, type ParamValue } from '../distributions.js';
import { TrialState, type FrozenTrial, type JsonValue, type Sampler, type StudyDirection, type StudyView } from '../types.js';
import { PyFloat, pyJsonDumps } from '../storage/pyjson.js';
import { boolOption, checkOptions, fnOption, intOption } from '../options.js';
import { ParzenEstimator, stableArgsort, type ParzenEstimatorParameters } from './parzen.js';
import { RandomSampler } from './random.js';
import { checkSeed, Rng } from './rng.js';
import { GroupDecomposedSearchSpace, IntersectionSearchSpace, sortedNames, type SearchSpaceGroup } from './searchSpace.js';

/** Optuna's `_RELATIVE_PARAMS_KEY`: trial system attributes holding relative params as JSON chunks. */
export const RELATIVE_PARAMS_KEY = 'tpe:relative_params';
/** Optuna's `_SYSTEM_ATTR_MAX_LENGTH`: the chunk length of {@link RELATIVE_PARAMS_KEY} attributes. */
const SYSTEM_ATTR_MAX_LENGTH = 2045;

/**
 * Optuna's `default_gamma`: how many of `n` finished trials are "below" (the good ones),
 * `min(ceil(0.1 · n), 25)` (computed in floating point, as Optuna does).
 * @group Samplers
 */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/**
 * Optuna's `default_weights`: the weights of `n` observations, oldest first. All 1 below 25;
 * from 25 on, the newest 25 weigh 1 and the older ones ramp linearly from 1/n up to 1
 * (`np.linspace(1/n, 1, n − 25)`).
 * @group Samplers
 */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  const w = new Array<number>(n);
  linspace(w, 1.0 / n, 1.0, n - 25);
  for (let i = n - 25; i < n; i++) w[i] = 1;
  return w;
}

/** NumPy's `linspace(start, stop, num)` (endpoint included, the last value exactly `stop`) into `y[0..num)`. */
function linspace(y: number[], start: number, stop: number, num: number): void {
  const div = num - 1;
  const delta = stop - start;
  if (div <= 0) {
    for (let i = 0; i < num; i++) y[i] = i * delta + start;
    return;
  }
  const step = delta / div;
  for (let i = 0; i < num; i++) y[i] = (step === 0 ? (i / div) * delta : i * step) + start;
  y[num - 1] = stop;
}

/**
 * Options of {@link TPESampler}, named as Optuna's `TPESampler` arguments in camelCase.
 * @group Samplers
 */
export interface TPESamplerOptions {
  /**
   * Accepted for compatibility and ignored: Optuna deprecated `consider_prior` in 4.3 and
   * always uses the prior component since. Set {@link TPESamplerOptions.priorWeight} instead.
   */
  considerPrior?: boolean;
  /** The weight of the prior component of the Parzen estimators, `>= 0` (default 1.0). */
  priorWeight?: number;
  /**
   * Whether kernel bandwidths have a floor of (domain width)/min(100, 1 + number of kernels)
   * (default true; otherwise the floor is 1e-12).
   */
  considerMagicClip?: boolean;
  /**
   * Whether the outermost observations' bandwidths also measure the distance to the domain's
   * ends (default false).
   */
  considerEndpoints?: boolean;
  /**
   * Random sampling is used until this many trials are COMPLETE or PRUNED (default 10).
   */
  nStartupTrials?: number;
  /** How many candidates are drawn from l(x) to pick the suggestion from (default 24, `>= 1`). */
  nEiCandidates?: number;
  /**
   * The number of "below" (good) trials given the number of finished trials (default
   * {@link defaultGamma}). Must return an integer `>= 0`.
   */
  gamma?: (n: number) => number;
  /**
   * The weights of n observations, oldest first (default {@link defaultWeights}). Must return
   * at least n finite, non-negative values, not all zero; extra values are ignored.
   */
  weights?: (n: number) => ArrayLike<number>;
  /**
   * Seed of the random streams: an integer in `[0, 2**32 - 1]`. With the same seed and the same
   * trial history, the same suggestions, and Optuna's for `TPESampler(seed=seed)` with the same
   * options. Omitted: seeded from the OS's random source.
   */
  seed?: number | null;
  /**
   * Multivariate TPE: sample the parameters every finished trial has jointly, with product
   * kernels. Default true, as Optuna 5.1 for single-objective studies (its `multivariate=None`).
   */
  multivariate?: boolean;
  /**
   * With `multivariate`, decompose the search space into groups of parameters that always
   * occur together and sample each group jointly (default false). Implies `multivariate` when
   * that option is omitted.
   */
  group?: boolean;
  /** Accepted for compatibility; this library does not log, so it has no effect. */
  warnIndependentSampling?: boolean;
  /**
   * Constant liar: count RUNNING trials among the "above" (worst) trials, so parallel workers
   * avoid suggesting near each other's running trials. Default true, as in Optuna 5.1.
   */
  constantLiar?: boolean;
}

const OPTION_NAMES = [
  'considerPrior',
  'priorWeight',
  'considerMagicClip',
  'considerEndpoints',
  'nStartupTrials',
  'nEiCandidates',
  'gamma',
  'weights',
  'seed',
  'multivariate',
  'group',
  'warnIndependentSampling',
  'constantLiar',
] as const;

const UNSUPPORTED: Readonly<Record<string, string>> = {
  categoricalDistanceFunc: "Optuna 5.1's TPESampler has no categorical_distance_func",
  constraintsFunc: "Optuna deprecated constraints_func in 5.0; constraints stored on trials (system attributes 'constraints' and 'constraints:<name>') are honoured",
};

/**
 * The sum of a trial's violated (positive) constraint values (`_get_infeasible_trial_score`):
 * the constraints in its system attributes (`_get_constraints_from_system_attrs`), the
 * legacy 'constraints' list first, then the 'constraints:<name>' attributes in order.
 */
function infeasibleScore(trial: FrozenTrial): number {
  const attrs = trial.systemAttrs;
  let s = 0;
  const legacy = attrs.constraints;
  if (Array.isArray(legacy)) {
    for (const c of legacy) {
      const v = Number(c);
      if (v > 0) s += v;
    }
  }
  for (const key in attrs) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key) || !key.startsWith('constraints:')) continue;
    const v = Number(attrs[key]);
    if (v > 0) s += v;
  }
  return s;
}

/** Compares two numbers, ascending, NaN last (for keys where Python would never see NaN). */
function cmp(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
}

/** The sort key of a pruned trial (`_get_pruned_trial_score`): (−last step, last value), better first. */
function prunedScore(trial: FrozenTrial, direction: StudyDirection): [number, number] {
  if (trial.intermediateValues.size === 0) return [1, 0.0];
  let step = -Infinity;
  for (const s of trial.intermediateValues.keys()) if (s > step) step = s;
  const value = trial.intermediateValues.get(step)!;
  if (Number.isNaN(value)) return [-step, Infinity];
  return direction === 'minimize' ? [-step, value] : [-step, -value];
}

/**
 * The two sets of trials TPE fits its estimators to (see {@link splitTrials}).
 * @group Samplers
 */
export interface TrialSplit {
  /** The good trials (l(x) is fitted to them), by number. */
  below: FrozenTrial[];
  /** The other trials (g(x) is fitted to them), by number. */
  above: FrozenTrial[];
}

/**
 * Splits trials into "below" (good) and "above" (the rest), both ordered by trial number
 * (Optuna's `_split_trials` for one objective). The `nBelow` best are taken first among
 * feasible COMPLETE trials (by value, per direction), then among feasible PRUNED trials (the
 * ones that got furthest, then by their last intermediate value; no value counts as step −1),
 * then among infeasible trials (least total violation first). RUNNING trials always go above.
 * A trial is infeasible when a constraint stored in its system attributes is positive.
 * @group Samplers
 */
export function splitTrials(direction: StudyDirection, trials: readonly FrozenTrial[], nBelow: number): TrialSplit {
  const complete: FrozenTrial[] = [];
  // Pruned and infeasible trials with their sort keys (computed once each).
  const pruned: [FrozenTrial, [number, number]][] = [];
  const running: FrozenTrial[] = [];
  const infeasible: [FrozenTrial, number][] = [];
  for (const t of trials) {
    if (t.state === TrialState.RUNNING) {
      running.push(t);
      continue;
    }
    const violation = infeasibleScore(t);
    if (violation > 0) infeasible.push([t, violation]);
    else if (t.state === TrialState.COMPLETE) complete.push(t);
    else if (t.state === TrialState.PRUNED) pruned.push([t, prunedScore(t, direction)]);
    else throw new Error(`splitTrials: unexpected state ${t.state} of trial ${t.number}`);
  }
  const sortedComplete = sortByValue(complete, direction);
  let n = Math.min(nBelow, sortedComplete.length);
  const below = sortedComplete.slice(0, n);
  const above = sortedComplete.slice(n);
  let rest = Math.max(0, nBelow - n);

  const sortedPruned = pruned.sort(([, a], [, b]) => cmp(a[0], b[0]) || cmp(a[1], b[1])).map(([t]) => t);
  n = Math.min(rest, sortedPruned.length);
  below.push(...sortedPruned.slice(0, n));
  above.push(...sortedPruned.slice(n));
  rest = Math.max(0, rest - n);

  const sortedInfeasible = infeasible.sort(([, a], [, b]) => cmp(a, b)).map(([t]) => t);
  n = Math.min(rest, sortedInfeasible.length);
  below.push(...sortedInfeasible.slice(0, n));
  above.push(...sortedInfeasible.slice(n), ...running);
  if (strictlyIncreasingNumbers(trials)) {
    // Trial numbers are unique, so sorting by number gives the input's order: filter it.
    const isBelow = new Set(below);
    return { below: trials.filter((t) => isBelow.has(t)), above: trials.filter((t) => !isBelow.has(t)) };
  }
  below.sort((a, b) => a.number - b.number);
  above.sort((a, b) => a.number - b.number);
  return { below, above };
}

function strictlyIncreasingNumbers(trials: readonly FrozenTrial[]): boolean {
  for (let i = 1; i < trials.length; i++) if (!(trials[i - 1]!.number < trials[i]!.number)) return false;
  return true;
}

/**
 * COMPLETE trials from the best value to the worst, ties in input order (Python's stable
 * `sorted`): ascending when minimizing, NaN last; descending when maximizing, NaN first (where
 * the comparator puts them). By a stable argsort of the values (negated when maximizing).
 */
function sortByValue(complete: readonly FrozenTrial[], direction: StudyDirection): FrozenTrial[] {
  const m = complete.length;
  const keys = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const v = complete[i]!.values?.[0] ?? NaN;
    keys[i] = direction === 'minimize' ? v : -v;
  }
  const order = stableArgsort(keys); // ascending, NaN last, ties by index
  const out: FrozenTrial[] = new Array<FrozenTrial>(m);
  let nans = 0;
  while (nans < m && Number.isNaN(keys[order[m - 1 - nans]!]!)) nans++;
  // Maximizing, the comparator puts NaN first (in input order): the NaN block moves ahead.
  const first = direction === 'minimize' ? 0 : nans;
  for (let r = 0; r < m; r++) out[(r + first) % m] = complete[order[r]!]!;
  return out;
}

/**
 * Tree-structured Parzen Estimator sampling (Optuna's `TPESampler`), for single-objective
 * studies. Before `nStartupTrials` trials have finished (COMPLETE or PRUNED) it samples at
 * random; then each suggestion maximizes log l(x) − log g(x) over `nEiCandidates` draws from
 * l(x), where l and g are Parzen estimators of the good and the other trials' parameters.
 *
 * Univariate (the default here) samples each parameter on its own, from the trials that have
 * it. With `multivariate`, the parameters every finished trial has (the intersection search
 * space) are sampled jointly at the start of a trial, and others one by one as above; with
 * `group` too, each group of parameters that occur together is sampled jointly.
 *
 * With a seed, the random streams are NumPy's `RandomState(seed)` streams, consumed in
 * Optuna's order: given the same trials, suggestions equal Optuna's.
 * @group Samplers
 */
export class TPESampler implements Sampler {
  private readonly rng: Rng;
  private readonly randomSampler: RandomSampler;
  private readonly parzenParameters: ParzenEstimatorParameters;
  private readonly nStartupTrials: number;
  private readonly nEiCandidates: number;
  private readonly gamma: (n: number) => number;
  private readonly multivariate: boolean;
  private readonly group: boolean;
  private readonly constantLiar: boolean;
  private searchSpaceGroup: SearchSpaceGroup | null = null;
  /** The intersection search space of each study this sampler has seen, kept up to date incrementally. */
  private readonly intersections = new WeakMap<StudyView, IntersectionSearchSpace>();
  private readonly groupSpaces = new WeakMap<StudyView, GroupDecomposedSearchSpace>();
  /** Relative params this sampler chose for still-running trials (by trial id), external values. */
  private readonly relativeParams = new Map<number, { params: Record<string, ParamValue>; floats: Set<string> }>();

  /**
   * @param options See {@link TPESamplerOptions}.
   * @throws TypeError or RangeError naming a bad option and the received value.
   */
  constructor(options: TPESamplerOptions = {}) {
    const where = 'TPESampler';
    checkOptions(where, options, OPTION_NAMES, UNSUPPORTED);
    const o = options as Record<string, unknown>;
    boolOption(where, 'considerPrior', o.considerPrior, true);
    const priorWeight = o.priorWeight ?? 1.0;
    if (typeof priorWeight !== 'number') throw new TypeError(`${where}: expected priorWeight to be a finite number >= 0, received ${describe(priorWeight)}`);
    if (!Number.isFinite(priorWeight) || priorWeight < 0) throw new RangeError(`${where}: expected priorWeight to be a finite number >= 0, received ${describe(priorWeight)}`);
    const considerMagicClip = boolOption(where, 'considerMagicClip', o.considerMagicClip, true);
    const considerEndpoints = boolOption(where, 'considerEndpoints', o.considerEndpoints, false);
    this.nStartupTrials = intOption(where, 'nStartupTrials', o.nStartupTrials, 10, 0);
    this.nEiCandidates = intOption(where, 'nEiCandidates', o.nEiCandidates, 24, 1);
    const gamma = fnOption<(n: number) => number>(where, 'gamma', o.gamma);
    const weights = fnOption<(n: number) => ArrayLike<number>>(where, 'weights', o.weights);
    const seed = checkSeed(where, o.seed);
    const group = boolOption(where, 'group', o.group, false);
    if (group && o.multivariate === false) throw new RangeError(`${where}: group can only be enabled with multivariate (received multivariate false, group true)`);
    this.multivariate = boolOption(where, 'multivariate', o.multivariate, true);
    this.group = group;
    boolOption(where, 'warnIndependentSampling', o.warnIndependentSampling, false);
    this.constantLiar = boolOption(where, 'constantLiar', o.constantLiar, true);
    this.gamma = gamma ?? defaultGamma;
    this.parzenParameters = { priorWeight, considerMagicClip, considerEndpoints, weights: weights ?? defaultWeights };
    // Optuna seeds two NumPy streams with the same seed: TPE's own and its RandomSampler's.
    this.rng = new Rng(seed);
    this.randomSampler = new RandomSampler({ seed });
  }

  /** Restarts both random streams from the OS's random source (Optuna's `reseed_rng`). */
  reseedRng(): void {
    this.rng.reseed();
    this.randomSampler.reseedRng();
  }

  /** The value of a single-valued distribution (the Study never asks for those; Optuna neither). */
  private static singleValue(d: Distribution): number {
    return d.type === 'categorical' ? 0 : d.low;
  }

  private checkStudy(study: StudyView): void {
    if (study.directions.length > 1) {
      throw new Error(`TPESampler: multi-objective studies are not supported yet (this study has ${study.directions.length} directions); use RandomSampler`);
    }
  }

  /**
   * The parameters to sample jointly: `{}` unless `multivariate`; then the intersection search
   * space of the COMPLETE and PRUNED trials (or, with `group`, the union of the groups),
   * without single-valued distributions, sorted by name.
   */
  inferRelativeSearchSpace(study: StudyView, _trial: FrozenTrial): Record<string, Distribution> {
    this.checkStudy(study);
    if (!this.multivariate) return {};
    const out: Record<string, Distribution> = {};
    if (this.group) {
      for (const sub of this.inferGroups(study).searchSpaces) {
        for (const name of sortedNames(sub.keys())) {
          const d = sub.get(name)!;
          if (!isSingle(d)) out[name] = d;
        }
      }
      return out;
    }
    let intersection = this.intersections.get(study);
    if (intersection === undefined) {
      intersection = new IntersectionSearchSpace(true);
      this.intersections.set(study, intersection);
    }
    for (const [name, d] of Object.entries(intersection.calculate(study.getTrials()))) if (!isSingle(d)) out[name] = d;
    return out;
  }

  /** The study's parameter groups, refined with its finished trials (kept per study, as Optuna keeps them). */
  private inferGroups(study: StudyView): SearchSpaceGroup {
    let groups = this.groupSpaces.get(study);
    if (groups === undefined) {
      groups = new GroupDecomposedSearchSpace(true);
      this.groupSpaces.set(study, groups);
    }
    this.searchSpaceGroup = groups.calculate(study.getTrials([TrialState.COMPLETE, TrialState.PRUNED]));
    return this.searchSpaceGroup;
  }

  /**
   * Joint values for `searchSpace` (internal representation): `{}` during start-up or when the
   * space is empty; with `group`, each group is sampled jointly in turn.
   */
  sampleRelative(study: StudyView, trial: FrozenTrial, searchSpace: Record<string, Distribution>): Record<string, number> {
    this.checkStudy(study);
    let params: Record<string, number> = {};
    if (this.group) {
      // Optuna samples with the groups its inferRelativeSearchSpace just computed.
      const groups = this.searchSpaceGroup ?? this.inferGroups(study);
      for (const sub of groups.searchSpaces) {
        const space: [string, Distribution][] = [];
        for (const name of sortedNames(sub.keys())) {
          const d = sub.get(name)!;
          if (isSingle(d) || !Object.prototype.hasOwnProperty.call(searchSpace, name)) continue;
          space.push([name, d]);
        }
        Object.assign(params, this.sampleRelativeSpace(study, trial, space));
      }
    } else {
      // Single-valued distributions are never sampled jointly (inferRelativeSearchSpace drops them).
      const names = sortedNames(Object.keys(searchSpace)).filter((name) => !isSingle(searchSpace[name]!));
      params = this.sampleRelativeSpace(study, trial, names.map((name) => [name, searchSpace[name]!]));
    }
    if (this.constantLiar && Object.keys(params).length > 0) {
      // Optuna shares these with other workers through the trial's system attributes; see
      // relativeParamsSystemAttrs. Within this process they are remembered here.
      const external: Record<string, ParamValue> = {};
      const floats = new Set<string>();
      // Every sampled name is in searchSpace (the group path samples only those).
      for (const [name, v] of Object.entries(params)) {
        const d = searchSpace[name]!;
        external[name] = d.type === 'categorical' ? (d.choices[v] ?? null) : v;
        if (d.type === 'float') floats.add(name);
      }
      this.relativeParams.set(trial.trialId, { params: external, floats });
    }
    return params;
  }

  /**
   * The system attributes Optuna's TPESampler writes after relative sampling with constant
   * liar (`tpe:relative_params:0`, `:1`, …: the relative params as JSON in chunks of 2045
   * characters), so that other processes' constant liar sees them. Empty when there are none.
   */
  relativeParamsSystemAttrs(trial: FrozenTrial): Record<string, JsonValue> {
    const entry = this.relativeParams.get(trial.trialId);
    const out: Record<string, JsonValue> = {};
    if (entry === undefined) return out;
    // Python's json.dumps of the dict, float parameters written as floats ("1.0").
    const params = Object.fromEntries(Object.entries(entry.params).map(([k, v]) => [k, typeof v === 'number' && entry.floats.has(k) ? new PyFloat(v) : v]));
    const text = pyJsonDumps(params);
    for (let i = 0; i < text.length; i += SYSTEM_ATTR_MAX_LENGTH) out[`${RELATIVE_PARAMS_KEY}:${i / SYSTEM_ATTR_MAX_LENGTH}`] = text.slice(i, i + SYSTEM_ATTR_MAX_LENGTH);
    return out;
  }

  /** {@link TPESampler.sample} of `space` (no single-valued distributions), or `{}` during start-up or when it is empty. */
  private sampleRelativeSpace(study: StudyView, trial: FrozenTrial, space: [string, Distribution][]): Record<string, number> {
    if (space.length === 0) return {};
    const n = study.getTrials([TrialState.COMPLETE, TrialState.PRUNED]).length;
    if (n < this.nStartupTrials) return {};
    return this.sample(study, trial, space);
  }

  /**
   * A value for one parameter (internal representation): random during start-up, otherwise
   * univariate TPE over the trials that have this parameter.
   */
  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): number {
    this.checkStudy(study);
    if (isSingle(distribution)) return TPESampler.singleValue(distribution);
    const n = study.getTrials([TrialState.COMPLETE, TrialState.PRUNED]).length;
    if (n < this.nStartupTrials) return this.randomSampler.sampleIndependent(study, trial, name, distribution);
    return this.sample(study, trial, [[name, distribution]])[name]!;
  }

  /** Forgets what was remembered for the trial (its relative params). */
  afterTrial(_study: StudyView, trial: FrozenTrial, _state: TrialState, _values: readonly number[] | null): void {
    this.relativeParams.delete(trial.trialId);
  }

  /**
   * A trial's params as TPE sees them (`_get_params`): for a RUNNING trial in multivariate
   * mode, its relative params (from Optuna's system attributes, or remembered by this sampler)
   * completed by the params it has suggested so far.
   */
  private paramsOf(trial: FrozenTrial): Readonly<Record<string, ParamValue>> {
    if (trial.state !== TrialState.RUNNING && trial.state !== TrialState.WAITING) return trial.params;
    if (!this.multivariate) return trial.params;
    const chunks: string[] = [];
    for (let i = 0; ; i++) {
      const chunk = trial.systemAttrs[`${RELATIVE_PARAMS_KEY}:${i}`];
      if (typeof chunk !== 'string' || chunk === '') break;
      chunks.push(chunk);
    }
    let relative: Record<string, ParamValue> | undefined;
    if (chunks.length > 0) {
      try {
        const parsed = JSON.parse(chunks.join('')) as unknown;
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) relative = parsed as Record<string, ParamValue>;
      } catch {
        // Optuna: an incomplete JSON (a race between workers) falls back to trial.params.
        return trial.params;
      }
    }
    relative ??= this.relativeParams.get(trial.trialId)?.params;
    if (relative === undefined) return trial.params;
    return { ...relative, ...trial.params };
  }

  /**
   * The observations of `space` in `trials` (`_get_internal_repr`): one value per parameter
   * per trial that has all of them, in internal representation under the current distribution.
   */
  private internalRepr(trials: readonly FrozenTrial[], space: readonly [string, Distribution][]): Record<string, number[]> {
    const P = space.length;
    const columns: number[][] = [];
    for (let p = 0; p < P; p++) columns.push([]);
    const has = Object.prototype.hasOwnProperty;
    for (const t of trials) {
      const params = this.paramsOf(t);
      let all = true;
      for (let p = 0; p < P && all; p++) all = has.call(params, space[p]![0]);
      if (!all) continue;
      for (let p = 0; p < P; p++) {
        const [name, d] = space[p]!;
        const v = params[name]!;
        columns[p]!.push(d.type === 'categorical' ? toInternal(d, v) : Number(v));
      }
    }
    const values: Record<string, number[]> = {};
    for (let p = 0; p < P; p++) values[space[p]![0]] = columns[p]!;
    return values;
  }

  /** TPE proper (`_sample`): split, fit l and g, draw candidates from l, keep the best ratio. */
  private sample(study: StudyView, trial: FrozenTrial, space: [string, Distribution][]): Record<string, number> {
    let trials: readonly FrozenTrial[];
    if (this.constantLiar) {
      trials = study.getTrials([TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING]).filter((t) => t.number !== trial.number);
    } else {
      trials = study.getTrials([TrialState.COMPLETE, TrialState.PRUNED]);
    }
    // Running trials do not count towards gamma (optuna/optuna#4073).
    const n = trials.filter((t) => t.state !== TrialState.RUNNING).length;
    const nBelow = this.gamma(n);
    if (typeof nBelow !== 'number' || !Number.isInteger(nBelow) || nBelow < 0) {
      throw new RangeError(`TPESampler: the gamma function must return an integer >= 0, received ${describe(nBelow)} for n = ${n}`);
    }
    const { below, above } = splitTrials(study.direction, trials, nBelow);
    const mpeBelow = new ParzenEstimator(this.internalRepr(below, space), space, this.parzenParameters);
    const mpeAbove = new ParzenEstimator(this.internalRepr(above, space), space, this.parzenParameters);
    const samples = mpeBelow.sample(this.rng, this.nEiCandidates);
    const logL = mpeBelow.logPdf(samples);
    const logG = mpeAbove.logPdf(samples);
    // np.argmax: the first maximum (or the first NaN, which NumPy treats as the maximum).
    let best = 0;
    let bestValue = logL[0]! - logG[0]!;
    for (let i = 1; i < this.nEiCandidates && !Number.isNaN(bestValue); i++) {
      const v = logL[i]! - logG[i]!;
      if (v > bestValue || Number.isNaN(v)) {
        best = i;
        bestValue = v;
      }
    }
    const out: Record<string, number> = {};
    for (const [name, d] of space) {
      const v = samples[name]![best]!;
      // Optuna converts to the external value and back: int(x) for ints and choice indices.
      out[name] = d.type === 'float' ? v : Math.trunc(v);
    }
    return out;
  }
}
