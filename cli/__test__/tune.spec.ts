/**
 * `ferroptim tune`: a small real study in a journal file (table, best command that runs,
 * trials.csv, charts), two worker processes sharing it, continuing a study by name, a worker
 * killed mid-trial, Ctrl-C, and usage errors that touch no storage.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStudy, TrialState, type FrozenTrial } from 'ferroptim-tune';
import { background, isPng, run, words } from './helpers/tune.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-tune-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

/** The tiny setup every study here uses: 512 training and 256 validation images, one epoch. */
const TINY = ['--model', 'mlp', '--limit', '512', '--val-size', '256', '--epochs', '1', '--batch-size', '64', '--progress', 'lines'];

async function trialsOf(storage: string, studyName: string): Promise<readonly FrozenTrial[]> {
  const study = await loadStudy({ studyName, storage });
  try {
    return study.trials;
  } finally {
    await study.close();
  }
}

const finishedCounted = (t: FrozenTrial) => t.state === TrialState.COMPLETE || t.state === TrialState.PRUNED;
const workerPid = (t: FrozenTrial) => (t.systemAttrs['ferroptim:worker'] as { pid: number } | undefined)?.pid;

test.serial('a 4-trial study: table, best command (which runs), trials.csv, charts; then continued by name with 2 more', async (t) => {
  const out = join(tmp, 'study');
  const storage = `journal:${join(out, 'studies.log')}`;
  const r = run('tune', ...TINY, '--trials', '4', '--threads', '1', '--seed', '0', '--storage', storage, '--study', 'tiny', '--out', out);
  t.is(r.code, 0, r.stderr + r.stdout);
  const lines = r.stdout.split('\n');
  t.regex(lines[0]!, /^ferroptim: study "tiny" in journal:.* \(new\), running 4 trials with 1 worker × 1 thread/);
  t.regex(r.stdout, /^search space: optimizer ∈ \{adam, sgd, adamw\}, lr log \[0\.00001, 0\.1\], momentum \[0\.8, 0\.99\] \(sgd\), weight_decay log \[0\.00001, 0\.01\] \(adamw\)$/m);
  t.regex(r.stdout, /^#\s+state\s+value\s+seconds\s+params$/m);
  t.regex(r.stdout, /^\s*\d+\s+COMPLETE\s+\d+\.\d\d%\s+\d+\.\d+\s+optimizer=(adam|sgd|adamw) lr=/m);
  t.regex(r.stdout, /^study "tiny": 4 trials: \d COMPLETE, \d PRUNED, \d FAIL$/m);
  t.regex(r.stdout, /^best: trial #\d+, validation accuracy \d+\.\d\d% /m);
  t.regex(r.stdout, /^wall time /m);
  t.regex(r.stdout, /^open the study in optuna-dashboard: optuna-dashboard .*studies\.log$/m);

  // The best trial as a command: exact values, flags train accepts; it runs.
  const cmdLine = lines.find((l) => l.trim().startsWith('ferroptim train '))!.trim();
  t.truthy(cmdLine);
  const argv = words(cmdLine).slice(1);
  const trials = await trialsOf(storage, 'tiny');
  const best = trials.filter((x) => x.state === TrialState.COMPLETE).sort((a, b) => b.values![0]! - a.values![0]!)[0]!;
  t.is(argv[argv.indexOf('--optimizer') + 1], best.params.optimizer);
  t.is(Number(argv[argv.indexOf('--lr') + 1]), best.params.lr, 'the lr round-trips exactly');
  t.deepEqual(argv.slice(argv.indexOf('--epochs')), ['--epochs', '1', '--batch-size', '64', '--seed', '0', '--limit', '512', '--out', join(out, 'best')]);
  const train = run(...argv, '--test-limit', '256', '--threads', '1');
  t.is(train.code, 0, train.stderr);
  t.regex(train.stdout, /^done: test accuracy /m);
  // Trained on the same 512 images with the same seed: the same model as the best trial.
  t.is(JSON.parse(readFileSync(join(out, 'best', 'metrics.jsonl'), 'utf8').trim()).trainLoss, (best.userAttrs.train_loss as number[])[0]);

  // trials.csv: a header and one row per trial, Optuna's columns.
  const csv = readFileSync(join(out, 'trials.csv'), 'utf8').trim().split('\n');
  t.is(csv.length, 1 + 4);
  t.true(csv[0]!.startsWith('number,value,datetime_start,datetime_complete,duration,params_lr,params_momentum,params_optimizer,params_weight_decay,'));
  t.true(csv[0]!.endsWith(',state'));
  t.deepEqual(csv.slice(1).map((l) => Number(l.split(',')[0])), [0, 1, 2, 3]);
  for (const f of ['history.png', 'params.png']) t.true(isPng(join(out, f)), f);
  // Every trial carries its own train command and its per-epoch validation accuracies.
  for (const x of trials) {
    t.regex(String(x.userAttrs.train_command), /^ferroptim train --model mlp --optimizer \w+ --lr /);
    t.is((x.userAttrs.val_accuracy as number[]).length, x.state === TrialState.COMPLETE ? 1 : (x.userAttrs.val_accuracy as number[]).length);
  }

  // The same study again: its 4 trials are kept and 2 more run.
  const r2 = run('tune', ...TINY, '--trials', '2', '--threads', '1', '--seed', '1', '--storage', storage, '--study', 'tiny', '--out', out);
  t.is(r2.code, 0, r2.stderr);
  t.regex(r2.stdout.split('\n')[0]!, /^ferroptim: continuing study "tiny" in journal:.* \(4 trials so far: \d COMPLETE, \d PRUNED, \d FAIL; best \d+\.\d\d% #\d\), running 2 more/);
  t.regex(r2.stdout, /^study "tiny": 6 trials: /m);
  const after = await trialsOf(storage, 'tiny');
  t.deepEqual(after.map((x) => x.number), [0, 1, 2, 3, 4, 5]);
  t.is(readFileSync(join(out, 'trials.csv'), 'utf8').trim().split('\n').length, 1 + 6);

  // Another set of optimizers cannot continue it: a usage error, and the study is unchanged.
  const r3 = run('tune', ...TINY, '--trials', '2', '--threads', '1', '--optimizers', 'adam,sgd', '--storage', storage, '--study', 'tiny', '--out', out);
  t.is(r3.code, 2, r3.stderr);
  t.regex(r3.stderr, /--space\/--optimizers\/--lr: the search space cannot continue study "tiny": the study's trials chose optimizer from \[adam, sgd, adamw\]; this space has \[adam, sgd\]/);
  t.is((await trialsOf(storage, 'tiny')).length, 6);
});

test.serial('a space file of other optimizers and options, the in-memory storage, ASHA pruning every few steps', (t) => {
  const out = join(tmp, 'custom');
  mkdirSync(out, { recursive: true });
  const space = join(out, 'space.json');
  writeFileSync(
    space,
    JSON.stringify({
      optimizer: { choices: ['rmsprop', 'lion'] },
      lr: { low: 1e-4, high: 1e-2, log: true },
      conditional: { rmsprop: { alpha: { low: 0.9, high: 0.99 } }, lion: { weight_decay: { low: 0.001, high: 0.1, log: true } } },
    }),
  );
  const r = run('tune', ...TINY, '--epochs', '2', '--trials', '7', '--threads', '1', '--seed', '5', '--space', space, '--pruner', 'asha', '--report-every', '2', '--storage', 'memory', '--out', out);
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /^ferroptim: study "mnist-mlp" in memory \(new\), running 7 trials/m);
  t.regex(r.stdout, /^search space: optimizer ∈ \{rmsprop, lion\}, lr log \[0\.0001, 0\.01\], alpha \[0\.9, 0\.99\] \(rmsprop\), weight_decay log \[0\.001, 0\.1\] \(lion\)$/m);
  const m = r.stdout.match(/^study "mnist-mlp": 7 trials: (\d) COMPLETE, (\d) PRUNED, (\d) FAIL$/m);
  t.truthy(m, r.stdout);
  t.regex(r.stdout, /^#\d+ (COMPLETE|PRUNED).*optimizer=(rmsprop lr=\S+ alpha=|lion lr=\S+ weight_decay=)/m);
  // train has no --alpha: the best command says so when the best trial is an RMSprop one.
  if (/^best: trial #\d+, .*optimizer=rmsprop/m.test(r.stdout)) t.regex(r.stdout, /ferroptim train has no flag for alpha=\S+ \(no --alpha flag\); it uses the default/);
  t.regex(r.stdout, /the study was kept in memory and is gone with this command/);
  t.is(readFileSync(join(out, 'trials.csv'), 'utf8').trim().split('\n').length, 1 + 7);
});

test.serial('--workers 2: both workers share the journal and run exactly the trials asked for', async (t) => {
  const out = join(tmp, 'workers');
  const storage = `journal:${join(out, 'studies.log')}`;
  const r = run('tune', ...TINY, '--trials', '4', '--workers', '2', '--threads', '1', '--seed', '0', '--storage', storage, '--out', out);
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /with 2 workers × 1 thread/);
  const trials = await trialsOf(storage, 'mnist-mlp');
  t.is(trials.length, 4, trials.map((x) => `${x.number}:${x.state}`).join(' '));
  t.true(trials.every(finishedCounted));
  t.is(new Set(trials.map((x) => x.number)).size, 4);
  const pids = new Set(trials.map(workerPid));
  t.is(pids.size, 2, `trials ran in processes ${[...pids].join(', ')}`);
  t.false(pids.has(undefined));
  t.is(readFileSync(join(out, 'trials.csv'), 'utf8').trim().split('\n').length, 1 + 4);
});

test.serial('a worker killed mid-trial: its trial fails with a reason, is retried, a replacement joins, and the study still gets its trials', async (t) => {
  const out = join(tmp, 'killed');
  const storage = `journal:${join(out, 'studies.log')}`;
  // Trials long enough (a CNN on 2048 images) to be killed while they run.
  const cmd = background('tune', '--model', 'cnn', '--limit', '2048', '--val-size', '512', '--epochs', '1', '--trials', '4', '--workers', '2', '--threads', '1', '--seed', '0', '--progress', 'lines', '--storage', storage, '--out', out);
  const m = await cmd.line(/^#(\d+) started on worker (\d+) \(pid (\d+)\)/);
  const killed = Number(m[1]);
  const pid = Number(m[3]);
  t.not(pid, cmd.pid);
  process.kill(pid, 'SIGKILL');
  const r = await cmd.done;
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stderr, new RegExp(`worker ${m[2]} \\(pid ${pid}\\) died \\(SIGKILL\\) during trial #${killed} .*; starting a replacement`));
  t.regex(r.stdout, /^worker 3 started \(pid \d+\)$/m);
  const trials = await trialsOf(storage, 'mnist-cnn');
  const dead = trials.find((x) => x.number === killed)!;
  t.is(dead.state, TrialState.FAIL);
  t.regex(String(dead.systemAttrs.fail_reason), new RegExp(`process ${pid}`));
  t.false(trials.some((x) => x.state === TrialState.RUNNING || x.state === TrialState.WAITING));
  t.is(trials.filter(finishedCounted).length, 4, trials.map((x) => `${x.number}:${x.state}`).join(' '));
  t.is(trials.length, 5);
  // The killed trial was retried with the same parameters.
  const retry = trials.find((x) => x.systemAttrs.failed_trial === killed)!;
  t.truthy(retry);
  t.deepEqual(retry.params, dead.params);
  t.regex(r.stdout, /^study "mnist-cnn": 5 trials: \d COMPLETE, \d PRUNED, 1 FAIL$/m);
});

test.serial('Ctrl-C stops the workers, fails their running trials, exits 130 and prints how to run the trials left', async (t) => {
  const out = join(tmp, 'interrupted');
  const storage = `journal:${join(out, 'studies.log')}`;
  const cmd = background('tune', '--model', 'cnn', '--limit', '2048', '--val-size', '512', '--epochs', '1', '--trials', '6', '--workers', '2', '--threads', '1', '--progress', 'lines', '--storage', storage, '--out', out);
  await cmd.line(/^#1 started on worker/);
  cmd.kill('SIGINT');
  const r = await cmd.done;
  t.is(r.code, 130, r.stderr + r.stdout);
  const m = r.stderr.match(/interrupted after (\d+) trials? of 6; the study keeps them\. Run the (\d+) trials? left with:\n {2}(ferroptim tune .*)$/m);
  t.truthy(m, r.stderr);
  t.is(Number(m![1]) + Number(m![2]), 6);
  t.regex(m![3]!, new RegExp(`--trials ${m![2]}`));
  const trials = await trialsOf(storage, 'mnist-cnn');
  t.false(trials.some((x) => x.state === TrialState.RUNNING), trials.map((x) => `${x.number}:${x.state}`).join(' '));
  t.true(trials.some((x) => x.state === TrialState.FAIL && /interrupted/.test(String(x.systemAttrs.fail_reason))));
  t.is(trials.filter(finishedCounted).length, Number(m![1]));
});

const PG = process.env.FERROPTIM_PG_URL;
(PG ? test.serial : test.skip)('PostgreSQL (FERROPTIM_PG_URL): two workers, one killed; the command fails and retries its trial at once', async (t) => {
  const out = join(tmp, 'pg');
  const studyName = `tune-cli-${process.pid}-${Date.now()}`;
  const cmd = background('tune', '--model', 'cnn', '--limit', '2048', '--val-size', '512', '--epochs', '1', '--trials', '3', '--workers', '2', '--threads', '1', '--progress', 'lines', '--storage', PG!, '--study', studyName, '--out', out);
  const m = await cmd.line(/^#(\d+) started on worker (\d+) \(pid (\d+)\)/);
  process.kill(Number(m[3]), 'SIGKILL');
  const r = await cmd.done;
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /^open the study in optuna-dashboard: optuna-dashboard postgres/m);
  const trials = await trialsOf(PG!, studyName);
  t.is(trials.filter(finishedCounted).length, 3);
  const dead = trials.find((x) => x.number === Number(m[1]))!;
  t.is(dead.state, TrialState.FAIL);
  t.regex(String(dead.systemAttrs.fail_reason), new RegExp(`process ${m[3]} .*died \\(SIGKILL\\)`));
  t.deepEqual(trials.find((x) => x.systemAttrs.failed_trial === dead.number)!.params, dead.params);
  t.false(trials.some((x) => x.state === TrialState.RUNNING));
});

test.serial('a study can choose Adafactor, Muon + AdamW and L-BFGS, and search an integer option on a grid', async (t) => {
  const out = join(tmp, 'others');
  mkdirSync(out, { recursive: true });
  const space = join(out, 'space.json');
  writeFileSync(space, JSON.stringify({
    optimizer: { choices: ['adafactor', 'muon', 'lbfgs'] },
    lr: { low: 1e-3, high: 0.05, log: true },
    conditional: { lbfgs: { max_iter: { low: 2, high: 4, step: 1 } }, muon: { adamw_lr: { low: 1e-4, high: 1e-2, log: true } } },
  }));
  const storage = `journal:${join(out, 'studies.log')}`;
  const r = run('tune', ...TINY, '--space', space, '--sampler', 'random', '--trials', '6', '--threads', '1', '--seed', '3', '--storage', storage, '--study', 'others', '--out', out);
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /^search space: optimizer ∈ \{adafactor, muon, lbfgs\}/m);
  const trials = await trialsOf(storage, 'others');
  t.is(trials.length, 6);
  for (const x of trials) {
    t.is(x.state, TrialState.COMPLETE, `trial ${x.number} (${String(x.params.optimizer)}) completed`);
    if (x.params.optimizer === 'lbfgs') t.true(Number.isInteger(x.params.max_iter), `max_iter ${String(x.params.max_iter)}`);
  }
  t.true(new Set(trials.map((x) => x.params.optimizer)).size >= 2, 'more than one optimizer was tried');
});

test('--help documents the space file, the counting rule and examples', (t) => {
  const r = run('tune', '--help');
  t.is(r.code, 0);
  for (const s of ['--space <file>', '"conditional"', '--workers <n>', '--threads <n>', '--storage <spec>', 'optuna-dashboard', 'constant liar', 'Examples:', 'ferroptim tune --model mlp --trials 50']) t.true(r.stdout.includes(s), s);
});

test('usage errors name the flag, exit 2 and touch no storage', (t) => {
  const dir = join(tmp, 'usage');
  mkdirSync(dir, { recursive: true });
  const file = (name: string, json: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof json === 'string' ? json : JSON.stringify(json));
    return p;
  };
  const storage = join(dir, 'untouched', 'studies.log');
  const cores = availableParallelism();
  const cases: Array<[string, string[], RegExp]> = [
    ['a space file that is not JSON', ['--space', file('bad.json', '{"optimizer": ')], /--space .*bad\.json: not valid JSON/],
    ['a space file without optimizer', ['--space', file('noopt.json', { lr: { low: 1e-4, high: 1e-2 } })], /--space .*noopt\.json: optimizer: /],
    ['a parameter with low > high', ['--space', file('range.json', { optimizer: { choices: ['adam'] }, lr: { low: 0.1, high: 0.01 } })], /--space .*range\.json: lr\.low: low \(0\.1\) must not exceed high \(0\.01\)/],
    ['an unknown optimizer in the space', ['--space', file('adamz.json', { optimizer: { choices: ['adam', 'adamz'] } })], /--space .*adamz\.json: optimizer\.choices\[1\]: unknown optimizer "adamz"/],
    ['an option the optimizer lacks', ['--space', file('mom.json', { optimizer: { choices: ['adam', 'sgd'] }, momentum: { low: 0.8, high: 0.9 } })], /--space .*mom\.json: momentum: Adam has no option "momentum"/],
    ['a conditional of an optimizer not chosen', ['--space', file('cond.json', { optimizer: { choices: ['adam'] }, conditional: { sgd: { momentum: { low: 0.8, high: 0.9 } } } })], /conditional\.sgd: "sgd" is not one of optimizer\.choices/],
    ['a range the optimizer refuses', ['--space', file('neg.json', { optimizer: { choices: ['sgd'] }, conditional: { sgd: { momentum: { low: -1, high: 0.9 } } } })], /conditional\.sgd\.momentum\.low: SGD's momentum must be >= 0, received -1/],
    ['Lookahead, whose options depend on its inner optimizer', ['--optimizers', 'adam,lookahead'], /--optimizers: unknown optimizer "lookahead" in "adam,lookahead"; a study can choose .*adafactor, muon, lbfgs/],
    ['a range Adafactor refuses', ['--space', file('af.json', { optimizer: { choices: ['adafactor'] }, conditional: { adafactor: { beta2_decay: { low: -0.9, high: 0.5 } } } })], /conditional\.adafactor\.beta2_decay\.high: Adafactor's beta2_decay must be <= 0, received 0\.5/],
    ['an integer option without an integer step', ['--space', file('hist.json', { optimizer: { choices: ['lbfgs'] }, conditional: { lbfgs: { history_size: { low: 5, high: 50 } } } })], /conditional\.lbfgs\.history_size: L-BFGS's history_size is an integer: give integer low and high and an integer step/],
    ['a missing space file', ['--space', join(dir, 'nowhere.json')], /--space .*nowhere\.json: cannot read the file \(ENOENT\)/],
    ['an unknown optimizer in --optimizers', ['--optimizers', 'adam,adamz'], /--optimizers: unknown optimizer "adamz"/],
    ['a malformed --lr', ['--lr', '0.1'], /--lr expects LOW:HIGH with 0 < LOW <= HIGH/],
    ['workers × threads beyond the cores', ['--workers', '2', '--threads', String(cores)], new RegExp(`--workers 2 × --threads ${cores} = ${2 * cores} threads exceeds the ${cores} cores?`)],
    ['several workers with the memory storage', ['--workers', '2', '--threads', '1', '--storage', 'memory'], /--workers 2 needs a storage the workers share, and --storage memory/],
    ['an unknown storage', ['--storage', 'sqlite:///x.db'], /--storage expects journal:PATH/],
    ['zero trials', ['--trials', '0'], /--trials expects an integer >= 1, received "0"/],
    ['a validation set larger than MNIST', ['--val-size', '60000'], /--val-size expects fewer than the 60000/],
    ['a --limit overlapping the validation set', ['--limit', '55000'], /--limit 55000 overlaps the validation images/],
    ['an unknown sampler', ['--sampler', 'cmaes'], /argument 'cmaes' is invalid\. Allowed choices are tpe, random/],
  ];
  for (const [name, args, re] of cases) {
    const withStorage = args.includes('--storage') ? args : [...args, '--storage', `journal:${storage}`];
    const r = run('tune', ...withStorage, '--out', join(dir, 'out'));
    t.is(r.code, 2, `${name}: ${r.stderr}`);
    t.regex(r.stderr, re, name);
  }
  t.false(existsSync(storage), 'no storage was created');
  t.false(existsSync(join(dir, 'out')), 'no output folder was created');
});
