/**
 * `CyclicLR`: cyclical learning rates (triangular, triangular2, expRange), with inverse momentum cycling.
 * @module
 */
import { SCHEDULER_DEFAULTS } from './defaults.js';
import {
  bool,
  builtinScale,
  callFactor,
  checkLastEpoch,
  checkOptimizer,
  cyclicPosition,
  CYCLIC_MODE_ALIASES,
  CYCLIC_MODES,
  momentumRule,
  momentumTarget,
  num,
  oneOf,
  perGroup,
  readOptions,
  setMomentum,
  type CyclicMode,
  type MomentumTarget,
  type ScaleMode,
} from './internal.js';
import { INITIAL_STEP, LRScheduler, snapshotGroups, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';
import { describeValue } from '../validate.js';

export type { CyclicMode, ScaleMode } from './internal.js';

/**
 * Options of {@link CyclicLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface CyclicLROptions extends LRSchedulerOptions {
  /** Lower lr bound of the cycle: one number, or one per param group. Required. */
  baseLr: number | readonly number[];
  /** Upper lr bound of the cycle: one number, or one per param group. Required. */
  maxLr: number | readonly number[];
  /** Steps in the increasing half of a cycle (> 0). @defaultValue 2000 */
  stepSizeUp?: number;
  /** Steps in the decreasing half of a cycle (> 0). @defaultValue stepSizeUp */
  stepSizeDown?: number;
  /**
   * The amplitude policy: `'triangular'` (constant), `'triangular2'` (halved each cycle) or
   * `'expRange'` (scaled by gamma^step; PyTorch's `'exp_range'` is accepted too). Ignored when
   * `scaleFn` is given. @defaultValue 'triangular'
   */
  mode?: CyclicMode | 'exp_range';
  /** The base of `'expRange'` scaling (> 0). @defaultValue 1 */
  gamma?: number;
  /** A custom amplitude scale, with values in [0, 1]; replaces `mode`. Not saved by `stateDict()`. */
  scaleFn?: (x: number) => number;
  /** What `scaleFn` receives: the cycle number (from 1) or the step index. @defaultValue 'cycle' */
  scaleMode?: ScaleMode;
  /** Cycle SGD's momentum (or the Adam family's beta1) inversely to the lr. @defaultValue true */
  cycleMomentum?: boolean;
  /** Lower momentum bound (reached at the lr peak): one number, or one per group. @defaultValue 0.8 */
  baseMomentum?: number | readonly number[];
  /** Upper momentum bound (at the start of each cycle): one number, or one per group. @defaultValue 0.9 */
  maxMomentum?: number | readonly number[];
}

const LABEL = 'CyclicLR';

