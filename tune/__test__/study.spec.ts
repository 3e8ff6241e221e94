/**
 * The Study API as an Optuna user relies on it: define-by-run spaces with conditional
 * parameters, async objectives run concurrently, pruned and failed trials recorded with their
 * reason, enqueued trials, attributes, the best trial; bad input is refused with a clear error
 * and leaves the study as it was.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStudy, loadStudy, NopPruner, RandomSampler, TPESampler, TrialPruned, TrialState, type Trial } from '../src/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-study-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

/** The article's space: the optimizer, a log-uniform lr, momentum only for SGD, weight decay only for AdamW. */
function articleSpace(trial: Trial): Record<string, unknown> {
  const optimizer = trial.suggestCategorical('optimizer', ['adam', 'sgd', 'adamw']);
  const lr = trial.suggestFloat('lr', 1e-5, 1e-1, { log: true });
  const p: Record<string, unknown> = { optimizer, lr };
  if (optimizer === 'sgd') p.momentum = trial.suggestFloat('momentum', 0.8, 0.99);
  if (optimizer === 'adamw') p.weight_decay = trial.suggestFloat('weight_decay', 1e-5, 1e-2, { log: true });
  return p;
}

test('the article study: conditional parameters appear only in their branch, and the best trial is the best', async (t) => {
  const study = await createStudy({ direction: 'maximize', sampler: new TPESampler({ seed: 1 }) });
  await study.optimize(async (trial) => {
    const p = articleSpace(trial);
    await new Promise((r) => setImmediate(r));
    return -Math.abs(Math.log10(p.lr as number) + 3) + (p.optimizer === 'adamw' ? 0.5 : 0);
  }, { nTrials: 30 });
  t.is(study.trials.length, 30);
  for (const tr of study.trials) {
    t.is(tr.state, TrialState.COMPLETE);
    const o = tr.params.optimizer;
    t.is('momentum' in tr.params, o === 'sgd');
    t.is('weight_decay' in tr.params, o === 'adamw');
    t.true((tr.params.lr as number) >= 1e-5 && (tr.params.lr as number) <= 1e-1);
    t.deepEqual(Object.keys(tr.distributions).sort(), Object.keys(tr.params).sort());
  }
  const best = Math.max(...study.trials.map((x) => x.values![0]!));
  t.is(study.bestValue, best);
  t.is(study.bestTrial.values![0], best);
  t.deepEqual(study.bestParams, study.bestTrial.params);
});

test('nJobs runs async objectives concurrently, nTrials counts all jobs together', async (t) => {
  const study = await createStudy({ sampler: new RandomSampler({ seed: 0 }) });
  let running = 0;
  let peak = 0;
  await study.optimize(async (trial) => {
    running++;
    peak = Math.max(peak, running);
    const x = trial.suggestFloat('x', -1, 1);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return x * x;
  }, { nTrials: 12, nJobs: 3 });
  t.is(peak, 3);
  t.is(study.trials.length, 12);
  t.deepEqual(study.trials.map((x) => x.number), [...Array(12).keys()]);
});

test('timeout stops starting trials; stop() ends optimize after the running trial', async (t) => {
  const study = await createStudy({ sampler: new RandomSampler({ seed: 0 }) });
  const t0 = performance.now();
  await study.optimize(async (trial) => {
    trial.suggestFloat('x', 0, 1);
    await new Promise((r) => setTimeout(r, 20));
    return 0;
  }, { timeout: 0.1 });
  t.true(performance.now() - t0 < 1000);
  t.true(study.trials.length >= 2 && study.trials.length <= 7, `${study.trials.length} trials`);
  const s2 = await createStudy({ sampler: new RandomSampler({ seed: 0 }) });
  await s2.optimize((trial) => {
    if (trial.number === 3) s2.stop();
    return trial.suggestFloat('x', 0, 1);
  });
  t.is(s2.trials.length, 4);
});

test('pruned trials end PRUNED with their last reported value; failures keep their reason', async (t) => {
  const study = await createStudy({ direction: 'maximize', pruner: new NopPruner(), sampler: new RandomSampler({ seed: 0 }) });
  class Diverged extends Error {}
  await study.optimize(async (trial) => {
    const x = trial.suggestFloat('x', 0, 1);
    trial.report(x / 2, 0);
    trial.report(x, 1);
    if (trial.number === 1) throw new TrialPruned();
    if (trial.number === 2) throw new Diverged('loss is NaN');
    if (trial.number === 3) return NaN;
    return x;
  }, { nTrials: 5, catch: [Diverged] });
  const [a, b, c, d, e] = study.trials;
  t.is(a!.state, TrialState.COMPLETE);
  t.is(b!.state, TrialState.PRUNED);
  t.deepEqual(b!.values, [b!.params.x]);
  t.deepEqual([...b!.intermediateValues], [[0, (b!.params.x as number) / 2], [1, b!.params.x]]);
  t.is(c!.state, TrialState.FAIL);
  t.regex(c!.systemAttrs.fail_reason as string, /loss is NaN/);
  t.is(d!.state, TrialState.FAIL);
  t.regex(d!.systemAttrs.fail_reason as string, /returned NaN/);
  t.is(d!.values, null);
  t.is(e!.state, TrialState.COMPLETE);
});

