/**
 * The optimizer fixtures: the file format written by scripts/gen_fixtures.py,
 * scripts/gen_fixtures_contrib.py, scripts/gen_fixtures_torch215.py and
 * scripts/gen_fixtures_schedulefree.py, the tolerance of each optimizer against its reference
 * library, and the error statistics of a comparison.
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
  /** Schedule-Free: the steps (1-based) after which `eval()` was called, `train()` before the next step. */
  evalAfter?: number[];
  /** Schedule-Free: each param group's scalar state at the end (k, trainMode, weightSum, lrMax, scheduledLr). */
  groups?: Array<Record<string, number | boolean>>;
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
 * case skips); `eval()` after the steps of `evalAfter` and `train()` before the next one.
 */
export function replayCase(
  c: FixtureCase,
  params: Parameter[],
  opt: { paramGroups: Array<{ lr: number }>; step(): unknown; train?(): void; eval?(): void },
  groupLrs: readonly number[],
): void {
  for (let s = 1; s <= FIXTURE_STEPS; s++) {
    if (c.evalAfter?.includes(s - 1)) opt.train!();
    if (c.lrSchedule === 'linear') opt.paramGroups.forEach((g, gi) => (g.lr = linearLr(groupLrs[gi]!, s)));
    params.forEach((p, j) => {
      p.grad = c.skip && j === 1 && (s === 3 || s === 4) ? null : fixtureGrad(c.seed, s, j, p.numel, c.gradScale);
    });
    opt.step();
    if (c.evalAfter?.includes(s)) opt.eval!();
  }
}

/** Reads `__test__/fixtures/<file>`. */
export function loadFixture<Name extends string>(file: string): FixtureFile<Name> {
  return JSON.parse(readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8')) as FixtureFile<Name>;
}

/** |got − want| <= abs + rel·|want|. */
export interface Tolerance {
  abs: number;
  rel: number;
}

/**
 * The tolerance of each optimizer against its fixture, by registry name (Lookahead: its own),
 * about 2x the largest error observed (torch 2.5.1, AVX-512).
 *
 * torch's vectorized CPU kernels fuse some multiply-adds (`add(x, alpha=a)`, `addcmul` and `lerp`
 * are one FMA, rounded once), compute LAMB's norms and trust ratio in float32 and `sqrt` of large
 * tensors with MKL's vector math, which is not correctly rounded (1 ulp off for a fraction of
 * elements), where ferroptim rounds every IEEE operation exactly and computes per-tensor scalars
 * in f64. Results therefore differ by a few float32 ulps of the operands (values of order 1),
 * amplified where an optimizer divides by a small root (Adagrad's first steps, Adadelta's
 * √(a + ε)/√(v + ε)); near zero the relative error is large because of cancellation, hence the
 * absolute term. Lion computes its interpolations so that they round like torch's fused ones
 * (see `crate/src/kernels/lion.rs`) and must match exactly; so must Rprop, whose only rounded
 * operations are products and a sum that torch rounds the same way (multiplying by ±1 is exact).
 */
export const FIXTURE_TOLERANCE: Readonly<Record<string, Tolerance>> = Object.freeze(Object.assign(Object.create(null) as Record<string, Tolerance>, {
  sgd: { abs: 1e-6, rel: 1e-6 }, // observed 4.8e-7
  adam: { abs: 1e-6, rel: 1e-6 }, // observed 1.2e-7
  adamw: { abs: 1e-6, rel: 1e-6 }, // observed 1.2e-7
  rmsprop: { abs: 4e-6, rel: 1e-6 }, // observed 1.9e-6 (momentum buffers of magnitude ~10)
  adagrad: { abs: 4e-6, rel: 1e-6 }, // observed 1.9e-6 (sums of magnitude ~10)
  radam: { abs: 2e-7, rel: 1e-6 }, // observed 8.9e-8
  nadam: { abs: 3e-7, rel: 1e-6 }, // observed 1.2e-7
  adamax: { abs: 3e-7, rel: 1e-6 }, // observed 1.2e-7
  adadelta: { abs: 8e-7, rel: 1e-6 }, // observed 3.6e-7
  adabound: { abs: 1e-6, rel: 1e-6 },
  lamb: { abs: 1e-6, rel: 1e-6 },
  lion: { abs: 0, rel: 0 },
  rprop: { abs: 0, rel: 0 },
  asgd: { abs: 4e-7, rel: 1e-6 }, // observed 1.8e-7 (torch 2.15, AVX-512)
  lookahead: { abs: 1e-6, rel: 1e-6 },
  sgdschedulefree: { abs: 1e-6, rel: 1e-6 }, // observed 4.8e-7 (x after eval() with momentum 0.3: x = y − (7/3)·(z − y) magnifies y's rounding)
  adamwschedulefree: { abs: 8e-7, rel: 1e-6 }, // observed 3.6e-7 (torch 2.15, AVX-512)
}));

/**
 * Cases whose result is ill-conditioned, with their own tolerance, by `<class name>: <case name>`.
 * Centered RMSprop with α = 0.3 and momentum computes √(v − ḡ²) where v ≈ ḡ²: torch's
 * AVX2/AVX-512 `addcmul(value=-1)` rounds v − ḡ·ḡ once (FMA), ferroptim twice, and the
 * cancellation magnifies that ulp. Run with `ATEN_CPU_CAPABILITY=default` (no FMA), torch gives
 * exactly ferroptim's values for this case.
 */
export const CASE_TOLERANCE: Readonly<Record<string, Tolerance>> = Object.freeze(Object.assign(Object.create(null) as Record<string, Tolerance>, {
  'RMSprop: centered, lr 0.01, alpha 0.3, eps 1e-06, momentum 0.5, weightDecay 0.1': { abs: 1.2e-5, rel: 6e-6 },
}));

/** The version of the reference library of `implementation` (`torch.optim.Adam`, `torch-optimizer AdaBound`, `lion-pytorch Lion`, `schedulefree AdamWScheduleFree`) recorded in a fixture file. */
export function referenceVersion(implementation: string, file: FixtureFile): string {
  const lib = implementation.startsWith('torch-optimizer')
    ? `torch-optimizer ${String(file.torch_optimizer)}, `
    : implementation.startsWith('lion-pytorch')
      ? `lion-pytorch ${String(file.lion_pytorch)}, `
      : implementation.startsWith('schedulefree')
        ? `schedulefree ${String(file.schedulefree)}, `
        : '';
  return `${lib}torch ${file.torch}`;
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
    readonly tol: Tolerance,
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
