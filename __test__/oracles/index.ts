/**
 * Every registered optimizer's TS oracle behind one signature, keyed like the registry
 * (`OPTIMIZERS`, lower-case names), with what the conformance suite needs to exercise it: the
 * option variants where a number matters (the boolean toggles are derived from the descriptor),
 * the random options of its seeded scenarios, and what lr = 0 means for its update rule.
 *
 * The oracles themselves are the plain scalar references of `torch.ts` (torch.optim) and
 * `third-party.ts` (torch-optimizer, lion-pytorch) (every operation rounded to float32 in the kernels' order); the entries only adapt
 * them to one call: LAMB gets the start of each parameter in the step's concatenation (it fixes
 * how the norms are summed), Adagrad its state before the first step, AdaBound its baseLr.
 *
 * A new optimizer in the registry needs one entry here (and a tolerance for its fixture in
 * `helpers/fixtures.ts`); the conformance suite fails, naming it, until it has them.
 * @module
 */
import type { Rng } from '../helpers/data.js';
import { adadeltaReference, adagradInitialState, adagradReference, adamaxReference, adamReference, nadamReference, radamReference, rmspropReference, sgdReference } from './torch.js';
import { adaboundReference, lambReference, lionReference, stepStarts } from './third-party.js';

/** A param group's options, every one resolved (defaults filled in). */
export type OracleOptions = Record<string, unknown>;

/** One parameter's oracle state: its step counter, its buffers and NAdam's scalar `muProduct`. */
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
        const starts = stepStarts(grads.flat());
        let at = 0;
        groups.forEach((o, g) => {
          lambReference(params[g]!, grads[g]!, state[g]! as never, o as never, starts.slice(at, at + params[g]!.length));
          at += params[g]!.length;
        });
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