test('an error the objective does not declare in catch fails the trial and is rethrown; the study keeps its trials', async (t) => {
  const study = await createStudy({ sampler: new RandomSampler({ seed: 0 }) });
  await study.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 2 });
  const err = await t.throwsAsync(study.optimize((trial) => {
    trial.suggestFloat('x', 0, 1);
    throw new Error('boom');
  }, { nTrials: 5 }));
  t.is(err!.message, 'boom');
  t.is(study.trials.length, 3);
  t.deepEqual(study.trials.map((x) => x.state), [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]);
  t.is(study.trials[2]!.systemAttrs.fail_reason, 'Error: boom');
});

test('bad suggestions throw a clear error before anything is recorded', async (t) => {
  const study = await createStudy({ sampler: new RandomSampler({ seed: 0 }) });
  await study.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 1 });
  const trial = await study.ask();
  t.throws(() => trial.suggestFloat('lr', 1, 0.1), { instanceOf: RangeError, message: /the range is empty: low 1 is above high 0.1/ });
  t.throws(() => trial.suggestFloat('lr', 0, 1, { log: true }), { instanceOf: RangeError, message: /log range needs low > 0, received low 0/ });
  t.throws(() => trial.suggestFloat('lr', 1e-5, 1, { log: true, step: 0.1 }), { instanceOf: RangeError, message: /step 0.1 and log/ });
  t.throws(() => trial.suggestFloat('lr', NaN, 1), { instanceOf: RangeError, message: /low.*NaN/ });
  t.throws(() => trial.suggestInt('n', 1.5, 4), { instanceOf: RangeError, message: /low.*1.5/ });
  t.throws(() => trial.suggestCategorical('c', []), { instanceOf: RangeError, message: /at least one/ });
  t.throws(() => trial.suggestCategorical('c', [{}] as never), { instanceOf: TypeError, message: /choices\[0\]/ });
  t.throws(() => trial.suggestInt('x', 0, 10), { instanceOf: RangeError, message: /"x" was suggested before as float in \[0, 1\]; it cannot now be int/ });
  t.throws(() => trial.suggestFloat('x', 0, 1, { log: 'yes' } as never), { instanceOf: TypeError, message: /log.*"yes"/ });
  t.throws(() => trial.suggestFloat('x', 0, 1, { lg: true } as never), { instanceOf: RangeError, message: /unknown option "lg"/ });
  t.deepEqual(trial.params, {});
  const y = trial.suggestFloat('y', 0, 1);
  t.is(trial.suggestFloat('y', 0, 1), y);
  t.throws(() => trial.suggestFloat('y', 0, 2), { instanceOf: RangeError, message: /"y" was suggested in this trial as float in \[0, 1\]/ });
  t.throws(() => trial.report(1, -1), { instanceOf: RangeError, message: /step.*-1/ });
  t.throws(() => trial.report('1' as never, 0), { instanceOf: TypeError, message: /value.*"1"/ });
  t.throws(() => trial.setUserAttr('k', (() => 1) as never), { instanceOf: TypeError, message: /JSON data/ });
  await study.tell(trial, 0.5);
  await t.throwsAsync(study.tell(trial, 0.5), { message: /has already finished/ });
  t.throws(() => trial.suggestFloat('z', 0, 1), { message: /has finished/ });
  t.deepEqual(study.trials.map((x) => Object.keys(x.params)), [['x'], ['y']]);
});

test('bad study and optimize options are refused before anything runs', async (t) => {
  await t.throwsAsync(createStudy({ direction: 'max' as never }), { instanceOf: RangeError, message: /direction.*"max"/ });
  await t.throwsAsync(createStudy({ sampler: {} as never }), { instanceOf: TypeError, message: /sampler/ });
  await t.throwsAsync(createStudy({ storage: 42 as never }), { instanceOf: TypeError, message: /storage.*42/ });
  await t.throwsAsync(createStudy({ storage: 'mysql://x' }), { instanceOf: RangeError, message: /storage.*mysql/ });
  await t.throwsAsync(createStudy({ studyName: '' }), { instanceOf: RangeError, message: /studyName/ });
  await t.throwsAsync(createStudy({ nTrials: 3 } as never), { instanceOf: RangeError, message: /unknown option "nTrials"/ });
  const study = await createStudy();
  let calls = 0;
  const obj = () => ++calls;
  await t.throwsAsync(study.optimize(obj, { nTrials: -1 }), { instanceOf: RangeError, message: /nTrials.*-1/ });
  await t.throwsAsync(study.optimize(obj, { nJobs: 0 }), { instanceOf: RangeError, message: /nJobs.*0/ });
  await t.throwsAsync(study.optimize(obj, { timeout: NaN }), { instanceOf: RangeError, message: /timeout.*NaN/ });
  await t.throwsAsync(study.optimize('f' as never), { instanceOf: TypeError, message: /objective/ });
  t.is(calls, 0);
  t.is(study.trials.length, 0);
  t.throws(() => study.bestTrial, { message: /no trial has completed/ });
});

