/**
 * `ferroptim landscape | race | regress | compare`: help, clear errors with exit code 2, and short
 * real runs that print their numbers and write SVG and PNG files.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-demos-cli-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function plotWritten(t: import('ava').ExecutionContext, base: string): void {
  t.true(readFileSync(`${base}.svg`, 'utf8').startsWith('<svg'), `${base}.svg`);
  t.deepEqual(readFileSync(`${base}.png`).subarray(0, 8), PNG, `${base}.png`);
}

const HELP: Array<[string, string[]]> = [
  ['landscape', ['--fn NAME', '--range A,B', '--levels N', 'himmelblau', 'rastrigin', 'saddle', 'runs/landscape']],
  ['race', ['--optimizer SPEC', 'repeatable', '--start X,Y', '--steps N', 'lookahead', 'runs/race']],
  ['regress', ['--optimizer SPEC', 'batch-size', 'every 20 epochs', 'runs/regress']],
  ['compare', ['--optimizers LIST', '--per-batch', '--limit N', 'time per epoch', 'runs/compare']],
];
for (const [cmd, parts] of HELP) {
  test(`ferroptim ${cmd} --help describes its options and exits 0`, (t) => {
    const r = cli(cmd, '--help');
    t.is(r.code, 0, r.stderr);
    t.true(r.stdout.startsWith(`Usage: ferroptim ${cmd}`));
    for (const p of parts) t.true(r.stdout.includes(p), p);
  });
}

test('the top-level help lists the demonstration commands', (t) => {
  const r = cli('--help');
  t.is(r.code, 0);
  for (const c of ['train', 'landscape', 'race', 'regress', 'compare']) t.regex(r.stdout, new RegExp(`^  ${c} `, 'm'));
});

const BAD: Array<[string, string[], RegExp]> = [
  ['an unknown function', ['landscape', '--fn', 'ackley'], /--fn expects one of himmelblau, rosenbrock, beale, rastrigin, saddle, received "ackley"/],
  ['a range that is not two numbers', ['landscape', '--range', '-5'], /--range expects 2 or 4 comma-separated numbers \(e\.g\. -5,5 or -2,2,-1,3\), received "-5"/],
  ['an empty range', ['landscape', '--range', '5,-5'], /--range expects min < max, received "5,-5"/],
  ['a fractional level count', ['landscape', '--levels', '2.5'], /--levels expects an integer >= 1, received "2\.5"/],
  ['an unknown scale', ['landscape', '--scale', 'cubic'], /--scale expects linear or log, received "cubic"/],
  ['a start with one number', ['race', '--start', '1'], /--start expects 2 comma-separated numbers/],
  ['negative steps', ['race', '--steps', '-1'], /--steps expects an integer >= 0, received "-1"/],
  ['an unknown optimizer', ['race', '--optimizer', 'adamz:lr=0.1'], /--optimizer "adamz:lr=0\.1": expected the optimizer to be one of .*received "adamz"/],
  ['an option the optimizer does not have', ['race', '--optimizer', 'sgd:lr=0.1,betas=0.9,0.99'], /--optimizer: SGD: unknown option "betas"/],
  ['a malformed spec', ['race', '--optimizer', 'sgd:lr'], /--optimizer "sgd:lr": expected option=value/],
  ['a bad regress optimizer', ['regress', '--optimizer', 'sgd:lr=-1'], /--optimizer "sgd:lr=-1": SGD: expected lr to be a finite number >= 0, received -1/],
  ['zero epochs', ['regress', '--epochs', '0'], /--epochs expects an integer >= 1, received "0"/],
  ['an unknown optimizer in the list', ['compare', '--optimizers', 'sgd,adamz'], /--optimizers expects names from .*received "adamz"/],
  ['an optimizer named twice', ['compare', '--optimizers', 'adam,adam'], /--optimizers names an optimizer twice/],
  ['an unknown model', ['compare', '--model', 'resnet'], /--model expects cnn or mlp, received "resnet"/],
  ['an unknown flag', ['race', '--optimiser', 'sgd'], /unknown option '--optimiser'\n\(Did you mean --optimizer\?\)/],
];
for (const [name, args, message] of BAD) {
  test(`${args[0]}: ${name} gets a clear message, the command's help hint and exit code 2`, (t) => {
    const r = cli(...args);
    t.is(r.code, 2, r.stdout);
    t.regex(r.stderr, message);
    t.true(r.stderr.includes(`Run 'ferroptim ${args[0]} --help' for the options.`), r.stderr);
    t.is(r.stdout, '');
  });
}

test('landscape prints the range of the loss and writes the SVG and PNG', (t) => {
  const out = join(tmp, 'landscape');
  const r = cli('landscape', '--fn', 'himmelblau', '--range', '-5,5', '--out', out);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Himmelblau: f\(x, y\) = \(x² \+ y − 11\)² \+ \(x \+ y² − 7\)²$/m);
  t.regex(r.stdout, /^window \[-5, 5\] × \[-5, 5\], 100×100 grid: loss from 0\.00436989 to 890, 50 linear levels$/m);
  t.regex(r.stdout, /^wrote .*himmelblau\.svg, .*himmelblau\.png$/m);
  plotWritten(t, join(out, 'himmelblau'));
});

test("race with the issue's three optimizers prints each final position and loss and writes two plots", (t) => {
  const out = join(tmp, 'race');
  const r = cli('race', '--fn', 'rosenbrock', '--start', '-1,1', '--steps', '1000', '--optimizer', 'sgd:lr=0.001', '--optimizer', 'sgd:lr=0.001,momentum=0.9', '--optimizer', 'adam:lr=0.01', '--out', out);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^adam:lr=0\.01 +final position \[0\.99\d{4} 0\.99\d{4}\], Loss: 0\.0000$/m);
  plotWritten(t, join(out, 'rosenbrock'));
  plotWritten(t, join(out, 'rosenbrock-loss'));
});

test('race reports a run that diverges', (t) => {
  const r = cli('race', '--fn', 'rosenbrock', '--steps', '100', '--optimizer', 'sgd:lr=0.1', '--out', join(tmp, 'race-diverge'));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^sgd:lr=0\.1 +diverged at step \d+: last finite position \[-?[\d.]+ -?[\d.]+\] after \d+ steps, Loss: /m);
});

test("regress prints the loss every 20 epochs, as the article, and plots the curve", (t) => {
  const out = join(tmp, 'regress');
  const r = cli('regress', '--out', out);
  t.is(r.code, 0, r.stderr);
  const epochs = [...r.stdout.matchAll(/^Epoch (\d+), Loss: \d+\.\d{4}$/gm)].map((m) => Number(m[1]));
  t.deepEqual(epochs, [0, 20, 40, 60, 80]);
  t.regex(r.stdout, /^mean loss of the last epoch 0\.0\d{3} \(the noise variance is 0\.0100\)/m);
  plotWritten(t, join(out, 'loss'));
});

test('compare on 200 images prints the table and writes the epoch plot and results.json', (t) => {
  const out = join(tmp, 'compare');
  const r = cli('compare', '--optimizers', 'sgd,adam,rmsprop,adamw', '--epochs', '2', '--limit', '200', '--test-limit', '200', '--out', out);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^ferroptim: comparing sgd, adam, rmsprop, adamw on SimpleCNN: 2 epochs of 200 images, batch 128, lr 0\.001/m);
  t.regex(r.stdout, /^Adam - Epoch 0, Batch 0, Loss: 2\.\d{4}$/m);
  t.regex(r.stdout, /^optimizer +final loss +test accuracy +time\/epoch$/m);
  for (const name of ['SGD', 'Adam', 'RMSprop', 'AdamW']) t.regex(r.stdout, new RegExp(`^${name} +\\d\\.\\d{4} +\\d+\\.\\d\\d% +\\d+\\.\\d\\d s$`, 'm'));
  plotWritten(t, join(out, 'loss-per-epoch'));
  t.false(existsSync(join(out, 'loss-per-batch.svg')));
  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  t.is(json.runs.length, 4);
  t.is(json.runs[0].metrics.length, 2);
});

test('compare --optimizers adam,radam --per-batch shows the first epoch batch by batch', (t) => {
  const out = join(tmp, 'compare-radam');
  const r = cli('compare', '--optimizers', 'adam,radam', '--per-batch', '--limit', '256', '--test-limit', '100', '--batch-size', '32', '--out', out);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /1 epoch of 256 images, batch 32/);
  plotWritten(t, join(out, 'loss-per-batch'));
  t.false(existsSync(join(out, 'loss-per-epoch.svg')), 'one epoch: no per-epoch plot');
  t.is(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).runs[1].batchLosses.length, 8);
});

test('compare keeps what finished when a later write fails: results.json is written, the failed plot is named, exit 1', (t) => {
  const out = join(tmp, 'compare-partial');
  // A directory where the epoch plot's SVG should go makes that one write fail.
  mkdirSync(join(out, 'loss-per-epoch.svg'), { recursive: true });
  const r = cli('compare', '--optimizers', 'sgd,adam', '--model', 'mlp', '--epochs', '2', '--limit', '256', '--test-limit', '100', '--out', out);
  t.is(r.code, 1, r.stdout);
  t.regex(r.stderr, /could not write loss-per-epoch: /);
  t.regex(r.stdout, /^wrote .*results\.json/m);
  t.is(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).runs.length, 2);
});
