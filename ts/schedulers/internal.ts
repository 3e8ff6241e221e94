/**
 * Checks and math shared by the scheduler classes and the pure schedules. Not part of the
 * public surface.
 * @module
 */
import { checkKnownKeys, checkNumber, checkOptions, describeValue, type NumberRule } from '../validate.js';

/**
 * A parameter group as schedulers see it: the live `lr`, PyTorch's `initial_lr`, and the
 * momentum (SGD) or betas (Adam family) that cycling schedulers drive.
 * @group Schedulers
 * @category State and optimizer interface
 */
export interface SchedulerParamGroup {
  /** The learning rate the next optimizer step uses; schedulers write it. */
  lr: number;
  /** The group's lr when a scheduler first took it over (PyTorch's `initial_lr`). */
  initialLr?: number;
  /** SGD's and RMSprop's momentum, which CyclicLR and OneCycleLR cycle when the group has it. */
  momentum?: number;
  /** The Adam family's `[beta1, beta2]`; cycling schedulers drive beta1 when the group has no `momentum`. */
  betas?: readonly [number, number];
}

/**
 * Anything whose learning rates a scheduler can drive: every ferroptim optimizer, and wrappers
 * (such as Lookahead) that expose their inner optimizer's groups.
 * @group Schedulers
 * @category State and optimizer interface
 */
export interface SchedulableOptimizer {
  /** The parameter groups whose `lr` (and momentum) the scheduler sets. */
  readonly paramGroups: readonly SchedulerParamGroup[];
  /** False after a step skipped for non-finite gradients (see `Optimizer.skipNonFinite`). */
  readonly lastStepApplied?: boolean;
}

// ---- writing a learning rate --------------------------------------------------------------

/** The smallest positive normal float64, 2^−1022 ≈ 2.2e−308. */
export const MIN_NORMAL = 2 ** -1022;

/**
 * How far below 0 a computed lr may fall, relative to the schedule's scale, and still be taken
 * for rounding residue. Recursive forms accumulate about 3e−16 of the scale per step
 * (CosineAnnealingLR from a base lr of 0 up to etaMin drifts below 0 by 3e−10·etaMin after 10^6
 * steps; LinearLR with endFactor 0 ends near −1e−17·lr at once), so 1e−6 covers runs of 10^9
 * steps and float32 arithmetic in a user's lrLambda; an lr that small moves no parameter.
 */
export const LR_RESIDUE = 1e-6;

/**
 * The lr a scheduler writes for a computed `lr`: a negative rounding residue (−lr ≤
 * LR_RESIDUE·scale, or a negative subnormal) becomes 0; every other value, including every value
 * ≥ 0, NaN and a clearly negative lr, is returned unchanged. `scale` is the schedule's size for
 * the group (see `LRScheduler.lrScale`).
 */
export function settleLr(lr: number, scale: number): number {
  return lr < 0 && -lr <= Math.max(LR_RESIDUE * scale, MIN_NORMAL) ? 0 : lr;
}

/**
 * Checks that a positive factor is not subnormal (0 < v < 2^−1022): the recursive forms divide by
 * it (ConstantLR's `1/f`, LinearLR's `(z − s)/(T·s)`), which overflows to ∞ and makes the lr ∞ or
 * NaN. PyTorch accepts such factors and produces those values.
 */
export function notSubnormal(label: string, name: string, v: number): number {
  if (v > 0 && v < MIN_NORMAL) {
    throw new RangeError(`${label}: expected ${name} to be at least 2^-1022 (a subnormal ${name} makes the lr infinite), received ${describeValue(v)}`);
  }
  return v;
}

