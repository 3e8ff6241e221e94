/**
 * The 2-D test functions: analytic gradients against central finite differences, minima,
 * lookup by name, and grid sampling.
 */
import test from 'ava';
import { BEALE, FUNCTIONS_2D, HIMMELBLAU, RASTRIGIN, ROSENBROCK, SADDLE, getFunction2D, sampleGrid, type Function2D } from './helpers/api.js';

const ALL: Function2D[] = [HIMMELBLAU, ROSENBROCK, BEALE, RASTRIGIN, SADDLE];

/** Points spread over each function's window, away from its minima. */
function points(f: Function2D): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const [x0, x1] = f.range.x;
  const [y0, y1] = f.range.y;
  for (const a of [0.13, 0.37, 0.61, 0.89]) for (const b of [0.07, 0.42, 0.77]) out.push([x0 + a * (x1 - x0), y0 + b * (y1 - y0)]);
  return out;
}

for (const f of ALL) {
  test(`${f.label}: the gradient equals central finite differences at 12 points`, (t) => {
    for (const [x, y] of points(f)) {
      const h = 1e-6;
      const fdx = (f.f(x + h, y) - f.f(x - h, y)) / (2 * h);
      const fdy = (f.f(x, y + h) - f.f(x, y - h)) / (2 * h);
      const [gx, gy] = f.grad(x, y);
      // Central differences are O(h²) accurate; rounding of f adds about |f|·1e-16/h.
      const tol = (g: number) => 1e-6 * Math.max(1, Math.abs(g)) + (1e-9 * Math.max(1, Math.abs(f.f(x, y))));
      t.true(Math.abs(gx - fdx) <= tol(gx), `∂f/∂x at (${x}, ${y}): ${gx} vs ${fdx}`);
      t.true(Math.abs(gy - fdy) <= tol(gy), `∂f/∂y at (${x}, ${y}): ${gy} vs ${fdy}`);
    }
  });

  test(`${f.label}: the listed minima are stationary points of value ≈ 0`, (t) => {
    for (const [x, y] of f.minima) {
      t.true(Math.abs(f.f(x, y)) < 1e-9, `f(${x}, ${y}) = ${f.f(x, y)}`);
      const [gx, gy] = f.grad(x, y);
      t.true(Math.hypot(gx, gy) < 1e-4, `|∇f(${x}, ${y})| = ${Math.hypot(gx, gy)}`);
    }
  });
}

test("Himmelblau is the article's Z = (X**2 + Y - 11)**2 + (X + Y**2 - 7)**2", (t) => {
  t.is(HIMMELBLAU.f(1, 2), (1 + 2 - 11) ** 2 + (1 + 4 - 7) ** 2);
  t.is(HIMMELBLAU.title, 'Complex Loss Landscape with Multiple Minima');
  t.deepEqual(HIMMELBLAU.range, { x: [-5, 5], y: [-5, 5] });
});

test("Rosenbrock's gradient is the article's rosenbrock_grad", (t) => {
  const [x, y] = [-1, 1];
  t.deepEqual(ROSENBROCK.grad(x, y), [-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)]);
  t.deepEqual(ROSENBROCK.start, [-1, 1]);
});

test('the saddle point is not a minimum: f decreases along y', (t) => {
  t.deepEqual(SADDLE.grad(0, 0), [0, -0]);
  t.true(SADDLE.f(0, 0.1) < SADDLE.f(0, 0));
  t.true(SADDLE.f(0.1, 0) > SADDLE.f(0, 0));
});

test('getFunction2D finds every function by name, case-insensitively, and rejects others', (t) => {
  for (const [name, f] of Object.entries(FUNCTIONS_2D)) {
    t.is(getFunction2D(name), f);
    t.is(getFunction2D(name.toUpperCase()), f);
    t.is(getFunction2D(f), f);
  }
  t.throws(() => getFunction2D('ackley'), { instanceOf: RangeError, message: /expected one of himmelblau, rosenbrock, beale, rastrigin, saddle, received "ackley"/ });
  t.throws(() => getFunction2D(42 as never), { instanceOf: TypeError });
});

test("sampleGrid: the article's 100×100 meshgrid over [-5, 5]², row-major by y", (t) => {
  const g = sampleGrid('himmelblau');
  t.is(g.xs.length, 100);
  t.is(g.ys.length, 100);
  t.is(g.values.length, 100 * 100);
  t.is(g.xs[0], -5);
  t.is(g.xs[99], 5);
  t.is(g.values[3 * 100 + 7], HIMMELBLAU.f(g.xs[7]!, g.ys[3]!));
  t.is(g.max, Math.max(...g.values));
  t.true(g.min >= 0 && g.min < 0.1);
  const small = sampleGrid('saddle', { x: [0, 1], y: [-1, 0] }, 3);
  t.deepEqual(Array.from(small.xs), [0, 0.5, 1]);
  t.deepEqual(Array.from(small.ys), [-1, -0.5, 0]);
  t.throws(() => sampleGrid('saddle', undefined, 1), { instanceOf: RangeError, message: /resolution to be an integer >= 2/ });
  t.throws(() => sampleGrid('saddle', { x: [1, 0], y: [0, 1] }), { instanceOf: RangeError, message: /finite min < max/ });
});
