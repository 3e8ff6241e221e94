/**
 * ASGD: averaged stochastic gradient descent.
 * @module
 */
import type { Parameter } from '../tensor.js';
import { FLOAT32_MAX } from '../validate.js';
import { defaultsOf, flag, nonNegative, numberIn, type OptimizerDescriptor } from './descriptor.js';
import { disposedError, Optimizer, type LoadStateDictOptions, type OptimizerStateDict, type ParamsInput } from './optimizer.js';
import type { CommonOptions } from './options.js';

/**
 * Options of {@link ASGD}; every field is optional.
 * @group Optimizers
 * @category Options and defaults
 */
export interface ASGDOptions {
  /**
   * Learning rate γ, at most the largest float32 (the step size η is a float32, as PyTorch's eta
   * tensor, and starts at γ). @defaultValue 1e-2
   */
  lr?: number;
  /** Decay term λ: the step size is η = γ/(1 + λγt)^α and θ shrinks by 1 − λη each step. @defaultValue 1e-4 */
  lambd?: number;
  /** Power α of the step-size decay. @defaultValue 0.75 */
  alpha?: number;
  /**
   * When averaging starts (any finite number): `ax` is θ itself up to step t0 + 2, then the mean
   * of the iterates since step t0 + 2 (for an integer t0). PyTorch's default means no averaging in
   * most runs. @defaultValue 1e6
   */
  t0?: number;
  /** L2 penalty λw, added to the gradient (coupled). @defaultValue 0 */
  weightDecay?: number;
  /** Maximise the objective instead of minimising it. @defaultValue false */
  maximize?: boolean;
}

/**
 * The resolved options of an ASGD param group.
 * @group Optimizers
 * @category Options and defaults
 */
export type ASGDGroupOptions = Required<ASGDOptions>;

/** PyTorch's `mu` after `step` steps (1 before the first), as a float32: 1/max(1, step − t0). */
function mu(step: number, t0: number): number {
  return step <= 0 ? 1 : Math.fround(1 / Math.max(1, step - t0));
}

/** ASGD: what defines it (options, ranges, state, reference); see {@link OptimizerDescriptor}. */
export const ASGD_DESCRIPTOR: OptimizerDescriptor<ASGDGroupOptions> = {
  name: 'ASGD',
  kernel: 'asgd',
  options: {
    // η starts at γ and never exceeds it, and is stored as a float32: a larger γ would make η an
    // infinity, a state stateDict could write but no loadStateDict read back.
    lr: numberIn(1e-2, { min: 0, max: FLOAT32_MAX }),
    lambd: nonNegative(1e-4),
    alpha: nonNegative(0.75),
    t0: numberIn(1e6, {}),
    weightDecay: nonNegative(0),
    maximize: flag(),
  },
  slots: ['ax'],
  scalarState: 'eta',
  computedState: { name: 'mu', value: (step, group) => mu(step, group.t0) },
  reference: {
    implementation: 'torch.optim.ASGD',
    url: 'https://docs.pytorch.org/docs/stable/generated/torch.optim.ASGD.html',
    paper: 'Polyak and Juditsky, SIAM J. Control Optim. 30(4), 1992',
    fixture: 'asgd.json',
  },
};

/**
 * PyTorch 2.x defaults of ASGD. Options left out of a constructor or a param group take these values.
 * @example
 * ```ts
 * ASGD_DEFAULTS.t0; // 1000000
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const ASGD_DEFAULTS: Readonly<ASGDGroupOptions> = defaultsOf(ASGD_DESCRIPTOR);

/**
 * ASGD, as `torch.optim.ASGD`: SGD with a decaying step size that also keeps a running average
 * of the parameters (Polyak–Ruppert averaging), to evaluate or ship instead of the last iterate.
 *
 * @remarks
 * ```text
 * g ← −g if maximize
 * g ← g + λw·θ                       (λw ≠ 0)
 * θ ← θ·(1 − λη)
 * θ ← θ − η·g
 * ax ← θ                 if μ = 1    (up to step t0 + 2)
 * ax ← ax + (θ − ax)·μ   otherwise   (the mean of the iterates since step t0 + 2)
 * then, for the next step:
 * η ← γ / (1 + λγt)^α                (float32, like PyTorch's eta tensor)
 * μ ← 1 / max(1, t − t0)             (float32)
 * ```
 * A parameter's first step uses η = γ and μ = 1. As in PyTorch, η is computed at the end of a
 * step from that step's lr, so a learning-rate scheduler acts one step late.
 *
 * State per parameter: `step`, `ax` (the averaged parameters), `eta` (a float32 number, stored
 * like PyTorch's scalar tensor) and `mu`. `mu` is a function of the step counter and `t0`, so
 * ferroptim computes it instead of storing it: `stateDict` reports it as PyTorch holds it, and
 * `loadStateDict` checks it and otherwise ignores it. The one difference from PyTorch's stored
 * μ: in the step right after a group's `t0` is changed, PyTorch still uses the μ computed from the
 * old t0.
 *
 * PyTorch users evaluate with the average by copying `state['ax']` into the parameters; here
 * {@link ASGD.swapAveraged} swaps it in and back out, and {@link ASGD.averagedParameters} returns
 * copies. torch's vectorised CPU kernels compute θ − η·g (and g + λw·θ) as one fused
 * multiply-add, where ferroptim rounds the product and the sum, so results agree within float32
 * rounding, as for SGD.
 *
 * @example
 * ```ts
 * const opt = new ASGD(model.parameters(), { lr: 0.01, t0: 1000 });
 * // ... train with opt.step() ...
 * opt.swapAveraged();        // evaluate with the averaged weights
 * const accuracy = evaluate(model);
 * opt.swapAveraged();        // and continue training from the last iterate
 * ```
 * @see Polyak and Juditsky, "Acceleration of Stochastic Approximation by Averaging", SIAM J. Control Optim. 30(4), 1992.
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.ASGD.html | torch.optim.ASGD}
 * @throws TypeError or RangeError for a bad option (negative lr, lambd, alpha or weightDecay; an lr
 * above the largest float32; a
 * t0 that is not a finite number; a non-boolean maximize), an empty or duplicated parameter list.
 * @group Optimizers
 * @category Classes
 */