/**
 * Cycles each group's lr between `baseLr` and `maxLr` (Smith's cyclical learning rates), as
 * `torch.optim.lr_scheduler.CyclicLR`; step it after every batch.
 *
 * @remarks
 * ```text
 * S = up + down,  r = up / S,  cycle = ⌊1 + e/S⌋,  x = 1 + e/S − cycle
 * f = x / r             if x ≤ r      (rising)
 *   = (x − 1)/(r − 1)   otherwise     (falling)
 * lr(e)       = baseLr + (maxLr − baseLr)·f·scale
 * momentum(e) = maxMomentum − (maxMomentum − baseMomentum)·f·scale
 * scale: triangular 1;  triangular2 1/2^(cycle−1);  expRange γ^e;  scaleFn(cycle or e)
 * ```
 * Not recursive. Defaults: stepSizeUp 2000, stepSizeDown = stepSizeUp, mode 'triangular',
 * gamma 1, scaleMode 'cycle' (the built-in modes set it: 'iterations' for expRange),
 * cycleMomentum true, baseMomentum 0.8, maxMomentum 0.9, lastEpoch -1.
 *
 * At construction each group's lr is set to `baseLr` and its momentum (SGD `momentum`, or
 * `betas[0]` for Adam/AdamW) to `maxMomentum`. With `cycleMomentum` (the default) the optimizer
 * must have one of the two, as in PyTorch. PyTorch quirk kept: if a group already held
 * `initialLr`, the construction-time lr is that `initialLr`, not `baseLr`; every later step uses `baseLr`.
 *
 * With baseLr, maxLr ≥ 0 and a scale in [0, 1] every lr lies between baseLr and maxLr, so cycling
 * never writes a negative lr; baseLr = maxLr holds the lr at baseLr. Deviation: the momentum
 * bounds must be below 1 when the scheduler drives Adam's beta1 (PyTorch accepts 1, and Adam's
 * bias correction 1 − β1^t then divides by 0); the optimizer checks the same range at each step.
 * An expRange gamma above 1 grows the amplitude without bound, as in PyTorch: lr passes maxLr and
 * momentum falls below baseMomentum (below 0 in the end, which the optimizer refuses).
 * Deviation: where PyTorch's Python floats overflow and raise OverflowError (triangular2's
 * 2^(cycle−1) after 1024 cycles, expRange's γ^e with γ > 1), the float64 arithmetic here goes on:
 * triangular2 settles at baseLr (amplitude 1/∞ = 0), expRange reaches an infinite lr or NaN.
 *
 * @example
 * ```ts
 * const optimizer = new SGD(params, { lr: 0.1, momentum: 0.9 });
 * const scheduler = new CyclicLR(optimizer, { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2000 });
 * for (const batch of batches) {
 *   trainBatch(batch);
 *   optimizer.step();
 *   scheduler.step();
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CyclicLR.html | torch.optim.lr_scheduler.CyclicLR}
 * @see Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
 * @throws TypeError or RangeError for a bad optimizer, a missing baseLr or maxLr, a per-group
 * array of the wrong length, a step size that is not > 0, an unknown mode or scaleMode, a
 * scaleFn that is not a function (or returns a non-finite value, at that step),
 * cycleMomentum on an optimizer without momentum or betas, or momentum bounds outside [0, 1)
 * for beta1.
 * @group Schedulers
 * @category Classes
 */
export class CyclicLR extends LRScheduler {
  /** Upper lr bound of each group. */
  readonly maxLrs: readonly number[];
  /** Steps in a whole cycle. */
  readonly totalSize: number;
  /** Fraction of the cycle spent rising. */
  readonly stepRatio: number;
  /** The amplitude policy. */
  readonly mode: CyclicMode;
  /** The base of `'expRange'` scaling. */
  readonly gamma: number;
  /** What the scale function receives. */
  readonly scaleMode: ScaleMode;
  /** Whether momentum (or beta1) is cycled. */
  readonly cycleMomentum: boolean;
  /** Lower momentum bound of each group (empty without cycleMomentum). */
  readonly baseMomentums: readonly number[];
  /** Upper momentum bound of each group (empty without cycleMomentum). */
  readonly maxMomentums: readonly number[];
  readonly #scaleFn: ((x: number) => number) | undefined;
  readonly #target: MomentumTarget | undefined;

