/**
 * The test functions of `npm run bench:tune` (benchmark/tune/samplers.ts), all minimized. Each is
 * written twice, here and in benchmark/tune/optuna_samplers.py, with the same parameter names,
 * bounds and suggestion order; samplers.ts checks at start-up that both languages give the same
 * values at a set of points (`evaluate` here against `FUNCTIONS[name](params)` there).
 *
 *  - branin: Branin-Hoo, x0 in [-5, 10], x1 in [0, 15]; global minimum 0.397887 (three minimizers).
 *  - hartmann6: Hartmann 6-D in [0, 1]^6, as is (negative); global minimum -3.32237.
 *  - rosenbrock10: Rosenbrock 10-D in [-2.048, 2.048]^10; global minimum 0 at (1, ..., 1).
 *  - mixed: a synthetic "validation loss" over a categorical + conditional space shaped like a
 *    training run's (see {@link mixed}); global minimum 0 (adamw, lr = 10^-2.5, weight_decay = 10^-3.5).
 * @module
 */
import type { Trial } from '../../tune/src/index.js';
import { mulberry32 } from '../../__test__/helpers/data.js';

/** A parameter value as the objective sees it. */
export type Value = number | string;

/** One test function. */
export interface TestFunction {
  /** Its name (for --only, the JSON and Python). */
  readonly name: string;
  /** What the tables call it. */
  readonly title: string;
  /** The search space in a few words. */
  readonly space: string;
  /** The global minimum. */
  readonly optimum: number;
  /** The objective of a study: suggests the parameters, returns the value. */
  objective(trial: Trial): number;
  /** The value at given parameters (the same names as the suggestions). */
  evaluate(params: Readonly<Record<string, Value>>): number;
  /** Points for the cross-language check. */
  checkPoints(): Record<string, Value>[];
}

const num = (p: Readonly<Record<string, Value>>, k: string): number => {
  const v = p[k];
  if (typeof v !== 'number') throw new TypeError(`parameter ${k}: expected a number, received ${JSON.stringify(v)}`);
  return v;
};

/** A small deterministic PRNG (mulberry32, the tests' own) for the check points and the overhead prefill. */
export { mulberry32 };

/** A box-bounded continuous function of x0..x{d-1}. */
function boxFunction(name: string, title: string, space: string, optimum: number, bounds: readonly (readonly [number, number])[], f: (x: number[]) => number, known: number[][]): TestFunction {
  const keys = bounds.map((_, i) => `x${i}`);
  return {
    name,
    title,
    space,
    optimum,
    objective(trial) {
      return f(bounds.map(([lo, hi], i) => trial.suggestFloat(keys[i]!, lo, hi)));
    },
    evaluate(p) {
      return f(keys.map((k) => num(p, k)));
    },
    checkPoints() {
      const rnd = mulberry32(12345);
      const pts = known.map((x) => Object.fromEntries(x.map((v, i) => [keys[i]!, v])));
      for (let n = 0; n < 8; n++) pts.push(Object.fromEntries(bounds.map(([lo, hi], i) => [keys[i]!, lo + (hi - lo) * rnd()])));
      pts.push(Object.fromEntries(bounds.map(([lo], i) => [keys[i]!, lo])));
      pts.push(Object.fromEntries(bounds.map(([, hi], i) => [keys[i]!, hi])));
      return pts;
    },
  };
}

/** Branin-Hoo: a = 1, b = 5.1/(4π²), c = 5/π, r = 6, s = 10, t = 1/(8π). */
export function branin(x: readonly number[]): number {
  const [x1, x2] = x as [number, number];
  const b = 5.1 / (4 * Math.PI * Math.PI);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

const H_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((v) => v * 1e-4));

/** Hartmann 6-D: -Σ_i α_i exp(-Σ_j A_ij (x_j - P_ij)²). */
export function hartmann6(x: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < 4; i++) {
    let inner = 0;
    for (let j = 0; j < 6; j++) inner += H_A[i]![j]! * (x[j]! - H_P[i]![j]!) ** 2;
    s += H_ALPHA[i]! * Math.exp(-inner);
  }
  return -s;
}

/** Rosenbrock: Σ_{i<d-1} 100 (x_{i+1} - x_i²)² + (1 - x_i)². */
export function rosenbrock(x: readonly number[]): number {
  let s = 0;
  for (let i = 0; i + 1 < x.length; i++) s += 100 * (x[i + 1]! - x[i]! * x[i]!) ** 2 + (1 - x[i]!) ** 2;
  return s;
}

/** The choices of the mixed space's categorical parameter, in order. */
export const OPTIMIZERS = ['adam', 'sgd', 'adamw'] as const;

