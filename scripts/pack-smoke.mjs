// `npm run pack:smoke`: what a user gets from `npm install ferroptim`, checked from the tarballs.
// Builds, fills the host's platform package (npm/<platform>/) with the built binary, packs it and
// the main package, installs both tarballs OFFLINE (registry dependencies pinned by the repo's
// package-lock.json and taken from the npm cache that the repo's own `npm install` filled) into an
// empty folder with cargo removed from PATH, checks that the binary comes only from the platform
// package, then runs a CommonJS, an ES-module and a strictly type-checked TypeScript consumer that
// each train a few steps, the installed CLI, and the error a user sees when no binary matches the
// platform. Prints one line per check and a summary; exits 1 on any failure.
// `--keep` keeps the temporary folder.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KEEP = process.argv.includes('--keep');
const WIN = process.platform === 'win32';
const NPM = WIN ? 'npm.cmd' : 'npm';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const BIN = pkg.napi.binaryName;
const started = performance.now();
const results = [];

/** Runs a command; throws with the tail of its output unless it exits 0 (or `expectFail`). */
function run(cmd, args, { cwd = ROOT, env = process.env, expectFail = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', shell: WIN && cmd.endsWith('.cmd'), maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if ((r.status === 0) === expectFail) {
    const tail = out.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}${expectFail ? ' (expected a failure)' : ''}\n${tail}`);
  }
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function check(name, fn) {
  const t0 = performance.now();
  try {
    const detail = fn();
    results.push({ name, ok: true, ms: performance.now() - t0, detail });
  } catch (e) {
    results.push({ name, ok: false, ms: performance.now() - t0, detail: e instanceof Error ? e.message : String(e) });
    throw e;
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Files under `dir`, relative to it. */
function walk(dir, rel = '') {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(dir, join(rel, d.name)) : [join(rel, d.name)],
  );
}

/** The last line of a consumer's stdout, parsed: `{ first, last, ... }`. */
function lastJson(stdout) {
  return JSON.parse(stdout.trim().split('\n').pop());
}

function trained(name, r) {
  const { first, last, steps } = lastJson(r.stdout);
  assert(Number.isFinite(last) && last < first * 0.5, `${name}: loss did not fall (${first} -> ${last})`);
  return `${steps} steps, loss ${first.toPrecision(4)} -> ${last.toPrecision(4)}`;
}

/**
 * Writes the consumer's package.json (the two tarballs, plus typescript and @types/node for the
 * TypeScript consumer) and a package-lock.json whose registry entries are copied from the repo's
 * lock: the closure of the package's runtime dependencies and of the two tools, found by Node's
 * resolution over the lock's paths. Returns how many registry packages it pinned.
 */
function writeConsumerProject(app, mainTgz, platTgz, platPkgName) {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages;
  const resolveIn = (from, name) => {
    for (let at = from; ; ) {
      const path = `${at ? `${at}/` : ''}node_modules/${name}`;
      if (lock[path]) return path;
      if (!at) return null;
      const i = at.lastIndexOf('/node_modules/');
      at = i < 0 ? '' : at.slice(0, i);
    }
  };
  // Lockfiles written with omit-lockfile-registry-resolved (as on this machine) carry no tarball
  // URLs; without one npm would fetch a packument to find it. The registry's URL is fixed by the
  // name and version, and with the integrity npm takes the tarball from the cache.
  const registry = run(NPM, ['config', 'get', 'registry']).stdout.trim().replace(/\/?$/, '/');
  const tarballUrl = (path, entry) => {
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    return `${registry}${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
  };
  const pinned = {};
  const add = (path) => {
    if (pinned[path]) return;
    const { dev, devOptional, peer, ...entry } = lock[path];
    if (!entry.resolved && !entry.link) entry.resolved = tarballUrl(path, entry);
    pinned[path] = entry;
    for (const [deps, optional] of [[entry.dependencies, false], [entry.optionalDependencies, true]]) {
      for (const name of Object.keys(deps ?? {})) {
        const found = resolveIn(path, name);
        if (found) add(found);
        else assert(optional, `package-lock.json has no ${name} for ${path}: run npm install`);
      }
    }
  };
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    const found = resolveIn('', name);
    assert(found, `package-lock.json has no ${name}: run npm install`);
    add(found);
  }
  for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
    const found = resolveIn('', name);
    if (found) add(found);
  }
  for (const name of ['typescript', '@types/node']) add(`node_modules/${name}`);
  const integrity = (file) => `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
  const platPkg = JSON.parse(readFileSync(join(ROOT, 'npm', platPkgName.slice(pkg.name.length + 1), 'package.json'), 'utf8'));
  const dependencies = {
    [pkg.name]: `file:${mainTgz}`,
    [platPkgName]: `file:${platTgz}`,
    typescript: lock['node_modules/typescript'].version,
    '@types/node': lock['node_modules/@types/node'].version,
  };
  const consumer = { name: 'ferroptim-smoke-consumer', version: '1.0.0', private: true, dependencies };
  const { name, version, license, bin, engines, optionalDependencies } = pkg;
  const packages = {
    '': { name: consumer.name, version: consumer.version, dependencies },
    [`node_modules/${name}`]: { version, resolved: `file:${mainTgz}`, integrity: integrity(mainTgz), license, dependencies: pkg.dependencies, optionalDependencies, bin, engines },
    [`node_modules/${platPkgName}`]: { version, resolved: `file:${platTgz}`, integrity: integrity(platTgz), license, cpu: platPkg.cpu, os: platPkg.os, libc: platPkg.libc, engines },
    ...pinned,
  };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(consumer, null, 2)}\n`);
  writeFileSync(join(app, 'package-lock.json'), `${JSON.stringify({ name: consumer.name, version: consumer.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  return Object.keys(pinned).length;
}

// The consumers: the public API as a user writes it, each training a few steps.
const CJS_CONSUMER = `'use strict';
const { AdamW, Parameter, CosineAnnealingLR, clipGradNorm } = require('ferroptim');

// loss = Σ (w − 1)², gradient written by hand into w.grad
const w = new Parameter(new Float32Array(1000).fill(0.5), { name: 'w' });
const optimizer = new AdamW([w], { lr: 0.05, weightDecay: 1e-2 });
const scheduler = new CosineAnnealingLR(optimizer, { tMax: 40 });
const loss = () => w.data.reduce((s, v) => s + (v - 1) ** 2, 0);
const first = loss();
for (let step = 0; step < 40; step++) {
  optimizer.zeroGrad();
  for (let i = 0; i < w.numel; i++) w.grad[i] = 2 * (w.data[i] - 1);
  clipGradNorm([w], 1.0);
  optimizer.step();
  scheduler.step();
}
console.log(JSON.stringify({ first, last: loss(), steps: 40 }));
`;

const ESM_CONSUMER = `import { AdamW, CrossEntropyLoss, Linear, ReLU, Sequential, manualSeed, tensor } from 'ferroptim';
import ferroptim from 'ferroptim';

if (ferroptim.AdamW !== AdamW) throw new Error('the default export is not the CommonJS module');
// Two Gaussian blobs, a two-layer MLP, cross-entropy, AdamW.
manualSeed(0);
const n = 64;
const x = new Float32Array(n * 2);
const y = new Int32Array(n);
for (let i = 0; i < n; i++) {
  y[i] = i % 2;
  x[2 * i] = (y[i] ? 1 : -1) + Math.sin(i * 12.9898) * 0.3;
  x[2 * i + 1] = (y[i] ? -1 : 1) + Math.cos(i * 78.233) * 0.3;
}
const model = new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 2));
const lossFn = new CrossEntropyLoss();
const optimizer = new AdamW(model.parameters(), { lr: 0.05 });
const input = tensor(x, [n, 2]);
let first = NaN;
let last = NaN;
for (let step = 0; step < 30; step++) {
  optimizer.zeroGrad();
  last = lossFn.forward(model.forward(input), y);
  if (step === 0) first = last;
  model.backward(lossFn.backward(), false);
  optimizer.step();
}
console.log(JSON.stringify({ first, last, steps: 30 }));
`;

const TS_CONSUMER = `import { Parameter, SGD, StepLR, getTotalNorm, type SGDOptions, type OptimizerStateDict } from 'ferroptim';

