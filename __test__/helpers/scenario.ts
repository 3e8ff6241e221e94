/**
 * Replayable optimizer runs: initial tensors, param groups, and every step's gradients and lrs,
 * all drawn up front, so that one run can be replayed by an oracle and then natively (at each
 * thread count, in each SIMD level's process) and compared bit for bit. Shared by the conformance
 * suite, its child processes and the Lookahead suite.
 * @module
 */
import { Parameter } from '../../ts/index.js';
import { firstDiff } from './compare.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, fixtureGrad, linearLr, values, type Rng } from './data.js';
import type { FixtureCase } from './fixtures.js';

/** A param group's option overrides. */
export type Options = Record<string, unknown>;

export interface Scenario {
  /** What the run is, for messages: `random scenario 7919`, `fixture case "amsgrad, lr 0.01"`. */
  label: string;
  /** The initial tensors; tensor j becomes the parameter named `p<j>`. */
  init: Float32Array[];
  /** The param groups in the optimizer's order: tensor indices and option overrides. */
  groups: Array<{ members: number[]; options: Options }>;
  /** `grads[t][j]`: the gradient of tensor j at step t + 1, or null to leave it out of that step. */
  grads: Array<Array<Float32Array | null>>;
  /** `lrs[t][g]`: the lr of group g set before step t + 1, or undefined to leave it. */
  lrs?: Array<Array<number | undefined>>;
  /**
   * For optimizers with `train()` and `eval()` (Schedule-Free): the steps t (0-based) after
   * which `eval()` is called; `train()` is called before the next step.
   */
  evalAfter?: number[];
}

/** What the scenario runners call: a step, and the modes of an optimizer that has them. */
export interface ScenarioOptimizer {
  paramGroups: Array<{ lr: number }>;
  step(): unknown;
  train?(): void;
  eval?(): void;
}

/** Lengths that break SIMD and chunking: around the vector widths and 1024. */
export const AWKWARD_LENGTHS: readonly number[] = [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1023, 1025];

/** A length above the parallel threshold (32768 elements) that is not a multiple of the chunk. */
export function bigLength(r: Rng): number {
  for (;;) {
    const n = r.int(32769, 60000);
    if (n % 8192 !== 0) return n;
  }
}

/** Random floats in [-scale, scale) with, sometimes, a few exact zeros of both signs. */
export function randomData(r: Rng, n: number, scale: number): Float32Array {
  const d = r.floats(n, scale);
  if (n > 0 && r.bool(0.3)) for (let k = 0; k < 3; k++) d[r.int(0, n - 1)] = r.bool() ? 0 : -0;
  return d;
}

/** Fresh parameters `p0`, `p1`, … holding copies of the scenario's initial tensors. */
export function scenarioParams(sc: Scenario): Parameter[] {
  return sc.init.map((d, j) => new Parameter(d.slice(), { name: `p${j}` }));
}

/** The param groups of a constructor call over `params`. */
export function scenarioGroups(sc: Scenario, params: readonly Parameter[]): Array<{ params: Parameter[] } & Options> {
  return sc.groups.map((g) => ({ params: g.members.map((j) => params[j]!), ...g.options }));
}

/** Sets the lrs and the gradients of step `t` (0-based), and train mode after an `eval()` (see {@link Scenario.evalAfter}). */
export function prepareStep(sc: Scenario, t: number, params: readonly Parameter[], opt: { paramGroups: Array<{ lr: number }>; train?(): void }): void {
  if (t > 0 && sc.evalAfter?.includes(t - 1)) opt.train?.();
  sc.lrs?.[t]?.forEach((lr, g) => {
    if (lr !== undefined) opt.paramGroups[g]!.lr = lr;
  });
  params.forEach((p, j) => (p.grad = sc.grads[t]![j] ?? null));
}

/** Calls `eval()` after step `t` (0-based) when the scenario says so (see {@link Scenario.evalAfter}). */
export function finishStep(sc: Scenario, t: number, opt: object): void {
  if (sc.evalAfter?.includes(t)) (opt as { eval?(): void }).eval?.();
}

/** Steps `opt` over the scenario's steps [from, to). */
export function runScenario(sc: Scenario, params: readonly Parameter[], opt: ScenarioOptimizer, from = 0, to = sc.grads.length): void {
  for (let t = from; t < to; t++) {
    prepareStep(sc, t, params, opt);
    opt.step();
    finishStep(sc, t, opt);
  }
}

