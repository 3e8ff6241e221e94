/**
 * Two-dimensional test functions with analytic gradients: the loss landscapes of the article's
 * demonstrations (Himmelblau, Rosenbrock) and three more (Beale, Rastrigin, a saddle).
 * @module
 */
import { MAX_ELEMENTS, checkNumber, describeValue } from 'ferroptim/internal';

/**
 * A window of the plane: `x ∈ [x[0], x[1]]`, `y ∈ [y[0], y[1]]`.
 * @group Test functions
 */
export interface Range2D {
  /** `[min, max]` of the first weight. */
  x: readonly [number, number];
  /** `[min, max]` of the second weight. */
  y: readonly [number, number];
}

/**
 * A differentiable function of two weights, with what a plot of it needs.
 * @group Test functions
 */
export interface Function2D {
  /** Lower-case key: `'himmelblau'`. */
  readonly name: string;
  /** Display name: `'Himmelblau'`. */
  readonly label: string;
  /** The formula, as text. */
  readonly formula: string;
  /** Plot title (the article's, for Himmelblau). */
  readonly title: string;
  /** f(x, y), in float64. */
  f(x: number, y: number): number;
  /** ∇f(x, y) = [∂f/∂x, ∂f/∂y], in float64. */
  grad(x: number, y: number): [number, number];
  /** The window the function is usually drawn over. */
  readonly range: Range2D;
  /** Global minima (or, for the saddle, the saddle point). */
  readonly minima: ReadonlyArray<readonly [number, number]>;
  /** A start point for races. */
  readonly start: readonly [number, number];
  /**
   * How contour levels are spaced: `'linear'` (as matplotlib's `levels=50`) or `'log'`, for
   * functions whose values span many orders of magnitude (Rosenbrock, Beale).
   */
  readonly levelScale: 'linear' | 'log';
  /** Samples per axis for a contour plot: enough for its narrowest features. */
  readonly resolution: number;
}

/**
 * Himmelblau's function: four minima of value 0, at (3, 2) and three others. The article's landscape.
 * @group Test functions
 */
export const HIMMELBLAU: Function2D = Object.freeze<Function2D>({
  name: 'himmelblau',
  label: 'Himmelblau',
  formula: '(x² + y − 11)² + (x + y² − 7)²',
  title: 'Complex Loss Landscape with Multiple Minima',
  f: (x: number, y: number) => (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2,
  grad(x: number, y: number): [number, number] {
    const a = x * x + y - 11;
    const b = x + y * y - 7;
    return [4 * x * a + 2 * b, 2 * a + 4 * y * b];
  },
  range: { x: [-5, 5], y: [-5, 5] },
  minima: [
    [3, 2],
    [-2.805118, 3.131312],
    [-3.77931, -3.283186],
    [3.584428, -1.848126],
  ],
  start: [0, 0],
  levelScale: 'linear',
  resolution: 100,
});

/**
 * Rosenbrock's banana: a curved narrow valley, minimum 0 at (1, 1). The article's race.
 * @group Test functions
 */
export const ROSENBROCK: Function2D = Object.freeze<Function2D>({
  name: 'rosenbrock',
  label: 'Rosenbrock',
  formula: '(1 − x)² + 100 (y − x²)²',
  title: 'Rosenbrock Function: a Narrow Curved Valley',
  f: (x: number, y: number) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
  // The article's rosenbrock_grad, term for term.
  grad: (x: number, y: number): [number, number] => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
  range: { x: [-2, 2], y: [-1, 3] },
  minima: [[1, 1]],
  start: [-1, 1],
  levelScale: 'log',
  resolution: 250,
});

/**
 * Beale's function: flat plateaus and sharp ridges, minimum 0 at (3, 0.5).
 * @group Test functions
 */
export const BEALE: Function2D = Object.freeze<Function2D>({
  name: 'beale',
  label: 'Beale',
  formula: '(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²',
  title: 'Beale Function: Plateaus and Sharp Ridges',
  f(x: number, y: number): number {
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y * y * y) ** 2;
  },
  grad(x: number, y: number): [number, number] {
    const a = 1.5 - x + x * y;
    const b = 2.25 - x + x * y * y;
    const c = 2.625 - x + x * y * y * y;
    return [2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y * y * y - 1), 2 * a * x + 4 * b * x * y + 6 * c * x * y * y];
  },
  range: { x: [-4.5, 4.5], y: [-4.5, 4.5] },
  minima: [[3, 0.5]],
  start: [1, 1.5],
  levelScale: 'log',
  resolution: 250,
});

/**
 * Rastrigin's function (2-D, A = 10): a bowl covered in local minima, minimum 0 at the origin.
 * @group Test functions
 */
export const RASTRIGIN: Function2D = Object.freeze<Function2D>({
  name: 'rastrigin',
  label: 'Rastrigin',
  formula: '20 + x² − 10 cos 2πx + y² − 10 cos 2πy',
  title: 'Rastrigin Function: Many Local Minima',
  f: (x: number, y: number) => 20 + x * x - 10 * Math.cos(2 * Math.PI * x) + y * y - 10 * Math.cos(2 * Math.PI * y),
  grad: (x: number, y: number): [number, number] => [2 * x + 20 * Math.PI * Math.sin(2 * Math.PI * x), 2 * y + 20 * Math.PI * Math.sin(2 * Math.PI * y)],
  range: { x: [-5.12, 5.12], y: [-5.12, 5.12] },
  minima: [[0, 0]],
  start: [3.2, 2.7],
  levelScale: 'linear',
  resolution: 240,
});

