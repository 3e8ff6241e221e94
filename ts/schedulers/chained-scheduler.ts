/**
 * `ChainedScheduler`: step several chainable schedulers together, so their factors multiply.
 * @module
 */
import { checkOptimizer } from './internal.js';
import { currentLrs, LRScheduler, PREPARE_LOAD, type SchedulableOptimizer, type SchedulerStateDict, type StateKind } from './lr-scheduler.js';
import { checkChildren, prepareNested } from './sequential-lr.js';

const LABEL = 'ChainedScheduler';

/**
 * Calls `step()` on every scheduler of a list, in order, as
 * `torch.optim.lr_scheduler.ChainedScheduler`: with recursive (chainable) schedulers their
 * effects multiply.
 *
 * @remarks
 * ```text
 * step():  for s of schedulers: s.step();   lastLr = the groups' lr
 * e.g. ConstantLR(factor 0.1, totalIters 2) + ExponentialLR(γ 0.9) on lr 1:
 *      0.09, 0.081, 0.729, 0.6561, …   (the 0.1 factor is removed at step 2)
 * ```
 * Constructed as PyTorch's `ChainedScheduler(schedulers, optimizer=None)`: the schedulers,
 * already built on one optimizer (their construction-time steps have already composed), and
 * optionally that optimizer. The state dict nests the children's.
 *
 * @example
 * ```ts
 * const s1 = new ConstantLR(optimizer, { factor: 0.1, totalIters: 2 });
 * const s2 = new ExponentialLR(optimizer, { gamma: 0.9 });
 * const scheduler = new ChainedScheduler([s1, s2]);
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   train();
 *   optimizer.step();
 *   scheduler.step();
 * }
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ChainedScheduler.html | torch.optim.lr_scheduler.ChainedScheduler}
 * @throws TypeError or RangeError for an empty list, a child that is not a step-based scheduler
 * (ReduceLROnPlateau cannot be chained), or children driving different optimizers.
 * @group Schedulers
 * @category Classes
 */
export class ChainedScheduler extends LRScheduler {
  /** The chained schedulers, in the order they are stepped. */
  readonly schedulers: readonly LRScheduler[];

  constructor(schedulers: readonly LRScheduler[], optimizer?: SchedulableOptimizer) {
    if (optimizer !== undefined) checkOptimizer(LABEL, optimizer);
    const children = checkChildren(LABEL, schedulers, optimizer);
    const opt = optimizer ?? children[0]!.optimizer;
    super(LABEL, opt, 0, false);
    this.schedulers = children;
    this.lastLr = currentLrs(children.at(-1)!.optimizer);
  }

  protected override getLr(): number[] {
    return currentLrs(this.optimizer);
  }

  /** Steps every chained scheduler, in order. */
  override step(): void {
    for (const s of this.schedulers) s.step();
    this.lastEpoch += 1;
    this.lastLr = currentLrs(this.schedulers.at(-1)!.optimizer);
  }

  protected override stateSpec(): Record<string, StateKind> {
    return { lastEpoch: 'integer', lastLr: 'numbers' };
  }

  /** The state, with each child's under `schedulers`. */
  override stateDict(): SchedulerStateDict {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  /** @internal */
  override [PREPARE_LOAD](stateDict: SchedulerStateDict): () => void {
    return prepareNested(this, `${this.label}.loadStateDict`, stateDict, (own) => super[PREPARE_LOAD](own));
  }
}
