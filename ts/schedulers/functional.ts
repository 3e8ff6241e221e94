/**
 * Pure learning-rate schedules: functions `step → lr`, usable without any optimizer (Optax's
 * `schedules`). Each factory checks its options once and returns a {@link Schedule}; the
 * schedule checks its argument (a finite number ≥ 0).
 *
 * The PyTorch-shaped ones (`step`, `multistep`, `cosineAnnealing`, `oneCycle`, `cyclic`) are
 * PyTorch's closed forms with its arithmetic, operation for operation; the Optax-shaped ones
 * (`linear`, `polynomial`, `exponential`, `cosineDecay`, `warmupCosine`, `joinSchedules`) clamp
 * at their ends as Optax does.
 *
 * Use one with an optimizer through {@link LambdaLR}:
 * `new LambdaLR(optimizer, { lrLambda: (e) => schedule(e) / baseLr })`, or set `lr` yourself.
 * @module
 */
import { describeValue, checkNumber } from '../validate.js';
import { SCHEDULER_DEFAULTS } from './defaults.js';
import {
  anneal,
  bisectRight,
  bool,
  builtinScale,
  callFactor,
  cyclicPosition,
  CYCLIC_MODE_ALIASES,
  CYCLIC_MODES,
  num,
  numbers,
  oneCyclePhaseAt,
  oneCyclePhases,
  oneCycleTooFar,
  oneOf,
  readOptions,
  type AnnealStrategy,
  type CyclicMode,
  type ScaleMode,
} from './internal.js';

/** A learning-rate schedule: the lr at a step (0, 1, 2, …; fractional steps are allowed). */
export type Schedule = (step: number) => number;

function schedule(label: string, f: (s: number) => number): Schedule {
  return (s: number) => {
    if (typeof s !== 'number' || !(s >= 0) || s === Infinity) checkNumber(label, 'step', s, { min: 0 });
    return f(s);
  };
}

/**
 * A constant schedule.
 * @example `constant(1e-3)(500) === 1e-3`
 * @throws TypeError or RangeError for a value that is not a finite number.
 */
export function constant(value: number): Schedule {
  const v = checkNumber('constant', 'value', value);
  return schedule('constant', () => v);
}

/** Options of {@link polynomial}. */
export interface PolynomialScheduleOptions {
  /** The value at step `transitionBegin` and before. Required. */
  initLr: number;
  /** The value at `transitionBegin + transitionSteps` and after. @defaultValue 0 */
  endLr?: number;
  /** The power of the polynomial (> 0). @defaultValue 1 */
  power?: number;
  /** Length of the transition (≥ 0; 0 gives a constant initLr, as Optax). Required. */
  transitionSteps: number;
  /** Steps before the transition starts (≥ 0). @defaultValue 0 */
  transitionBegin?: number;
}

/**
 * Polynomial transition from `initLr` to `endLr`, clamped at both ends (Optax `polynomial_schedule`).
 *
 * @remarks
 * ```text
 * c = clip(step − transitionBegin, 0, transitionSteps)
 * lr = (initLr − endLr)·(1 − c/transitionSteps)^power + endLr
 * ```
 * With endLr 0 and transitionSteps = totalIters it is PyTorch's PolynomialLR closed form. The
 * value is exactly initLr up to transitionBegin and exactly endLr from the end of the transition.
 * @example
 * ```ts
 * const s = polynomial({ initLr: 0.1, endLr: 0.001, power: 2, transitionSteps: 1000 });
 * ```
 * @throws TypeError or RangeError for a bad option.
 */
export function polynomial(options: PolynomialScheduleOptions): Schedule {
  return polynomialIn('polynomial', options, true);
}

function polynomialIn(L: string, options: unknown, withPower: boolean): Schedule {
  const keys = ['initLr', 'endLr', 'transitionSteps', 'transitionBegin'];
  const o = readOptions(L, options, withPower ? [...keys, 'power'] : keys);
  const init = num(L, 'initLr', o.initLr, undefined);
  const end = num(L, 'endLr', o.endLr, withPower ? 0 : undefined);
  const power = withPower ? num(L, 'power', o.power, 1, { above: 0 }) : 1;
  const steps = num(L, 'transitionSteps', o.transitionSteps, undefined, { min: 0 });
  const begin = num(L, 'transitionBegin', o.transitionBegin, 0, { min: 0 });
  if (steps === 0) return schedule(L, () => init);
  return schedule(L, (s) => {
    const c = Math.min(Math.max(s - begin, 0), steps);
    // (init − end)·1 + end may miss init by an ulp; both ends are exact this way.
    if (c === 0) return init;
    const frac = 1 - c / steps;
    return (init - end) * (power === 1 ? frac : frac ** power) + end;
  });
}

