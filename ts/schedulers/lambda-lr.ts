/**
 * `LambdaLR`: base lr times a user function of the step.
 * @module
 */
import { checkLastEpoch, checkLambdas, checkOptimizer, callFactor, readOptions, type LrLambda } from './internal.js';
import { INITIAL_STEP, LRScheduler, type LRSchedulerOptions, type SchedulableOptimizer } from './lr-scheduler.js';

export type { LrLambda } from './internal.js';

/**
 * Options of {@link LambdaLR}.
 * @group Schedulers
 * @category Options and defaults
 */
export interface LambdaLROptions extends LRSchedulerOptions {
  /** The factor λ(e) applied to the base lr: one function for every group, or one per group. Required. */
  lrLambda: LrLambda | readonly LrLambda[];
}

const LABEL = 'LambdaLR';

/**
 * Sets each group's lr to its base lr times a function of the step index, as
 * `torch.optim.lr_scheduler.LambdaLR`.
 *
 * @remarks
 * ```text
 * lr(e) = base_lr · λ(e)            e = 0 at construction, then 1, 2, … (one per step())
 * ```
 * Not recursive: the lr does not depend on its previous value. `lrLambda` is required; `lastEpoch`
 * defaults to -1. Each λ must return a finite number. The lambdas are not part of `stateDict()`
 * (PyTorch saves none for plain functions either); the loading scheduler keeps its own.
 *
 * λ = 0 gives lr 0, which optimizers accept (a step that changes nothing). A λ a little below 0
 * from rounding (down to −1e−6, e.g. −1e−17 where the formula meant 0) gives 0, as every
 * scheduler does with rounding residue (see {@link LRScheduler}); a clearly negative λ gives a
 * negative lr, which the optimizer's next step refuses with a RangeError (PyTorch would step uphill).
 *
 * @example
 * ```ts
 * const optimizer = new SGD(params, { lr: 0.1 });
 * const scheduler = new LambdaLR(optimizer, { lrLambda: (epoch) => 1 / (1 + 0.05 * epoch) });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   train();
 *   optimizer.step();
 *   scheduler.step();
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.LambdaLR.html | torch.optim.lr_scheduler.LambdaLR}
 * @throws TypeError or RangeError for a bad optimizer, a missing or non-function lrLambda, a list
 * whose length is not the number of groups, or a λ returning a non-finite value (at that step).
 * @group Schedulers
 * @category Classes
 */
export class LambdaLR extends LRScheduler {
  /** The lambda of each param group. */
  readonly lrLambdas: readonly LrLambda[];

  constructor(optimizer: SchedulableOptimizer, options: LambdaLROptions) {
    const groups = checkOptimizer(LABEL, optimizer);
    const o = readOptions(LABEL, options, ['lrLambda', 'lastEpoch']);
    const lambdas = checkLambdas(LABEL, o.lrLambda, groups.length);
    super(LABEL, optimizer, checkLastEpoch(LABEL, o.lastEpoch));
    this.lrLambdas = lambdas;
    this[INITIAL_STEP]();
  }

  protected override getLr(): number[] {
    return this.baseLrs.map((base, i) => base * callFactor(LABEL, `lrLambda[${i}]`, this.lrLambdas[i]!, this.lastEpoch));
  }
}