  constructor(optimizer: SchedulableOptimizer, options: CyclicLROptions) {
    const groups = checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, [
      'baseLr', 'maxLr', 'stepSizeUp', 'stepSizeDown', 'mode', 'gamma', 'scaleFn', 'scaleMode',
      'cycleMomentum', 'baseMomentum', 'maxMomentum', 'lastEpoch',
    ]);
    const d = SCHEDULER_DEFAULTS.CyclicLR;
    const n = groups.length;
    const lastEpoch = checkLastEpoch(LABEL, o.lastEpoch);
    const baseLrs = perGroup(LABEL, 'baseLr', o.baseLr, n, { min: 0 });
    const maxLrs = perGroup(LABEL, 'maxLr', o.maxLr, n, { min: 0 });
    const up = num(LABEL, 'stepSizeUp', o.stepSizeUp, d.stepSizeUp, { above: 0 });
    const down = num(LABEL, 'stepSizeDown', o.stepSizeDown, up, { above: 0 });
    const mode = oneOf(LABEL, 'mode', o.mode, CYCLIC_MODES, d.mode, CYCLIC_MODE_ALIASES);
    const gamma = num(LABEL, 'gamma', o.gamma, d.gamma, { above: 0 });
    if (o.scaleFn !== undefined && typeof o.scaleFn !== 'function') {
      throw new TypeError(`${LABEL}: expected scaleFn to be a function, received ${describeValue(o.scaleFn)}`);
    }
    const scaleFn = o.scaleFn as ((x: number) => number) | undefined;
    let scaleMode = oneOf<ScaleMode>(LABEL, 'scaleMode', o.scaleMode, ['cycle', 'iterations'], d.scaleMode);
    if (scaleFn === undefined) scaleMode = builtinScale(mode, gamma).scaleMode;
    const cycleMomentum = bool(LABEL, 'cycleMomentum', o.cycleMomentum, d.cycleMomentum);
    let target: MomentumTarget | undefined;
    let baseMomentums: number[] = [];
    let maxMomentums: number[] = [];
    if (cycleMomentum) {
      target = momentumTarget(LABEL, groups);
      baseMomentums = perGroup(LABEL, 'baseMomentum', o.baseMomentum, n, momentumRule(target), d.baseMomentum);
      maxMomentums = perGroup(LABEL, 'maxMomentum', o.maxMomentum, n, momentumRule(target), d.maxMomentum);
    }
    // Everything is checked; now PyTorch's construction-time writes.
    const before = snapshotGroups(optimizer);
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.lr = baseLrs[i]!;
        if (target) setMomentum(g, target, maxMomentums[i]!);
      });
    }
    super(LABEL, optimizer, lastEpoch, true, before);
    this.maxLrs = maxLrs;
    this.totalSize = up + down;
    this.stepRatio = up / this.totalSize;
    this.mode = mode;
    this.gamma = gamma;
    this.scaleMode = scaleMode;
    this.cycleMomentum = cycleMomentum;
    this.baseMomentums = baseMomentums;
    this.maxMomentums = maxMomentums;
    this.#scaleFn = scaleFn;
    this.#target = target;
    // PyTorch runs the initial step with base lrs taken from initialLr, then replaces them.
    this[INITIAL_STEP]();
    this.baseLrs = baseLrs;
  }

  #scale(x: number): number {
    if (this.#scaleFn) return callFactor(LABEL, 'scaleFn', this.#scaleFn, x);
    return builtinScale(this.mode, this.gamma).fn(x);
  }

  protected override getLr(): number[] {
    const e = this.lastEpoch;
    const { cycle, scaleFactor } = cyclicPosition(e, this.totalSize, this.stepRatio);
    const scale = this.#scale(this.scaleMode === 'cycle' ? cycle : e);
    const lrs = this.baseLrs.map((base, i) => base + (this.maxLrs[i]! - base) * scaleFactor * scale);
    if (this.#target) {
      const groups = this.optimizer.paramGroups;
      this.maxMomentums.forEach((maxM, i) => {
        const g = groups[i];
        if (g) setMomentum(g, this.#target!, maxM - (maxM - this.baseMomentums[i]!) * scaleFactor * scale);
      });
    }
    return lrs;
  }

  protected override lrScale(i: number): number {
    return Math.max(super.lrScale(i), this.maxLrs[i] ?? 0);
  }

  protected override stateSpec(): Record<string, StateKind> {
    return {
      ...super.stateSpec(),
      maxLrs: 'groupNumbers',
      totalSize: 'number',
      stepRatio: 'number',
      mode: CYCLIC_MODES,
      gamma: 'number',
      scaleMode: ['cycle', 'iterations'],
      cycleMomentum: 'boolean',
      baseMomentums: 'numbers',
      maxMomentums: 'numbers',
    };
  }
}
