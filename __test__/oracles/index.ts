/**
 * Every registered optimizer's TS oracle behind one signature, keyed like the registry
 * (`OPTIMIZERS`, lower-case names), with what the conformance suite needs to exercise it: the
 * option variants where a number matters (the boolean toggles are derived from the descriptor),
 * the random options of its seeded scenarios, and what lr = 0 means for its update rule.
 *
 * The oracles themselves are the plain scalar references of `torch.ts` (torch.optim) and
 * `third-party.ts` (torch-optimizer, lion-pytorch, schedulefree) (every operation rounded to float32 in the kernels' order); the entries only adapt
 * them to one call: LAMB gets the start of each parameter in the step's concatenation (it fixes
 * how the norms are summed), Adagrad its state before the first step, AdaBound its baseLr.
 *
 * A new optimizer in the registry needs one entry here (and a tolerance for its fixture in
 * `helpers/fixtures.ts`); the conformance suite fails, naming it, until it has them.
 * @module
 */
import type { Rng } from '../helpers/data.js';
import { adadeltaReference, adagradInitialState, adagradReference, adamaxReference, adamReference, asgdReference, nadamReference, radamReference, rmspropReference, rpropReference, sgdReference } from './torch.js';
import { adaboundReference, adamwScheduleFreeReference, lambReference, lionReference, scheduleFreeModeReference, sgdScheduleFreeReference, type ScheduleFreeRefGroup } from './third-party.js';

/** A param group's options, every one resolved (defaults filled in). */
export type OracleOptions = Record<string, unknown>;

/** One parameter's oracle state: its step counter, its buffers and its scalars (NAdam's `muProduct`, ASGD's `eta` and `mu`). */
export type OracleState = { step: number } & { [key: string]: Float32Array | number | undefined };

/**
 * One optimizer step over every param group, in the optimizer's order: `params[g][k]` is the
 * k-th parameter of group g (updated in place), `grads[g][k]` its gradient (null: left out, its
 * state does not advance), `state[g][k]` its state (created on its first step) and
 * `groupOptions[g]` the group's resolved options.
 */
export type Oracle = (
  params: Float32Array[][],
  grads: Array<Array<Float32Array | null>>,
  state: Array<Array<OracleState | undefined>>,
  groupOptions: OracleOptions[],
) => void;

/** `train()` or `eval()` over every param group, as {@link Oracle}'s arguments. */
export type ModeOracle = (params: Float32Array[][], state: Array<Array<OracleState | undefined>>, groupOptions: OracleOptions[]) => void;

/** What lr = 0 does to the parameters, decided from the update rule. */
export interface LrZero {
  /** Whether the parameters keep every bit. */
  readonly noop: boolean;
  /** Why, from the math (and the conditions it needs). */
  readonly why: string;
}

export interface OracleEntry {
  readonly step: Oracle;
  /** A group's options as resolved when the group is added (AdaBound: a null baseLr becomes the group's lr). */
  readonly resolve?: (o: OracleOptions) => OracleOptions;
  /** A parameter's state as it exists before its first step (Adagrad's `sum`, filled with τ). */
  readonly initialState?: (length: number, o: OracleOptions) => OracleState;
  /**
   * Option variants where a number matters (momentum for Nesterov, weight decay for the
   * decoupled flag, betas that take ATen's other lerp form...). The conformance suite runs each,
   * and each with every boolean option of the descriptor toggled, one at a time and all at once.
   */
  readonly variants: readonly OracleOptions[];
  /** What a toggled boolean needs to be valid (SGD's nesterov needs momentum > 0 and dampening 0). */
  readonly requires?: Readonly<Record<string, OracleOptions>>;
  /** Random options of one group of a seeded scenario. */
  readonly random: (r: Rng) => OracleOptions;
  /** A random lr set between steps (default {@link randomLr}). */
  readonly randomLr?: (r: Rng) => number;
  readonly lrZero: LrZero;
  /**
   * The oracle of `train()` and `eval()` for an optimizer that has them (Schedule-Free): the
   * parameters and state by group as in `step`, the groups' options (which hold their mode).
   * Its scenarios then switch modes between steps, and `create` puts it in train mode first.
   */
  readonly modes?: { train: ModeOracle; eval: ModeOracle };
  /** Why a non-finite gradient can leave no trace in the parameters or the state, for a rule that can drop it (Rprop). */
  readonly nonFiniteDropped?: string;
}

