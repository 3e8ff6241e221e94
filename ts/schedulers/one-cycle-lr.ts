/**
 * `OneCycleLR`: the 1cycle policy (warm up to maxLr, anneal far below the start), with inverse momentum cycling.
 * @module
 */
import { SCHEDULER_DEFAULTS } from './defaults.js';
import {
  anneal,
  bool,
  checkLastEpoch,
  checkOptimizer,
  momentumRule,
  momentumTarget,
  num,
  oneCyclePhaseAt,
  oneCyclePhases,
  oneCycleTooFar,
  oneOf,
  perGroup,
  readOptions,
  setMomentum,
  type AnnealStrategy,
  type MomentumTarget,
  type OneCycleLevel,
} from './internal.js';
import { INITIAL_STEP, LRScheduler, snapshotGroups, type LRSchedulerOptions, type SchedulableOptimizer, type StateKind } from './lr-scheduler.js';

export type { AnnealStrategy } from './internal.js';

/**
 * Options of {@link OneCycleLR}. Give `totalSteps`, or `epochs` and `stepsPerEpoch`.
 * @group Schedulers
 * @category Options and defaults
 */
export interface OneCycleLROptions extends LRSchedulerOptions {
  /** Peak lr: one number, or one per param group. Required. */
  maxLr: number | readonly number[];
  /** Steps in the cycle (an integer ≥ 1); takes precedence over epochs · stepsPerEpoch. */
  totalSteps?: number;
  /** Epochs to train for (an integer ≥ 1), with `stepsPerEpoch`, when `totalSteps` is not given. */
  epochs?: number;
  /** Steps per epoch (an integer ≥ 1), with `epochs`, when `totalSteps` is not given. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the lr, in [0, 1]. @defaultValue 0.3 */
  pctStart?: number;
  /** `'cos'` or `'linear'` annealing between the phase ends. @defaultValue 'cos' */
  annealStrategy?: AnnealStrategy;
  /** Cycle SGD's momentum (or the Adam family's beta1) inversely to the lr. @defaultValue true */
  cycleMomentum?: boolean;
  /** Lower momentum bound (at the lr peak): one number, or one per group. @defaultValue 0.85 */
  baseMomentum?: number | readonly number[];
  /** Upper momentum bound (at the start and end): one number, or one per group. @defaultValue 0.95 */
  maxMomentum?: number | readonly number[];
  /** The starting lr is maxLr / divFactor (> 0). @defaultValue 25 */
  divFactor?: number;
  /** The final lr is maxLr / divFactor / finalDivFactor (> 0). @defaultValue 1e4 */
  finalDivFactor?: number;
  /** Use the paper's three phases (up, down to the start, then to the minimum) instead of fastai's two. @defaultValue false */
  threePhase?: boolean;
}

const LABEL = 'OneCycleLR';

