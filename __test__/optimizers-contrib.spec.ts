/**
 * AdaBound, LAMB and Lookahead against the real torch-optimizer (jettify) and Lion against
 * lion-pytorch, on CPU float32 with torch 2.5.1: every case of
 * `__test__/fixtures/{adabound,lamb,lion,lookahead}.json` (made by
 * `scripts/gen_fixtures_contrib.py`, same data rules as `gen_fixtures.py`) is replayed through
 * the public API and every sampled value compared.
 *
 * Tolerance: torch's vectorized CPU kernels compute `x.add_(y, alpha=a)` as one fused
 * multiply-add and LAMB's norms and trust ratio in float32, where ferroptim rounds every
 * element operation and computes the per-tensor scalars in f64; results differ by a few float32
 * ulps of the operands. Lion computes its interpolations so that they round like torch's fused
 * ones (see `crate/src/kernels/lion.rs`) and must match exactly. Observed maxima are logged.
 */
import test from 'ava';
import { AdaBound, Adam, LAMB, Lion, Lookahead, Parameter, SGD, type Optimizer } from '../ts/index.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, sampleIndices } from './helpers/data.js';
import { Errors as FixtureErrors, fixtureParams, loadFixture, replayCase, type FixtureFile as AnyFixtureFile } from './helpers/fixtures.js';

type FixtureFile = AnyFixtureFile<OptName> & { torch_optimizer: string; lion_pytorch: string };
const load = (file: string): FixtureFile => loadFixture<OptName>(file) as FixtureFile;
/** Errors against the reference libraries (torch-optimizer, lion-pytorch). */
class Errors extends FixtureErrors {
  constructor(tol: { abs: number; rel: number }) {
    super(tol, 'reference');
  }
}

type OptName = 'AdaBound' | 'LAMB' | 'Lion' | 'Lookahead';

/** |got − want| <= abs + rel·|want|, per optimizer (about 2x the largest error seen). */
const TOLERANCE: Record<OptName, { abs: number; rel: number }> = {
  AdaBound: { abs: 1e-6, rel: 1e-6 },
  LAMB: { abs: 1e-6, rel: 1e-6 },
  Lion: { abs: 0, rel: 0 },
  Lookahead: { abs: 1e-6, rel: 1e-6 },
};

const DEFAULT_LR: Record<Exclude<OptName, 'Lookahead'>, number> = { AdaBound: 1e-3, LAMB: 1e-3, Lion: 1e-4 };

interface Stepper {
  paramGroups: Array<{ lr: number }>;
  step(): unknown;
}

/** The optimizer of a case and its group-0 lr; group 1 gets lr / 2, as in the fixture script. */
function makeOptimizer(name: OptName, params: Parameter[], options: Record<string, unknown>): { opt: Stepper; lr: number; inner: Optimizer<object> } {
  if (name === 'Lookahead') {
    const innerOptions = options.innerOptions as Record<string, unknown> & { lr: number };
    const groups = [{ params: params.slice(0, 3) }, { params: params.slice(3, 5), lr: innerOptions.lr / 2 }];
    const inner = (options.inner === 'Adam' ? new Adam(groups, innerOptions) : new SGD(groups, innerOptions)) as unknown as Optimizer<object>;
    const opt = new Lookahead(inner, { k: options.k as number, alpha: options.alpha as number });
    return { opt: opt as unknown as Stepper, lr: innerOptions.lr, inner };
  }
  const lr = (options.lr as number | undefined) ?? DEFAULT_LR[name];
  const groups = [{ params: params.slice(0, 3) }, { params: params.slice(3, 5), lr: lr / 2 }];
  const Ctor = name === 'AdaBound' ? AdaBound : name === 'LAMB' ? LAMB : Lion;
  const opt = new Ctor(groups, options as never) as unknown as Optimizer<object>;
  return { opt: opt as unknown as Stepper, lr, inner: opt };
}

/** The spacing of float32 numbers at x (the ulp of |x|; subnormal spacing near 0). */
const fixtureCase = test.macro({
  exec(t, name: OptName, file: FixtureFile, index: number) {
    const c = file.cases[index]!;
    t.deepEqual(file.lengths, [...FIXTURE_LENGTHS]);
    t.is(file.steps, FIXTURE_STEPS);
    const params = fixtureParams(c);
    const { opt, lr, inner } = makeOptimizer(name, params, c.options);
    replayCase(c, params, opt, [lr, lr / 2]);
    const err = new Errors(TOLERANCE[name]);
    params.forEach((p, j) => {
      const fin = c.final[j]!;
      t.deepEqual(fin.indices, sampleIndices(p.numel), `sample indices of tensor ${j}`);
      fin.indices.forEach((i, k) => err.check(`tensor ${j}[${i}]`, p.data[i]!, fin.values[k]!));
    });
    const st = inner.stateDict().state.t3!;
    t.truthy(st, 'state of t3');
    const idx3 = sampleIndices(FIXTURE_LENGTHS[3]!);
    const la = name === 'Lookahead' ? (opt as unknown as Lookahead).stateDict() : null;
    for (const [key, want] of Object.entries(c.state3)) {
      if (key === 'step') {
        t.is(st.step, want, 'step of t3');
      } else if (key === 'counter') {
        t.is(la!.counter, want, 'Lookahead counter');
      } else {
        const got = (key === 'slowParam' ? la!.slowState.t3!.slowParam : st[key]) as number[];
        t.truthy(got, `state ${key} of t3`);
        (want as number[]).forEach((w, k) => err.check(`state t3.${key}[${idx3[k]}]`, got[idx3[k]!]!, w));
      }
    }
    const buffers = Object.keys(st).filter((k) => k !== 'step').sort();
    const wantBuffers = Object.keys(c.state3).filter((k) => k !== 'step' && k !== 'counter' && k !== 'slowParam').sort();
    t.deepEqual(buffers, wantBuffers, 'state buffers of t3');
    t.log(`${err.count} values, max abs error ${err.maxAbs.toExponential(2)}, max ${err.maxUlps.toFixed(1)} ulps`);
    t.deepEqual(err.bad, [], `values out of tolerance |a - b| <= ${err.tol.abs} + ${err.tol.rel}|b|`);
  },
  title: (_p, name: OptName, file: FixtureFile, index: number) =>
    `${name} matches ${name === 'Lion' ? `lion-pytorch ${file.lion_pytorch}` : `torch-optimizer ${file.torch_optimizer}`} (torch ${file.torch}): ${file.cases[index]!.name}`,
});

for (const [file, name] of [
  ['adabound.json', 'AdaBound'],
  ['lamb.json', 'LAMB'],
  ['lion.json', 'Lion'],
  ['lookahead.json', 'Lookahead'],
] as const) {
  const data = load(file);
  test(`${file} is the ${name} fixture`, (t) => {
    t.is(data.optimizer, name);
    t.true(data.cases.length > 0);
  });
  data.cases.forEach((_, i) => test(fixtureCase, name, data, i));
}