/** An lr in [1e-4, 0.3), or 0 with probability `zero`. */
export function randomLr(r: Rng, zero = 0.05): number {
  return r.bool(zero) ? 0 : r.logUniform(-4, -0.5);
}
function randomEps(r: Rng, typical: number): number {
  return r.bool(0.05) ? 0 : r.pick([typical, r.logUniform(-10, -3)]);
}
function randomDecay(r: Rng, zero = 0.4): number {
  return r.bool(zero) ? 0 : r.logUniform(-4, -0.3);
}
/** β1 > 0.5 and <= 0.5 take ATen's two lerp forms; β2 = 0.9 rectifies RAdam from step 6. */
function randomBetas(r: Rng): [number, number] {
  return [r.pick([0, 0.5, 0.8, 0.9, r.uniform(0, 1)]), r.pick([0, 0.5, 0.9, 0.99, 0.999, r.uniform(0, 1)])];
}

/** An oracle that steps each group on its own. */
function perGroup(f: (ps: Float32Array[], gs: Array<Float32Array | null>, st: Array<OracleState | undefined>, o: never) => void): Oracle {
  return (params, grads, state, groups) => groups.forEach((o, g) => f(params[g]!, grads[g]!, state[g]!, o as never));
}

const ADAM_LIKE_LR_ZERO = 'the step γ/(1 − β1ᵗ)·m/(√v̂/√(1 − β2ᵗ) + ε) is ±0 (with ε > 0: a zero v̂ and ε = 0 give 0·0/0 = NaN)';

const adamVariants: readonly OracleOptions[] = [{ weightDecay: 0.1 }, { betas: [0.5, 0.9], eps: 1e-6, weightDecay: 0.01 }];
const randomAdam = (r: Rng): OracleOptions => ({
  lr: randomLr(r),
  // beta1 > 0.5 and <= 0.5 take ATen's two lerp forms
  betas: [r.pick([0, 0.5, 0.8, 0.9, r.uniform(0, 1)]), r.pick([0, 0.5, 0.99, 0.999, r.uniform(0, 1)])],
  eps: r.bool(0.05) ? 0 : r.logUniform(-10, -3),
  weightDecay: randomDecay(r),
  amsgrad: r.bool(0.4),
  maximize: r.bool(0.3),
});
const contribBeta = (r: Rng): number => r.pick([0, 0.5, 0.8, 0.9, 0.99, 0.999, r.uniform(0, 1)]);

/** schedulefree's train() and eval(), β1 (or SGD's momentum) read from a group by `beta1`. */
function scheduleFreeModes(beta1: (o: ScheduleFreeRefGroup) => number): { train: ModeOracle; eval: ModeOracle } {
  const mode = (toTrain: boolean): ModeOracle => (params, state, groups) => scheduleFreeModeReference(params, state as never, groups as never, toTrain, beta1);
  return { train: mode(true), eval: mode(false) };
}
/** The options of the group state's schedule: warmup, weighting power, lr weighting. */
const randomScheduleFree = (r: Rng): OracleOptions => ({
  weightDecay: randomDecay(r),
  warmupSteps: r.pick([0, 0, 2, 5]),
  r: r.pick([0, 0, 0.5, 1, 2]),
  weightLrPower: r.pick([2, 2, 0, 1, 0.5]),
});
const SCHEDULE_FREE_LR_ZERO =
  'z stays θ (z ← z − 0·g), so the interpolation lerp(θ, z, c) and the train/eval lerps give θ, and the step γ(β(1 − c) − 1)·g adds ±0 (with ε > 0 for AdamW: g/(√v̂ + ε) is 0/0 for v = ε = 0)';

