/**
 * Every script in examples/ runs at a small size (`--small`) where it stands, as a user runs it:
 * `ferroptim` and `ferroptim-cli` resolve to the builds of this repository's two packages (npm
 * install builds both). The test checks what each prints and the pictures it writes.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ferroptim-examples-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** What each example must print, and the picture it writes (if any). */
const EXPECTED: Record<string, { stdout: RegExp[]; plot?: string }> = {
  'sgd-regression.ts': { stdout: [/^Epoch 0, Loss: \d+\.\d{4}$/m, /^Epoch 20, Loss: 0\.0\d{3}$/m, /mini-batch steps; largest weight error/] },
  'momentum-race.ts': { stdout: [/^SGD final position: \[-?\d\.\d{6} -?\d\.\d{6}\], Loss: \d+\.\d{4}$/m, /^Momentum final position: /m], plot: 'momentum-race' },
  'mnist-compare.ts': { stdout: [/^SGD - Epoch 0, Batch 0, Loss: 2\.\d{4}$/m, /^Adam: test accuracy [\d.]+%$/m], plot: 'mnist-compare' },
  'adam-vs-radam.ts': { stdout: [/^Adam: batch 1 loss (\d\.\d{4}), batch 4 loss/m, /^RAdam: batch 1 loss \d\.\d{4}, batch 4 loss/m], plot: 'adam-vs-radam' },
  'article-study.ts': { stdout: [/^8 trials: \d+ complete, \d+ pruned, 0 failed$/m, /^Best validation accuracy: \d+\.\d\d%$/m, /^Best optimizer config: \{"optimizer":"(adam|sgd|adamw)","lr":/m] },
  'muon-schedule-free.ts': {
    stdout: [/^AdamW \+ cosine: test accuracy \d+\.\d\d%, \d+\.\d\d%; [\d.]+ s per epoch$/m, /^Muon \(fc1\) \+ AdamW \+ cosine: test accuracy /m, /^Schedule-Free AdamW: test accuracy /m],
    plot: 'muon-schedule-free',
  },
  'tfjs-fit.ts': { stdout: [/^epoch 1: loss [\d.]+, test accuracy [\d.]+%, lr [\d.e+-]+, grad norm \(EMA\) [\d.]+, steps clipped \d+$/m, /^epoch 2: /m, /^64 steps of model\.fit on the wasm backend in [\d.]+ s; tf\.memory\(\)\.numTensors \d+$/m] },
  'low-precision-state.ts': {
    stdout: [/^float32: test accuracy \d+\.\d\d%, \d+\.\d\d%; [\d.]+ s per epoch; 8\.\d\d bytes of state per parameter$/m, /^bfloat16: test accuracy .*; 4\.\d\d bytes/m, /^int8: test accuracy .*; 2\.\d\d bytes/m],
  },
  'lr-schedules.ts': { stdout: [/^epoch 1: loss [\d.]+, test accuracy [\d.]+%, lr [\d.e+-]+, grad norm \(EMA\) [\d.]+$/m, /^epoch 2: /m], plot: 'lr-schedules' },
};

const files = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.ts')).sort();

test('every example has an expectation here', (t) => {
  t.deepEqual(files, Object.keys(EXPECTED).sort());
});

for (const file of files) {
  test.serial(`examples/${file} runs at a small size`, (t) => {
    const source = readFileSync(join(root, 'examples', file), 'utf8');
    t.regex(source, /from 'ferroptim';/, 'imports the public API by package name');
    t.notRegex(source, /from '\.{1,2}\//, 'imports nothing by relative path');
    const out = join(tmp, file.replace(/\.ts$/, ''));
    const r = spawnSync(process.execPath, ['--import', '@oxc-node/core/register', join(root, 'examples', file), '--small'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, FERROPTIM_EXAMPLE_OUT: out },
      timeout: 120_000,
    });
    t.is(r.status, 0, r.stderr);
    for (const re of EXPECTED[file]!.stdout) t.regex(r.stdout, re);
    const plot = EXPECTED[file]!.plot;
    if (plot) {
      t.true(readFileSync(join(out, `${plot}.svg`), 'utf8').startsWith('<svg'));
      t.deepEqual(readFileSync(join(out, `${plot}.png`)).subarray(0, 8), PNG);
      t.true(statSync(join(out, `${plot}.png`)).size > 10_000);
    } else {
      t.false(existsSync(out));
    }
  });
}
