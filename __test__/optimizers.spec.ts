/**
 * ferroptim against the real torch.optim (2.5.1, CPU float32): every case of
 * `__test__/fixtures/{sgd,adam,adamw}.json` (made by `scripts/gen_fixtures.py`) is replayed
 * through the public API and every sampled value is compared.
 *
 * Tolerance: PyTorch's vectorized CPU kernels fuse some multiply-adds (`add(x, alpha=a)` and
 * `lerp` are one FMA, rounded once) where ferroptim rounds every operation, so results differ
 * by a few float32 ulps of the operands (values of order 1). Observed with torch 2.5.1: at most
 * 4.8e-7 absolute (SGD), 1.2e-7 (Adam, AdamW); near zero the relative error is large because
 * of cancellation, hence an absolute term. See ABS and REL.
 */
import test from 'ava';
import { Adam, AdamW, Parameter, SGD, type Optimizer } from '../ts/index.js';
import { FIXTURE_LENGTHS, FIXTURE_STEPS, sampleIndices } from './helpers/data.js';
import { Errors as FixtureErrors, fixtureParams, loadFixture, replayCase, type FixtureCase, type FixtureFile as AnyFixtureFile } from './helpers/fixtures.js';

type FixtureFile = AnyFixtureFile<OptName>;
const load = (file: string): FixtureFile => loadFixture<OptName>(file);
/** Errors against this suite's tolerance. */
class Errors extends FixtureErrors {
  constructor() {
    super({ abs: ABS, rel: REL });
  }
}

type OptName = 'SGD' | 'Adam' | 'AdamW';

/** Tolerance |got − want| <= ABS + REL·|want| (about 2x the largest error seen). */
const ABS = 1e-6;
const REL = 1e-6;

const DEFAULT_LR: Record<OptName, number> = { SGD: 1e-3, Adam: 1e-3, AdamW: 1e-3 };

function makeOptimizer(name: OptName, params: Parameter[], options: Record<string, unknown>, lr: number): Optimizer<{ lr: number }> {
  const groups = [{ params: params.slice(0, 3) }, { params: params.slice(3, 5), lr: lr / 2 }];
  const Ctor = name === 'SGD' ? SGD : name === 'Adam' ? Adam : AdamW;
  return new Ctor(groups, options) as unknown as Optimizer<{ lr: number }>;
}

/** Replays a fixture case through the public API; returns the parameters and the optimizer. */
function replay(name: OptName, c: FixtureCase): { params: Parameter[]; opt: Optimizer<{ lr: number }> } {
  const params = fixtureParams(c);
  const baseLr = c.options.lr ?? DEFAULT_LR[name];
  const opt = makeOptimizer(name, params, c.options, baseLr);
  replayCase(c, params, opt, [baseLr, baseLr / 2]);
  return { params, opt };
}

const fixtureCase = test.macro({
  exec(t, name: OptName, file: FixtureFile, index: number) {
    const c = file.cases[index]!;
    t.deepEqual(file.lengths, [...FIXTURE_LENGTHS]);
    t.is(file.steps, FIXTURE_STEPS);
    const { params, opt } = replay(name, c);
    const err = new Errors();
    params.forEach((p, j) => {
      const fin = c.final[j]!;
      t.deepEqual(fin.indices, sampleIndices(p.numel), `sample indices of tensor ${j}`);
      fin.indices.forEach((i, k) => err.check(`tensor ${j}[${i}]`, p.data[i]!, fin.values[k]!));
    });
    const sd = opt.stateDict();
    const st = sd.state.t3;
    t.truthy(st, 'state of t3');
    const idx3 = sampleIndices(FIXTURE_LENGTHS[3]!);
    const bufferNames = Object.keys(st!).filter((k) => k !== 'step').sort();
    t.deepEqual(bufferNames, Object.keys(c.state3).filter((k) => k !== 'step').sort(), 'state buffers of t3');
    for (const [key, want] of Object.entries(c.state3)) {
      if (key === 'step') {
        t.is(st!.step, want as number, 'step of t3');
        continue;
      }
      const got = st![key] as number[];
      (want as number[]).forEach((w, k) => err.check(`state t3.${key}[${idx3[k]}]`, got[idx3[k]!]!, w));
    }
    if (name !== 'SGD') t.is(sd.state.t1!.step, c.skip ? FIXTURE_STEPS - 2 : FIXTURE_STEPS, 'step of t1');
    t.log(`${err.count} values, max abs error ${err.maxAbs.toExponential(2)}, max rel error ${err.maxRel.toExponential(2)}, max ${err.maxUlps} ulps`);
    t.deepEqual(err.bad, [], `values out of tolerance |a - b| <= ${ABS} + ${REL}|b|`);
  },
  title: (_provided, name: OptName, file: FixtureFile, index: number) => `${name} matches torch ${file.torch}: ${file.cases[index]!.name}`,
});

for (const [file, name] of [['sgd.json', 'SGD'], ['adam.json', 'Adam'], ['adamw.json', 'AdamW']] as const) {
  const data = load(file);
  test(`${file} is the ${name} fixture`, (t) => {
    t.is(data.optimizer, name);
    t.true(data.cases.length > 0);
  });
  data.cases.forEach((_, i) => test(fixtureCase, name, data, i));
}
