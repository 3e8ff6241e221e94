/**
 * What the three optimizer-fixture suites share: the fixture file format written by
 * scripts/gen_fixtures.py and scripts/gen_fixtures_contrib.py, and the error statistics of a
 * comparison against the reference library.
 */
import { readFileSync } from 'node:fs';
import { Parameter } from '../../ts/index.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, fixtureGrad, linearLr, values } from './data.js';

export interface FixtureCase {
  name: string;
  seed: number;
  options: Record<string, unknown> & { lr?: number };
  lrSchedule: 'none' | 'linear';
  skip: boolean;
  gradScale: number;
  final: Array<{ indices: number[]; values: number[] }>;
  state3: Record<string, number | number[]>;
}

export interface FixtureFile<Name extends string = string> {
  optimizer: Name;
  torch: string;
  lengths: number[];
  steps: number;
  cases: FixtureCase[];
  [library: string]: unknown;
}

/** A case's initial tensors as parameters named t0, t1, … (the generator's data rules). */
export function fixtureParams(c: FixtureCase): Parameter[] {
  return FIXTURE_LENGTHS.map((n, j) => new Parameter(values(c.seed, 0, j, n), { name: `t${j}` }));
}

/**
 * Steps `opt` through a case as the generator did: the groups' lrs decayed linearly from
 * `groupLrs` when the case asks, and its gradients (tensor 1 has none at steps 3 and 4 when the
 * case skips).
 */
export function replayCase(c: FixtureCase, params: Parameter[], opt: { paramGroups: Array<{ lr: number }>; step(): unknown }, groupLrs: readonly number[]): void {
  for (let s = 1; s <= FIXTURE_STEPS; s++) {
    if (c.lrSchedule === 'linear') opt.paramGroups.forEach((g, gi) => (g.lr = linearLr(groupLrs[gi]!, s)));
    params.forEach((p, j) => {
      p.grad = c.skip && j === 1 && (s === 3 || s === 4) ? null : fixtureGrad(c.seed, s, j, p.numel, c.gradScale);
    });
    opt.step();
  }
}

/** Reads `__test__/fixtures/<file>`. */
export function loadFixture<Name extends string>(file: string): FixtureFile<Name> {
  return JSON.parse(readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8')) as FixtureFile<Name>;
}

/** The spacing of float32 numbers at x (the ulp of |x|; subnormal spacing near 0). */
export function ulp(x: number): number {
  const a = Math.abs(x);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** Error statistics of one comparison, and the first few values out of `|got − want| <= abs + rel·|want|`. */
export class Errors {
  maxAbs = 0;
  maxRel = 0;
  maxUlps = 0;
  count = 0;
  bad: string[] = [];
  constructor(
    readonly tol: { abs: number; rel: number },
    readonly reference = 'PyTorch',
  ) {}
  check(what: string, got: number, want: number): void {
    this.count++;
    const abs = Math.abs(got - want);
    const rel = want === 0 ? (abs === 0 ? 0 : Infinity) : abs / Math.abs(want);
    if (!(abs <= this.tol.abs + this.tol.rel * Math.abs(want))) {
      if (this.bad.length < 5) this.bad.push(`${what}: got ${got}, ${this.reference} ${want} (abs ${abs.toExponential(2)})`);
      else this.bad.push('');
    }
    this.maxAbs = Math.max(this.maxAbs, abs);
    if (abs > 0) this.maxRel = Math.max(this.maxRel, rel);
    this.maxUlps = Math.max(this.maxUlps, abs / ulp(want));
  }
}
