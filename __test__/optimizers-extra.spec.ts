/**
 * RMSprop, Adagrad, RAdam, NAdam, Adamax and Adadelta against the real torch.optim (2.5.1, CPU
 * float32): every case of `__test__/fixtures/<optimizer>.json` (made by `scripts/gen_fixtures.py`)
 * is replayed through the public API, and every sampled parameter and state value is compared.
 *
 * Tolerance: torch's vectorized CPU kernels fuse some multiply-adds (`add(x, alpha=a)`,
 * `addcmul`, `lerp` are one FMA, rounded once) and compute `sqrt` of large tensors with MKL's
 * vector math, which is not correctly rounded (1 ulp off for a fraction of elements), where
 * ferroptim rounds every IEEE operation exactly. Results therefore differ by a few float32 ulps
 * of the operands, amplified where an optimizer divides by a small root (Adagrad's first steps,
 * Adadelta's √(a + ε) / √(v + ε)). Observed maxima are logged per case; near zero the relative
 * error is large because of cancellation, hence the absolute term.
 */
import test from 'ava';
import { Adadelta, Adagrad, Adamax, NAdam, Parameter, RAdam, RMSprop, type Optimizer } from '../ts/index.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, sampleIndices } from './helpers/data.js';
import { Errors, fixtureParams, loadFixture, replayCase, type FixtureCase, type FixtureFile as AnyFixtureFile } from './helpers/fixtures.js';

type FixtureFile = AnyFixtureFile<OptName>;
const load = (file: string): FixtureFile => loadFixture<OptName>(file);

type OptName = 'RMSprop' | 'Adagrad' | 'RAdam' | 'NAdam' | 'Adamax' | 'Adadelta';

const CTORS = { RMSprop, Adagrad, RAdam, NAdam, Adamax, Adadelta } as const;

/** PyTorch's default lr of each optimizer (the fixture omits lr in "defaults" cases). */
const DEFAULT_LR: Record<OptName, number> = { RMSprop: 1e-2, Adagrad: 1e-2, RAdam: 1e-3, NAdam: 2e-3, Adamax: 2e-3, Adadelta: 1.0 };

/** |got − want| <= abs + rel·|want| per optimizer: about 2x the largest error observed (torch 2.5.1, AVX-512). */
const TOLERANCE: Record<OptName, { abs: number; rel: number }> = {
  RMSprop: { abs: 4e-6, rel: 1e-6 }, // observed 1.9e-6 (momentum buffers of magnitude ~10)
  Adagrad: { abs: 4e-6, rel: 1e-6 }, // observed 1.9e-6 (sums of magnitude ~10)
  RAdam: { abs: 2e-7, rel: 1e-6 }, // observed 8.9e-8
  NAdam: { abs: 3e-7, rel: 1e-6 }, // observed 1.2e-7
  Adamax: { abs: 3e-7, rel: 1e-6 }, // observed 1.2e-7
  Adadelta: { abs: 8e-7, rel: 1e-6 }, // observed 3.6e-7
};

/**
 * Cases whose result is ill-conditioned, with their own tolerance. Centered RMSprop with α = 0.3
 * and momentum computes √(v − ḡ²) where v ≈ ḡ²: torch's AVX2/AVX-512 `addcmul(value=-1)` rounds
 * v − ḡ·ḡ once (FMA), ferroptim twice, and the cancellation magnifies that ulp. Run with
 * `ATEN_CPU_CAPABILITY=default` (no FMA), torch gives exactly ferroptim's values for this case.
 */
const CASE_TOLERANCE: Record<string, { abs: number; rel: number }> = {
  'RMSprop: centered, lr 0.01, alpha 0.3, eps 1e-06, momentum 0.5, weightDecay 0.1': { abs: 1.2e-5, rel: 6e-6 },
};

/** Replays a fixture case through the public API; returns the parameters and the optimizer. */
function replay(name: OptName, c: FixtureCase): { params: Parameter[]; opt: Optimizer<object> } {
  const params = fixtureParams(c);
  const baseLr = c.options.lr ?? DEFAULT_LR[name];
  const groups = [{ params: params.slice(0, 3) }, { params: params.slice(3, 5), lr: baseLr / 2 }];
  const Ctor = CTORS[name] as unknown as new (g: unknown, o: unknown) => Optimizer<{ lr: number }>;
  const opt = new Ctor(groups, c.options);
  replayCase(c, params, opt, [baseLr, baseLr / 2]);
  return { params, opt };
}

const fixtureCase = test.macro({
  exec(t, name: OptName, file: FixtureFile, index: number) {
    const c = file.cases[index]!;
    t.deepEqual(file.lengths, [...FIXTURE_LENGTHS]);
    t.is(file.steps, FIXTURE_STEPS);
    const { params, opt } = replay(name, c);
    const err = new Errors(CASE_TOLERANCE[`${name}: ${c.name}`] ?? TOLERANCE[name]);
    params.forEach((p, j) => {
      const fin = c.final[j]!;
      t.deepEqual(fin.indices, sampleIndices(p.numel), `sample indices of tensor ${j}`);
      fin.indices.forEach((i, k) => err.check(`tensor ${j}[${i}]`, p.data[i]!, fin.values[k]!));
    });
    const sd = opt.stateDict();
    const st = sd.state.t3;
    t.truthy(st, 'state of t3');
    const idx3 = sampleIndices(FIXTURE_LENGTHS[3]!);
    const stateNames = (o: object) => Object.keys(o).filter((k) => k !== 'step').sort();
    t.deepEqual(stateNames(st!), stateNames(c.state3), 'state entries of t3');
    for (const [key, want] of Object.entries(c.state3)) {
      if (key === 'step') {
        t.is(st!.step, want, 'step of t3');
      } else if (typeof want === 'number') {
        err.check(`state t3.${key}`, st![key] as number, want);
      } else {
        const got = st![key] as Array<number | string>;
        want.forEach((w, k) => err.check(`state t3.${key}[${idx3[k]}]`, Number(got[idx3[k]!]), w));
      }
    }
    t.is(sd.state.t1!.step, c.skip ? FIXTURE_STEPS - 2 : FIXTURE_STEPS, 'step of t1');
    t.log(`${err.count} values, max abs error ${err.maxAbs.toExponential(2)}, max rel error ${err.maxRel.toExponential(2)}, max ${err.maxUlps.toFixed(1)} ulps`);
    t.deepEqual(err.bad, [], `values out of tolerance |a - b| <= ${err.tol.abs} + ${err.tol.rel}|b|`);
  },
  title: (_provided, name: OptName, file: FixtureFile, index: number) => `${name} matches torch ${file.torch}: ${file.cases[index]!.name}`,
});

const FILES: ReadonlyArray<readonly [string, OptName]> = [
  ['rmsprop.json', 'RMSprop'],
  ['adagrad.json', 'Adagrad'],
  ['radam.json', 'RAdam'],
  ['nadam.json', 'NAdam'],
  ['adamax.json', 'Adamax'],
  ['adadelta.json', 'Adadelta'],
];

for (const [file, name] of FILES) {
  const data = load(file);
  test(`${file} is the ${name} fixture`, (t) => {
    t.is(data.optimizer, name);
    t.true(data.cases.length > 0);
  });
  data.cases.forEach((_, i) => test(fixtureCase, name, data, i));
}