/** Options of {@link linear}. */
export type LinearScheduleOptions = Omit<PolynomialScheduleOptions, 'power' | 'endLr'> & {
  /** The value at `transitionBegin + transitionSteps` and after. Required. */
  endLr: number;
};

/**
 * Linear transition from `initLr` to `endLr` over `transitionSteps`, clamped at both ends
 * (Optax `linear_schedule`); a linear warmup or decay.
 *
 * @remarks
 * ```text
 * lr = (initLr − endLr)·(1 − clip(step − transitionBegin, 0, transitionSteps)/transitionSteps) + endLr
 * ```
 * @example
 * ```ts
 * const warmup = linear({ initLr: 0, endLr: 3e-4, transitionSteps: 500 });
 * ```
 * @throws TypeError or RangeError for a bad option.
 */
export function linear(options: LinearScheduleOptions): Schedule {
  return polynomialIn('linear', options, false);
}

/** Options of {@link exponential}. */
export interface ExponentialScheduleOptions {
  /** The value at step `transitionBegin` and before. Required. */
  initLr: number;
  /** The decay rate per `transitionSteps` (> 0). Required. */
  gamma: number;
  /** Steps per factor of gamma (> 0). @defaultValue 1 */
  transitionSteps?: number;
  /** Steps before the decay starts (≥ 0). @defaultValue 0 */
  transitionBegin?: number;
  /** Decay in whole multiples of gamma (⌊·⌋ of the exponent). @defaultValue false */
  staircase?: boolean;
  /** A bound the value does not pass (a floor when gamma < 1, a ceiling when gamma > 1). */
  endLr?: number;
}

/**
 * Exponential decay (Optax `exponential_decay`).
 *
 * @remarks
 * ```text
 * p = (step − transitionBegin)/transitionSteps   (⌊p⌋ with staircase)
 * lr = initLr                 if step ≤ transitionBegin
 *    = initLr·gamma^p         otherwise, then bounded by endLr
 * ```
 * With the defaults it is PyTorch's ExponentialLR closed form, `initLr·gamma^step`.
 * @example
 * ```ts
 * const s = exponential({ initLr: 0.1, gamma: 0.5, transitionSteps: 1000, staircase: true });
 * ```
 * @throws TypeError or RangeError for a bad option.
 */
export function exponential(options: ExponentialScheduleOptions): Schedule {
  const L = 'exponential';
  const o = readOptions(L, options, ['initLr', 'gamma', 'transitionSteps', 'transitionBegin', 'staircase', 'endLr']);
  const init = num(L, 'initLr', o.initLr, undefined);
  const gamma = num(L, 'gamma', o.gamma, undefined, { above: 0 });
  const steps = num(L, 'transitionSteps', o.transitionSteps, 1, { above: 0 });
  const begin = num(L, 'transitionBegin', o.transitionBegin, 0, { min: 0 });
  const staircase = bool(L, 'staircase', o.staircase, false);
  const end = o.endLr === undefined ? undefined : num(L, 'endLr', o.endLr, undefined);
  return schedule(L, (s) => {
    const d = s - begin;
    if (d <= 0) return init;
    let p = d / steps;
    if (staircase) p = Math.floor(p);
    const v = init * gamma ** p;
    if (end === undefined) return v;
    return gamma < 1 ? Math.max(v, end) : Math.min(v, end);
  });
}

/** Options of {@link step}. */
export interface StepScheduleOptions {
  /** The lr at step 0. Required. */
  baseLr: number;
  /** Period of the decay (an integer ≥ 1). Required. */
  stepSize: number;
  /** Multiplicative factor of the decay (> 0). @defaultValue 0.1 */
  gamma?: number;
}

/**
 * Step decay: PyTorch's StepLR closed form.
 *
 * @remarks
 * ```text
 * lr = baseLr·gamma^⌊step/stepSize⌋
 * ```
 * @example
 * ```ts
 * const s = step({ baseLr: 0.1, stepSize: 30 }); // 0.1 for 0–29, 0.01 for 30–59, …
 * ```
 * @throws TypeError or RangeError for a bad option.
 */