/**
 * The 1cycle policy, as `torch.optim.lr_scheduler.OneCycleLR`: the lr rises from
 * `maxLr/divFactor` to `maxLr`, then falls to `maxLr/divFactor/finalDivFactor`, while momentum
 * (SGD `momentum`, or `betas[0]` for Adam/AdamW) moves the opposite way. Step it after every batch.
 *
 * @remarks
 * ```text
 * N = totalSteps (or epochs·stepsPerEpoch), p = pctStart
 * initial = maxLr/divFactor,  min = initial/finalDivFactor
 * two phases:    [0, p·N − 1]: initial → maxLr,   [p·N − 1, N − 1]: maxLr → min
 * three phases:  [0, p·N − 1]: initial → maxLr,   [p·N − 1, 2p·N − 2]: maxLr → initial,
 *                [2p·N − 2, N − 1]: initial → min
 * within a phase [a, b] from s to t, with q = (e − a)/(b − a):
 *   cos:    t + (s − t)/2·(1 + cos(πq))          linear: (t − s)·q + s
 * momentum: maxMomentum → baseMomentum → maxMomentum (three phases: then stays at maxMomentum)
 * ```
 * Not recursive. Defaults: pctStart 0.3, annealStrategy 'cos', cycleMomentum true,
 * baseMomentum 0.85, maxMomentum 0.95, divFactor 25, finalDivFactor 1e4, threePhase false,
 * lastEpoch -1.
 *
 * Construction sets each group's `initialLr` to maxLr/divFactor (overwriting any previous
 * value, as PyTorch does) and its lr to the value at step 0; with cycleMomentum, its momentum
 * to maxMomentum. `step()` may be called `totalSteps` times; as in PyTorch the last call
 * (e = N) extrapolates one step past the end of the final phase, and a further call throws.
 * The lrs of steps 0 … N − 1, the ones the N optimizer steps of the cycle use, lie between the
 * phase ends and are ≥ 0. The extrapolated lr at e = N is PyTorch's: with 'cos' it is a little
 * above min; with 'linear' it is min − (start − min)/(length of the last phase), about
 * −maxLr/(0.7·N) with the defaults, far below 0. It is kept (it is not rounding residue), so an
 * optimizer step taken after the N-th scheduler step, which PyTorch would take with that negative
 * lr (ascending the loss), throws a RangeError in ferroptim; step the optimizer N times, as the
 * example does. Deviation: a phase of no length (pctStart·N = 1, or pctStart = 1 at e = N, or
 * 2·pctStart·N − 2 = N − 1 with three phases) counts as done, so its end value is used; PyTorch
 * divides by zero there (ZeroDivisionError). Deviation: the momentum bounds must be below 1 when
 * the scheduler drives Adam's beta1 (the optimizer checks the same range at each step).
 * Deviation: PyTorch stores max_lr, min_lr and the momentum bounds in the param groups; ferroptim
 * keeps them in the scheduler (and its state dict).
 *
 * @example
 * ```ts
 * const optimizer = new SGD(params, { lr: 1e-4, momentum: 0.9 });
 * const scheduler = new OneCycleLR(optimizer, { maxLr: 0.01, epochs: 10, stepsPerEpoch: batches.length });
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   for (const batch of batches) {
 *     trainBatch(batch);
 *     optimizer.step();
 *     scheduler.step();
 *   }
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.OneCycleLR.html | torch.optim.lr_scheduler.OneCycleLR}
 * @see Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large Learning Rates", 2017.
 * @throws TypeError or RangeError for a bad optimizer, a missing maxLr, neither totalSteps nor
 * epochs and stepsPerEpoch, a pctStart outside [0, 1], an unknown annealStrategy, a per-group
 * array of the wrong length, cycleMomentum on an optimizer without momentum or betas, momentum
 * bounds outside [0, 1) for beta1, and (from
 * `step()`) a step past totalSteps: `OneCycleLR: tried to step 101 times; the specified number of total steps is 100`.
 * @group Schedulers
 * @category Classes
 */
export class OneCycleLR extends LRScheduler {
  /** Steps in the cycle. */
  readonly totalSteps: number;
  /** Peak lr of each group. */
  readonly maxLrs: readonly number[];
  /** Final lr of each group. */
  readonly minLrs: readonly number[];
  /** Fraction of the cycle spent raising the lr. */
  readonly pctStart: number;
  /** Annealing between phase ends. */
  readonly annealStrategy: AnnealStrategy;
  /** Whether the schedule has three phases. */
  readonly threePhase: boolean;
  /** Whether momentum (or beta1) is cycled. */
  readonly cycleMomentum: boolean;
  /** Lower momentum bound of each group (empty without cycleMomentum). */
  readonly baseMomentums: readonly number[];
  /** Upper momentum bound of each group (empty without cycleMomentum). */
  readonly maxMomentums: readonly number[];
  readonly #target: MomentumTarget | undefined;

