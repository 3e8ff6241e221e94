// `npm test`: runs the Rust unit tests (cargo test), the library's ava suite (__test__/), the
// hyperparameter search's (tune/__test__/) and the application's (cli/__test__/), streams their
// output, and ends with one plain line `N passed, N failed` counting every test that really ran.
import { spawn } from 'node:child_process';

function run(cmd, args, parse, cwd = undefined) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], shell: false });
    let out = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      out += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, ...parse(out) }));
  });
}

function cargo(out) {
  let passed = 0;
  let failed = 0;
  for (const m of out.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  return { passed, failed };
}

function tap(out) {
  const num = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(out)?.[1] ?? 0);
  return { passed: num('pass'), failed: num('fail') };
}

const rust = await run('cargo', ['test', '--release', '--manifest-path', 'crate/Cargo.toml'], cargo);
const lib = await run('npx', ['ava', '--tap'], tap);
const tune = await run('npx', ['ava', '--tap'], tap, new URL('../tune/', import.meta.url));
const app = await run('npx', ['ava', '--tap'], tap, new URL('../cli/', import.meta.url));
const runs = { rust, 'ava (ferroptim)': lib, 'ava (ferroptim-tune)': tune, 'ava (ferroptim-cli)': app };
let passed = 0;
let failed = 0;
for (const r of Object.values(runs)) {
  passed += r.passed;
  // A runner that exits non-zero without reporting a failure still counts as one failure.
  failed += r.failed + (r.code !== 0 && r.failed === 0 ? 1 : 0);
}
console.log(`\n${Object.entries(runs).map(([k, r]) => `${k}: ${r.passed} passed, ${r.failed} failed`).join('; ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