/**
 * A saddle, x² − y²: the origin is a stationary point that is not a minimum; unbounded below.
 * @group Test functions
 */
export const SADDLE: Function2D = Object.freeze<Function2D>({
  name: 'saddle',
  label: 'Saddle',
  formula: 'x² − y²',
  title: 'Saddle Point: Zero Gradient, Not a Minimum',
  f: (x: number, y: number) => x * x - y * y,
  grad: (x: number, y: number): [number, number] => [2 * x, -2 * y],
  range: { x: [-2, 2], y: [-2, 2] },
  minima: [[0, 0]],
  start: [-1.5, 0.01],
  levelScale: 'linear',
  resolution: 100,
});

/**
 * The built-in functions by name.
 * @group Test functions
 */
export const FUNCTIONS_2D: Readonly<Record<string, Function2D>> = Object.freeze({
  himmelblau: HIMMELBLAU,
  rosenbrock: ROSENBROCK,
  beale: BEALE,
  rastrigin: RASTRIGIN,
  saddle: SADDLE,
});

/**
 * A built-in function by name (case-insensitive), or the function itself.
 * @throws RangeError for an unknown name; TypeError for anything but a string or a Function2D.
 * @group Test functions
 */
export function getFunction2D(fn: string | Function2D): Function2D {
  return resolveFunction2D('getFunction2D', undefined, fn);
}

/**
 * {@link getFunction2D} for the argument `name` of `ctx` (`race: expected fn to be one of ...`);
 * without a name, the messages of getFunction2D. Only the table's own names count: `constructor`
 * or `__proto__` is an unknown name, not Object's.
 */
export function resolveFunction2D(ctx: string, name: string | undefined, fn: unknown): Function2D {
  const what = name === undefined ? '' : `${name} to be `;
  if (typeof fn === 'string') {
    const key = fn.toLowerCase();
    if (!Object.hasOwn(FUNCTIONS_2D, key)) throw new RangeError(`${ctx}: expected ${what}one of ${Object.keys(FUNCTIONS_2D).join(', ')}, received ${describeValue(fn)}`);
    return FUNCTIONS_2D[key]!;
  }
  const f = fn as Partial<Function2D> | null;
  if (f === null || typeof f !== 'object' || typeof f.f !== 'function' || typeof f.grad !== 'function') {
    throw new TypeError(`${ctx}: expected ${what}a function name or a Function2D, received ${describeValue(fn)}`);
  }
  return f as Function2D;
}

/**
 * Values of a function on a regular grid (row-major, row `j` at `y = ys[j]`).
 * @group Test functions
 */
export interface Grid2D {
  /** The sample positions along x, evenly spaced over the range. */
  xs: Float64Array;
  /** The sample positions along y, evenly spaced over the range. */
  ys: Float64Array;
  /** `values[j * xs.length + i] = f(xs[i], ys[j])`. */
  values: Float64Array;
  /** The smallest of `values`. */
  min: number;
  /** The largest of `values`. */
  max: number;
}

/** The finest grid {@link sampleGrid} samples: resolution² values fit in a typed array (2^31 − 1). */
export const MAX_RESOLUTION = Math.floor(Math.sqrt(MAX_ELEMENTS));

/**
 * Samples `fn` on a `resolution × resolution` grid over `range`, like the article's
 * `np.meshgrid(np.linspace(-5, 5, 100), ...)`.
 * @throws TypeError or RangeError for an unknown function, a resolution that is not an integer in
 * [2, 46340], or a range that is not finite with min < max on both axes.
 * @group Test functions
 */
export function sampleGrid(fn: string | Function2D, range?: Range2D, resolution = 100): Grid2D {
  return sampleGridAs('sampleGrid', resolveFunction2D('sampleGrid', 'fn', fn), range, resolution);
}

/** {@link sampleGrid} of a resolved function, with errors prefixed by `ctx`. */
export function sampleGridAs(ctx: string, f: Function2D, range: unknown, res: unknown): Grid2D {
  const r = checkRange(ctx, range === undefined ? f.range : range);
  const resolution = checkNumber(ctx, 'resolution', res, { integer: true, min: 2, max: MAX_RESOLUTION });
  const lin = ([a, b]: readonly [number, number]) => Float64Array.from({ length: resolution }, (_, i) => a + ((b - a) * i) / (resolution - 1));
  const xs = lin(r.x);
  const ys = lin(r.y);
  const values = new Float64Array(resolution * resolution);
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < resolution; j++) {
    for (let i = 0; i < resolution; i++) {
      const v = f.f(xs[i]!, ys[j]!);
      values[j * resolution + i] = v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { xs, ys, values, min, max };
}

/** Checks a range (finite, lower < upper on both axes); returns it. */
export function checkRange(ctx: string, range: unknown): Range2D {
  const r = range as Range2D;
  const ok = (p: unknown): p is [number, number] => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number' && Number.isFinite(v)) && p[0] < p[1];
  if (r === null || typeof r !== 'object' || !ok(r.x) || !ok(r.y)) {
    throw new RangeError(`${ctx}: expected range to be { x: [min, max], y: [min, max] } with finite min < max, received ${describeValue(range)}`);
  }
  return r;
}
