/**
 * Property-based fuzzing of the application's API (fast-check): the demos (parseOptimizerSpec,
 * createOptimizer, getFunction2D, sampleGrid, race, regress, compare) and the charts and their
 * renderers (lineChart and the loss charts, contourLevels, landscapeChart, raceChart,
 * contourLines, renderSvg, svgToPng, savePlot). The library's training, checkpoint, data, layer
 * and safetensors API is fuzzed by the library's own suite, __test__/fuzz-training.spec.ts. For
 * every generated call with bad arguments (undefined, null, numbers, strings, arrays, objects of
 * the wrong shape, NaN, negative, huge, and mutations of valid values):
 *
 * - a rejected call throws exactly a TypeError or RangeError (an async one rejects with one), never
 *   an engine error (`Cannot read properties of undefined`) nor one of Node's own argument errors
 *   (`The "path" argument must be of type string`), whose message starts with the function or
 *   class and names the argument, with the received value where one is involved;
 * - a rejected call changed nothing: no file or folder written (in the temporary folder or in the
 *   working directory);
 * - a call known to be invalid is rejected; an accepted one returns something usable (a chart that
 *   is JSON).
 *
 * Where a call hands its input to another public function or class that rejects it (an optimizer
 * spec to the optimizer's constructor), the message may start with that function or class
 * instead; each property lists which.
 *
 * The library comes from its build through the package name (helpers/api.ts), as the application
 * uses it; the preamble (predicates, mutated fixtures, naming, the tiny dataset, file snapshots)
 * is shared with the library's suite in __test__/helpers/fuzz-api.ts.
 *
 * `FERROPTIM_FUZZ_RUNS=n` runs n cases per property (default: a bounded number, for `npm test`);
 * `FERROPTIM_FUZZ_SEED=s` and `FERROPTIM_FUZZ_PATH=p` replay a failure (fast-check prints both).
 */
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OPTIMIZERS,
  Parameter,
  batchLossChart,
  compare,
  contourLevels,
  contourLines,
  createOptimizer,
  epochLossChart,
  getFunction2D,
  landscapeChart,
  lineChart,
  parseOptimizerSpec,
  race,
  raceChart,
  raceLossChart,
  regress,
  regressionLossChart,
  renderSvg,
  sampleGrid,
  savePlot,
  svgToPng,
  type CompareResult,
  type RaceResult,
  type RegressResult,
} from './helpers/api.js';
import {
  check,
  checkAsync,
  dbl,
  fail,
  finiteNumber,
  garbage,
  keyed,
  rejects,
  rejectsCleanly,
  rejectsCleanlyAsync,
  returning,
  scalar,
  useParameterClass,
  type Rec,
} from '../../__test__/helpers/fuzz.js';
import {
  asyncProperty,
  badPathArb,
  build,
  datasetArb,
  datasetBad,
  filesState,
  isBool,
  isFn,
  isInt,
  isObject,
  isPlain,
  mutated,
  mutationNames,
  named,
  numbersBad,
  optBad,
  optionsArb,
  optionsBad,
  property,
  tinyData,
} from '../../__test__/helpers/fuzz-api.js';

// The Parameter that garbage may hold is the build's, as every Parameter these calls see.
useParameterClass(Parameter);

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-fuzz-app-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

// Every optimizer the specs can name, from the registry, and Lookahead.
const OPTIMIZER_NAMES = [...Object.keys(OPTIMIZERS), 'lookahead'];
const OPTIMIZER_CLASS_NAMES = [...Object.values(OPTIMIZERS).map((e) => e.descriptor.name), 'Lookahead'];

// ---------------------------------------------------------------------------------------------
// Demos

const specArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>('sgd:lr=0.01', 'adam', 'lookahead:inner=sgd,k=2', 'rmsprop:lr=1e-3,alpha=0.9') },
  { weight: 2, arbitrary: fc.constantFrom<unknown>('sgdd', 'sgd:lr', 'sgd:lr=x', 'sgd:lr=-1', 'sgd:=1', 'sgd:constructor=1', 'sgd:lr=1,lr=2', 'lookahead:inner=constructor', 'lookahead:inner=toString', 'sgd:toString=1', ':', '') },
  { weight: 2, arbitrary: mutated('spec', () => ({ name: 'sgd', options: { lr: 0.01 }, label: 'sgd' })) as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: fc.constantFrom<unknown>({ name: 'constructor', options: {}, label: 'x' }, { name: 'toString', options: {}, label: 'x' }, { name: '__proto__', options: {}, label: 'x' }) },
  { weight: 1, arbitrary: garbage },
);

