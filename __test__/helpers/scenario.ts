/**
 * The scenario plumbing shared by the randomized reference suites (`reference*.spec.ts`): each
 * suite draws its own scenarios (its optimizers' options differ), and runs them through these.
 */
import { Parameter } from '../../ts/index.js';
import type { ExecutionContext } from 'ava';
import { firstDiff } from './compare.js';
import { values } from './data.js';

/** Tensors, param groups and per-step gradients (and lrs) of one randomized run. */
export interface ScenarioBase<O> {
  init: Float32Array[];
  groups: Array<{ members: number[]; options: O }>;
  steps: number;
  /** The gradient of tensor j at step t (1-based), or null to skip it; called once per (t, j). */
  grad(t: number, j: number): Float32Array | null;
  /** The lr of group gi before step t, or undefined to leave it. */
  lr?(t: number, gi: number): number | undefined;
}

/** Fresh parameters `p0`, `p1`, … holding copies of the scenario's initial tensors. */
export function scenarioParams(sc: ScenarioBase<unknown>): Parameter[] {
  return sc.init.map((d, j) => new Parameter(d.slice(), { name: `p${j}` }));
}

/** Steps `opt` over the scenario: before each step, the groups' lrs and the parameters' grads. */
export function runSteps(sc: ScenarioBase<unknown>, params: Parameter[], opt: { paramGroups: Array<{ lr: number }>; step(): unknown }, steps = sc.steps): void {
  for (let t = 1; t <= steps; t++) {
    sc.groups.forEach((_, gi) => {
      const lr = sc.lr?.(t, gi);
      if (lr !== undefined) opt.paramGroups[gi]!.lr = lr;
    });
    params.forEach((p, j) => (p.grad = sc.grad(t, j)));
    opt.step();
  }
}

/** Makes a scenario replayable: no -0 in the initial data, and its gradients drawn once, up front. */
export function fixGrads(sc: ScenarioBase<unknown>): void {
  sc.init = sc.init.map((d) => d.map((x) => (Object.is(x, -0) ? 0 : x)));
  const grads = Array.from({ length: sc.steps }, (_, t) => sc.init.map((_, j) => sc.grad(t + 1, j)));
  sc.grad = (t, j) => grads[t - 1]![j]!;
}

/** Adds two tensors (40001 and 8193 elements) to the last group, so the chunked multithreaded path runs. */
export function addLongTensors(sc: ScenarioBase<unknown>): void {
  const n = sc.init.length;
  sc.init = [...sc.init, values(5, 0, 0, 40001), values(5, 0, 1, 8193)];
  const long = Array.from({ length: sc.steps }, (_, s) => [values(6, s + 1, 0, 40001), values(6, s + 1, 1, 8193)]);
  const inner = sc.grad;
  sc.grad = (s, j) => (j < n ? inner(s, j) : long[s - 1]![j - n]!);
  sc.groups[sc.groups.length - 1]!.members.push(n, n + 1);
}

/**
 * Makes a scenario replayable ({@link fixGrads}) for the invariant tests: each group's options
 * patched, an eps of 0 raised to 1e-8 (so no update divides by zero), and no lr schedule.
 */
export function fixScenario<O extends object, S extends ScenarioBase<O>>(sc: S, patch: (o: O) => O): S {
  fixGrads(sc);
  sc.groups = sc.groups.map((g) => {
    const o = patch(g.options);
    return { members: g.members, options: (o as { eps?: number }).eps === 0 ? { ...o, eps: 1e-8 } : o };
  });
  sc.lr = undefined;
  return sc;
}

/** Fails `t` for every tensor of `data` that differs, in any bit, from the scenario's initial one. */
export function expectInitial(t: ExecutionContext, sc: ScenarioBase<unknown>, data: Float32Array[], describe: () => string): void {
  data.forEach((d, j) => {
    const diff = firstDiff(d, sc.init[j]!);
    if (diff) t.fail(`tensor ${j}: ${diff}\nscenario: ${describe()}`);
  });
}