  constructor(optimizer: SchedulableOptimizer, options: OneCycleLROptions) {
    const groups = checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, [
      'maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum',
      'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase', 'lastEpoch',
    ]);
    const d = SCHEDULER_DEFAULTS.OneCycleLR;
    const n = groups.length;
    const lastEpoch = checkLastEpoch(LABEL, o.lastEpoch);
    let totalSteps: number;
    if (o.totalSteps !== undefined) {
      totalSteps = num(LABEL, 'totalSteps', o.totalSteps, undefined, { integer: true, min: 1 });
    } else if (o.epochs !== undefined && o.stepsPerEpoch !== undefined) {
      totalSteps =
        num(LABEL, 'epochs', o.epochs, undefined, { integer: true, min: 1 }) *
        num(LABEL, 'stepsPerEpoch', o.stepsPerEpoch, undefined, { integer: true, min: 1 });
    } else {
      throw new TypeError(`${LABEL}: expected totalSteps, or both epochs and stepsPerEpoch, received neither`);
    }
    const pctStart = num(LABEL, 'pctStart', o.pctStart, d.pctStart, { min: 0, max: 1 });
    const annealStrategy = oneOf<AnnealStrategy>(LABEL, 'annealStrategy', o.annealStrategy, ['cos', 'linear'], d.annealStrategy);
    const maxLrs = perGroup(LABEL, 'maxLr', o.maxLr, n, { min: 0 });
    const divFactor = num(LABEL, 'divFactor', o.divFactor, d.divFactor, { above: 0 });
    const finalDivFactor = num(LABEL, 'finalDivFactor', o.finalDivFactor, d.finalDivFactor, { above: 0 });
    const threePhase = bool(LABEL, 'threePhase', o.threePhase, d.threePhase);
    const cycleMomentum = bool(LABEL, 'cycleMomentum', o.cycleMomentum, d.cycleMomentum);
    let target: MomentumTarget | undefined;
    let maxMomentums: number[] = [];
    let baseMomentums: number[] = [];
    if (cycleMomentum) {
      target = momentumTarget(LABEL, groups);
      maxMomentums = perGroup(LABEL, 'maxMomentum', o.maxMomentum, n, momentumRule(target), d.maxMomentum);
      baseMomentums = perGroup(LABEL, 'baseMomentum', o.baseMomentum, n, momentumRule(target), d.baseMomentum);
    }
    // Everything is checked; now PyTorch's construction-time writes.
    const before = snapshotGroups(optimizer);
    const initialLrs = maxLrs.map((m) => m / divFactor);
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = initialLrs[i]!;
        if (target) setMomentum(g, target, maxMomentums[i]!);
      });
    }
    super(LABEL, optimizer, lastEpoch, true, before);
    this.totalSteps = totalSteps;
    this.maxLrs = maxLrs;
    this.minLrs = initialLrs.map((lr) => lr / finalDivFactor);
    this.pctStart = pctStart;
    this.annealStrategy = annealStrategy;
    this.threePhase = threePhase;
    this.cycleMomentum = cycleMomentum;
    this.baseMomentums = baseMomentums;
    this.maxMomentums = maxMomentums;
    this.#target = target;
    this[INITIAL_STEP]();
  }

  /**
   * Advances one step and writes the new lr (and momentum) into every param group.
   * @throws RangeError when called more than `totalSteps` times after construction.
   */
  override step(): void {
    if (this.lastEpoch + 1 > this.totalSteps) throw oneCycleTooFar(LABEL, this.lastEpoch + 1, this.totalSteps);
    super.step();
  }

  protected override getLr(): number[] {
    const phases = oneCyclePhases(this.totalSteps, this.pctStart, this.threePhase);
    const { phase, pct } = oneCyclePhaseAt(phases, this.lastEpoch);
    const groups = this.optimizer.paramGroups;
    const lrs: number[] = [];
    this.maxLrs.forEach((_, i) => {
      const g = groups[i];
      if (!g) return;
      const level = (l: OneCycleLevel) => (l === 'initial' ? g.initialLr! : l === 'max' ? this.maxLrs[i]! : this.minLrs[i]!);
      lrs.push(anneal(this.annealStrategy, level(phase.startLr), level(phase.endLr), pct));
      if (this.#target) {
        const m = (l: 'max' | 'base') => (l === 'max' ? this.maxMomentums[i]! : this.baseMomentums[i]!);
        setMomentum(g, this.#target, anneal(this.annealStrategy, m(phase.startMomentum), m(phase.endMomentum), pct));
      }
    });
    return lrs;
  }

  protected override lrScale(i: number): number {
    return Math.max(super.lrScale(i), this.maxLrs[i] ?? 0);
  }

  protected override stateSpec(): Record<string, StateKind> {
    return {
      ...super.stateSpec(),
      totalSteps: 'integer',
      maxLrs: 'groupNumbers',
      minLrs: 'groupNumbers',
      pctStart: 'number',
      annealStrategy: ['cos', 'linear'],
      threePhase: 'boolean',
      cycleMomentum: 'boolean',
      baseMomentums: 'numbers',
      maxMomentums: 'numbers',
    };
  }
}