const specBad = (s: unknown) => {
  if (typeof s === 'string') return false; // judged by parseOptimizerSpec
  if (!isPlain(s) || Object.keys(s).some((k) => !['name', 'options', 'label'].includes(k))) return true;
  return typeof s.name !== 'string' || !OPTIMIZER_NAMES.includes(s.name) || !isPlain(s.options) || typeof s.label !== 'string';
};

const DEMO_PREFIXES = (fn: string) => [`${fn}: `, 'parseOptimizerSpec: ', 'createOptimizer: ', ...OPTIMIZER_CLASS_NAMES.map((n) => `${n}: `)];

test('fuzz: parseOptimizerSpec, createOptimizer, getFunction2D and sampleGrid given bad specs, params, functions, ranges and resolutions reject them by name', (t) => {
  const fnArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>('himmelblau', 'Saddle', 'ackley', 'constructor', 'toString', '__proto__') }, { weight: 1, arbitrary: garbage });
  const rangeArb = fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) as fc.Arbitrary<unknown> }, { weight: 2, arbitrary: mutated('range', () => ({ x: [-1, 1], y: [0, 2] })) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage });
  const arb = fc.oneof(
    fc.record({ fn: fc.constant('parseOptimizerSpec'), args: fc.tuple(fc.oneof(specArb.filter((s) => typeof s === 'string'), fc.string({ maxLength: 12 }) as fc.Arbitrary<unknown>, garbage)) }),
    fc.record({ fn: fc.constant('createOptimizer'), args: fc.tuple(specArb, fc.oneof({ weight: 4, arbitrary: fc.constant('params') as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage })) }),
    fc.record({ fn: fc.constant('getFunction2D'), args: fc.tuple(fnArb) }),
    fc.record({ fn: fc.constant('sampleGrid'), args: fc.tuple(fnArb, rangeArb, fc.oneof(fc.constantFrom<unknown>(undefined, 2, 3, 46341, 2 ** 31, 2 ** 53, 1e300), scalar)) }),
  );
  check(
    t,
    property(arb, ({ fn, args }) => {
      const built = (args as unknown[]).map(build);
      const v = built.map((b) => b.value);
      if (fn === 'createOptimizer' && v[1] === 'params') v[1] = [new Parameter(new Float32Array([1, 2]), { name: 'w' })];
      const names = mutationNames(built.flatMap((b) => b.applied));
      const calls: Record<string, () => unknown> = {
        parseOptimizerSpec: () => parseOptimizerSpec(v[0] as string),
        createOptimizer: () => createOptimizer(v[0] as string, v[1] as Parameter[]),
        getFunction2D: () => getFunction2D(v[0] as string),
        sampleGrid: () => sampleGrid(v[0] as string, v[1] as never, v[2] as number),
      };
      let out: unknown;
      const threw = rejectsCleanly(
        () => (out = calls[fn]!()),
        fn === 'createOptimizer' ? DEMO_PREFIXES(fn) : [`${fn}: `],
        () => '',
        '',
        (e) => named(e.message, [...names.valued, ['spec', v[0]], ['params', v[1]], ['fn', v[0]], ['range', v[1]], ['resolution', v[2]]], [...names.subjects, 'optimizer', 'option', 'spec', 'inner', 'params', 'parameter', 'lr'], v),
      );
      if (threw) return;
      const bad =
        (fn === 'parseOptimizerSpec' && typeof v[0] !== 'string') ||
        (fn === 'createOptimizer' && (specBad(v[0]) || !Array.isArray(v[1]))) ||
        ((fn === 'getFunction2D' || fn === 'sampleGrid') && (typeof v[0] !== 'string' || !['himmelblau', 'saddle'].includes(v[0].toLowerCase()))) ||
        (fn === 'sampleGrid' && ((v[2] !== undefined && !isInt(v[2], 2, 46340)) || (v[1] !== undefined && !isObject(v[1]))));
      if (bad) fail(`${fn} accepted invalid arguments`);
      if (fn === 'parseOptimizerSpec' && !isPlain((out as Rec).options)) fail('parseOptimizerSpec returned options that are not a plain object');
    }),
    800,
  );
});