/** Checks the optimizer argument; returns its groups. */
export function checkOptimizer(label: string, optimizer: unknown): readonly SchedulerParamGroup[] {
  const groups = (optimizer as { paramGroups?: unknown } | null | undefined)?.paramGroups;
  if (optimizer === null || typeof optimizer !== 'object' || !Array.isArray(groups)) {
    throw new TypeError(`${label}: expected an optimizer (an object with a paramGroups array), received ${describeValue(optimizer)}`);
  }
  if (groups.length === 0) throw new RangeError(`${label}: expected an optimizer with at least one param group, received one with none`);
  groups.forEach((g: unknown, i) => {
    if (g === null || typeof g !== 'object') throw new TypeError(`${label}: expected param group ${i} to be an object, received ${describeValue(g)}`);
    checkNumber(label, `lr (param group ${i})`, (g as SchedulerParamGroup).lr, { min: 0 });
  });
  return groups as SchedulerParamGroup[];
}

/** Checks the options object and its keys; returns it as a record. */
export function readOptions(label: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  const o = checkOptions(label, options);
  checkKnownKeys(label, o, known);
  return o;
}

/** `lastEpoch`: -1 (start from the beginning) or the index of the last step taken. */
export function checkLastEpoch(label: string, v: unknown): number {
  return v === undefined ? -1 : checkNumber(label, 'lastEpoch', v, { integer: true, min: -1 });
}

/** A number option with a default. */
export function num(label: string, name: string, v: unknown, fallback: number | undefined, rule: NumberRule = {}): number {
  return checkNumber(label, name, v === undefined ? fallback : v, rule);
}

/** A boolean option with a default. */
export function bool(label: string, name: string, v: unknown, fallback: boolean): boolean {
  const b = v === undefined ? fallback : v;
  if (typeof b !== 'boolean') throw new TypeError(`${label}: expected ${name} to be a boolean, received ${describeValue(b)}`);
  return b;
}

/** A string option among `values`, with a default; `aliases` map other spellings to a value. */
export function oneOf<T extends string>(label: string, name: string, v: unknown, values: readonly T[], fallback?: T, aliases: Record<string, T> = {}): T {
  const s = v === undefined ? fallback : v;
  if (typeof s === 'string' && Object.hasOwn(aliases, s)) return aliases[s]!;
  if (typeof s !== 'string' || !(values as readonly string[]).includes(s)) {
    const err = typeof s === 'string' ? RangeError : TypeError;
    throw new err(`${label}: expected ${name} to be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, received ${describeValue(s)}`);
  }
  return s as T;
}

/** A number or one number per param group; returns one value per group. */
export function perGroup(label: string, name: string, v: unknown, groups: number, rule: NumberRule = {}, fallback?: number | readonly number[]): number[] {
  const x = v === undefined ? fallback : v;
  if (Array.isArray(x)) {
    if (x.length !== groups) {
      throw new RangeError(`${label}: expected ${name} to be a number or one number per param group (${groups}), received ${x.length} values`);
    }
    return x.map((e, i) => checkNumber(label, `${name}[${i}]`, e, rule));
  }
  if (typeof x !== 'number') {
    throw new TypeError(`${label}: expected ${name} to be a number or an array of ${groups} numbers, received ${describeValue(x)}`);
  }
  return new Array<number>(groups).fill(checkNumber(label, name, x, rule));
}

/** An array of numbers (not per group). */
export function numbers(label: string, name: string, v: unknown, rule: NumberRule = {}): number[] {
  if (!Array.isArray(v)) throw new TypeError(`${label}: expected ${name} to be an array of numbers, received ${describeValue(v)}`);
  return v.map((e, i) => checkNumber(label, `${name}[${i}]`, e, rule));
}

