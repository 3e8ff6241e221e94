/**
 * `race`: several optimizers descend the same 2-D function from the same start; their paths.
 * @module
 */
import { Parameter } from 'ferroptim';
import { checkKnownKeys, checkNumber, checkOptions, describeValue, option } from 'ferroptim/internal';
import { resolveFunction2D, type Function2D } from './functions.js';
import { checkSpec, createOptimizer, parseOptimizerSpec, type OptimizerSpec } from './optimizer-spec.js';

/**
 * Options of {@link race}.
 * @group Demos
 */
export interface RaceOptions {
  /** The optimizers, as specs (`'sgd:lr=0.001,momentum=0.9'`) or parsed specs. */
  optimizers: ReadonlyArray<string | OptimizerSpec>;
  /** Start point. @defaultValue the function's `start` ((-1, 1) for Rosenbrock) */
  start?: readonly [number, number];
  /** Optimizer steps. @defaultValue 1000 */
  steps?: number;
}

/**
 * One optimizer's run.
 * @group Demos
 */
export interface RaceRun {
  /** The spec as written: `'sgd:lr=0.001'`. */
  label: string;
  /** The lower-case optimizer name: `'sgd'`, `'adam'`, … */
  name: string;
  /** The constructor options the run used (camelCase). */
  options: Record<string, unknown>;
  /** Positions after 0, 1, …, `steps` steps (the float32 values of the parameter). */
  x: Float64Array;
  /** The second coordinate of the same positions. */
  y: Float64Array;
  /** f at each position, in float64. */
  loss: Float64Array;
  /** The last position and its loss. */
  final: {
    /** The first coordinate. */
    x: number;
    /** The second coordinate. */
    y: number;
    /** f there, in float64. */
    loss: number;
  };
  /** Steps taken: `steps`, or fewer if the run diverged. */
  steps: number;
  /** The position or its loss stopped being finite; the run was stopped there. */
  diverged: boolean;
}

/**
 * The result of {@link race}.
 * @group Demos
 */
export interface RaceResult {
  /** The function raced on. */
  fn: Function2D;
  /** The starting point every run shared. */
  start: [number, number];
  /** The steps each run was given (a diverged run took fewer). */
  steps: number;
  /** One run per optimizer, in the order given. */
  runs: RaceRun[];
}

/**
 * Runs each optimizer on `fn` from the same start for `steps` steps, through the public API: the
 * weights are one 2-element float32 `Parameter`, the gradient is written into its `grad` by a
 * closure that `optimizer.step(closure)` calls (once, or as often as L-BFGS needs), and the step
 * moves it — as in a training loop.
 *
 * @remarks
 * The gradient is evaluated in float64 at the parameter's float32 values and rounded to float32.
 * With the article's settings (SGD and SGD with momentum 0.9, lr 0.001, Rosenbrock from (-1, 1),
 * 1000 steps) the final positions and losses match the article's numpy loop (float64) to the 4
 * decimals it prints: ferroptim's SGD with momentum is PyTorch's (buffer = g on the first step,
 * then β·buffer + g), which is the article's velocity rule.
 *
 * @example
 * ```ts
 * const { runs } = race('rosenbrock', { start: [-1, 1], steps: 1000, optimizers: ['sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9'] });
 * runs[1].final; // { x: 0.9939, y: 0.9878, loss: 0.0000… }
 * ```
 * @throws RangeError or TypeError for an unknown function or optimizer, bad options (before any
 * run); a spec that does not parse (from `parseOptimizerSpec`) or options an optimizer rejects
 * (from its constructor, or `createOptimizer` for Lookahead's `inner`).
 * @group Demos
 */
export function race(fn: string | Function2D, options: RaceOptions): RaceResult {
  const f = resolveFunction2D('race', 'fn', fn);
  const o = checkOptions('race', options) as unknown as RaceOptions;
  checkKnownKeys('race', o as unknown as Record<string, unknown>, ['optimizers', 'start', 'steps']);
  const steps = checkNumber('race', 'steps', option(o.steps, 1000), { integer: true, min: 0, max: 10_000_000 });
  const start = option(o.start, f.start);
  if (!Array.isArray(start) || start.length !== 2 || !start.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new RangeError(`race: expected start to be a pair of finite numbers [x, y], received ${describeValue(start)}`);
  }
  if (!Array.isArray(o.optimizers) || o.optimizers.length === 0) throw new RangeError(`race: expected optimizers to be a non-empty array of specs, received ${describeValue(o.optimizers)}`);
  const specs = o.optimizers.map((s, i) => (typeof s === 'string' ? parseOptimizerSpec(s) : checkSpec('race', `optimizers[${i}]`, s)));
  // Build every optimizer first, so a bad spec throws before any run.
  const setups = specs.map((spec) => {
    const w = new Parameter(Float32Array.from(start), { name: 'w' });
    return { spec, w, optimizer: createOptimizer(spec, [w]) };
  });
  const runs = setups.map(({ spec, w, optimizer }): RaceRun => {
    const x = new Float64Array(steps + 1);
    const y = new Float64Array(steps + 1);
    const loss = new Float64Array(steps + 1);
    const p = w.data;
    x[0] = p[0]!;
    y[0] = p[1]!;
    loss[0] = f.f(x[0], y[0]);
    let taken = 0;
    let diverged = !Number.isFinite(loss[0]);
    // A Schedule-Free optimizer steps in train mode; its path is then y, where it takes gradients.
    optimizer.train?.();
    // The closure evaluates the function where the parameter is: once per step for most
    // optimizers, as often as its line search needs for L-BFGS.
    const closure = () => {
      optimizer.zeroGrad();
      const [gx, gy] = f.grad(p[0]!, p[1]!);
      w.grad![0] = gx;
      w.grad![1] = gy;
      return f.f(p[0]!, p[1]!);
    };
    while (taken < steps && !diverged) {
      optimizer.step(closure);
      taken++;
      x[taken] = p[0]!;
      y[taken] = p[1]!;
      loss[taken] = f.f(p[0]!, p[1]!);
      diverged = !(Number.isFinite(x[taken]) && Number.isFinite(y[taken]) && Number.isFinite(loss[taken]));
    }
    const n = taken + 1;
    return {
      label: spec.label,
      name: spec.name,
      options: spec.options,
      x: x.slice(0, n),
      y: y.slice(0, n),
      loss: loss.slice(0, n),
      final: { x: x[taken]!, y: y[taken]!, loss: loss[taken]! },
      steps: taken,
      diverged,
    };
  });
  return { fn: f, start: [start[0]!, start[1]!], steps, runs };
}