test('enqueued trials run first with their fixed values; other parameters are sampled; skipIfExists', async (t) => {
  const study = await createStudy({ sampler: new RandomSampler({ seed: 0 }) });
  await study.enqueueTrial({ optimizer: 'sgd', lr: 0.01, momentum: 0.9 }, { userAttrs: { source: 'manual' } });
  await study.enqueueTrial({ optimizer: 'adamw', lr: 5 }); // lr outside the range: sampled instead, as in Optuna
  await study.enqueueTrial({ optimizer: 'sgd', lr: 0.01, momentum: 0.9 }, { skipIfExists: true });
  t.is(study.trials.filter((x) => x.state === TrialState.WAITING).length, 2);
  await study.optimize((trial) => {
    articleSpace(trial);
    return 0;
  }, { nTrials: 3 });
  const [a, b] = study.trials;
  t.deepEqual(a!.params, { optimizer: 'sgd', lr: 0.01, momentum: 0.9 });
  t.deepEqual(a!.userAttrs, { source: 'manual' });
  t.is(b!.params.optimizer, 'adamw');
  t.not(b!.params.lr, 5);
  t.true('weight_decay' in b!.params);
  t.is(study.trials.length, 3);
});

test('user attributes of trials and of the study are stored', async (t) => {
  const study = await createStudy({ sampler: new RandomSampler({ seed: 0 }) });
  await study.setUserAttr('dataset', 'mnist');
  await study.optimize((trial) => {
    trial.setUserAttr('epochs', [0.91, 0.95]);
    return trial.suggestInt('n', 1, 9, { step: 2 });
  }, { nTrials: 4 });
  t.deepEqual(study.userAttrs, { dataset: 'mnist' });
  for (const tr of study.trials) {
    t.deepEqual(tr.userAttrs, { epochs: [0.91, 0.95] });
    t.true([1, 3, 5, 7, 9].includes(tr.params.n as number));
  }
});

test('a study in a journal file is continued by name; a second name is refused unless loadIfExists; directions must agree', async (t) => {
  const storage = `journal:${join(tmp, 'continue.log')}`;
  const s1 = await createStudy({ studyName: 'article', direction: 'maximize', storage, sampler: new RandomSampler({ seed: 0 }) });
  await s1.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 3 });
  await t.throwsAsync(createStudy({ studyName: 'article', direction: 'maximize', storage }), { message: /already exists.*loadIfExists/ });
  await t.throwsAsync(createStudy({ studyName: 'article', direction: 'minimize', storage, loadIfExists: true }), { message: /is to maximize, this call asks to minimize/ });
  const s2 = await createStudy({ studyName: 'article', direction: 'maximize', storage, loadIfExists: true, sampler: new RandomSampler({ seed: 1 }) });
  await s2.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 2 });
  const s3 = await loadStudy({ studyName: 'article', storage });
  t.deepEqual(s3.trials.map((x) => x.number), [0, 1, 2, 3, 4]);
  t.is(s3.bestValue, Math.max(...s3.trials.map((x) => x.values![0]!)));
  await t.throwsAsync(loadStudy({ studyName: 'nope', storage }), { message: /no study named "nope"/ });
});

test('a worker killed in the middle of a trial: its trial ends FAIL and, with retryStaleTrials, runs again with the same parameters', async (t) => {
  const path = join(tmp, 'killed.log');
  const storage = `journal:${path}`;
  await createStudy({ studyName: 's', storage });
  // A child process asks a trial, suggests, then dies without telling.
  const child = spawn(process.execPath, ['--import', '@oxc-node/core/register', '--input-type=module', '-e', `
    import { loadStudy, RandomSampler } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
    const study = await loadStudy({ studyName: 's', storage: ${JSON.stringify(storage)}, sampler: new RandomSampler({ seed: 7 }) });
    const trial = await study.ask();
    trial.suggestFloat('x', 0, 1);
    await trial.flush();
    process.kill(process.pid, 'SIGKILL');
  `], { stdio: 'inherit', cwd: new URL('..', import.meta.url).pathname });
  await new Promise((r) => child.on('exit', r));
  const study = await loadStudy({ studyName: 's', storage, retryStaleTrials: 1, sampler: new RandomSampler({ seed: 0 }) });
  t.is(study.trials[0]!.state, TrialState.RUNNING);
  await study.optimize((trial) => trial.suggestFloat('x', 0, 1), { nTrials: 2 });
  const [dead, retry, fresh] = study.trials;
  t.is(dead!.state, TrialState.FAIL);
  t.truthy(dead!.systemAttrs.fail_reason);
  t.is(retry!.state, TrialState.COMPLETE);
  t.is(retry!.params.x, dead!.params.x);
  t.is(retry!.systemAttrs.failed_trial, 0);
  t.is(fresh!.state, TrialState.COMPLETE);
  t.is(study.trials.length, 3);
});