/** Python's `bisect.bisect_right` on a sorted array. */
export function bisectRight(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x < sorted[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// ---- momentum / beta1 -------------------------------------------------------------------

/** Which hyperparameter a cycling scheduler drives: SGD's `momentum` or the Adam family's `betas[0]`. */
export type MomentumTarget = 'momentum' | 'beta1';

/**
 * The range of the momentum bounds a cycling scheduler may write: SGD's momentum is any number
 * ≥ 0, Adam's beta1 is in [0, 1) (what the optimizer checks at every step).
 */
export function momentumRule(target: MomentumTarget): NumberRule {
  return target === 'beta1' ? { min: 0, below: 1 } : { min: 0 };
}

/**
 * Picks the momentum target like PyTorch (`betas` wins over `momentum`), looking at every group.
 * @throws TypeError when the groups have neither.
 */
export function momentumTarget(label: string, groups: readonly SchedulerParamGroup[]): MomentumTarget {
  if (groups.every((g) => Array.isArray(g.betas) && g.betas.length === 2)) return 'beta1';
  if (groups.every((g) => typeof g.momentum === 'number')) return 'momentum';
  throw new TypeError(
    `${label}: cycleMomentum needs an optimizer whose param groups have momentum (SGD) or betas (Adam, AdamW); pass cycleMomentum: false to cycle only the learning rate`,
  );
}

export function getMomentum(g: SchedulerParamGroup, target: MomentumTarget): number {
  return target === 'beta1' ? g.betas![0] : g.momentum!;
}

export function setMomentum(g: SchedulerParamGroup, target: MomentumTarget, value: number): void {
  if (target === 'beta1') g.betas = [value, g.betas![1]] as const;
  else g.momentum = value;
}

// ---- CyclicLR ---------------------------------------------------------------------------

/**
 * {@link CyclicLR}'s amplitude policy: `'triangular'` keeps the amplitude, `'triangular2'` halves
 * it every cycle, `'expRange'` scales it by `gamma ** step`.
 * @group Schedulers
 * @category Options and defaults
 */
export type CyclicMode = 'triangular' | 'triangular2' | 'expRange';
/**
 * What {@link CyclicLR}'s amplitude scale receives: the cycle number (from 1) or the step index.
 * @group Schedulers
 * @category Options and defaults
 */
export type ScaleMode = 'cycle' | 'iterations';
export const CYCLIC_MODES: readonly CyclicMode[] = ['triangular', 'triangular2', 'expRange'];
export const CYCLIC_MODE_ALIASES: Record<string, CyclicMode> = { exp_range: 'expRange' };

/** CyclicLR's position in the cycle at step `e` (PyTorch's arithmetic, operation for operation). */
export function cyclicPosition(e: number, totalSize: number, stepRatio: number): { cycle: number; scaleFactor: number } {
  const cycle = Math.floor(1 + e / totalSize);
  const x = 1.0 + e / totalSize - cycle;
  const scaleFactor = x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1);
  return { cycle, scaleFactor };
}

/** The built-in amplitude scales of CyclicLR and the argument (cycle or step) each one takes. */
export function builtinScale(mode: CyclicMode, gamma: number): { fn: (x: number) => number; scaleMode: ScaleMode } {
  if (mode === 'triangular') return { fn: () => 1.0, scaleMode: 'cycle' };
  if (mode === 'triangular2') return { fn: (x) => 1 / 2.0 ** (x - 1), scaleMode: 'cycle' };
  return { fn: (x) => gamma ** x, scaleMode: 'iterations' };
}

// ---- OneCycleLR -------------------------------------------------------------------------

/**
 * How {@link OneCycleLR} anneals between levels: a half cosine or a straight line.
 * @group Schedulers
 * @category Options and defaults
 */
export type AnnealStrategy = 'cos' | 'linear';
/** Which value a OneCycle phase starts or ends at. */
export type OneCycleLevel = 'initial' | 'max' | 'min';
export interface OneCyclePhase {
  endStep: number;
  startLr: OneCycleLevel;
  endLr: OneCycleLevel;
  /** 'max' | 'base' momentum */
  startMomentum: 'max' | 'base';
  endMomentum: 'max' | 'base';
}

/** PyTorch's OneCycleLR phases, with its float arithmetic (`pct·N − 1`, `2·pct·N − 2`, `N − 1`). */
export function oneCyclePhases(totalSteps: number, pctStart: number, threePhase: boolean): OneCyclePhase[] {
  if (threePhase) {
    return [
      { endStep: pctStart * totalSteps - 1, startLr: 'initial', endLr: 'max', startMomentum: 'max', endMomentum: 'base' },
      { endStep: 2 * pctStart * totalSteps - 2, startLr: 'max', endLr: 'initial', startMomentum: 'base', endMomentum: 'max' },
      { endStep: totalSteps - 1, startLr: 'initial', endLr: 'min', startMomentum: 'max', endMomentum: 'max' },
    ];
  }
  return [
    { endStep: pctStart * totalSteps - 1, startLr: 'initial', endLr: 'max', startMomentum: 'max', endMomentum: 'base' },
    { endStep: totalSteps - 1, startLr: 'max', endLr: 'min', startMomentum: 'base', endMomentum: 'max' },
  ];
}

/** PyTorch's `_annealing_cos` / `_annealing_linear`. */
export function anneal(strategy: AnnealStrategy, start: number, end: number, pct: number): number {
  if (strategy === 'cos') return end + ((start - end) / 2.0) * (Math.cos(Math.PI * pct) + 1);
  return (end - start) * pct + start;
}

/**
 * The phase of step `e` and the fraction of it done (PyTorch's loop in `OneCycleLR.get_lr`).
 * A phase of no length counts as done (fraction 1): the first one when pctStart·N = 1, the last one
 * at e = N when it ends where the previous one does (pctStart = 1). PyTorch divides by zero there
 * (ZeroDivisionError); dividing in float64 would give NaN or an infinite lr.
 */
export function oneCyclePhaseAt(phases: readonly OneCyclePhase[], e: number): { phase: OneCyclePhase; pct: number } {
  let start = 0.0;
  for (let i = 0; i < phases.length; i++) {
    const phase = phases[i]!;
    if (e <= phase.endStep || i === phases.length - 1) {
      const length = phase.endStep - start;
      return { phase, pct: length === 0 ? 1 : (e - start) / length };
    }
    start = phase.endStep;
  }
  /* c8 ignore next */
  throw new Error('unreachable');
}

/** The error OneCycleLR and `oneCycle` throw past the end of the cycle (PyTorch's message). */
export function oneCycleTooFar(label: string, step: number, totalSteps: number): RangeError {
  return new RangeError(`${label}: tried to step ${step} times; the specified number of total steps is ${totalSteps} (totalSteps)`);
}

// ---- LambdaLR / MultiplicativeLR --------------------------------------------------------

/**
 * A function of the step index returning a factor.
 * @group Schedulers
 * @category Options and defaults
 */
export type LrLambda = (epoch: number) => number;

/** One lambda for every group, or one per group. */
export function checkLambdas(label: string, v: unknown, groups: number): LrLambda[] {
  if (typeof v === 'function') return new Array<LrLambda>(groups).fill(v as LrLambda);
  if (!Array.isArray(v)) {
    throw new TypeError(`${label}: expected lrLambda to be a function or an array of one function per param group, received ${describeValue(v)}`);
  }
  if (v.length !== groups) throw new RangeError(`${label}: expected ${groups} lrLambdas (one per param group), received ${v.length}`);
  v.forEach((f, i) => {
    if (typeof f !== 'function') throw new TypeError(`${label}: expected lrLambda[${i}] to be a function, received ${describeValue(f)}`);
  });
  return [...(v as LrLambda[])];
}

/** Calls a user function and checks that it returned a finite number. */
export function callFactor(label: string, name: string, fn: (x: number) => number, x: number): number {
  const v = fn(x);
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new (typeof v === 'number' ? RangeError : TypeError)(`${label}: expected ${name}(${x}) to return a finite number, received ${describeValue(v)}`);
  }
  return v;
}