test('fuzz: race, regress and compare given mutated options (bad specs, sizes, callbacks, datasets) reject them before any run, by name', (t) => {
  const raceArb = fc.record({
    fn: fc.constant('race'),
    options: optionsArb({
      optimizers: fc.oneof(fc.array(specArb, { minLength: 1, maxLength: 2 }) as fc.Arbitrary<unknown>, garbage),
      start: fc.oneof(fc.tuple(dbl(-2, 2), dbl(-2, 2)) as fc.Arbitrary<unknown>, garbage),
      steps: fc.oneof(fc.integer({ min: 0, max: 5 }) as fc.Arbitrary<unknown>, scalar),
    }),
  });
  const regressArb = fc.record({
    fn: fc.constant('regress'),
    options: optionsArb({
      samples: fc.integer({ min: 1, max: 9 }),
      features: fc.integer({ min: 1, max: 4 }),
      batchSize: fc.integer({ min: 1, max: 9 }),
      epochs: fc.integer({ min: 0, max: 3 }),
      optimizer: specArb,
      noise: dbl(0, 1),
      seed: fc.nat(),
      logEvery: fc.integer({ min: 1, max: 3 }),
    }).map((o) => (isObject(o) ? { samples: 9, features: 3, epochs: 2, ...o } : o)),
  });
  const compareArb = fc.record({
    fn: fc.constant('compare'),
    options: optionsArb({
      optimizers: fc.oneof(fc.array(specArb, { minLength: 1, maxLength: 2 }) as fc.Arbitrary<unknown>, garbage),
      lr: dbl(1e-4, 0.1),
      batchSize: fc.integer({ min: 1, max: 9 }),
      seed: fc.nat(),
      perBatch: fc.boolean(),
      maxBatches: fc.integer({ min: 1, max: 2 }),
      onBatch: fc.constant(returning(undefined)),
      onEpoch: fc.constant(returning(undefined)),
      onStart: fc.constant(returning(undefined)),
      trainData: datasetArb(false),
      testData: datasetArb(false),
      // Never undefined data: compare would load MNIST.
    }).map((o) => (isObject(o) ? { model: 'mlp', epochs: 0, optimizers: ['sgd'], ...o, trainData: o.trainData ?? tinyData(), testData: o.testData ?? tinyData() } : o)),
  });
  check(
    t,
    property(fc.oneof(raceArb, regressArb, compareArb), ({ fn, options }) => {
      // compare with default data would load MNIST: only objects reach it.
      if (fn === 'compare' && !isObject(options)) return;
      const o = isObject(options) ? { ...options } : options;
      const subjects: string[] = [];
      const valued: Array<readonly [string, unknown]> = [];
      if (isObject(o)) {
        for (const k of ['trainData', 'testData', 'optimizer']) {
          const { value, applied } = build(o[k]);
          if (o[k] !== undefined) o[k] = value;
          const n = mutationNames(applied);
          subjects.push(...n.subjects);
          valued.push(...n.valued);
        }
        if (Array.isArray(o.optimizers)) {
          o.optimizers = o.optimizers.map((s) => {
            const { value, applied } = build(s);
            const n = mutationNames(applied);
            subjects.push(...n.subjects);
            valued.push(...n.valued);
            return value;
          });
        }
      }
      const calls: Record<string, () => unknown> = { race: () => race('saddle', o as never), regress: () => regress(o as never), compare: () => compare(o as never) };
      const threw = rejectsCleanly(() => calls[fn]!(), DEMO_PREFIXES(fn), () => filesState(tmp), 'the files', (e) => {
        // A spec's own errors (parseOptimizerSpec, createOptimizer, the optimizer) are judged by the property above.
        if (e.message.startsWith(`${fn}: `)) named(e.message, [...valued, ...keyed(o)], [...subjects, 'optimizer', 'option', 'spec', 'inner', 'params', 'lr', 'input', 'targets']);
      });
      if (threw) return;
      const r = (o ?? {}) as Rec;
      const listBad = (l: unknown) => !Array.isArray(l) || l.length === 0 || l.some((s) => typeof s !== 'string' && specBad(s));
      const bad =
        (!isObject(o) && !(fn === 'regress' && o === undefined)) ||
        (fn === 'race' && (listBad(r.optimizers) || (r.steps !== undefined && !isInt(r.steps, 0, 10_000_000)))) ||
        (fn === 'regress' && ((r.optimizer !== undefined && typeof r.optimizer !== 'string' && specBad(r.optimizer)) || ['samples', 'features', 'batchSize', 'logEvery'].some((k) => r[k] !== undefined && !isInt(r[k], 1)))) ||
        (fn === 'compare' && ((r.optimizers !== undefined && listBad(r.optimizers)) || datasetBad(r.trainData) || datasetBad(r.testData) || ['onBatch', 'onEpoch', 'onStart'].some((k) => r[k] !== undefined && !isFn(r[k])) || (r.perBatch !== undefined && !isBool(r.perBatch)) || (r.maxBatches !== undefined && !isInt(r.maxBatches, 1))));
      if (bad) fail(`${fn} accepted invalid options`);
    }),
    400,
  );
});

