/**
 * What Schedule-Free SGD and AdamW share: the scalar state of a param group and its advance per
 * step (warmup, the weighted average's coefficient, Adam's bias correction), and the switch
 * between the training point y and the evaluation point x.
 * @module
 */
import { nonNegative, numberIn, validateGroup, validateGroupState, type GroupState, type NumberOption, type OptimizerDescriptor, type Reference } from './descriptor.js';
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * The scalars a Schedule-Free param group keeps beside its options, as `schedulefree` keeps them
 * in the group's dict (`k`, `train_mode`, `weight_sum`, `lr_max`, `scheduled_lr`). They are
 * listed in `stateDict`'s param groups and restored by `loadStateDict`; a new group starts at
 * `k` 0, in eval mode, `weightSum` 0, `lrMax` −1, `scheduledLr` 0.
 * @group Optimizers
 * @category Options and defaults
 */
export interface ScheduleFreeGroupState {
  /** Steps the group has taken: every applied step counts, whether or not its parameters had gradients. */
  k: number;
  /** Whether the group's parameters hold y, the training point (after `train()`), rather than x (after `eval()`). */
  trainMode: boolean;
  /** The sum of the averaging weights (k + 1)^r · lrMax^weightLrPower of the steps so far. */
  weightSum: number;
  /** The largest scheduled lr so far (−1 before the first step). */
  lrMax: number;
  /** The lr of the last step, after warmup (schedulefree keeps it for logging). */
  scheduledLr: number;
}

/**
 * The options of either Schedule-Free optimizer that its group state reads.
 * @internal
 */
interface ScheduleFreeSchedule {
  lr: number;
  warmupSteps: number;
  r: number;
  weightLrPower: number;
}

/**
 * The group state of a Schedule-Free optimizer named `name`, and its step as `schedulefree` 1.4
 * computes it in float64 (`step`, before its loop over the parameters):
 *
 * ```text
 * γ ← lr · ((k + 1)/warmupSteps if k < warmupSteps, else 1)   (scheduledLr; the kernel's lr)
 * lrMax ← max(γ, lrMax)
 * w ← (k + 1)^r · lrMax^weightLrPower;   weightSum ← weightSum + w
 * c ← w / weightSum, or 0 when weightSum = 0                     (the kernel's ckp1)
 * 1 − β2^(k+1)                                                    (AdamW: bias_correction2)
 * k ← k + 1
 * ```
 * `beta2Of` gives β2 for AdamW.
 * @internal
 */
export function scheduleFreeGroupState<O extends ScheduleFreeSchedule>(name: string, beta2Of?: (g: O) => number): GroupState<O> {
  return {
    entries: {
      k: { init: 0, range: { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER - 1 } },
      trainMode: { init: false },
      weightSum: { init: 0, range: { min: 0 } },
      lrMax: { init: -1, range: { min: -1 } },
      scheduledLr: { init: 0, range: { min: 0 } },
    },
    options: ['lr', 'warmupSteps', 'r', 'weightLrPower'],
    hyper: beta2Of ? ['lr', 'ckp1', 'bias_correction2'] : ['lr', 'ckp1'],
    advance(g, st, where) {
      const k = st.k as number;
      const sched = k < g.warmupSteps ? (k + 1) / g.warmupSteps : 1.0;
      const lr = g.lr * sched;
      // Python's max(lr, lr_max): the first argument unless the second is greater.
      const lrMax = (st.lrMax as number) > lr ? (st.lrMax as number) : lr;
      const weight = (k + 1) ** g.r * lrMax ** g.weightLrPower;
      const weightSum = (st.weightSum as number) + weight;
      if (!Number.isFinite(weightSum)) {
        throw new RangeError(
          `${name}: the averaging weight (k + 1)^r · lrMax^weightLrPower of ${where} overflows at k = ${k} (r ${g.r}, weightLrPower ${g.weightLrPower}, lrMax ${lrMax}); lower r or weightLrPower`,
        );
      }
      // schedulefree catches the ZeroDivisionError of a zero weight sum (every lr so far 0) as c = 0.
      const ckp1 = weightSum === 0 ? 0 : weight / weightSum;
      const hyper: Record<string, number> = { lr, ckp1 };
      if (beta2Of) hyper.bias_correction2 = 1 - beta2Of(g) ** (k + 1);
      return { state: { k: k + 1, weightSum, lrMax, scheduledLr: lr }, hyper };
    },
  };
}

/**
 * The rule between options both Schedule-Free optimizers check with the others (construction,
 * `addParamGroup`, every step): the first step's averaging weight lr^weightLrPower must be finite,
 * so that options accepted can step. (A weight that overflows only after many steps is a
 * RangeError at that step.)
 * @internal
 */