// Least squares y = 3x + 1 with SGD + momentum and a StepLR schedule.
const w = new Parameter(new Float32Array([0]), { name: 'w' });
const b = new Parameter(new Float32Array([0]), { name: 'b' });
const options: SGDOptions = { lr: 0.05, momentum: 0.9 };
const optimizer = new SGD([w, b], options);
const scheduler = new StepLR(optimizer, { stepSize: 20, gamma: 0.5 });
const xs = Array.from({ length: 32 }, (_, i) => i / 16 - 1);
function loss(): number {
  return xs.reduce((s, x) => s + ((w.data[0] ?? 0) * x + (b.data[0] ?? 0) - (3 * x + 1)) ** 2, 0) / xs.length;
}
const first = loss();
const steps = 60;
for (let step = 0; step < steps; step++) {
  optimizer.zeroGrad();
  let gw = 0;
  let gb = 0;
  for (const x of xs) {
    const r = (w.data[0] ?? 0) * x + (b.data[0] ?? 0) - (3 * x + 1);
    gw += (2 * r * x) / xs.length;
    gb += (2 * r) / xs.length;
  }
  w.grad!.set([gw]);
  b.grad!.set([gb]);
  const norm: number = getTotalNorm([w, b]);
  if (!Number.isFinite(norm)) throw new Error('non-finite gradient norm');
  optimizer.step();
  scheduler.step();
}
const state: OptimizerStateDict = optimizer.stateDict();
if (state.paramGroups.length !== 1) throw new Error('expected one param group');
console.log(JSON.stringify({ first, last: loss(), steps }));
`;

const TS_CONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'build',
  },
  files: ['consumer.mts'],
};

let temp = null;
let exitCode = 0;
try {
  // The platform is whatever `napi build --platform` produced here (linux-x64-gnu on CI).
  let platform = null;
  check('build (npm run build: native addon + TypeScript)', () => {
    run(NPM, ['run', 'build']);
    const built = readdirSync(join(ROOT, 'native')).filter((f) => f.startsWith(`${BIN}.`) && f.endsWith('.node'));
    assert(built.length === 1, `expected one native/${BIN}.<platform>.node, found ${JSON.stringify(built)}`);
    platform = built[0].slice(BIN.length + 1, -'.node'.length);
    return `native/${built[0]}`;
  });
  const platPkgName = `${pkg.name}-${platform}`;
  const platDir = join(ROOT, 'npm', platform);
  const nodeFile = `${BIN}.${platform}.node`;

  check(`platform package npm/${platform} (copy the built binary)`, () => {
    assert(existsSync(join(platDir, 'package.json')), `npm/${platform}/package.json is missing: add the target to napi.targets and run \`npx napi create-npm-dirs\``);
    const platPkg = JSON.parse(readFileSync(join(platDir, 'package.json'), 'utf8'));
    assert(platPkg.name === platPkgName && platPkg.version === pkg.version, `npm/${platform}/package.json is ${platPkg.name}@${platPkg.version}, expected ${platPkgName}@${pkg.version}`);
    assert(pkg.optionalDependencies?.[platPkgName] === pkg.version, `package.json optionalDependencies lacks ${platPkgName}@${pkg.version}`);
    copyFileSync(join(ROOT, 'native', nodeFile), join(platDir, nodeFile));
    return `${platPkgName}@${platPkg.version}`;
  });

  temp = mkdtempSync(join(tmpdir(), 'ferroptim-pack-smoke-'));
  const pkgs = join(temp, 'tarballs');
  const app = join(temp, 'app');
  mkdirSync(pkgs);
  mkdirSync(app);
  let mainTgz = '';
  let platTgz = '';

  check('npm pack: the main package carries no binary', () => {
    // --ignore-scripts: `prepare` would rebuild what the step above just built.
    const [main] = JSON.parse(run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', pkgs]).stdout);
    const files = main.files.map((f) => f.path);
    const binaryFiles = files.filter((f) => f.endsWith('.node'));
    assert(binaryFiles.length === 0, `the main tarball contains ${binaryFiles.join(', ')}`);
    const needed = ['package.json', 'README.md', 'LICENSE', 'bin/ferroptim.js', 'native/index.js', 'native/index.d.ts', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts'];
    const missing = needed.filter((f) => !files.includes(f));
    assert(missing.length === 0, `the main tarball lacks ${missing.join(', ')}`);
    const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE|bin\/|native\/index\.(js|d\.ts)$|dist\/)/.test(f));
    assert(stray.length === 0, `the main tarball has files outside its files list: ${stray.join(', ')}`);
    mainTgz = join(pkgs, main.filename);
    return `${main.filename}: ${main.entryCount} files, ${(main.size / 1024).toFixed(0)} kB`;
  });

  check(`npm pack: ${platPkgName}`, () => {
    const [plat] = JSON.parse(run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', pkgs], { cwd: platDir }).stdout);
    assert(plat.files.some((f) => f.path === nodeFile), `${plat.filename} lacks ${nodeFile}`);
    platTgz = join(pkgs, plat.filename);
    return `${plat.filename}: ${plat.entryCount} files, ${(plat.size / 1024).toFixed(0)} kB`;
  });

  // A user's environment: no cargo or rustup on PATH, nothing inherited that changes resolution.
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(CARGO|RUSTUP|RUSTC|NODE_PATH$|NODE_OPTIONS$)/.test(k)) delete env[k];
  const pathKey = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
  const hasCargo = (dir) => ['cargo', 'cargo.exe'].some((f) => existsSync(join(dir, f)));
  env[pathKey] = (env[pathKey] ?? '').split(delimiter).filter((d) => d && !hasCargo(d) && !/[\\/]\.cargo[\\/]bin/.test(d)).join(delimiter);
  // No network either: --offline keeps npm in its cache, and a proxy that refuses connections
  // catches anything else that tries.
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) env[k] = 'http://127.0.0.1:9';
  delete env.NO_PROXY;
  delete env.no_proxy;
  check('npm install --offline of the two tarballs into an empty folder, cargo not on PATH', () => {
    const cargo = spawnSync('cargo', ['--version'], { env, encoding: 'utf8' });
    assert(cargo.error?.code === 'ENOENT', 'cargo is still reachable on the filtered PATH');
    const pinned = writeConsumerProject(app, mainTgz, platTgz, platPkgName);
    // --offline: nothing may come from the network. The lock pins every registry package to the
    // repo's package-lock.json, so npm takes their tarballs from the cache that the repo's own
    // `npm install` filled (resolving version ranges instead would need full packuments, which a
    // lockfile install does not cache). The other platforms' packages are not cached and, being
    // optional, are skipped, as npm skips them on a registry install for another os/cpu.
    run(NPM, ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env });
    return `${pinned} registry packages pinned by the repo's package-lock.json (typescript, @types/node included)`;
  });

  const installed = join(app, 'node_modules', pkg.name);
  check(`${platPkgName} installed; no .node in node_modules/${pkg.name}`, () => {
    assert(existsSync(join(app, 'node_modules', platPkgName, nodeFile)), `node_modules/${platPkgName}/${nodeFile} is missing`);
    const binaries = walk(installed).filter((f) => f.endsWith('.node'));
    assert(binaries.length === 0, `node_modules/${pkg.name} contains ${binaries.join(', ')}`);
    const installedPkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    assert(installedPkg.optionalDependencies?.[platPkgName] === pkg.version, `the installed package does not list ${platPkgName} in optionalDependencies`);
    const size = statSync(join(app, 'node_modules', platPkgName, nodeFile)).size;
    return `node_modules/${platPkgName}/${nodeFile} (${(size / 1048576).toFixed(1)} MB)`;
  });

  writeFileSync(join(app, 'consumer.cjs'), CJS_CONSUMER);
  writeFileSync(join(app, 'consumer.mjs'), ESM_CONSUMER);
  writeFileSync(join(app, 'consumer.mts'), TS_CONSUMER);
  writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify(TS_CONFIG, null, 2)}\n`);

  check("CommonJS consumer: require('ferroptim'), AdamW + CosineAnnealingLR + clipGradNorm", () =>
    trained('CommonJS consumer', run(process.execPath, ['consumer.cjs'], { cwd: app, env })),
  );
  check("ES-module consumer: import { AdamW } from 'ferroptim', an MLP with CrossEntropyLoss", () =>
    trained('ES-module consumer', run(process.execPath, ['consumer.mjs'], { cwd: app, env })),
  );
  const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  check('TypeScript consumer: tsc --noEmit (strict, skipLibCheck false) against the installed types', () => {
    // skipLibCheck false checks ferroptim's declarations too; errors inside other packages'
    // declarations (vega-lite's own, under this TypeScript) are theirs and only counted.
    const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', '.'], { cwd: app, env, encoding: 'utf8' });
    const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => / error TS\d+/.test(l));
    const ours = errors.filter((l) => !l.startsWith('node_modules/') || l.startsWith(`node_modules/${pkg.name}/`));
    assert(ours.length === 0 && (r.status === 0 || errors.length > 0), `tsc exited ${r.status}:\n${(ours.length ? ours : [r.stdout, r.stderr]).join('\n')}`);
    const theirs = errors.length - ours.length;
    return theirs === 0 ? 'no errors' : `no errors in ferroptim's types or the consumer (${theirs} inside other packages' declarations: ${[...new Set(errors.map((l) => l.split('(')[0]))].join(', ')})`;
  });
  check('TypeScript consumer: compiled and run, SGD + StepLR', () => {
    // Type-checked above; here only transpiled (TypeScript's transpileModule) and run.
    const transpile = `const ts = require('typescript'); const fs = require('node:fs');
      const out = ts.transpileModule(fs.readFileSync('consumer.mts', 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
      fs.mkdirSync('build', { recursive: true }); fs.writeFileSync('build/consumer.mjs', out.outputText);`;
    run(process.execPath, ['-e', transpile], { cwd: app, env });
    return trained('TypeScript consumer', run(process.execPath, [join('build', 'consumer.mjs')], { cwd: app, env }));
  });

  check('the installed CLI trains (ferroptim train --model mlp, 512 MNIST images)', () => {
    const cli = join(installed, 'bin', 'ferroptim.js');
    const args = [cli, 'train', '--model', 'mlp', '--epochs', '1', '--limit', '512', '--test-limit', '256', '--progress', 'lines', '--out', join(temp, 'run')];
    run(process.execPath, args, { cwd: app, env });
    assert(existsSync(join(temp, 'run', 'metrics.jsonl')), 'no metrics.jsonl written');
    return 'metrics.jsonl written';
  });

  check('without the platform package: one clear error naming the platform and the fix', () => {
    const hidden = join(app, 'node_modules', `.hidden-${platPkgName}`);
    renameSync(join(app, 'node_modules', platPkgName), hidden);
    let stderr;
    try {
      ({ stderr } = run(process.execPath, ['-e', "require('ferroptim')"], { cwd: app, env, expectFail: true }));
    } finally {
      renameSync(hidden, join(app, 'node_modules', platPkgName));
    }
    const expected = [`no native binary for this platform (${process.platform} ${process.arch}`, platPkgName, 'build from source', 'npm install', 'Rust toolchain'];
    const missing = expected.filter((s) => !stderr.includes(s));
    assert(missing.length === 0, `the error lacks ${missing.map((s) => JSON.stringify(s)).join(', ')}:\n${stderr}`);
    assert(!stderr.includes('Cannot find native binding'), `the generated loader's error leaked:\n${stderr}`);
    return stderr.split('\n').find((l) => l.startsWith('Error: ')) ?? '';
  });
} catch {
  exitCode = 1;
} finally {
  if (temp && !KEEP) rmSync(temp, { recursive: true, force: true });
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`pack:smoke${temp && KEEP ? ` (kept ${temp})` : ''}`);
for (const r of results) {
  console.log(`  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.name}  (${(r.ms / 1000).toFixed(1)}s)`);
  if (r.detail) console.log(`        ${String(r.detail).split('\n').join('\n        ')}`);
}
console.log(`pack:smoke: ${passed} passed, ${failed} failed in ${((performance.now() - started) / 1000).toFixed(1)}s`);
process.exit(exitCode);