/**
 * The mixed space's response surface, a synthetic validation loss with a different optimum per
 * branch (u = log10(lr), w = log10(weight_decay), m = (momentum - 0.8) / 0.19 in [0, 1]):
 *
 *   adam:  0.15 + 0.10 (u + 3)²                                   min 0.15 at lr = 1e-3
 *   sgd:   0.05 + 0.10 (u + 1.5)² + 0.30 (m - 0.8)²               min 0.05 at lr = 10^-1.5, momentum = 0.952
 *   adamw: 0.10 (u + 2.5)² + 0.06 (w + 3.5)² + 0.06 (u + 2.5)(w + 3.5)
 *                                                                 min 0    at lr = 10^-2.5, weight_decay = 10^-3.5
 *
 * (The adamw quadratic form is positive definite: 0.10 · 0.06 > 0.03².) Parameters, suggested in
 * this order: `optimizer` in {adam, sgd, adamw}; `lr` log-uniform in [1e-5, 1e-1]; then
 * `momentum` uniform in [0.8, 0.99] for sgd only, or `weight_decay` log-uniform in [1e-5, 1e-2]
 * for adamw only.
 */
export function mixedValue(p: Readonly<Record<string, Value>>): number {
  const opt = p.optimizer;
  const u = Math.log10(num(p, 'lr'));
  if (opt === 'adam') return 0.15 + 0.1 * (u + 3) ** 2;
  if (opt === 'sgd') {
    const m = (num(p, 'momentum') - 0.8) / 0.19;
    return 0.05 + 0.1 * (u + 1.5) ** 2 + 0.3 * (m - 0.8) ** 2;
  }
  if (opt === 'adamw') {
    const du = u + 2.5;
    const dw = Math.log10(num(p, 'weight_decay')) + 3.5;
    return 0.1 * du * du + 0.06 * dw * dw + 0.06 * du * dw;
  }
  throw new RangeError(`mixed: unknown optimizer ${JSON.stringify(opt)}`);
}

const mixed: TestFunction = {
  name: 'mixed',
  title: 'Mixed (categorical + conditional)',
  space: 'optimizer ∈ {adam, sgd, adamw}, lr log [1e-5, 1e-1], momentum [0.8, 0.99] (sgd), weight_decay log [1e-5, 1e-2] (adamw)',
  optimum: 0,
  objective(trial) {
    const optimizer = trial.suggestCategorical('optimizer', OPTIMIZERS);
    const p: Record<string, Value> = { optimizer, lr: trial.suggestFloat('lr', 1e-5, 1e-1, { log: true }) };
    if (optimizer === 'sgd') p.momentum = trial.suggestFloat('momentum', 0.8, 0.99);
    else if (optimizer === 'adamw') p.weight_decay = trial.suggestFloat('weight_decay', 1e-5, 1e-2, { log: true });
    return mixedValue(p);
  },
  evaluate: mixedValue,
  checkPoints() {
    const rnd = mulberry32(777);
    const pts: Record<string, Value>[] = [
      { optimizer: 'adam', lr: 1e-3 },
      { optimizer: 'sgd', lr: 10 ** -1.5, momentum: 0.952 },
      { optimizer: 'adamw', lr: 10 ** -2.5, weight_decay: 10 ** -3.5 },
    ];
    for (let n = 0; n < 12; n++) {
      const optimizer = OPTIMIZERS[n % 3]!;
      const p: Record<string, Value> = { optimizer, lr: 10 ** (-5 + 4 * rnd()) };
      if (optimizer === 'sgd') p.momentum = 0.8 + 0.19 * rnd();
      if (optimizer === 'adamw') p.weight_decay = 10 ** (-5 + 3 * rnd());
      pts.push(p);
    }
    return pts;
  },
};

/** The functions, in the order of the tables. */
export const FUNCTIONS: readonly TestFunction[] = [
  boxFunction('branin', 'Branin (2-D)', 'x0 ∈ [-5, 10], x1 ∈ [0, 15]', 0.397887, [[-5, 10], [0, 15]], branin, [
    [-Math.PI, 12.275],
    [Math.PI, 2.275],
    [9.42478, 2.475],
  ]),
  boxFunction('hartmann6', 'Hartmann-6 (6-D)', '[0, 1]^6', -3.32237, Array.from({ length: 6 }, () => [0, 1] as const), hartmann6, [[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]]),
  boxFunction('rosenbrock10', 'Rosenbrock (10-D)', '[-2.048, 2.048]^10', 0, Array.from({ length: 10 }, () => [-2.048, 2.048] as const), rosenbrock, [Array.from({ length: 10 }, () => 1)]),
  mixed,
];