/** The oracle of every registered optimizer, by registry name. */
export const ORACLES: Readonly<Record<string, OracleEntry>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, OracleEntry>, {
    sgd: {
      step: perGroup(sgdReference),
      variants: [{ momentum: 0.9 }, { momentum: 0.9, dampening: 0.1 }, { weightDecay: 0.01 }, { momentum: 0.5, weightDecay: 0.1 }],
      requires: { nesterov: { momentum: 0.9, dampening: 0 } },
      random: (r) => {
        const momentum = r.pick([0, 0, 0.5, 0.9, r.uniform(0, 1)]);
        const nesterov = momentum > 0 && r.bool(0.4);
        const dampening = nesterov ? 0 : r.pick([0, 0, 0.1, r.uniform(0, 1)]);
        return { lr: randomLr(r), momentum, dampening, nesterov, weightDecay: r.bool(0.5) ? 0 : r.logUniform(-4, -1), maximize: r.bool(0.3) };
      },
      lrZero: { noop: true, why: 'θ ← θ + (−γ)·d adds ±0' },
    },
    adam: {
      step: perGroup((ps, gs, st, o) => adamReference(ps, gs, st, o, false)),
      variants: adamVariants,
      random: randomAdam,
      lrZero: { noop: true, why: ADAM_LIKE_LR_ZERO },
    },
    adamw: {
      step: perGroup((ps, gs, st, o) => adamReference(ps, gs, st, o, true)),
      variants: adamVariants,
      random: randomAdam,
      lrZero: { noop: true, why: `the decay factor 1 − γλ is 1 and ${ADAM_LIKE_LR_ZERO}` },
    },
    rmsprop: {
      step: perGroup(rmspropReference),
      variants: [{ momentum: 0.9 }, { alpha: 0.3, weightDecay: 0.1 }, { momentum: 0.5, alpha: 0.9, eps: 1e-6 }],
      // alpha > 0.5 and <= 0.5 take the two lerp forms of the centered average
      random: (r) => ({
        lr: randomLr(r),
        alpha: r.pick([0, 0.3, 0.5, 0.9, 0.99, r.uniform(0, 1)]),
        eps: randomEps(r, 1e-8),
        weightDecay: randomDecay(r),
        momentum: r.pick([0, 0, 0.5, 0.9, r.uniform(0, 1)]),
        centered: r.bool(0.5),
        maximize: r.bool(0.3),
      }),
      lrZero: { noop: true, why: 'the step γ·g/d (or γ·b with momentum) is ±0 (with ε > 0: d = √v + ε is 0 when v = ε = 0)' },
    },
    adagrad: {
      step: perGroup(adagradReference),
      initialState: (length, o) => adagradInitialState(length, o as never) as OracleState,
      variants: [{ lrDecay: 0.1 }, { initialAccumulatorValue: 0.5, weightDecay: 0.1 }, { eps: 1e-6, lrDecay: 0.01, initialAccumulatorValue: 0.1 }],
      random: (r) => ({
        lr: randomLr(r),
        lrDecay: r.pick([0, 0, 0.01, r.uniform(0, 1)]),
        weightDecay: randomDecay(r),
        initialAccumulatorValue: r.pick([0, 0, 0.1, r.uniform(0, 2)]),
        eps: randomEps(r, 1e-10),
        maximize: r.bool(0.3),
      }),
      lrZero: { noop: true, why: 'γ̃ = γ/(1 + (t − 1)η) is 0, so γ̃·g/(√s + ε) is ±0 (with ε > 0: s = 0 and ε = 0 give 0/0)' },
    },
    radam: {
      step: perGroup(radamReference),
      // β2 0.9 and 0.8 take rectified steps from steps 6 and 7 on; β1 0.3 takes ATen's other lerp form
      variants: [{ weightDecay: 0.1 }, { betas: [0.9, 0.9], eps: 1e-6 }, { betas: [0.3, 0.8], weightDecay: 0.01 }],
      random: (r) => ({
        lr: randomLr(r),
        betas: randomBetas(r),
        eps: randomEps(r, 1e-8),
        weightDecay: randomDecay(r),
        decoupledWeightDecay: r.bool(0.5),
        maximize: r.bool(0.3),
      }),
      lrZero: { noop: true, why: 'the decay factor 1 − γλ is 1 and u = γ·m̂ is ±0, rectified or not (with ε > 0: 1/(√v + ε) is infinite for v = ε = 0)' },
    },
    nadam: {
      step: perGroup(nadamReference),
      variants: [{ weightDecay: 0.1 }, { momentumDecay: 0.1, betas: [0.5, 0.9], eps: 1e-6 }, { momentumDecay: 0, weightDecay: 0.01 }],
      random: (r) => ({
        lr: randomLr(r),
        betas: randomBetas(r),
        eps: randomEps(r, 1e-8),
        weightDecay: randomDecay(r),
        momentumDecay: r.pick([4e-3, 4e-3, 0, 0.1, r.uniform(0, 2)]),
        decoupledWeightDecay: r.bool(0.5),
        maximize: r.bool(0.3),
      }),
      lrZero: { noop: true, why: 'the decay factor 1 − γλ is 1 and both coefficients −γ(1 − μₜ)/(1 − Π) and −γμₜ₊₁/(1 − Πμₜ₊₁) are ±0 (with ε > 0)' },
    },
    adamax: {
      step: perGroup(adamaxReference),
      variants: [{ weightDecay: 0.1 }, { betas: [0.3, 0.9], eps: 1e-3 }],
      random: (r) => ({ lr: randomLr(r), betas: randomBetas(r), eps: randomEps(r, 1e-8), weightDecay: randomDecay(r), maximize: r.bool(0.3) }),
      lrZero: { noop: true, why: 'the step γ/(1 − β1ᵗ)·m/u is ±0 (with ε > 0: u = max(β2u, |g| + ε) is 0 for g = ε = 0)' },
    },
    adadelta: {
      step: perGroup(adadeltaReference),
      variants: [{ weightDecay: 0.1 }, { rho: 0.5, eps: 1e-3 }, { rho: 1, lr: 0.5 }],
      random: (r) => ({
        lr: r.bool(0.05) ? 0 : r.logUniform(-3, 0.5),
        rho: r.pick([0, 0.5, 0.9, 0.99, 1, r.uniform(0, 1)]),
        eps: randomEps(r, 1e-6),
        weightDecay: randomDecay(r),
        maximize: r.bool(0.3),
      }),
      randomLr: (r) => r.logUniform(-3, 0.5),
      lrZero: { noop: true, why: 'θ ← θ + (−γ)·δ adds ±0 (with ε > 0: δ = √(a + ε)/√(v + ε)·g is 0/0 for a = v = ε = 0)' },
    },
    adabound: {
      step: perGroup(adaboundReference),
      resolve: (o) => ({ ...o, baseLr: o.baseLr ?? o.lr }),
      variants: [{ weightDecay: 0.1, gamma: 0.5 }, { betas: [0.8, 0.99], finalLr: 0.05, baseLr: 0.01, eps: 1e-6 }],
      random: (r) => ({
        // A group created with lr 0 cannot later take lr > 0 (its bounds would divide by 0).
        lr: randomLr(r, 0),
        betas: [contribBeta(r), contribBeta(r)],
        finalLr: r.pick([0.1, 0, r.logUniform(-3, 0)]),
        gamma: r.pick([1e-3, 0.5, r.uniform(1e-4, 0.999)]),
        eps: r.bool(0.05) ? 0 : r.logUniform(-10, -3),
        weightDecay: randomDecay(r, 0.5),
        amsbound: r.bool(0.4),
        ...(r.bool(0.2) ? { baseLr: r.logUniform(-4, -1) } : {}),
      }),
      lrZero: {
        noop: true,
        why:
          'both bounds finalLr·γ/baseLr are 0, so the clamped step size η is 0 whatever the Adam step η* (a group created with lr 0 has baseLr 0: its bounds are 0 by definition while lr stays 0)',
      },
    },
    lamb: {
      step: (params, grads, state, groups) => {
        groups.forEach((o, g) => lambReference(params[g]!, grads[g]!, state[g]! as never, o as never));
      },
      variants: [{ weightDecay: 0.1 }, { clampValue: 0.5, weightDecay: 0.01 }, { betas: [0.5, 0.9], eps: 1e-8 }],
      random: (r) => ({
        lr: randomLr(r),
        betas: [contribBeta(r), contribBeta(r)],
        eps: r.bool(0.05) ? 0 : r.logUniform(-10, -3),
        weightDecay: randomDecay(r, 0.5),
        clampValue: r.pick([10, 0.5, 0, 1e4, r.logUniform(-2, 2)]),
        debias: r.bool(0.4),
        adam: r.bool(0.15),
      }),
      lrZero: {
        noop: true,
        why: 'the step (−η·r)·u is ±0: η is γ (or γ·√(1 − β2ᵗ)/(1 − β1ᵗ)) and the trust ratio r is finite (1 when ‖u‖ underflows); with ε > 0, since u = m/(√v + ε) is 0/0 for v = ε = 0',
      },
    },
    rprop: {
      step: perGroup(rpropReference),
      // Δmin > Δmax (every step size is Δmax); factors far from and near 1
      variants: [{ etas: [0.3, 2], stepSizes: [1e-4, 0.02] }, { lr: 0.1, stepSizes: [0.05, 0.01] }, { etas: [0.9, 1.01], lr: 1e-3, stepSizes: [1e-5, 1] }],
      // Δmin >= 1e-5 moves every value up to 100 (the scenarios' largest) when lr is 0.
      random: (r) => ({
        lr: randomLr(r),
        etas: [r.pick([0.5, 0.1, 0.9, r.uniform(0.01, 0.99)]), r.pick([1.2, 1.01, 2, 1 + r.logUniform(-3, 1)])],
        stepSizes: [r.pick([1e-5, 1e-3, r.logUniform(-5, -1)]), r.pick([50, 1, 0.01, r.logUniform(-4, 2)])],
        maximize: r.bool(0.3),
      }),
      lrZero: {
        noop: false,
        why: 'γ is only the initial step size: Δ = clamp(0·f, Δmin, Δmax) is Δmin on the first step, so each element moves by Δmin·sign(g) (a no-op only with Δmin = 0)',
      },
      nonFiniteDropped: 'an infinite gradient whose sign differs from the previous one is set to 0 (the step after a sign flip is skipped), and only the signs of g and g·prev reach θ',
    },
    asgd: {
      step: perGroup(asgdReference),
      // small t0 so that the 8 steps average (μ < 1); t0 < 0 averages from the second step
      variants: [{ weightDecay: 0.1 }, { t0: 2, lambd: 0.01 }, { t0: 0, alpha: 1, lambd: 0.5, weightDecay: 0.01 }, { t0: -3.5, alpha: 0, lambd: 2, lr: 0.05 }],
      random: (r) => ({
        lr: randomLr(r),
        lambd: r.pick([1e-4, 0, 0.01, r.logUniform(-4, 0.5)]),
        alpha: r.pick([0.75, 0, 1, r.uniform(0, 2)]),
        t0: r.pick([1e6, 0, 2, r.int(-3, 8), r.uniform(-3, 8)]),
        weightDecay: randomDecay(r),
        maximize: r.bool(0.3),
      }),
      lrZero: { noop: true, why: 'η starts at γ = 0 and stays γ/(1 + λγt)^α = 0, so θ·(1 − λ·0) + (−0)·g = θ (the average ax still follows θ)' },
    },
    sgdschedulefree: {
      step: perGroup(sgdScheduleFreeReference),
      modes: scheduleFreeModes((o) => (o as unknown as { momentum: number }).momentum),
      // momentum 0.3 takes ATen's other lerp form in train() and eval()
      variants: [{ weightDecay: 0.01 }, { warmupSteps: 3 }, { r: 1, weightLrPower: 0, momentum: 0.5 }, { momentum: 0.3, r: 0.5, weightLrPower: 1, warmupSteps: 2, weightDecay: 0.1 }],
      random: (r) => ({ lr: r.bool(0.05) ? 0 : r.logUniform(-3, 0), momentum: r.pick([0.9, 0.9, 0.5, 0.3, r.uniform(0.01, 0.99)]), ...randomScheduleFree(r) }),
      lrZero: { noop: true, why: SCHEDULE_FREE_LR_ZERO },
    },
    adamwschedulefree: {
      step: perGroup(adamwScheduleFreeReference),
      modes: scheduleFreeModes((o) => (o as unknown as { betas: [number, number] }).betas[0]),
      // β1 0.3 takes ATen's other lerp form in train() and eval()
      variants: [{ weightDecay: 0.01 }, { warmupSteps: 3, eps: 1e-6 }, { r: 1, weightLrPower: 0, betas: [0.95, 0.99] }, { betas: [0.3, 0.9], r: 0.5, weightLrPower: 1, warmupSteps: 2, weightDecay: 0.1 }],
      random: (r) => ({
        lr: randomLr(r),
        betas: [r.pick([0.9, 0.9, 0.5, 0.3, 0.95, r.uniform(0.01, 0.99)]), r.pick([0, 0.5, 0.9, 0.99, 0.999, r.uniform(0, 0.999)])],
        eps: randomEps(r, 1e-8),
        ...randomScheduleFree(r),
      }),
      lrZero: { noop: true, why: SCHEDULE_FREE_LR_ZERO },
    },
    lion: {
      step: perGroup(lionReference),
      variants: [{ weightDecay: 0.1 }, { betas: [0.95, 0.98], weightDecay: 1 }, { betas: [1, 0], lr: 1e-3 }, { betas: [0, 1] }],
      random: (r) => ({
        lr: randomLr(r),
        betas: [r.pick([0, 0.5, 0.9, 0.95, 1, r.uniform(0, 1)]), r.pick([0, 0.9, 0.99, 1, r.uniform(0, 1)])],
        weightDecay: r.bool(0.5) ? 0 : r.logUniform(-3, 0),
      }),
      lrZero: { noop: true, why: 'θ·(1 − 0·λ) + (−0)·sign(c) = θ: the sign is ±1 or 0, never NaN (sign(NaN) = 0 as torch.sign)' },
    },
  } satisfies Record<string, OracleEntry>),
);