export function step(options: StepScheduleOptions): Schedule {
  const L = 'step';
  const o = readOptions(L, options, ['baseLr', 'stepSize', 'gamma']);
  const base = num(L, 'baseLr', o.baseLr, undefined);
  const size = num(L, 'stepSize', o.stepSize, undefined, { integer: true, min: 1 });
  const gamma = num(L, 'gamma', o.gamma, SCHEDULER_DEFAULTS.StepLR.gamma, { above: 0 });
  return schedule(L, (s) => base * gamma ** Math.floor(s / size));
}

/** Options of {@link multistep}. */
export interface MultistepScheduleOptions {
  /** The lr at step 0. Required. */
  baseLr: number;
  /** Steps (≥ 0) at which the lr is multiplied by gamma. Required. */
  milestones: readonly number[];
  /** Multiplicative factor of the decay (> 0). @defaultValue 0.1 */
  gamma?: number;
}

/**
 * Decay at milestones: PyTorch's MultiStepLR closed form.
 *
 * @remarks
 * ```text
 * lr = baseLr·gamma^(number of milestones ≤ step)
 * ```
 * @example
 * ```ts
 * const s = multistep({ baseLr: 0.1, milestones: [30, 80] });
 * ```
 * @throws TypeError or RangeError for a bad option.
 */
export function multistep(options: MultistepScheduleOptions): Schedule {
  const L = 'multistep';
  const o = readOptions(L, options, ['baseLr', 'milestones', 'gamma']);
  const base = num(L, 'baseLr', o.baseLr, undefined);
  const milestones = numbers(L, 'milestones', o.milestones, { min: 0 }).sort((a, b) => a - b);
  const gamma = num(L, 'gamma', o.gamma, SCHEDULER_DEFAULTS.MultiStepLR.gamma, { above: 0 });
  return schedule(L, (s) => base * gamma ** bisectRight(milestones, s));
}

/** Options of {@link cosineDecay}. */
export interface CosineDecayScheduleOptions {
  /** The value at step 0. Required. */
  initLr: number;
  /** Steps of the decay (> 0); the value stays at endLr afterwards. Required. */
  decaySteps: number;
  /** The final value. @defaultValue 0 */
  endLr?: number;
  /** Power applied to the cosine factor (> 0). @defaultValue 1 */
  exponent?: number;
}

/**
 * Cosine decay from `initLr` to `endLr` over `decaySteps`, then constant (Optax
 * `cosine_decay_schedule`, with `endLr = alpha·initLr`).
 *
 * @remarks
 * ```text
 * c = min(step, decaySteps)
 * lr = endLr + (initLr − endLr)·((1 + cos(π·c/decaySteps))/2)^exponent
 * ```
 * Optax computes `init·((1 − α)·cos_part^exponent + α)`; the two agree up to rounding.
 * Unlike PyTorch's CosineAnnealingLR (and {@link cosineAnnealing}), the value does not rise after
 * decaySteps.
 * @example
 * ```ts
 * const s = cosineDecay({ initLr: 3e-4, decaySteps: 10_000, endLr: 3e-5 });
 * ```
 * @throws TypeError or RangeError for a bad option.
 */
export function cosineDecay(options: CosineDecayScheduleOptions): Schedule {
  const L = 'cosineDecay';
  const o = readOptions(L, options, ['initLr', 'decaySteps', 'endLr', 'exponent']);
  const init = num(L, 'initLr', o.initLr, undefined);
  const steps = num(L, 'decaySteps', o.decaySteps, undefined, { above: 0 });
  const end = num(L, 'endLr', o.endLr, 0);
  const exponent = num(L, 'exponent', o.exponent, 1, { above: 0 });
  return schedule(L, (s) => {
    const pct = Math.min(s, steps) / steps;
    // Same operations as PyTorch's OneCycle cosine annealing, so the two agree bit for bit.
    if (exponent === 1) return anneal('cos', init, end, pct);
    return end + (init - end) * ((Math.cos(Math.PI * pct) + 1) / 2) ** exponent;
  });
}

/** Options of {@link cosineAnnealing}. */
export interface CosineAnnealingScheduleOptions {
  /** The lr at step 0 (PyTorch's base lr). Required. */
  baseLr: number;
  /** Half-period of the cosine (> 0). Required. */
  tMax: number;
  /** The minimum lr. @defaultValue 0 */
  etaMin?: number;
}