/** The scenario in one line, for failure messages (not its data). */
export function describeScenario(sc: Scenario): string {
  return `${sc.label}: ${JSON.stringify({ lengths: sc.init.map((d) => d.length), steps: sc.grads.length, groups: sc.groups, lrSchedule: sc.lrs !== undefined, ...(sc.evalAfter ? { evalAfter: sc.evalAfter } : {}) })}`;
}

/** The first tensor of `data` that differs, in any bit, from the scenario's initial one, or null. */
export function initialDiff(sc: Scenario, data: readonly Float32Array[]): string | null {
  for (let j = 0; j < data.length; j++) {
    const diff = firstDiff(data[j]!, sc.init[j]!);
    if (diff) return `tensor ${j}: ${diff}`;
  }
  return null;
}

/**
 * A fixture case as a scenario, with the fixture scripts' rules: tensors 0–2 in group 0 with the
 * case's options, 3–4 in group 1 with lr / 2 (`lr` is the case's, or `defaultLr`), the linear lr
 * schedule when the case has one, tensor 1 without a gradient at steps 3 and 4 when it skips.
 */
export function fixtureScenario(c: FixtureCase, options: Options, defaultLr: number): Scenario {
  const lr = (options.lr as number | undefined) ?? defaultLr;
  const steps = Array.from({ length: FIXTURE_STEPS }, (_, t) => t + 1);
  return {
    label: `fixture case "${c.name}"`,
    init: FIXTURE_LENGTHS.map((n, j) => values(c.seed, 0, j, n)),
    groups: [
      { members: [0, 1, 2], options },
      { members: [3, 4], options: { ...options, lr: lr / 2 } },
    ],
    grads: steps.map((s) => FIXTURE_LENGTHS.map((n, j) => (c.skip && j === 1 && (s === 3 || s === 4) ? null : fixtureGrad(c.seed, s, j, n, c.gradScale)))),
    lrs: c.lrSchedule === 'linear' ? steps.map((s) => [linearLr(lr, s), linearLr(lr / 2, s)]) : undefined,
    ...(c.evalAfter ? { evalAfter: c.evalAfter.map((s) => s - 1) } : {}),
  };
}

/**
 * A seeded random scenario: 1 to 5 tensors of awkward lengths (sometimes one above the parallel
 * threshold), data and gradients at random scales with zeros of both signs, one or two groups
 * (contiguous or interleaved) with options from `options`, sometimes null gradients and lr
 * changes between steps. `lengths` fixes the tensors' lengths.
 */
export function randomScenario(label: string, r: Rng, options: (r: Rng) => Options, lr: (r: Rng) => number, lengths?: readonly number[]): Scenario {
  let ls: number[];
  if (lengths) ls = [...lengths];
  else {
    const count = r.int(1, 5);
    ls = Array.from({ length: count }, () => r.pick(AWKWARD_LENGTHS));
    if (r.bool(0.25)) ls[r.int(0, count - 1)] = bigLength(r);
  }
  const count = ls.length;
  const pScale = r.pick([1, 1e-3, 100]);
  const gScale = r.pick([1, 1e-4, 1e3]);
  const init = ls.map((n) => randomData(r, n, pScale));
  const all = ls.map((_, j) => j);
  let members: number[][];
  if (count >= 2 && r.bool(0.2)) members = [all.filter((j) => j % 2 === 0), all.filter((j) => j % 2 === 1)];
  else {
    const split = count >= 2 && r.bool(0.5) ? r.int(1, count - 1) : count;
    members = split < count ? [all.slice(0, split), all.slice(split)] : [all];
  }
  const groups = members.map((m) => ({ members: m, options: options(r) }));
  const nulls = r.bool(0.5);
  const schedule = r.bool(0.4);
  const steps = r.int(3, 10);
  const grads: Scenario['grads'] = [];
  const lrs: NonNullable<Scenario['lrs']> = [];
  for (let t = 0; t < steps; t++) {
    lrs.push(groups.map(() => (schedule ? lr(r) : undefined)));
    grads.push(ls.map((n) => (nulls && r.bool(0.2) ? null : randomData(r, n, gScale))));
  }
  return { label, init, groups, grads, lrs: schedule ? lrs : undefined };
}