// ---------------------------------------------------------------------------------------------
// Charts

const RACE: RaceResult = race('saddle', { optimizers: ['sgd:lr=0.1', 'sgd:lr=2'], steps: 6 });
const REGRESS: RegressResult = regress({ samples: 8, features: 2, batchSize: 4, epochs: 3 });
const COMPARE: CompareResult = (() => {
  const r = compare({ optimizers: ['sgd', 'adam'], model: 'mlp', epochs: 0, trainData: tinyData(), testData: tinyData() });
  r.runs.forEach((run, i) => {
    run.metrics = [{ epoch: 1, trainLoss: 1 + i, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5, lr: 0.01, seconds: 1, samplesPerSecond: 1, testSeconds: 1 }];
    run.batchLosses = Float64Array.of(2, 1.5, 1);
  });
  return r;
})();
/** A copy whose typed arrays are plain arrays, so mutations reach their elements. */
const plainCopy = <T>(v: T): T => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (ArrayBuffer.isView(x) ? Array.from(x as Float64Array) : x)), (_k, x: unknown) => (x === null ? NaN : x)) as T;

const lineOptionsArb = optionsArb({
  title: fc.constant('T'),
  subtitle: fc.constant('S'),
  xTitle: fc.constant('X'),
  yTitle: fc.constant('Y'),
  yScale: fc.constantFrom('linear', 'log', 'auto'),
  points: fc.boolean(),
  legendTitle: fc.constant('L'),
  integerX: fc.boolean(),
  strokeWidths: fc.constant({ a: 2 }),
  scheme: fc.constant('set1'),
}).map((o) => (isObject(o) ? { title: 'T', xTitle: 'X', yTitle: 'Y', ...o } : o));