/**
 * PyTorch's CosineAnnealingLR closed form: not clamped, so the value rises again after tMax.
 *
 * @remarks
 * ```text
 * lr = etaMin + (baseLr − etaMin)·(1 + cos(π·step/tMax))/2
 * ```
 * The CosineAnnealingLR class follows PyTorch's recursive form, which differs from this by a few ulps.
 * @example
 * ```ts
 * const s = cosineAnnealing({ baseLr: 0.1, tMax: 100, etaMin: 1e-4 });
 * ```
 * @throws TypeError or RangeError for a bad option.
 */
export function cosineAnnealing(options: CosineAnnealingScheduleOptions): Schedule {
  const L = 'cosineAnnealing';
  const o = readOptions(L, options, ['baseLr', 'tMax', 'etaMin']);
  const base = num(L, 'baseLr', o.baseLr, undefined);
  const tMax = num(L, 'tMax', o.tMax, undefined, { above: 0 });
  const etaMin = num(L, 'etaMin', o.etaMin, SCHEDULER_DEFAULTS.CosineAnnealingLR.etaMin);
  return schedule(L, (s) => etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * s) / tMax))) / 2);
}

/** Options of {@link oneCycle}. */
export interface OneCycleScheduleOptions {
  /** The peak lr. Required. */
  maxLr: number;
  /** Steps in the cycle (an integer ≥ 1). Required. */
  totalSteps: number;
  /** Fraction of the cycle spent rising, in [0, 1]. @defaultValue 0.3 */
  pctStart?: number;
  /** `'cos'` or `'linear'`. @defaultValue 'cos' */
  annealStrategy?: AnnealStrategy;
  /** The starting lr is maxLr/divFactor (> 0). @defaultValue 25 */
  divFactor?: number;
  /** The final lr is maxLr/divFactor/finalDivFactor (> 0). @defaultValue 1e4 */
  finalDivFactor?: number;
  /** Three phases (up, down to the start, down to the minimum). @defaultValue false */
  threePhase?: boolean;
}

/**
 * The 1cycle lr policy: PyTorch's OneCycleLR lr (without momentum), same arithmetic.
 *
 * @remarks
 * ```text
 * initial = maxLr/divFactor, min = initial/finalDivFactor, N = totalSteps, p = pctStart
 * two phases:   initial → maxLr over [0, p·N − 1], maxLr → min over [p·N − 1, N − 1]
 * three phases: initial → maxLr → initial → min, at p·N − 1, 2p·N − 2, N − 1
 * cos: end + (start − end)/2·(1 + cos(π·q));  linear: (end − start)·q + start   (q: fraction of the phase)
 * ```
 * Two-phase cos is Optax's `cosine_onecycle_schedule` shifted by one step (PyTorch ends its
 * phases at `p·N − 1` and `N − 1`). Like the class, steps up to `totalSteps` are accepted; the
 * value at `totalSteps` extrapolates the last phase one step (with 'linear' it is below 0). As in
 * the class, a phase of no length (p·N = 1, or p = 1 at `totalSteps`) counts as done where
 * PyTorch divides by zero.
 * @example
 * ```ts
 * const s = oneCycle({ maxLr: 0.01, totalSteps: 1000 });
 * ```
 * @throws TypeError or RangeError for a bad option; the schedule throws RangeError past totalSteps.
 */
export function oneCycle(options: OneCycleScheduleOptions): Schedule {
  const L = 'oneCycle';
  const d = SCHEDULER_DEFAULTS.OneCycleLR;
  const o = readOptions(L, options, ['maxLr', 'totalSteps', 'pctStart', 'annealStrategy', 'divFactor', 'finalDivFactor', 'threePhase']);
  const maxLr = num(L, 'maxLr', o.maxLr, undefined, { min: 0 });
  const totalSteps = num(L, 'totalSteps', o.totalSteps, undefined, { integer: true, min: 1 });
  const pctStart = num(L, 'pctStart', o.pctStart, d.pctStart, { min: 0, max: 1 });
  const strategy = oneOf<AnnealStrategy>(L, 'annealStrategy', o.annealStrategy, ['cos', 'linear'], d.annealStrategy);
  const divFactor = num(L, 'divFactor', o.divFactor, d.divFactor, { above: 0 });
  const finalDivFactor = num(L, 'finalDivFactor', o.finalDivFactor, d.finalDivFactor, { above: 0 });
  const threePhase = bool(L, 'threePhase', o.threePhase, d.threePhase);
  const initial = maxLr / divFactor;
  const levels = { initial, max: maxLr, min: initial / finalDivFactor };
  const phases = oneCyclePhases(totalSteps, pctStart, threePhase);
  return schedule(L, (s) => {
    if (s > totalSteps) throw oneCycleTooFar(L, s, totalSteps);
    const { phase, pct } = oneCyclePhaseAt(phases, s);
    return anneal(strategy, levels[phase.startLr], levels[phase.endLr], pct);
  });
}

