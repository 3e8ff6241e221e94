/**
 * `MultiplicativeLR`: multiply the current lr by a user function of the step.
 * @module
 */
import { checkLastEpoch, checkLambdas, checkOptimizer, callFactor, readOptions, type LrLambda } from './internal.js';
import { currentLrs, INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer } from './lr-scheduler.js';

/**
 * Options of {@link MultiplicativeLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface MultiplicativeLROptions extends LRSchedulerOptions {
  /** The factor λ(e) the lr is multiplied by at step e: one function for every group, or one per group. Required. */
  lrLambda: LrLambda | readonly LrLambda[];
}

const LABEL = 'MultiplicativeLR';

/**
 * Multiplies each group's lr by a function of the step index at every step, as
 * `torch.optim.lr_scheduler.MultiplicativeLR`.
 *
 * @remarks
 * ```text
 * lr(0) = lr                        (unchanged at construction)
 * lr(e) = lr(e−1) · λ(e)            e ≥ 1   (recursive: reads the group's current lr)
 * ```
 * `lrLambda` is required; `lastEpoch` defaults to -1. The lambdas are not part of `stateDict()`.
 *
 * λ = 0 sets the lr to 0 for good (every later product is 0). A λ in [−1e−6, 0) is taken for
 * rounding residue and gives 0 (see {@link LRScheduler}); a clearly negative λ gives a negative
 * lr, which the optimizer's next step refuses with a RangeError.
 *
 * @example
 * ```ts
 * const scheduler = new MultiplicativeLR(optimizer, { lrLambda: () => 0.95 });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   train();
 *   optimizer.step();
 *   scheduler.step();
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.MultiplicativeLR.html | torch.optim.lr_scheduler.MultiplicativeLR}
 * @throws TypeError or RangeError for a bad optimizer, a missing or non-function lrLambda, a list
 * whose length is not the number of groups, or a λ returning a non-finite value (at that step).
 * @group Schedulers
 * @category Classes
 */
export class MultiplicativeLR extends LRScheduler {
  /** The lambda of each param group. */
  readonly lrLambdas: readonly LrLambda[];

  constructor(optimizer: SchedulableOptimizer, options: MultiplicativeLROptions) {
    const groups = checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['lrLambda', 'lastEpoch']);
    const lambdas = checkLambdas(LABEL, o.lrLambda, groups.length);
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.lrLambdas = lambdas;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    if (this.lastEpoch > 0) {
      return this.optimizer.paramGroups.slice(0, this.lrLambdas.length).map((g, i) => g.lr * callFactor(LABEL, `lrLambda[${i}]`, this.lrLambdas[i]!, this.lastEpoch));
    }
    return currentLrs(this.optimizer);
  }
}