export function checkScheduleFreeWeight(g: ScheduleFreeSchedule, name: (key: string) => string, label: string): void {
  if (!Number.isFinite(g.lr ** g.weightLrPower)) {
    throw new RangeError(`${label}: expected ${name('lr')} ^ ${name('weightLrPower')} (the first averaging weight) to be finite, received ${g.lr} ^ ${g.weightLrPower}; lower lr or weightLrPower`);
  }
}

/**
 * The option specs both Schedule-Free optimizers end with, in this order: `weightDecay` (>= 0,
 * default 0), `warmupSteps` (an integer >= 0, default 0), `r` (>= 0, default 0) and
 * `weightLrPower` (>= 0, default 2).
 * @internal
 */
export function scheduleFreeTailOptions(): { weightDecay: NumberOption; warmupSteps: NumberOption; r: NumberOption; weightLrPower: NumberOption } {
  return {
    weightDecay: nonNegative(0),
    warmupSteps: numberIn(0, { integer: true, min: 0 }),
    r: nonNegative(0),
    weightLrPower: nonNegative(2),
  };
}

/**
 * The reference of Schedule-Free optimizer `name` (`schedulefree`'s class of that name), checked
 * against the fixture `fixture`.
 * @internal
 */
export function scheduleFreeReference(name: string, fixture: string): Reference {
  return {
    implementation: `schedulefree ${name}`,
    url: 'https://github.com/facebookresearch/schedule_free',
    paper: 'Defazio et al., NeurIPS 2024',
    fixture,
  };
}

/**
 * The weight of `lerp_(z, w)` that moves group `g`'s parameters to y (`toTrain`, w = 1 − β1) or
 * to x (w = 1 − 1/β1), or null when the group is already in that mode. The group's options and
 * state are checked first, so that a bad one throws before any parameter moves.
 * @internal
 */
function modeWeight<O extends object>(d: OptimizerDescriptor<O>, g: ParamGroup<O>, gi: number, toTrain: boolean, beta1: (g: O) => number): number | null {
  validateGroup(d, g as Record<string, unknown>, `param group ${gi}`);
  validateGroupState(d, g as Record<string, unknown>, `param group ${gi}`);
  const trainMode = (g as unknown as ScheduleFreeGroupState).trainMode;
  if (trainMode === toTrain) return null;
  return toTrain ? 1 - beta1(g) : 1 - 1 / beta1(g);
}

/**
 * What Schedule-Free SGD and AdamW share as optimizers: `train()` and `eval()`, which move the
 * parameters between the training point y and the evaluation point x, and a `step()` that refuses
 * to run in eval mode.
 * @group Optimizers
 * @category Base class and parameters
 */
export abstract class ScheduleFreeOptimizer<O extends object> extends Optimizer<O> {
  /** The live param groups: options and {@link ScheduleFreeGroupState}. */
  declare readonly paramGroups: Array<ParamGroup<O> & ScheduleFreeGroupState>;
  readonly #beta1: (g: O) => number;

  /** @param beta1 - a group's β1 (SGD's momentum), the interpolation weight of the switch. */
  protected constructor(descriptor: OptimizerDescriptor<O>, params: ParamsInput<O>, options: (Partial<O> & CommonOptions) | undefined, beta1: (g: O) => number) {
    super(descriptor, params, options);
    this.#beta1 = beta1;
  }

  /**
   * Train mode: moves the parameters of every group in eval mode from x to y,
   * y ← lerp(x, z, 1 − β1) (β1: SGD's momentum; parameters without state stay), in one native
   * pass, and marks every group in train mode. Does nothing to a group already in train mode.
   * @throws Error after `dispose()`; TypeError or RangeError, before any parameter moves, for a
   * bad option, group state or buffer.
   */
  train(): void {
    this.#switch(true);
  }

  /**
   * Eval mode: moves the parameters of every group in train mode from y to x,
   * x ← lerp(y, z, 1 − 1/β1), in one native pass, and marks every group in eval mode. Call it
   * before evaluating or saving the model.
   * @throws As `train()`.
   */
  eval(): void {
    this.#switch(false);
  }

  /**
   * A step (`step` or `stepInParts`, see the class remarks) needs the first param group in train
   * mode, as schedulefree's `step` checks (the first group only): Error in eval mode, thrown
   * before `step`'s closure is called.
   */
  protected override beforeStep(method: string): void {
    if (this.paramGroups[0]?.trainMode === false) {
      throw new Error(`${this.label}: ${method}() was called in eval mode; call train() before training (the optimizer starts in eval mode, and eval() puts it there)`);
    }
  }

  #switch(toTrain: boolean): void {
    this.lerpToState(toTrain ? 'train' : 'eval', 'z', (g, gi) => modeWeight(this.descriptor, g, gi, toTrain, this.#beta1));
    for (const g of this.paramGroups) g.trainMode = toTrain;
  }
}