/** Options of {@link cyclic}. */
export interface CyclicScheduleOptions {
  /** Lower bound. Required. */
  baseLr: number;
  /** Upper bound. Required. */
  maxLr: number;
  /** Steps rising (> 0). @defaultValue 2000 */
  stepSizeUp?: number;
  /** Steps falling (> 0). @defaultValue stepSizeUp */
  stepSizeDown?: number;
  /** `'triangular'`, `'triangular2'` or `'expRange'`. @defaultValue 'triangular' */
  mode?: CyclicMode | 'exp_range';
  /** The base of `'expRange'` scaling (> 0). @defaultValue 1 */
  gamma?: number;
  /** A custom amplitude scale in [0, 1]; replaces mode. */
  scaleFn?: (x: number) => number;
  /** What scaleFn receives: the cycle number or the step. @defaultValue 'cycle' */
  scaleMode?: ScaleMode;
}

/**
 * Cyclical learning rates: PyTorch's CyclicLR lr (without momentum), same arithmetic.
 *
 * @remarks
 * ```text
 * S = up + down, r = up/S, cycle = ⌊1 + step/S⌋, x = 1 + step/S − cycle
 * f = x/r if x ≤ r else (x − 1)/(r − 1)
 * lr = baseLr + (maxLr − baseLr)·f·scale   (triangular 1; triangular2 1/2^(cycle−1); expRange gamma^step)
 * ```
 * @example
 * ```ts
 * const s = cyclic({ baseLr: 0.001, maxLr: 0.006, stepSizeUp: 2000, mode: 'triangular2' });
 * ```
 * @throws TypeError or RangeError for a bad option.
 */
export function cyclic(options: CyclicScheduleOptions): Schedule {
  const L = 'cyclic';
  const d = SCHEDULER_DEFAULTS.CyclicLR;
  const o = readOptions(L, options, ['baseLr', 'maxLr', 'stepSizeUp', 'stepSizeDown', 'mode', 'gamma', 'scaleFn', 'scaleMode']);
  const base = num(L, 'baseLr', o.baseLr, undefined);
  const max = num(L, 'maxLr', o.maxLr, undefined);
  const up = num(L, 'stepSizeUp', o.stepSizeUp, d.stepSizeUp, { above: 0 });
  const down = num(L, 'stepSizeDown', o.stepSizeDown, up, { above: 0 });
  const mode = oneOf(L, 'mode', o.mode, CYCLIC_MODES, d.mode, CYCLIC_MODE_ALIASES);
  const gamma = num(L, 'gamma', o.gamma, d.gamma, { above: 0 });
  if (o.scaleFn !== undefined && typeof o.scaleFn !== 'function') {
    throw new TypeError(`${L}: expected scaleFn to be a function, received ${describeValue(o.scaleFn)}`);
  }
  const custom = o.scaleFn as ((x: number) => number) | undefined;
  const builtin = builtinScale(mode, gamma);
  const scaleMode = custom ? oneOf<ScaleMode>(L, 'scaleMode', o.scaleMode, ['cycle', 'iterations'], d.scaleMode) : builtin.scaleMode;
  const totalSize = up + down;
  const stepRatio = up / totalSize;
  return schedule(L, (s) => {
    const { cycle, scaleFactor } = cyclicPosition(s, totalSize, stepRatio);
    const x = scaleMode === 'cycle' ? cycle : s;
    const scale = custom ? callFactor(L, 'scaleFn', custom, x) : builtin.fn(x);
    return base + (max - base) * scaleFactor * scale;
  });
}