test('fuzz: lineChart, raceLossChart, regressionLossChart, epochLossChart, batchLossChart and contourLevels given mutated series, results and options reject them by name', (t) => {
  const arb = fc.oneof(
    fc.record({ fn: fc.constant('lineChart'), a: fc.oneof({ weight: 4, arbitrary: mutated('series', () => [{ name: 'a', x: [1, 2, 3], y: [3, 1, 2] }, { name: 'b', x: [1, 2], y: [2, 2], diverged: 'diverged at step 2' }]) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), b: lineOptionsArb }),
    fc.record({ fn: fc.constant('raceLossChart'), a: fc.oneof({ weight: 4, arbitrary: mutated('race result', () => ({ ...plainCopy(RACE), fn: RACE.fn })) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), b: fc.constant(undefined) }),
    fc.record({ fn: fc.constant('regressionLossChart'), a: fc.oneof({ weight: 4, arbitrary: mutated('regress result', () => plainCopy(REGRESS)) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), b: fc.constant(undefined) }),
    fc.record({ fn: fc.constantFrom('epochLossChart', 'batchLossChart'), a: fc.oneof({ weight: 4, arbitrary: mutated('compare result', () => plainCopy(COMPARE)) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), b: fc.constant(undefined) }),
    fc.record({ fn: fc.constant('contourLevels'), a: fc.tuple(fc.oneof(dbl(-5, 5) as fc.Arbitrary<unknown>, scalar), fc.oneof(dbl(-5, 5) as fc.Arbitrary<unknown>, scalar)), b: fc.tuple(fc.oneof(fc.constantFrom<unknown>(undefined, 1, 5, 10_001, 2 ** 32, 1e300), scalar), fc.oneof(fc.constantFrom<unknown>(undefined, 'linear', 'log'), scalar)) }),
  );
  const charts: Record<string, (a: unknown, b: unknown) => unknown> = {
    lineChart: (a, b) => lineChart(a as never, b as never),
    raceLossChart: (a) => raceLossChart(a as never),
    regressionLossChart: (a) => regressionLossChart(a as never),
    epochLossChart: (a) => epochLossChart(a as never),
    batchLossChart: (a) => batchLossChart(a as never),
    contourLevels: (a, b) => contourLevels((a as unknown[])[0] as number, (a as unknown[])[1] as number, (b as unknown[])[0] as number, (b as unknown[])[1] as never),
  };
  check(
    t,
    property(arb, ({ fn, a, b }) => {
      const { value, applied } = build(a);
      const names = mutationNames(applied);
      let out: unknown;
      const threw = rejectsCleanly(() => (out = charts[fn]!(value, b)), `${fn}: `, () => '', '', (e) => {
        const args = fn === 'contourLevels' ? [['lo', (value as unknown[])[0]], ['hi', (value as unknown[])[1]], ['count', (b as unknown[])[0]], ['scale', (b as unknown[])[1]]] as const : [['series', value], ['result', value], ['options', b]] as const;
        named(e.message, [...names.valued, ...args, ...(isObject(b) ? keyed(b) : [])], [...names.subjects, 'series', 'result', 'options', 'perBatch', 'title', 'xTitle', 'yTitle']);
      });
      if (threw) return;
      if (fn === 'contourLevels') {
        const [lo, hi] = value as unknown[];
        const [count, scale] = b as unknown[];
        if (!finiteNumber(lo) || !finiteNumber(hi) || lo >= hi || (count !== undefined && !isInt(count, 1, 10_000)) || (scale !== undefined && scale !== 'linear' && scale !== 'log') || (scale === 'log' && lo <= 0)) fail('contourLevels accepted invalid arguments');
        return;
      }
      if (fn === 'lineChart') {
        const series = value;
        const seriesBad = !Array.isArray(series) || series.length === 0 || series.some((s) => !isObject(s) || typeof s.name !== 'string' || numbersBad(s.x) || numbersBad(s.y) || (s.x as unknown[]).length !== (s.y as unknown[]).length || (s.diverged !== undefined && typeof s.diverged !== 'string'));
        const keys = ['title', 'subtitle', 'xTitle', 'yTitle', 'yScale', 'points', 'legendTitle', 'integerX', 'strokeWidths', 'scheme'];
        const optionsBadNow = !isObject(b) || Object.keys(b).some((k) => !keys.includes(k)) || ['title', 'xTitle', 'yTitle'].some((k) => typeof b[k] !== 'string');
        if (seriesBad || optionsBadNow) fail('lineChart accepted invalid arguments');
      }
      if (!isObject(out) || !('$schema' in out)) fail(`${fn} returned ${fc.stringify(out)}`);
      // An accepted chart must be JSON (what Vega-Lite takes).
      JSON.stringify(out);
    }),
    800,
  );
});

test.serial('fuzz: landscapeChart, raceChart, contourLines, renderSvg, svgToPng and savePlot given bad functions, results, grids, specs, SVG, paths and options reject them (as rejected promises) by name before rendering or writing anything', async (t) => {
  const spec = lineChart([{ name: 'a', x: [1, 2], y: [1, 2] }], { title: 'T', xTitle: 'X', yTitle: 'Y' });
  const contourOptions = optionsArb({
    range: fc.oneof(fc.constant({ x: [-1, 1], y: [-1, 1] }) as fc.Arbitrary<unknown>, mutated('range', () => ({ x: [-1, 1], y: [-1, 1] })) as fc.Arbitrary<unknown>),
    levels: fc.oneof(fc.integer({ min: 1, max: 4 }) as fc.Arbitrary<unknown>, fc.constantFrom<unknown>(10_001, 2 ** 40)),
    resolution: fc.oneof(fc.integer({ min: 2, max: 8 }) as fc.Arbitrary<unknown>, fc.constantFrom<unknown>(46341, 2 ** 40)),
    scale: fc.constantFrom('linear', 'log'),
    title: fc.constant('T'),
  }).map((o) => (isObject(o) ? { resolution: 6, levels: 3, ...o } : o));
  const arb = fc.oneof(
    fc.record({ fn: fc.constant('landscapeChart'), a: fc.oneof(fc.constantFrom<unknown>('saddle', 'ackley'), garbage), b: contourOptions }),
    fc.record({ fn: fc.constant('raceChart'), a: fc.oneof({ weight: 4, arbitrary: mutated('race result', () => ({ ...plainCopy(RACE), fn: RACE.fn }), 2, 1) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), b: contourOptions }),
    fc.record({ fn: fc.constant('contourLines'), a: fc.oneof({ weight: 4, arbitrary: mutated('grid', () => plainCopy(sampleGrid('saddle', undefined, 4)), 2, 1) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: garbage }), b: fc.oneof(fc.constant([0.5]) as fc.Arbitrary<unknown>, fc.array(scalar, { maxLength: 2 }) as fc.Arbitrary<unknown>, garbage) }),
    fc.record({ fn: fc.constant('renderSvg'), a: fc.oneof(garbage, fc.constantFrom<unknown>({}, { mark: 5 }, { mark: { type: 7 } }, { layer: 'x' }, { hconcat: {} }, { data: { values: [] } })), b: fc.constant(undefined) }),
    fc.record({ fn: fc.constant('svgToPng'), a: fc.oneof(garbage, fc.constantFrom<unknown>('not svg', '<svg', '')), b: optionsArb({ scale: fc.constantFrom(1, 2) }) }),
    fc.record({ fn: fc.constant('savePlot'), a: fc.oneof(fc.constant('spec') as fc.Arbitrary<unknown>, garbage), b: fc.tuple(badPathArb, optionsArb({ scale: fc.constantFrom(1, 2) })) }),
  );
  const calls: Record<string, (a: unknown, b: unknown) => Promise<unknown>> = {
    landscapeChart: (a, b) => landscapeChart(a as string, b as never),
    raceChart: (a, b) => raceChart(a as never, b as never),
    contourLines: (a, b) => contourLines(a as never, b as never),
    renderSvg: (a) => renderSvg(a as never),
    svgToPng: (a, b) => svgToPng(a as string, b as never),
    savePlot: (a, b) => savePlot((a === 'spec' ? spec : a) as never, (b as unknown[])[0] as string, (b as unknown[])[1] as never),
  };
  await checkAsync(
    t,
    asyncProperty(arb, async ({ fn, a, b }) => {
      const { value, applied } = build(a);
      const names = mutationNames(applied);
      const bv = isObject(b) ? (() => {
        const o = { ...b };
        if (o.range !== undefined) o.range = build(o.range).value;
        return o;
      })() : b;
      const threw = await rejectsCleanlyAsync(() => calls[fn]!(value, bv), `${fn}: `, () => filesState(tmp), 'the files', (e) => {
        const args = fn === 'savePlot' ? [['spec', value], ['base', (bv as unknown[])[0]], ['options', (bv as unknown[])[1]], ...keyed((bv as unknown[])[1])] : [['fn', value], ['result', value], ['grid', value], ['spec', value], ['svg', value], ['options', bv], ['levels', bv], ...(isObject(bv) ? keyed(bv) : [])];
        named(e.message, [...names.valued, ...(args as Array<readonly [string, unknown]>)], [...names.subjects, 'range', 'spec', 'svg', 'grid', 'levels', 'result', 'scale', 'options']);
      });
      if (threw) return;
      const bad =
        (fn === 'renderSvg' && !(isObject(value) && 'mark' in value && typeof value.mark === 'string')) ||
        (fn === 'svgToPng' && (typeof value !== 'string' || !value.startsWith('<svg '))) ||
        fn === 'savePlot' ||
        (fn === 'landscapeChart' && value !== 'saddle') ||
        ((fn === 'landscapeChart' || fn === 'raceChart') && (optionsBad(bv, ['range', 'levels', 'resolution', 'scale', 'title']) || optBad(bv, 'levels', (v) => !isInt(v, 1, 10_000)) || optBad(bv, 'resolution', (v) => !isInt(v, 2, 46340))));
      if (bad) fail(`${fn} accepted invalid arguments`);
    }),
    150,
  );
});

// ---------------------------------------------------------------------------------------------
// Regressions: each bug the probe and the properties found, as a plain test.

// The application's half of this test; the library's (Linear, Generator.permutation, Conv2d) has the same title in __test__/fuzz-training.spec.ts.
test('huge sizes are range errors naming the size, not "Invalid typed array length"', (t) => {
  rejects(t, () => sampleGrid('himmelblau', undefined, 1e9), /^sampleGrid: expected resolution to be an integer >= 2 and <= 46340, received 1000000000$/);
  rejects(t, () => regress({ samples: 1e15 }), /^regress: .*samples/);
  rejects(t, () => contourLevels(0, 1, 1e12), /^contourLevels: expected count to be an integer >= 1 and <= 10000, received 1000000000000$/);
});

test('createOptimizer and parseOptimizerSpec take "constructor" and "toString" as names like any other, not as Object\'s own', (t) => {
  const w = () => [new Parameter(new Float32Array(2), { name: 'w' })];
  rejects(t, () => createOptimizer({ name: 'constructor', options: {}, label: 'x' }, w()), /^createOptimizer: expected spec\.name to be one of .*received "constructor"$/);
  rejects(t, () => createOptimizer('lookahead:inner=constructor', w()), /^createOptimizer: expected lookahead's inner to be one of .*received "constructor"$/);
  rejects(t, () => createOptimizer(null as never, w()), /^createOptimizer: expected spec to be .*received null$/);
  // "constructor" is an unknown option of SGD, not one "given twice".
  rejects(t, () => createOptimizer('sgd:constructor=1', w()), /^SGD: unknown option "constructor"/);
});

test('the charts name their bad argument instead of "Cannot read properties of null"', (t) => {
  rejects(t, () => lineChart([{ name: 'a', x: [1], y: [1] }], null as never), /^lineChart: expected an options object, received null$/);
  rejects(t, () => lineChart([{} as never], { title: 'T', xTitle: 'X', yTitle: 'Y' }), /^lineChart: expected series\[0\]\.name to be a string, received undefined$/);
  rejects(t, () => raceLossChart(null as never), /^raceLossChart: expected result to be a race\(\) result, received null$/);
  rejects(t, () => regressionLossChart({} as never), /^regressionLossChart: expected result\.losses to be /);
  rejects(t, () => epochLossChart({} as never), /^epochLossChart: expected result\.model to be /);
  rejects(t, () => batchLossChart(null as never), /^batchLossChart: expected result to be a compare\(\) result, received null$/);
  rejects(t, () => contourLevels(0, 1, 5, 'x' as never), /^contourLevels: expected scale to be 'linear' or 'log', received "x"$/);
});

test.serial('the async charts and renderers reject with their own name: landscapeChart options, raceChart(null), contourLines(null), renderSvg({ mark: 5 }), svgToPng(5), savePlot(spec, undefined) before rendering', async (t) => {
  const bad = async (p: Promise<unknown>, message: RegExp) => {
    const err = await t.throwsAsync(p, { message });
    if (err) t.true(err.constructor === TypeError || err.constructor === RangeError, `${err.constructor.name}: ${err.message}`);
  };
  await bad(landscapeChart('himmelblau', { range: 1 as never }), /^landscapeChart: expected range to be /);
  await bad(raceChart(null as never), /^raceChart: expected result to be a race\(\) result, received null$/);
  await bad(contourLines(null as never, []), /^contourLines: expected grid to be /);
  await bad(renderSvg({ mark: 5 } as never), /^renderSvg: expected spec\.mark to be /);
  await bad(svgToPng(5 as never), /^svgToPng: expected svg to be a string, received 5$/);
  await bad(svgToPng('<svg', null as never), /^svgToPng: expected an options object, received null$/);
  await bad(savePlot({ mark: 'point', data: { values: [] } } as never, undefined as never), /^savePlot: expected base to be a string, received undefined$/);
});

// The application's half of this test (compare, race); the library's (train) has the same title in __test__/fuzz-training.spec.ts.
test('train, compare and race check their datasets, callbacks and optimizer specs before any work', (t) => {
  rejects(t, () => compare({ onStart: 5 as never, epochs: 0, model: 'mlp', trainData: tinyData(), testData: tinyData() }), /^compare: expected onStart to be a function, received 5$/);
  rejects(t, () => race('rosenbrock', { optimizers: [null as never] }), /^race: expected optimizers\[0\] to be /);
  rejects(t, () => race(undefined as never, { optimizers: ['sgd'] }), /^race: expected fn to be /);
});
