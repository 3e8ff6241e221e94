/**
 * Contour lines of a sampled 2-D function (marching squares, by d3-contour), as rows a line
 * chart can draw.
 * @module
 */
import type { Grid2D } from '../demos/functions.js';
import { checkNumber, checkNumbers, checkOneOf, describeValue } from 'ferroptim/internal';

/**
 * One vertex of a contour line.
 * @group Charts
 */
export interface ContourPoint {
  /** The level (function value) of the line. */
  level: number;
  /** Identifies the line: points with the same `line` are joined in `order`. */
  line: number;
  /** The point's position along its line. */
  order: number;
  /** The point's first coordinate, in the function's units. */
  x: number;
  /** The point's second coordinate, in the function's units. */
  y: number;
}

/** The most contour levels drawn (far more lines than a chart has pixels). */
export const MAX_LEVELS = 10_000;

/**
 * `count` contour levels strictly between `lo` and `hi`, evenly spaced (`'linear'`) or evenly
 * spaced in log(value) (`'log'`, which needs `lo > 0`).
 * @throws TypeError or RangeError for a count that is not an integer in [1, 10000], bounds that
 * are not finite numbers with lo < hi, a scale other than 'linear' or 'log', or `'log'` with
 * `lo <= 0`.
 * @group Charts
 */
export function contourLevels(lo: number, hi: number, count = 50, scale: 'linear' | 'log' = 'linear'): number[] {
  const ctx = 'contourLevels';
  checkNumber(ctx, 'count', count, { integer: true, min: 1, max: MAX_LEVELS });
  checkNumber(ctx, 'lo', lo);
  checkNumber(ctx, 'hi', hi);
  if (!(lo < hi)) throw new RangeError(`${ctx}: expected finite lo < hi, received ${describeValue(lo)} and ${describeValue(hi)}`);
  checkOneOf(ctx, 'scale', scale, ['linear', 'log']);
  if (scale === 'log' && !(lo > 0)) throw new RangeError(`${ctx}: expected lo > 0 for log levels, received ${describeValue(lo)}`);
  return spacedLevels(lo, hi, count, scale);
}

/** @internal {@link contourLevels} of arguments already checked (finite lo < hi, and lo > 0 for `'log'`). */
export function spacedLevels(lo: number, hi: number, count: number, scale: 'linear' | 'log'): number[] {
  if (scale === 'log') {
    const a = Math.log(lo);
    const b = Math.log(hi);
    return Array.from({ length: count }, (_, i) => Math.exp(a + ((b - a) * (i + 1)) / (count + 1)));
  }
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * (i + 1)) / (count + 1));
}

/**
 * The range of values a log colour scale shows for a grid: from its smallest positive value (at
 * least `max · 1e-5`, so a value near an exact zero does not stretch the scale) to its maximum.
 */
export function logDomain(grid: Grid2D): [number, number] {
  let lo = Infinity;
  for (const v of grid.values) if (v > 0 && v < lo) lo = v;
  return [Math.max(lo, grid.max * 1e-5), grid.max];
}

/**
 * The contour lines of `grid` at `levels`, in the grid's x/y coordinates. Lines are open where
 * they meet the edge of the window (marching squares closes them along the border; those
 * border segments are dropped, as matplotlib's `contour` draws only isolines).
 * @throws TypeError or RangeError (as a rejected promise) for a grid that is not a
 * {@link Grid2D} (`xs` and `ys` of at least 2 finite values, `values` of `xs.length × ys.length`
 * numbers) or levels that are not an array of finite numbers.
 * @group Charts
 */
export async function contourLines(grid: Grid2D, levels: readonly number[]): Promise<ContourPoint[]> {
  checkGrid('contourLines', 'grid', grid);
  const ls = checkNumbers('contourLines', 'levels', levels);
  for (let i = 0; i < ls.length; i++) checkNumber('contourLines', `levels[${i}]`, ls[i]);
  const { contours } = await import('d3-contour');
  const w = grid.xs.length;
  const h = grid.ys.length;
  const x0 = grid.xs[0]!;
  const y0 = grid.ys[0]!;
  const dx = (grid.xs[w - 1]! - x0) / (w - 1);
  const dy = (grid.ys[h - 1]! - y0) / (h - 1);
  // d3-contour puts sample (i, j) at (i + 0.5, j + 0.5) and the border at 0 and w (or h).
  const onBorder = (px: number, py: number) => px <= 0 || px >= w || py <= 0 || py >= h;
  const gen = contours().size([w, h]);
  const out: ContourPoint[] = [];
  let line = 0;
  for (const level of levels) {
    const shape = gen.contour(Array.from(grid.values), level);
    for (const polygon of shape.coordinates) {
      for (const ring of polygon) {
        // Start at a border point, if any, so a line is not split where the ring closes.
        const startAt = Math.max(0, ring.findIndex(([px, py]) => onBorder(px!, py!)));
        const pts = [...ring.slice(startAt), ...ring.slice(1, startAt + 1)];
        let order = 0;
        for (const [px, py] of pts) {
          if (onBorder(px!, py!)) {
            if (order > 0) line++;
            order = 0;
            continue;
          }
          out.push({ level, line, order: order++, x: x0 + (px! - 0.5) * dx, y: y0 + (py! - 0.5) * dy });
        }
        if (order > 0) line++;
      }
    }
  }
  return out;
}

/** @internal Checks that `v` is a {@link Grid2D}: `xs` and `ys` of at least 2 finite values, `values` of `xs.length × ys.length` numbers. */
export function checkGrid(ctx: string, name: string, v: unknown): Grid2D {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${ctx}: expected ${name} to be a Grid2D { xs, ys, values }, received ${describeValue(v)}`);
  const g = v as Record<string, unknown>;
  for (const axis of ['xs', 'ys'] as const) {
    const a = checkNumbers(ctx, `${name}.${axis}`, g[axis]);
    if (a.length < 2) throw new RangeError(`${ctx}: expected ${name}.${axis} to hold at least 2 values, received ${describeValue(a)}`);
    for (let i = 0; i < a.length; i++) checkNumber(ctx, `${name}.${axis}[${i}]`, a[i]);
  }
  const values = checkNumbers(ctx, `${name}.values`, g.values);
  const n = (g.xs as ArrayLike<number>).length * (g.ys as ArrayLike<number>).length;
  if (values.length !== n) throw new RangeError(`${ctx}: expected ${name}.values to hold xs.length × ys.length = ${n} values, received ${values.length}`);
  return v as Grid2D;
}