/**
 * Joins schedules at boundaries (Optax `join_schedules`): schedule i + 1 takes over at
 * `boundaries[i]` and receives `step − boundaries[i]`.
 *
 * @example
 * ```ts
 * const s = joinSchedules([linear({ initLr: 0, endLr: 0.1, transitionSteps: 100 }), constant(0.1)], [100]);
 * ```
 * @throws TypeError or RangeError unless given n functions and n − 1 non-decreasing boundaries ≥ 0.
 */
export function joinSchedules(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  const L = 'joinSchedules';
  if (!Array.isArray(schedules) || schedules.length === 0) {
    throw new TypeError(`${L}: expected schedules to be a non-empty array of functions, received ${describeValue(schedules)}`);
  }
  schedules.forEach((f, i) => {
    if (typeof f !== 'function') throw new TypeError(`${L}: expected schedules[${i}] to be a function, received ${describeValue(f)}`);
  });
  const b = numbers(L, 'boundaries', boundaries, { min: 0 });
  if (b.length !== schedules.length - 1) {
    throw new RangeError(`${L}: expected ${schedules.length - 1} boundaries for ${schedules.length} schedules, received ${b.length}`);
  }
  b.forEach((x, i) => {
    if (i > 0 && x < b[i - 1]!) throw new RangeError(`${L}: expected boundaries to be non-decreasing, received ${describeValue(b)}`);
  });
  const fs = [...schedules];
  return schedule(L, (s) => {
    const i = bisectRight(b, s);
    return fs[i]!(i === 0 ? s : s - b[i - 1]!);
  });
}

/** Options of {@link warmupCosine}. */
export interface WarmupCosineOptions {
  /** The lr at the end of the warmup. Required. */
  peakLr: number;
  /** Steps of linear warmup (≥ 0). Required. */
  warmupSteps: number;
  /** Total steps, warmup included (> warmupSteps); the lr stays at endLr afterwards. Required. */
  totalSteps: number;
  /** The lr at step 0. @defaultValue 0 */
  initLr?: number;
  /** The lr at totalSteps. @defaultValue 0 */
  endLr?: number;
  /** Power applied to the cosine factor (> 0). @defaultValue 1 */
  exponent?: number;
}

/**
 * Linear warmup from `initLr` to `peakLr` over `warmupSteps`, then cosine decay to `endLr` at
 * `totalSteps`, then constant: Optax's `warmup_cosine_decay_schedule` in one call.
 *
 * @remarks
 * ```text
 * step ≤ warmupSteps:   lr = initLr + (peakLr − initLr)·step/warmupSteps
 * after:                lr = endLr + (peakLr − endLr)·((1 + cos(π·min(step − warmupSteps, D)/D))/2)^exponent
 *                       with D = totalSteps − warmupSteps (totalSteps includes the warmup)
 * ```
 * The value is exactly initLr at 0, peakLr at warmupSteps and endLr from totalSteps on.
 *
 * @example
 * ```ts
 * const lrAt = warmupCosine({ peakLr: 3e-4, warmupSteps: 500, totalSteps: 10_000, endLr: 3e-5 });
 * const optimizer = new AdamW(params, { lr: 3e-4 });
 * const scheduler = new LambdaLR(optimizer, { lrLambda: (step) => lrAt(step) / 3e-4 });
 * ```
 * @see {@link https://optax.readthedocs.io/en/latest/api/optimizer_schedules.html | Optax schedules}
 * @throws TypeError or RangeError for a bad option, including totalSteps ≤ warmupSteps.
 */
export function warmupCosine(options: WarmupCosineOptions): Schedule {
  const L = 'warmupCosine';
  const o = readOptions(L, options, ['peakLr', 'warmupSteps', 'totalSteps', 'initLr', 'endLr', 'exponent']);
  const peak = num(L, 'peakLr', o.peakLr, undefined);
  const warmup = num(L, 'warmupSteps', o.warmupSteps, undefined, { min: 0 });
  const total = num(L, 'totalSteps', o.totalSteps, undefined, { above: warmup });
  const init = num(L, 'initLr', o.initLr, 0);
  const end = num(L, 'endLr', o.endLr, 0);
  const exponent = num(L, 'exponent', o.exponent, 1, { above: 0 });
  return joinSchedules(
    [
      linear({ initLr: init, endLr: peak, transitionSteps: warmup }),
      cosineDecay({ initLr: peak, decaySteps: total - warmup, endLr: end, exponent }),
    ],
    [warmup],
  );
}
