/**
 * The `ferroptim train` command: help, clear messages and exit code 2 for bad flags, a short real
 * run (plain lines when not a terminal, metrics JSONL, weights, checkpoint) and --resume.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../ts/cli/index.ts', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-cli-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const code = `import { main } from ${JSON.stringify(CLI)}; process.exitCode = await main(${JSON.stringify(args)});`;
  const r = spawnSync(process.execPath, ['--import', '@oxc-node/core/register', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('--help lists the options and every optimizer, and exits 0', (t) => {
  const r = cli('train', '--help');
  t.is(r.code, 0);
  for (const s of ['--model cnn|mlp', '--batch-size', '--resume', '--threads', 'adamw', 'lion', 'lookahead', 'onecycle']) t.true(r.stdout.includes(s), s);
});

const bad: Array<[string, string[], RegExp]> = [
  ['an unknown flag', ['train', '--lrr', '1'], /Unknown option '--lrr'/],
  ['a learning rate that is not a number', ['train', '--lr', 'abc'], /--lr expects a number > 0, received "abc"/],
  ['a fractional batch size', ['train', '--batch-size', '12.5'], /--batch-size expects an integer >= 1, received "12.5"/],
  ['an unknown model', ['train', '--model', 'resnet'], /--model expects cnn or mlp, received "resnet"/],
  ['an unknown optimizer', ['train', '--optimizer', 'adamz'], /--optimizer expects one of adabound, adadelta, .*, sgd, lookahead, received "adamz"/],
  ['an unknown scheduler', ['train', '--scheduler', 'warm'], /--scheduler expects one of none, step, cosine/],
  ['zero threads', ['train', '--threads', '0'], /--threads expects an integer >= 1, received "0"/],
  ['an unknown command', ['fit'], /unknown command "fit"/],
  ['no command', [], /Usage: ferroptim train/],
];
for (const [name, args, message] of bad) {
  test(`${name} gets a clear message and exit code 2`, (t) => {
    const r = cli(...args);
    t.is(r.code, 2);
    t.regex(r.stderr, message);
  });
}

test('a short run prints plain lines, writes metrics, weights and a checkpoint; --resume continues it', (t) => {
  const out = join(tmp, 'run');
  const common = ['train', '--model', 'mlp', '--optimizer', 'sgd', '--lr', '0.1', '--momentum', '0.9', '--batch-size', '64', '--limit', '600', '--test-limit', '300', '--out', out, '--threads', '1'];
  const r = cli(...common, '--epochs', '1');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^ferroptim: training mlp \(101,770 parameters\) with sgd lr 0\.1/m);
  t.regex(r.stdout, /^epoch 1\/1 {2}loss \d\.\d{4} {2}train acc [\d.]+% {2}test loss [\d.]+ {2}test acc [\d.]+%/m);
  t.false(r.stdout.includes('\r'), 'no progress bar when not a terminal');
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  t.is(lines.length, 1);
  t.true(JSON.parse(lines[0]!).testAccuracy > 0.3); // 57% here; chance is 10%
  t.true(existsSync(join(out, 'model.safetensors')));
  t.true(existsSync(join(out, 'checkpoint', 'checkpoint.json')));
  const r2 = cli(...common, '--epochs', '2', '--resume');
  t.is(r2.code, 0, r2.stderr);
  t.false(r2.stdout.includes('epoch 1/2'));
  t.regex(r2.stdout, /epoch 2\/2/);
  t.regex(r2.stdout, /resumed after epoch 1/);
  t.is(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 2);
});

test('a missing data directory is a clear error with a non-zero exit', (t) => {
  const r = cli('train', '--data', join(tmp, 'nowhere'), '--epochs', '1');
  t.not(r.code, 0);
  t.regex(r.stderr, /no image file train-images-idx3-ubyte\[\.gz\] in .*nowhere/);
});
