/**
 * What the two scheduler suites share (schedulers.spec.ts and scheduler-endpoints.spec.ts): the
 * PyTorch fixture file `fixtures/schedulers.json` written by scripts/gen_scheduler_fixtures.py,
 * the schedulers its cases describe, the replay of a case's scheduler steps, and the tolerance of
 * a comparison with PyTorch's lrs.
 */
import { readFileSync } from 'node:fs';
import {
  ChainedScheduler, ConstantLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, ExponentialLR, LambdaLR, LinearLR, LRScheduler,
  MultiplicativeLR, MultiStepLR, OneCycleLR, PolynomialLR, ReduceLROnPlateau, SequentialLR, StepLR, type SchedulableOptimizer,
} from '../../ts/schedulers/index.js';

/**
 * The tolerance against the fixtures: |got − want| <= REL·max(|got|, |want|) + ABS. Both sides
 * compute in float64 with the same operations in the same order; V8's Math.cos / Math.pow /
 * Math.log may differ from glibc's by an ulp, which the recursive forms then carry.
 */
export const REL = 1e-12;
export const ABS = 1e-18;

export type AnyScheduler = LRScheduler | ReduceLROnPlateau;

/** A scheduler as the generator names it: its class, its options (callables by name), and the children of a chain. */
export interface SchedulerSpec {
  type: string;
  options?: Record<string, unknown>;
  schedulers?: SchedulerSpec[];
}

export interface SchedulerCase {
  name: string;
  optimizer: { type: 'SGD' | 'Adam' | 'AdamW'; groups: Array<Record<string, unknown>> };
  scheduler: SchedulerSpec;
  /** scheduler.step() calls after construction. */
  steps: number;
  /** ReduceLROnPlateau: the metric of each step. */
  metrics?: number[];
  /** CosineAnnealingWarmRestarts: the (fractional) epoch of each step. */
  epochs?: number[];
  recordMomentum?: boolean;
  expectStepError?: boolean;
  stepError?: string;
  /** The groups' lr after construction, then after each step. */
  lr: number[][];
  momentum?: number[][];
}

export interface SchedulerFixtureFile {
  torch: string;
  cases: SchedulerCase[];
  [key: string]: unknown;
}

/** Reads `__test__/fixtures/schedulers.json`. */
export function loadSchedulerFixture(): SchedulerFixtureFile {
  return JSON.parse(readFileSync(new URL('../fixtures/schedulers.json', import.meta.url), 'utf8')) as SchedulerFixtureFile;
}

// The generator's named callables, with the same arithmetic.
const LAMBDAS: Record<string, (e: number) => number> = {
  inverse: (e) => 1.0 / (1.0 + 0.05 * e),
  power97: (e) => 0.97 ** e,
  warmup10: (e) => Math.min(1.0, (e + 1) / 10.0),
  constant95: () => 0.95,
  everyThird: (e) => (e % 3 === 0 ? 0.9 : 1.0),
};
const SCALE_FNS: Record<string, (x: number) => number> = {
  halfLife20: (x) => 0.5 ** (x / 20.0),
  inverseCycle: (x) => 1.0 / x,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const CLASSES: Record<string, new (opt: SchedulableOptimizer, o: any) => AnyScheduler> = {
  LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR,
  CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, ReduceLROnPlateau,
};

/** A spec's options with the named callables (lrLambda, scaleFn) replaced by the functions. */
function resolveOptions(o: Record<string, unknown> = {}): Record<string, unknown> {
  const out = { ...o };
  if (typeof out.lrLambda === 'string') out.lrLambda = LAMBDAS[out.lrLambda];
  else if (Array.isArray(out.lrLambda)) out.lrLambda = out.lrLambda.map((n: string) => LAMBDAS[n]);
  if (typeof out.scaleFn === 'string') out.scaleFn = SCALE_FNS[out.scaleFn];
  return out;
}

/** The scheduler a spec describes, on `opt` (SequentialLR's and ChainedScheduler's children too). */
export function makeScheduler(opt: SchedulableOptimizer, spec: SchedulerSpec): AnyScheduler {
  if (spec.type === 'SequentialLR') {
    const o = spec.options as { schedulers: SchedulerSpec[]; milestones: number[] };
    const children = o.schedulers.map((c) => makeScheduler(opt, c) as LRScheduler);
    return new SequentialLR(opt, { schedulers: children, milestones: o.milestones });
  }
  if (spec.type === 'ChainedScheduler') return new ChainedScheduler(spec.schedulers!.map((c) => makeScheduler(opt, c) as LRScheduler));
  return new CLASSES[spec.type]!(opt, resolveOptions(spec.options));
}

/** Scheduler step `i` (from 0) of a case: with the case's metric or epoch of that step where it has them. */
export function stepScheduler(c: SchedulerCase, sched: AnyScheduler, i: number): void {
  if (c.metrics) (sched as ReduceLROnPlateau).step(c.metrics[i]!);
  else if (c.epochs) (sched as CosineAnnealingWarmRestarts).step(c.epochs[i]!);
  else (sched as LRScheduler).step();
}
