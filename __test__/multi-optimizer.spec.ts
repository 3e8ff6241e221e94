/**
 * MultiOptimizer: Muon for the hidden weight matrices and AdamW (or a Schedule-Free AdamW) for
 * the rest, stepped, scheduled, saved and trained as one optimizer.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdamW, AdamWScheduleFree, CosineAnnealingLR, loadMnist, mlp, MultiOptimizer, Muon, Parameter, SGD, splitMuonParams, train, type EpochMetrics, type OptimizerStateDict,
} from '../ts/index.js';
import { hex } from './helpers/compare.js';
import { values } from './helpers/data.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-multi-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

/** Three parameters: a 2-D weight for Muon, a bias and an output weight for AdamW. */
function params(): Parameter[] {
  return [
    new Parameter(values(21, 0, 0, 6 * 5), { name: 'hidden.weight', shape: [6, 5] }),
    new Parameter(values(21, 0, 1, 6), { name: 'hidden.bias', shape: [6] }),
    new Parameter(values(21, 0, 2, 3 * 6), { name: 'head.weight', shape: [3, 6] }),
  ];
}
const setGrads = (ps: Parameter[], step: number) => ps.forEach((p, j) => (p.grad = values(21, step, j, p.numel)));

function combined(ps: Parameter[]): MultiOptimizer {
  const { muon, adamw } = splitMuonParams(ps, { exclude: ['head'] });
  return new MultiOptimizer([new Muon(muon, { lr: 0.02 }), new AdamW(adamw, { lr: 1e-3 })]);
}

test('steps, zeroGrad and parameters are the members’, bit for bit; a scheduler drives every member’s groups', (t) => {
  const a = params();
  const muonA = new Muon([a[0]!], { lr: 0.02 });
  const adamwA = new AdamW([a[1]!, a[2]!], { lr: 1e-3 });
  const b = params();
  const multi = combined(b);
  t.deepEqual(multi.parameters().map((p) => p.name), ['hidden.weight', 'hidden.bias', 'head.weight']);
  const schedA = [new CosineAnnealingLR(muonA, { tMax: 4 }), new CosineAnnealingLR(adamwA, { tMax: 4 })];
  const schedB = new CosineAnnealingLR(multi, { tMax: 4 });
  for (let step = 1; step <= 4; step++) {
    setGrads(a, step);
    setGrads(b, step);
    muonA.step();
    adamwA.step();
    t.is(multi.step(() => 7), 7);
    for (const s of schedA) s.step();
    schedB.step();
  }
  t.deepEqual(b.map((p) => hex(p.data)), a.map((p) => hex(p.data)));
  t.deepEqual(multi.paramGroups.map((g) => g.lr), [muonA.paramGroups[0]!.lr, adamwA.paramGroups[0]!.lr]);
  t.true(multi.lastStepApplied);
  multi.zeroGrad();
  t.true(b.every((p) => p.grad!.every((x) => x === 0)));
});

test('stateDict through JSON and loadStateDict into a new MultiOptimizer: training continues bit for bit; a refused part restores every member', (t) => {
  const a = params();
  const straight = combined(a);
  const b = params();
  const first = combined(b);
  for (let step = 1; step <= 3; step++) {
    setGrads(a, step);
    setGrads(b, step);
    straight.step();
    first.step();
  }
  const saved = JSON.parse(JSON.stringify(first.stateDict())) as OptimizerStateDict;
  t.deepEqual(Object.keys(saved.state).sort(), ['0/hidden.weight', '1/head.weight', '1/hidden.bias']);
  const resumed = combined(b);
  resumed.loadStateDict(saved);
  for (let step = 4; step <= 6; step++) {
    setGrads(a, step);
    setGrads(b, step);
    straight.step();
    resumed.step();
  }
  t.deepEqual(b.map((p) => hex(p.data)), a.map((p) => hex(p.data)));
  // The AdamW part refers to a parameter the member does not have: nothing changes, the Muon part included.
  const before = JSON.stringify(resumed.stateDict());
  const bad = JSON.parse(JSON.stringify(saved)) as OptimizerStateDict;
  bad.state['1/nope'] = bad.state['1/head.weight']!;
  t.throws(() => resumed.loadStateDict(bad), { instanceOf: RangeError });
  t.is(JSON.stringify(resumed.stateDict()), before);
  t.throws(() => resumed.loadStateDict({ state: { 'x/y': { step: 1 } }, paramGroups: [] } as never), { instanceOf: RangeError, message: /member index below 2/ });
});

test('bad members: not optimizers, none, or sharing a parameter', (t) => {
  t.throws(() => new MultiOptimizer([]), { instanceOf: TypeError, message: /non-empty array/ });
  t.throws(() => new MultiOptimizer([{} as never]), { instanceOf: TypeError, message: /optimizers\[0\] to be a ferroptim optimizer/ });
  const p = params();
  t.throws(() => new MultiOptimizer([new SGD([p[0]!], { lr: 1 }), new SGD([p[0]!, p[1]!], { lr: 1 })]), { instanceOf: RangeError, message: /"hidden.weight".*also in optimizers\[0\]/ });
});

const trainData = loadMnist({ split: 'train', limit: 512 });
const testData = loadMnist({ split: 'test', limit: 256 });

function run(dir: string, epochs: number, resume: boolean): { metrics: EpochMetrics[]; weights: string[] } {
  const model = mlp({ seed: 4 });
  const { muon, adamw } = splitMuonParams(model.parameters(), { exclude: ['3'] });
  const optimizer = new MultiOptimizer([new Muon(muon, { lr: 0.02 }), new AdamWScheduleFree(adamw, { lr: 2e-3 })]);
  const scheduler = new CosineAnnealingLR(optimizer, { tMax: 3 });
  const r = train({ model, optimizer, scheduler, epochs, batchSize: 64, seed: 3, trainData, testData, checkpointDir: dir, resume });
  return { metrics: r.metrics, weights: model.parameters().map((p) => hex(p.data)!) };
}

test('the trainer takes it: Muon + Schedule-Free AdamW on MNIST learns, and a resumed run is bit for bit the uninterrupted one', (t) => {
  const straight = run(join(tmp, 'straight'), 3, false);
  t.true(straight.metrics[2]!.testAccuracy > 0.6, `accuracy ${straight.metrics[2]!.testAccuracy}`);
  const dir = join(tmp, 'resumed');
  run(dir, 1, false);
  const resumed = run(dir, 3, true);
  t.deepEqual(resumed.weights, straight.weights);
  t.deepEqual(resumed.metrics.map((m) => m.testAccuracy), straight.metrics.map((m) => m.testAccuracy));
  t.true(readFileSync(join(dir, 'checkpoint.json'), 'utf8').includes('"member"'));
});