export class ASGD extends Optimizer<ASGDGroupOptions> {
  /** The parameters whose data and average are swapped, while they are. */
  #swapped: Parameter[] | null = null;

  constructor(params: ParamsInput<ASGDGroupOptions>, options?: ASGDOptions & CommonOptions) {
    super(ASGD_DESCRIPTOR, params, options);
  }

  /** Whether {@link ASGD.swapAveraged} has put the averages into the parameters. */
  get averagedSwappedIn(): boolean {
    return this.#swapped !== null;
  }

  /**
   * Swaps, element by element, each parameter's data with its average `ax`, so the model holds
   * the averaged weights (for evaluation, or to keep them); calling it again swaps back, restoring
   * every bit. Parameters without state yet (never stepped) are left as they are, being their own
   * average. While the averages are swapped in, `step`, `stateDict` and `loadStateDict` throw,
   * since the state would hold the training weights; `dispose()` leaves the averages in the
   * parameters and frees the training weights with the state.
   * @example
   * ```ts
   * opt.swapAveraged();
   * const loss = evaluate(model);
   * opt.swapAveraged();
   * ```
   * @throws Error after `dispose()` or while a step in parts is under way.
   */
  swapAveraged(): void {
    if (this.disposed) throw disposedError(this.label, 'swapAveraged');
    this.notInParts('swapAveraged');
    const params = this.#swapped ?? this.parameters().filter((p) => this.stateBuffer(p, 'ax') !== null);
    for (const p of params) {
      const ax = this.stateBuffer(p, 'ax')!;
      const data = p.data;
      if (data.length !== ax.length) {
        throw new RangeError(`${this.label}.swapAveraged: expected data of ${p.name === undefined ? 'a parameter' : JSON.stringify(p.name)} to have length ${ax.length}, received ${data.length} (its buffer was detached or transferred)`);
      }
    }
    for (const p of params) {
      const ax = this.stateBuffer(p, 'ax')!;
      const data = p.data;
      for (let i = 0; i < data.length; i++) {
        const x = data[i]!;
        data[i] = ax[i]!;
        ax[i] = x;
      }
    }
    this.#swapped = this.#swapped === null ? params : null;
  }

  /**
   * A copy of each parameter's average (PyTorch's `state['ax']`), in {@link Optimizer.parameters}
   * order: a copy of its data for a parameter that has no state yet, or while the averages are
   * swapped in.
   * @throws Error after `dispose()`.
   */
  averagedParameters(): Float32Array[] {
    if (this.disposed) throw disposedError(this.label, 'averagedParameters');
    const swapped = new Set(this.#swapped ?? []);
    return this.parameters().map((p) => Float32Array.from((!swapped.has(p) && this.stateBuffer(p, 'ax')) || p.data));
  }

  #notSwapped(method: string): void {
    if (this.#swapped !== null) {
      throw new Error(`${this.label}: ${method}() was called while the averaged parameters are swapped in; call swapAveraged() again first`);
    }
  }

  /** A step (`step` or `stepInParts`) throws while the averages are swapped in. */
  protected override beforeStep(method: string): void {
    this.#notSwapped(method);
  }

  /** As {@link Optimizer.stateDict}; throws while the averages are swapped in. */
  override stateDict(): OptimizerStateDict {
    if (!this.disposed) this.#notSwapped('stateDict');
    return super.stateDict();
  }

  /** As {@link Optimizer.loadStateDict}; throws while the averages are swapped in. */
  override loadStateDict(sd: OptimizerStateDict, options?: LoadStateDictOptions): void {
    if (!this.disposed) this.#notSwapped('loadStateDict');
    super.loadStateDict(sd, options);
  }
}
