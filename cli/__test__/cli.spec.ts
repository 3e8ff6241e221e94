/**
 * The `ferroptim train` command: help, clear messages and exit code 2 for bad flags, a short real
 * run (plain lines when not a terminal, metrics JSONL, weights, checkpoint) and --resume.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTmpfs } from '../../__test__/helpers/tmpfs.js';

const CLI = fileURLToPath(new URL('../src/cli/index.ts', import.meta.url));
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
  for (const s of ['--model <name>', '--batch-size <n>', '--resume', '--overwrite', '--checkpoint-every <n>', '--threads <n>', 'adamw', 'lion', 'lookahead', 'onecycle']) t.true(r.stdout.includes(s), s);
});

const bad: Array<[string, string[], RegExp]> = [
  ['an unknown flag', ['train', '--lrr', '1'], /unknown option '--lrr'/],
  ['a negative learning rate (taken as the value, not as a flag)', ['train', '--lr', '-0.1'], /--lr expects a number > 0, received "-0\.1"/],
  ['a learning rate that is not a number', ['train', '--lr', 'abc'], /--lr expects a number > 0, received "abc"/],
  ['a fractional batch size', ['train', '--batch-size', '12.5'], /--batch-size expects an integer >= 1, received "12.5"/],
  ['an unknown model', ['train', '--model', 'resnet'], /option '--model <name>' argument 'resnet' is invalid\. Allowed choices are cnn, mlp/],
  ['an unknown optimizer', ['train', '--optimizer', 'adamz'], /--optimizer expects one of adabound, adadelta, .*, sgd, sgdschedulefree, lookahead, adafactor, muon, lbfgs, received "adamz"/],
  ['an unknown scheduler', ['train', '--scheduler', 'warm'], /Allowed choices are none, step, cosine/],
  ['an option the optimizer does not have', ['train', '--optimizer', 'adam', '--momentum', '0.9', '--out', join(tmp, 'adam-momentum')], /--optimizer: Adam: unknown option "momentum"/],
  ['--resume with --overwrite', ['train', '--resume', '--overwrite'], /--resume and --overwrite contradict each other/],
  ['zero threads', ['train', '--threads', '0'], /--threads expects an integer >= 1, received "0"/],
  ['an unknown command', ['fit'], /unknown command 'fit'/],
  ['no command', [], /Usage: ferroptim \[options\] \[command\]/],
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
  t.regex(r2.stdout, /resuming after epoch 1/);
  t.is(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 2);
});

test('train --optimizer lbfgs steps through the closure and resumes from its checkpoint', (t) => {
  const out = join(tmp, 'lbfgs');
  const common = ['train', '--model', 'mlp', '--optimizer', 'lbfgs', '--lr', '0.05', '--batch-size', '64', '--limit', '320', '--test-limit', '200', '--out', out, '--threads', '1'];
  const r = cli(...common, '--epochs', '1');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /with lbfgs lr 0\.05/);
  t.regex(r.stdout, /^epoch 1\/1 {2}loss \d\.\d{4}/m);
  const r2 = cli(...common, '--epochs', '2', '--resume');
  t.is(r2.code, 0, r2.stderr);
  t.regex(r2.stdout, /resuming after epoch 1/);
  t.regex(r2.stdout, /^epoch 2\/2/m);
});

test('train --state-dtype int8 keeps compact optimizer state in the checkpoint, and --resume takes it from there', (t) => {
  const out = join(tmp, 'int8');
  const common = ['train', '--model', 'mlp', '--optimizer', 'adamw', '--batch-size', '64', '--limit', '320', '--test-limit', '200', '--out', out, '--threads', '1'];
  const r = cli(...common, '--state-dtype', 'int8', '--epochs', '1');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /with adamw \(int8 state\)/);
  const manifest = JSON.parse(readFileSync(join(out, 'checkpoint', 'checkpoint.json'), 'utf8')) as { optimizer: { state: Record<string, Record<string, unknown>> } };
  t.like(Object.values(manifest.optimizer.state)[0]!.expAvg, { dtype: 'int8' });
  const r2 = cli(...common, '--epochs', '2', '--resume');
  t.is(r2.code, 0, r2.stderr);
  t.regex(r2.stdout, /resuming .*\(int8 state\)/);
  const bad = cli('train', '--model', 'mlp', '--optimizer', 'rmsprop', '--state-dtype', 'int8', '--out', join(tmp, 'int8-bad'));
  t.is(bad.code, 2);
  t.regex(bad.stderr, /RMSprop: expected stateDtype to be 'float32' \(RMSprop keeps its state in float32\), received "int8"/);
});

test('a missing data directory is a clear error with a non-zero exit', (t) => {
  const r = cli('train', '--data', join(tmp, 'nowhere'), '--epochs', '1');
  t.not(r.code, 0);
  t.regex(r.stderr, /no image file train-images-idx3-ubyte\[\.gz\] in .*nowhere/);
});

test('the top-level help lists the commands first; --version prints the version', (t) => {
  const r = cli('--help');
  t.is(r.code, 0);
  t.regex(r.stdout, /^Usage: ferroptim \[options\] \[command\]/);
  t.true(r.stdout.indexOf('Commands:') < r.stdout.indexOf('train [options]'));
  const v = cli('--version');
  t.is(v.code, 0);
  t.regex(v.stdout, /^\d+\.\d+\.\d+\n$/);
});

const MLP = ['train', '--model', 'mlp', '--optimizer', 'sgd', '--lr', '0.1', '--momentum', '0.9', '--batch-size', '64', '--limit', '640', '--test-limit', '200', '--threads', '1'];

test('a crafted checkpoint naming ../../victim.txt deletes nothing: the folder is refused, and --resume reports the malformed manifest (exit 1)', (t) => {
  const root = join(tmp, 'victim');
  const out = join(root, 'out');
  mkdirSync(join(out, 'checkpoint'), { recursive: true });
  writeFileSync(join(root, 'victim.txt'), 'important\n');
  writeFileSync(join(out, 'checkpoint', 'checkpoint.json'), '{"format":"ferroptim-checkpoint","version":1,"epoch":0,"weightsFile":"../../victim.txt","optimizerFile":"x"}');
  const r = cli('train', '--model', 'mlp', '--epochs', '1', '--limit', '256', '--test-limit', '100', '--out', out);
  t.is(r.code, 2);
  t.regex(r.stderr, /--out .* is not empty \(it holds checkpoint\); pass --resume to continue its run, --overwrite to replace it/);
  const r2 = cli('train', '--model', 'mlp', '--epochs', '1', '--limit', '256', '--test-limit', '100', '--out', out, '--resume');
  t.is(r2.code, 1);
  t.regex(r2.stderr, /weightsFile: expected a file name of this folder ending in \.safetensors( \(at most 255 characters\))?, received "\.\.\/\.\.\/victim\.txt"/);
  t.notRegex(r2.stderr, /--help/);
  const r3 = cli('train', '--model', 'mlp', '--epochs', '1', '--limit', '256', '--test-limit', '100', '--out', out, '--overwrite');
  t.is(r3.code, 0, r3.stderr);
  t.is(readFileSync(join(root, 'victim.txt'), 'utf8'), 'important\n');
});

test('--resume takes the run settings from the checkpoint; contradicting flags, fewer epochs and a finished run each get one clear message', (t) => {
  const out = join(tmp, 'settings');
  t.is(cli(...MLP, '--epochs', '1', '--out', out).code, 0);
  const r = cli('train', '--resume', '--out', out, '--epochs', '2');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /resuming mlp .* with sgd lr 0\.1, 2 epochs/);
  t.regex(r.stdout, /\(resuming after epoch 1 from /);
  t.regex(r.stdout, /^epoch 2\/2 /m);
  const bad = cli('train', '--resume', '--out', out, '--epochs', '3', '--model', 'cnn', '--optimizer', 'adam');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /these flags contradict them: --model cnn \(the run has mlp\), --optimizer adam \(the run has sgd\)/);
  const fewer = cli('train', '--resume', '--out', out, '--epochs', '1');
  t.is(fewer.code, 2);
  t.regex(fewer.stderr, /--epochs 1 is fewer than the run in .* has done \(2 epochs\); pass --epochs 3 or more/);
  const done = cli('train', '--resume', '--out', out);
  t.is(done.code, 0);
  t.regex(done.stdout, /has already done its 2 epochs; nothing to do/);
  t.deepEqual(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch), [1, 2]);
});

test('a diverged run says so and exits 1', (t) => {
  const r = cli('train', '--model', 'mlp', '--optimizer', 'sgd', '--lr', '1e30', '--epochs', '2', '--limit', '256', '--test-limit', '100', '--out', join(tmp, 'diverged'));
  t.is(r.code, 1);
  t.regex(r.stderr, /the run diverged: the loss of epoch 1, batch \d+ is (NaN|Infinity)/);
  t.notRegex(r.stdout, /^done/m);
});

test('an --out on a read-only file system is a runtime error naming EROFS before any work', (t) => {
  let r: ReturnType<typeof cli> | undefined;
  const mounted = withTmpfs(join(tmp, 'ro'), 'ro,size=64k', (dir) => {
    r = cli('train', '--model', 'mlp', '--epochs', '1', '--out', join(dir, 'run'));
  });
  if (!mounted) {
    t.log('mount refused (not root): the read-only case was not run');
    t.pass();
    return;
  }
  t.is(r!.code, 1);
  t.regex(r!.stderr, /cannot write to --out .*ro\/run \(EROFS\)/);
  t.is(r!.stdout, '');
});

test('an --out that cannot be written is a runtime error before any work', (t) => {
  writeFileSync(join(tmp, 'a-file'), '');
  for (const cmd of [['train', '--model', 'mlp', '--epochs', '1'], ['compare', '--model', 'mlp', '--limit', '100']]) {
    const r = cli(...cmd, '--out', join(tmp, 'a-file', 'out'));
    t.is(r.code, 1, cmd[0]);
    t.regex(r.stderr, /cannot write to --out .*a-file\/out \(ENOTDIR\)/);
    t.is(r.stdout, '', `${cmd[0]} did no work`);
  }
});

// Serial: the other tests' spawnSync would block this worker's event loop, and with it the
// 'data' handler that sends the signal, until the child had finished.
test.serial('Ctrl-C writes a checkpoint of the current step and says how to resume; the resumed run ends with the weights of an uninterrupted one', async (t) => {
  const args = ['train', '--model', 'mlp', '--optimizer', 'adam', '--epochs', '2', '--batch-size', '16', '--limit', '12000', '--test-limit', '100', '--threads', '1', '--progress', 'lines'];
  const straight = join(tmp, 'straight');
  t.is(cli(...args, '--out', straight).code, 0);
  const out = join(tmp, 'sigint');
  const code = `import { run } from ${JSON.stringify(CLI)}; run();`;
  const child = spawn(process.execPath, ['--import', '@oxc-node/core/register', '--input-type=module', '-e', code, '--', 'ferroptim', ...args, '--out', out], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Interrupt during the second epoch, right after the first epoch's line.
  child.stdout.on('data', (d) => {
    stdout += d;
    if (/^epoch 1\/2/m.test(stdout)) child.kill('SIGINT');
  });
  const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(exit, 130, stderr);
  t.regex(stderr, /stopped in epoch 2 after \d+ batch(es)?; checkpoint written to .*\nresume with: ferroptim train --resume --out /);
  const resumed = cli('train', '--resume', '--out', out, '--threads', '2');
  t.is(resumed.code, 0, resumed.stderr);
  // The signal may land right at the start of epoch 2 (batch 0), which resumes as "after epoch 1".
  t.regex(resumed.stdout, /\(resuming (in epoch 2 after batch \d+|after epoch 1) from /);
  t.true(readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(straight, 'model.safetensors'))));
});

test('a closed pipe ends the command quietly, without a stack trace', (t) => {
  const code = `import { run } from ${JSON.stringify(CLI)}; run();`;
  const r = spawnSync('bash', ['-c', `"${process.execPath}" --import @oxc-node/core/register --input-type=module -e '${code}' -- ferroptim ${MLP.join(' ')} --epochs 3 --out ${join(tmp, 'pipe')} | head -c 10 >/dev/null; echo "status \${PIPESTATUS[0]}" >&2`], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  t.notRegex(r.stderr, /EPIPE|at .*\.js:\d+/);
  t.regex(r.stderr, /status (0|141)/);
});

test('--resume checks the run settings a checkpoint stores as it checks flags: malformed ones are a runtime error', (t) => {
  const out = join(tmp, 'bad-settings');
  t.is(cli(...MLP, '--epochs', '1', '--out', out).code, 0);
  const manifest = join(out, 'checkpoint', 'checkpoint.json');
  const good = JSON.parse(readFileSync(manifest, 'utf8')) as { config: { run: Record<string, unknown> } };
  for (const [key, value, message] of [
    ['epochs', 1e9, /run settings: epochs: .*received 1000000000/],
    ['model', 'resnet', /run settings: model: .*received "resnet"/],
    ['lr', -1, /run settings: lr: .*received -1/],
  ] as const) {
    writeFileSync(manifest, JSON.stringify({ ...good, config: { ...good.config, run: { ...good.config.run, [key]: value } } }));
    const r = cli('train', '--resume', '--out', out);
    t.is(r.code, 1, key);
    t.regex(r.stderr, message);
  }
});
