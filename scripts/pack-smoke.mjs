// `npm run pack:smoke`: what each user gets, checked from the tarballs. Four packages ship from
// this workspace: the library `ferroptim`, the platform package `ferroptim-<platform>` with its
// binary (the host's, of the seven), the hyperparameter search `ferroptim-tune` (tune/, pure
// TypeScript) and the application `ferroptim-cli` (the `ferroptim` command).
// Builds (`npm run build`; `--no-build` uses what is already built), fills the host's platform
// package (npm/<platform>/) with the built binary and packs the four packages: the library
// without a binary or a command, ferroptim-tune without dependencies (`pg` only an optional peer),
// ferroptim-cli from a copy of cli/ whose package.json pins `ferroptim` and `ferroptim-tune` to
// their exact versions (the repo's `file:..` and `file:../tune` are left untouched). Then, OFFLINE
// (registry dependencies pinned by the repo's package-lock.json and taken from the npm cache that
// the repo's own `npm install` filled) and with cargo removed from PATH, four empty folders:
// - a library-only user (library + platform tarballs, typescript and @types/node): the library
//   has no dependencies and brings in no registry package, its code and types import only Node's
//   built-ins, its platform packages and optional peers, its binary comes only from the platform
//   package, the two take at most 5 MiB on disk; a CommonJS, an ES-module and a strictly
//   type-checked TypeScript consumer each train a few steps; without the platform package the
//   user gets one clear error, and so does `require('ferroptim/tfjs')` without TensorFlow.js;
// - a TensorFlow.js user (library + platform tarballs and @tensorflow/tfjs): a tfjs-layers model
//   compiled with a TfjsOptimizer over ferroptim's AdamW trains by model.fit, in place on the cpu
//   backend, from ES modules and CommonJS;
// - a tune user (the ferroptim-tune tarball only: no ferroptim, no pg): nothing else is
//   installed, its code and types import only Node's built-ins and its optional peer `pg`; a
//   CommonJS and an ES-module consumer each run a seeded TPE study in a journal file, a strictly
//   type-checked TypeScript consumer (checked with the library user's typescript) runs one in
//   memory with pruning; a PostgreSQL storage without `pg` gives one clear error;
// - an application user (the four tarballs): the installed size, in total and of the five
//   largest packages, then the installed `ferroptim` command trains an MLP on 512 MNIST images,
//   runs a two-trial `ferroptim tune` and prints its version.
// Prints one line per check and a summary; exits 1 on any failure.
// `--keep` keeps the temporary folder; `--no-build` skips the build (useful while developing).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FLAGS = ['--keep', '--no-build'];
const unknown = process.argv.slice(2).filter((a) => !FLAGS.includes(a));
if (unknown.length > 0) {
  console.error(`pack:smoke: unknown argument ${unknown.join(' ')} (known: ${FLAGS.join(', ')})`);
  process.exit(2);
}
const KEEP = process.argv.includes('--keep');
const BUILD = !process.argv.includes('--no-build');
const WIN = process.platform === 'win32';
const NPM = WIN ? 'npm.cmd' : 'npm';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const CLI_DIR = 'cli';
const cliPkg = JSON.parse(readFileSync(join(ROOT, CLI_DIR, 'package.json'), 'utf8'));
const TUNE_DIR = 'tune';
const tunePkg = JSON.parse(readFileSync(join(ROOT, TUNE_DIR, 'package.json'), 'utf8'));
const BIN = pkg.napi.binaryName;
const MAX_LIBRARY_BYTES = 5 * 1024 * 1024;
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

/** Bytes of the regular files under `dir` (symlinks such as node_modules/.bin not followed); `own`: without nested node_modules. */
function bytesUnder(dir, { own = false } = {}) {
  let total = 0;
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (d.isDirectory() && !(own && d.name === 'node_modules')) total += bytesUnder(join(dir, d.name), { own });
    else if (d.isFile()) total += statSync(join(dir, d.name)).size;
  }
  return total;
}

const mib = (bytes) => `${(bytes / 1048576).toFixed(2)} MiB`;

/** The text of one file of a .tgz (npm's tarballs keep everything under package/). */
function readFromTarball(tgz, path) {
  const tar = gunzipSync(readFileSync(tgz));
  for (let at = 0; at + 512 <= tar.length; ) {
    const field = (start, length) => tar.toString('utf8', at + start, at + start + length).replace(/\0[^]*$/, '');
    if (field(0, 100) === '') break; // the two zero blocks that end the archive
    const name = [field(345, 155), field(0, 100)].filter(Boolean).join('/');
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    if (name === path) return tar.toString('utf8', at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${tgz} has no ${path}`);
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
 * Where Node finds `name` from the package at lock path `from` ('' for the project itself, 'cli'
 * for a workspace, `node_modules/a` for a package): the nearest `node_modules/<name>` entry of a
 * lockfile's `packages`, walking up; null when there is none.
 */
function resolveIn(lock, from, name) {
  for (let at = from; ; ) {
    const path = `${at ? `${at}/` : ''}node_modules/${name}`;
    if (lock[path]) return path;
    if (!at) return null;
    const i = at.lastIndexOf('/node_modules/');
    at = i < 0 ? '' : at.slice(0, i);
  }
}

/** The lock paths of `starts` and of everything they depend on (dependencies, optional and peer), as found in `lock`. */
function closure(lock, starts) {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    const { dependencies, optionalDependencies, peerDependencies } = lock[path];
    for (const name of Object.keys({ ...dependencies, ...optionalDependencies, ...peerDependencies })) {
      const found = resolveIn(lock, path, name);
      if (found) visit(found);
    }
  };
  starts.forEach(visit);
  return seen;
}

/**
 * Writes a consumer project into `dir`: a package.json that depends on the `tarballs`
 * (`{ tgz, manifest, from }`: the packed file, its package.json, and its folder in the repo, where
 * its registry dependencies are resolved) and on the `tools` (registry packages at the repo's
 * versions), and a package-lock.json whose registry entries are copied from the repo's lock: the
 * closure of the tarballs' runtime dependencies and of the tools, found by Node's resolution over
 * the lock's paths, from a workspace's folder (`cli/node_modules/...`, which moves under the
 * installed package) then the root. Returns how many registry packages it pinned.
 */
function writeConsumerProject(dir, tarballs, tools = []) {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages;
  const local = new Set(tarballs.map((t) => t.manifest.name));
  // Lockfiles written with omit-lockfile-registry-resolved (as on this machine) carry no tarball
  // URLs; without one npm would fetch a packument to find it. The registry's URL is fixed by the
  // name and version, and with the integrity npm takes the tarball from the cache.
  const registry = run(NPM, ['config', 'get', 'registry']).stdout.trim().replace(/\/?$/, '/');
  const tarballUrl = (path, entry) => {
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    return `${registry}${name}/-/${name.split('/').pop()}-${entry.version}.tgz`;
  };
  // A workspace's own node_modules (cli/node_modules/x) is the installed package's (node_modules/ferroptim-cli/node_modules/x).
  const placed = (path) => {
    const t = tarballs.find((t) => t.from && path.startsWith(`${t.from}/`));
    return t ? `node_modules/${t.manifest.name}/${path.slice(t.from.length + 1)}` : path;
  };
  const pinned = {};
  const addDependencies = (from, deps, optional) => {
    for (const name of Object.keys(deps ?? {})) {
      if (local.has(name)) continue; // one of the tarballs
      const found = resolveIn(lock, from, name);
      if (found) add(found);
      else assert(optional, `package-lock.json has no ${name} for ${from || 'the root'}: run npm install`);
    }
  };
  const add = (path) => {
    if (pinned[placed(path)]) return;
    const { dev, devOptional, peer, ...entry } = lock[path];
    assert(!entry.link, `package-lock.json links ${path} to ${entry.resolved}: a packed package cannot depend on it`);
    if (!entry.resolved) entry.resolved = tarballUrl(path, entry);
    pinned[placed(path)] = entry;
    addDependencies(path, entry.dependencies, false);
    addDependencies(path, entry.optionalDependencies, true);
  };
  for (const { manifest, from } of tarballs) {
    addDependencies(from, manifest.dependencies, false);
    addDependencies(from, manifest.optionalDependencies, true);
  }
  for (const name of tools) add(`node_modules/${name}`);
  const integrity = (file) => `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
  const dependencies = Object.fromEntries([
    ...tarballs.map(({ tgz, manifest }) => [manifest.name, `file:${tgz}`]),
    ...tools.map((name) => [name, lock[`node_modules/${name}`].version]),
  ]);
  const consumer = { name: 'ferroptim-smoke-consumer', version: '1.0.0', private: true, dependencies };
  const FIELDS = ['license', 'dependencies', 'optionalDependencies', 'peerDependencies', 'peerDependenciesMeta', 'bin', 'engines', 'cpu', 'os', 'libc'];
  const packages = {
    '': { name: consumer.name, version: consumer.version, dependencies },
    ...Object.fromEntries(
      tarballs.map(({ tgz, manifest }) => [
        `node_modules/${manifest.name}`,
        { version: manifest.version, resolved: `file:${tgz}`, integrity: integrity(tgz), ...Object.fromEntries(FIELDS.filter((f) => manifest[f] !== undefined).map((f) => [f, manifest[f]])) },
      ]),
    ),
    ...pinned,
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(consumer, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify({ name: consumer.name, version: consumer.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  return Object.keys(pinned).length;
}

/** The optional peer dependencies a package.json declares. */
function optionalPeers(manifest) {
  return Object.keys(manifest.peerDependencies ?? {}).filter((name) => manifest.peerDependenciesMeta?.[name]?.optional);
}

/**
 * The package imports (`require`, `import()`, `import ... from`, `import '...'`; comment lines
 * aside) of the code and declarations under the installed package `dir` that `allowed(name)` refuses, as `file: 'spec'`;
 * relative, absolute and `node:` specifiers pass. Catches an import of a package the package does
 * not depend on even where no consumer goes.
 */
function strayImports(dir, allowed) {
  const specifier = /\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  const code = walk(dir).filter((f) => /\.(c|m)?js$|\.d\.(c|m)?ts$/.test(f));
  const bad = [];
  for (const f of code) {
    // Comment lines (a doc example's `import ... from '...'`) are not imports.
    const text = readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => !/^\s*(\*|\/\/|\/\*)/.test(l)).join('\n');
    for (const m of text.matchAll(specifier)) {
      const spec = m.slice(1).find(Boolean);
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
      const name = spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
      if (!allowed(name)) bad.push(`${f.split('\\').join('/')}: '${spec}'`);
    }
  }
  return { files: code.length, bad: [...new Set(bad)] };
}

/** `npm install --offline` in `dir`, as the lock written above says. */
function installOffline(dir, env) {
  // --offline: nothing may come from the network. The lock pins every registry package to the
  // repo's package-lock.json, so npm takes their tarballs from the cache that the repo's own
  // `npm install` filled (resolving version ranges instead would need full packuments, which a
  // lockfile install does not cache). Other platforms' packages (ours, resvg's) are not cached
  // and, being optional, are skipped, as npm skips them on a registry install for another os/cpu.
  run(NPM, ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env });
}

/** The installed packages of `dir` (paths of its node_modules/.package-lock.json, which npm writes on install). */
function installedPackages(dir) {
  const hidden = join(dir, 'node_modules', '.package-lock.json');
  assert(existsSync(hidden), `npm wrote no ${hidden}`);
  return JSON.parse(readFileSync(hidden, 'utf8')).packages;
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

// The TensorFlow.js user: a tfjs-layers model trained by model.fit with ferroptim's AdamW.
const TFJS_CONSUMER = `import * as tf from '@tensorflow/tfjs';
import { AdamW, CosineAnnealingLR } from 'ferroptim';
import { parametersOf, TfjsOptimizer } from 'ferroptim/tfjs';

await tf.setBackend('cpu');
// y = x·w for a fixed w: a linear model learns it.
const x = tf.randomNormal([256, 8], 0, 1, 'float32', 1);
const y = x.matMul(tf.tensor2d([[1], [-2], [0.5], [3], [0], [-1], [2], [1]]));
const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 1, kernelInitializer: 'zeros' })] });
const adamw = new AdamW(parametersOf(model), { lr: 0.05, weightDecay: 0 });
const scheduler = new CosineAnnealingLR(adamw, { tMax: 160 });
const optimizer = new TfjsOptimizer(adamw, { clipGradNorm: 10, inPlace: true });
model.compile({ optimizer, loss: 'meanSquaredError' });
const history = await model.fit(x, y, { epochs: 20, batchSize: 32, shuffle: false, verbose: 0, callbacks: { onBatchEnd: async () => scheduler.step() } });
const losses = history.history.loss;
if (optimizer.lastTransfer.inPlace !== 2) throw new Error('not updated in place: ' + JSON.stringify(optimizer.lastTransfer));
console.log(JSON.stringify({ first: losses[0], last: losses.at(-1), steps: 160 }));
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

// The tune user's consumers: a study as a user writes it. The CommonJS and ES-module ones share
// one journal file (a study each; the second reads the first's back).
const TUNE_CJS_CONSUMER = `'use strict';
const { existsSync } = require('node:fs');
const { createStudy, TPESampler, TrialState } = require('ferroptim-tune');

// A 2-D quadratic plus a categorical offset: minimum 0 at x = 2, y = -1, shift 'one'.
async function main() {
  const study = await createStudy({ studyName: 'quadratic-cjs', storage: 'journal:study.log', sampler: new TPESampler({ seed: 0 }) });
  await study.optimize((trial) => {
    const x = trial.suggestFloat('x', -10, 10);
    const y = trial.suggestFloat('y', -10, 10);
    const shift = trial.suggestCategorical('shift', ['none', 'half', 'one']);
    return (x - 2) ** 2 + (y + 1) ** 2 + { none: 1, half: 0.5, one: 0 }[shift];
  }, { nTrials: 30 });
  const complete = study.getTrials([TrialState.COMPLETE]).length;
  const result = { trials: study.trials.length, complete, best: study.bestValue, params: study.bestParams, journal: existsSync('study.log') };
  await study.close();
  console.log(JSON.stringify(result));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;

const TUNE_ESM_CONSUMER = `import { existsSync } from 'node:fs';
import { createStudy, loadStudy, TPESampler, TrialState } from 'ferroptim-tune';
import tune from 'ferroptim-tune';

if (tune.createStudy !== createStudy) throw new Error('the default export is not the CommonJS module');
// A float, an integer and a categorical, multivariate TPE: minimum 0 at x = 2, n = -1, shift 0.
const study = await createStudy({ studyName: 'quadratic-esm', storage: 'journal:study.log', sampler: new TPESampler({ seed: 1, multivariate: true }) });
await study.optimize(async (trial) => {
  const x = trial.suggestFloat('x', -10, 10);
  const n = trial.suggestInt('n', -10, 10);
  const shift = trial.suggestCategorical('shift', [0, 0.5, 1]);
  return (x - 2) ** 2 + (n + 1) ** 2 + shift;
}, { nTrials: 30 });
const complete = study.getTrials([TrialState.COMPLETE]).length;
// The CommonJS consumer's study, in the same file.
const other = await loadStudy({ studyName: 'quadratic-cjs', storage: 'journal:study.log' });
const result = { trials: study.trials.length, complete, best: study.bestValue, params: study.bestParams, journal: existsSync('study.log'), other: other.trials.length };
await Promise.all([study.close(), other.close()]);
console.log(JSON.stringify(result));
`;

const TUNE_TS_CONSUMER = `import { createStudy, MedianPruner, RandomSampler, TrialPruned, TrialState, type CreateStudyOptions, type FrozenTrial, type Objective, type Trial } from 'ferroptim-tune';

// A simulated training run per trial, in memory: the loss after each epoch, reported for the
// median pruner, which stops the trials behind the others at the same epoch.
const options: CreateStudyOptions = { direction: 'minimize', sampler: new RandomSampler({ seed: 0 }), pruner: new MedianPruner({ nStartupTrials: 3 }) };
const objective: Objective = async (trial: Trial): Promise<number> => {
  const lr = trial.suggestFloat('lr', 1e-4, 1, { log: true });
  const layers = trial.suggestInt('layers', 1, 4);
  const optimizer: 'adam' | 'sgd' = trial.suggestCategorical('optimizer', ['adam', 'sgd'] as const);
  let loss = Infinity;
  for (let epoch = 0; epoch < 10; epoch++) {
    loss = Math.abs(Math.log10(lr) + 2) + 0.1 * layers + (optimizer === 'adam' ? 0 : 0.2) + 1 / (epoch + 1);
    trial.report(loss, epoch);
    if (await trial.shouldPrune()) throw new TrialPruned();
  }
  return loss;
};
const study = await createStudy(options);
await study.optimize(objective, { nTrials: 20 });
const trials: readonly FrozenTrial[] = study.trials;
const best: number = study.bestValue;
const lr = study.bestParams['lr'];
if (typeof lr !== 'number') throw new Error('the best trial has no lr');
const complete = study.getTrials([TrialState.COMPLETE]).length;
const pruned = study.getTrials([TrialState.PRUNED]).length;
await study.close();
console.log(JSON.stringify({ trials: trials.length, complete, pruned, best, lr }));
`;

// Without pg installed: createStudy with a PostgreSQL URL, and PostgresStorage.connect.
const TUNE_PG_CONSUMER = `import { createStudy, PostgresStorage } from 'ferroptim-tune';

const url = 'postgresql://smoke@127.0.0.1:9/none';
const messages = [];
for (const attempt of [() => createStudy({ storage: url }), () => PostgresStorage.connect(url)]) {
  try {
    await attempt();
    messages.push(null);
  } catch (e) {
    messages.push(e instanceof Error ? e.message : String(e));
  }
}
console.log(JSON.stringify(messages));
`;

let temp = null;
let exitCode = 0;
try {
  // The platform is whatever `napi build --platform` produced here (linux-x64-gnu on CI).
  let platform = null;
  const builtBinary = () => {
    const built = readdirSync(join(ROOT, 'native')).filter((f) => f.startsWith(`${BIN}.`) && f.endsWith('.node'));
    assert(built.length === 1, `expected one native/${BIN}.<platform>.node, found ${JSON.stringify(built)}`);
    platform = built[0].slice(BIN.length + 1, -'.node'.length);
    return built[0];
  };
  if (BUILD) {
    check('build (npm run build: native addon, library, tune and CLI TypeScript)', () => {
      run(NPM, ['run', 'build']);
      return `native/${builtBinary()}`;
    });
  } else {
    check(`build skipped (--no-build): what native/, dist/, ${TUNE_DIR}/dist/ and ${CLI_DIR}/dist/ hold`, () => {
      const node = builtBinary();
      const needed = ['dist/index.js', 'dist/index.mjs', 'dist/internal.js', `${TUNE_DIR}/dist/index.js`, `${TUNE_DIR}/dist/index.mjs`, `${CLI_DIR}/dist/cli/index.js`, `${CLI_DIR}/dist/index.mjs`];
      const missing = needed.filter((f) => !existsSync(join(ROOT, f)));
      assert(missing.length === 0, `${missing.join(', ')} missing: run npm run build (or without cargo: npm run build:ts && npm run build -w ${TUNE_DIR} && npm run build -w ${CLI_DIR})`);
      const age = (f) => `${Math.round((Date.now() - statSync(join(ROOT, f)).mtimeMs) / 60000)} min`;
      return `native/${node} (built ${age(`native/${node}`)} ago), dist/ (${age('dist/index.js')}), ${TUNE_DIR}/dist/ (${age(`${TUNE_DIR}/dist/index.js`)}), ${CLI_DIR}/dist/ (${age(`${CLI_DIR}/dist/cli/index.js`)})`;
    });
  }
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
  const cliCopy = join(temp, 'cli-package');
  const lib = join(temp, 'library-user');
  const tuneUser = join(temp, 'tune-user');
  const tfjsUser = join(temp, 'tfjs-user');
  const app = join(temp, 'application-user');
  for (const dir of [pkgs, cliCopy, lib, tuneUser, tfjsUser, app]) mkdirSync(dir);
  // The packed packages: { tgz, manifest (the packed package.json), from (the folder in the repo) }.
  let library = null;
  let platformPackage = null;
  let tunePackage = null;
  let application = null;
  const packed = (folder, info) => {
    const tgz = join(pkgs, info.filename);
    return { tgz, manifest: JSON.parse(readFromTarball(tgz, 'package/package.json')), from: folder };
  };

  check('npm pack: the library carries no binary and no command', () => {
    // --ignore-scripts: `prepare` would rebuild what the step above just built.
    const [main] = JSON.parse(run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', pkgs]).stdout);
    const files = main.files.map((f) => f.path);
    const binaryFiles = files.filter((f) => f.endsWith('.node'));
    assert(binaryFiles.length === 0, `the library's tarball contains ${binaryFiles.join(', ')}`);
    const needed = ['package.json', 'README.md', 'LICENSE', 'native/index.js', 'native/index.d.ts', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/internal.js'];
    const missing = needed.filter((f) => !files.includes(f));
    assert(missing.length === 0, `the library's tarball lacks ${missing.join(', ')}`);
    const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE|native\/index\.(js|d\.ts)$|dist\/)/.test(f) || f.startsWith('dist/cli/'));
    assert(stray.length === 0, `the library's tarball has files outside its files list (or the CLI's): ${stray.join(', ')}`);
    library = packed('', main);
    const { bin, dependencies } = library.manifest;
    assert(bin === undefined, `the library's package.json has a bin: ${JSON.stringify(bin)} (the command is ${cliPkg.name}'s)`);
    assert(Object.keys(dependencies ?? {}).length === 0, `the library's package.json has dependencies: ${JSON.stringify(dependencies)}`);
    return `${main.filename}: ${main.entryCount} files, ${(main.size / 1024).toFixed(0)} kB`;
  });

  check(`npm pack: ${platPkgName}`, () => {
    const [plat] = JSON.parse(run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', pkgs], { cwd: platDir }).stdout);
    assert(plat.files.some((f) => f.path === nodeFile), `${plat.filename} lacks ${nodeFile}`);
    platformPackage = packed(`npm/${platform}`, plat);
    return `${plat.filename}: ${plat.entryCount} files, ${(plat.size / 1024).toFixed(0)} kB`;
  });

  check(`npm pack: ${tunePkg.name}: no dependencies, pg only an optional peer, no binary, no command`, () => {
    const [tune] = JSON.parse(run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', pkgs], { cwd: join(ROOT, TUNE_DIR) }).stdout);
    const files = tune.files.map((f) => f.path);
    const needed = ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts'];
    const missing = needed.filter((f) => !files.includes(f));
    assert(missing.length === 0, `the ${tunePkg.name} tarball lacks ${missing.join(', ')}`);
    const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/)/.test(f) || f.endsWith('.node'));
    assert(stray.length === 0, `the ${tunePkg.name} tarball has files outside package.json, README.md, LICENSE and dist/: ${stray.join(', ')}`);
    tunePackage = packed(TUNE_DIR, tune);
    const { name, version, bin, dependencies, optionalDependencies, peerDependencies } = tunePackage.manifest;
    assert(name === tunePkg.name && version === tunePkg.version, `the tarball's package.json is ${name}@${version}`);
    assert(version === pkg.version, `${TUNE_DIR}/package.json has version ${version}, ${pkg.name} ${pkg.version}: the release publishes one version`);
    assert(bin === undefined, `the ${tunePkg.name} package.json has a bin: ${JSON.stringify(bin)}`);
    const deps = { ...dependencies, ...optionalDependencies };
    assert(Object.keys(deps).length === 0, `the ${tunePkg.name} package.json has dependencies: ${JSON.stringify(deps)}`);
    const peers = Object.keys(peerDependencies ?? {});
    const optional = optionalPeers(tunePackage.manifest);
    assert(JSON.stringify(peers) === '["pg"]' && JSON.stringify(optional) === '["pg"]', `the ${tunePkg.name} package.json's peers are ${JSON.stringify(peers)} (optional: ${JSON.stringify(optional)}), expected pg only, optional`);
    return `${tune.filename}: ${tune.entryCount} files, ${(tune.size / 1024).toFixed(0)} kB; peer pg ${peerDependencies.pg} (optional)`;
  });

  check(`npm pack: ${cliPkg.name}, its ${pkg.name} and ${tunePkg.name} dependencies pinned to ${pkg.version}`, () => {
    // The repo's cli/package.json says `"ferroptim": "file:.."` and `"ferroptim-tune":
    // "file:../tune"` (npm links the workspaces); the tarball must name their exact versions. The
    // files `npm pack -w cli` would pack are copied out, those two dependencies are rewritten in
    // the copy, and the copy is packed: the repository is never touched.
    const [dry] = JSON.parse(run(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts', '--workspace', CLI_DIR]).stdout);
    const files = dry.files.map((f) => f.path).sort();
    for (const f of files) {
      mkdirSync(dirname(join(cliCopy, f)), { recursive: true });
      copyFileSync(join(ROOT, CLI_DIR, f), join(cliCopy, f));
    }
    const manifest = JSON.parse(readFileSync(join(cliCopy, 'package.json'), 'utf8'));
    const pins = { [pkg.name]: pkg.version, [tunePkg.name]: tunePkg.version };
    for (const [name, version] of Object.entries(pins)) {
      assert(manifest.dependencies?.[name] !== undefined, `${CLI_DIR}/package.json does not depend on ${name}`);
      manifest.dependencies[name] = version;
    }
    writeFileSync(join(cliCopy, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const [cli] = JSON.parse(run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', pkgs], { cwd: cliCopy }).stdout);
    const packedFiles = cli.files.map((f) => f.path).sort();
    assert(JSON.stringify(packedFiles) === JSON.stringify(files), `the copy packs other files than ${CLI_DIR}/ would: ${packedFiles.filter((f) => !files.includes(f)).concat(files.filter((f) => !packedFiles.includes(f))).join(', ')}`);
    const binaryFiles = files.filter((f) => f.endsWith('.node'));
    assert(binaryFiles.length === 0, `the ${cliPkg.name} tarball contains ${binaryFiles.join(', ')}`);
    const needed = ['package.json', 'bin/ferroptim.js', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/cli/index.js'];
    const missing = needed.filter((f) => !files.includes(f));
    assert(missing.length === 0, `the ${cliPkg.name} tarball lacks ${missing.join(', ')}`);
    const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE|bin\/|dist\/)/.test(f));
    assert(stray.length === 0, `the ${cliPkg.name} tarball has files outside its files list: ${stray.join(', ')}`);
    application = packed(CLI_DIR, cli);
    const { dependencies, bin } = application.manifest;
    for (const [name, version] of Object.entries(pins)) {
      assert(dependencies?.[name] === version, `the packed package.json has "${name}": ${JSON.stringify(dependencies?.[name])}, expected "${version}"`);
    }
    assert(bin?.ferroptim === 'bin/ferroptim.js', `the packed package.json has bin ${JSON.stringify(bin)}`);
    const others = Object.entries(dependencies).filter(([name, spec]) => !(name in pins) && spec !== cliPkg.dependencies[name]);
    assert(others.length === 0, `the packed package.json changed other dependencies: ${JSON.stringify(Object.fromEntries(others))}`);
    const missingDeps = Object.keys(cliPkg.dependencies).filter((name) => !(name in dependencies));
    assert(missingDeps.length === 0, `the packed package.json lost dependencies: ${missingDeps.join(', ')}`);
    return `${cli.filename}: ${cli.entryCount} files, ${(cli.size / 1024).toFixed(0)} kB, ${Object.keys(pins).map((name) => `"${name}": "${dependencies[name]}"`).join(', ')}`;
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

  // ---- The library-only user: `npm install ferroptim`. ----
  const TOOLS = ['typescript', '@types/node'];
  check(`library user: npm install --offline of ${pkg.name} and ${platPkgName} (and ${TOOLS.join(', ')}) into an empty folder, cargo not on PATH`, () => {
    const cargo = spawnSync('cargo', ['--version'], { env, encoding: 'utf8' });
    assert(cargo.error?.code === 'ENOENT', 'cargo is still reachable on the filtered PATH');
    const pinned = writeConsumerProject(lib, [library, platformPackage], TOOLS);
    installOffline(lib, env);
    return `${pinned} registry packages pinned by the repo's package-lock.json (the tools' own)`;
  });

  const installed = join(lib, 'node_modules', pkg.name);
  check(`library user: ${pkg.name} has no dependencies and brings in no registry package, nor a command`, () => {
    const installedPkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    assert(Object.keys(installedPkg.dependencies ?? {}).length === 0, `the installed ${pkg.name} has dependencies: ${JSON.stringify(installedPkg.dependencies)}`);
    const tree = installedPackages(lib);
    const ours = [pkg.name, platPkgName].map((name) => `node_modules/${name}`);
    const reached = [...closure(tree, [`node_modules/${pkg.name}`])].filter((p) => !ours.includes(p));
    assert(reached.length === 0, `${pkg.name} brings in ${reached.join(', ')}`);
    const tools = closure(tree, TOOLS.map((name) => `node_modules/${name}`));
    const extra = Object.keys(tree).filter((p) => p !== '' && !ours.includes(p) && !tools.has(p));
    assert(extra.length === 0, `node_modules holds packages neither ${pkg.name} nor the tools asked for: ${extra.join(', ')}`);
    const command = ['ferroptim', 'ferroptim.cmd'].filter((f) => existsSync(join(lib, 'node_modules', '.bin', f)));
    assert(installedPkg.bin === undefined && command.length === 0, `the library installs a command: node_modules/.bin/${command.join(', ')}`);
    return `node_modules holds ${pkg.name}, ${platPkgName} and the tools (${[...tools].map((p) => p.slice('node_modules/'.length)).join(', ')})`;
  });

  check(`library user: the code and types of ${pkg.name} import only Node's built-ins, its platform packages and its optional peers`, () => {
    const peers = optionalPeers(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')));
    const allowed = (name) => builtinModules.includes(name) || name === pkg.name || name.startsWith(`${pkg.name}-`) || peers.includes(name);
    const { files, bad } = strayImports(installed, allowed);
    assert(bad.length === 0, `node_modules/${pkg.name} imports packages it does not depend on:\n${bad.join('\n')}`);
    return `${files} files${peers.length ? `; optional peers: ${peers.join(', ')}` : ''}`;
  });

  check(`library user: ${platPkgName} installed; no .node in node_modules/${pkg.name}`, () => {
    assert(existsSync(join(lib, 'node_modules', platPkgName, nodeFile)), `node_modules/${platPkgName}/${nodeFile} is missing`);
    const binaries = walk(installed).filter((f) => f.endsWith('.node'));
    assert(binaries.length === 0, `node_modules/${pkg.name} contains ${binaries.join(', ')}`);
    const installedPkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    assert(installedPkg.optionalDependencies?.[platPkgName] === pkg.version, `the installed package does not list ${platPkgName} in optionalDependencies`);
    const size = statSync(join(lib, 'node_modules', platPkgName, nodeFile)).size;
    return `node_modules/${platPkgName}/${nodeFile} (${mib(size)})`;
  });

  check(`library user: node_modules/${pkg.name} + node_modules/${platPkgName} take at most ${mib(MAX_LIBRARY_BYTES)}`, () => {
    const sizes = [pkg.name, platPkgName].map((name) => bytesUnder(join(lib, 'node_modules', name)));
    const total = sizes[0] + sizes[1];
    const detail = `${total.toLocaleString('en-US')} bytes (${mib(total)}): ${pkg.name} ${mib(sizes[0])}, ${platPkgName} ${mib(sizes[1])}`;
    assert(total <= MAX_LIBRARY_BYTES, `${detail}, over the ${MAX_LIBRARY_BYTES.toLocaleString('en-US')}-byte budget`);
    return detail;
  });

  writeFileSync(join(lib, 'consumer.cjs'), CJS_CONSUMER);
  writeFileSync(join(lib, 'consumer.mjs'), ESM_CONSUMER);
  writeFileSync(join(lib, 'consumer.mts'), TS_CONSUMER);
  writeFileSync(join(lib, 'tsconfig.json'), `${JSON.stringify(TS_CONFIG, null, 2)}\n`);

  check("CommonJS consumer: require('ferroptim'), AdamW + CosineAnnealingLR + clipGradNorm", () =>
    trained('CommonJS consumer', run(process.execPath, ['consumer.cjs'], { cwd: lib, env })),
  );
  check("ES-module consumer: import { AdamW } from 'ferroptim', an MLP with CrossEntropyLoss", () =>
    trained('ES-module consumer', run(process.execPath, ['consumer.mjs'], { cwd: lib, env })),
  );
  const tsc = join(lib, 'node_modules', 'typescript', 'bin', 'tsc');
  check('TypeScript consumer: tsc --noEmit (strict, skipLibCheck false) against the installed types', () => {
    // skipLibCheck false checks ferroptim's declarations too; errors inside other packages'
    // declarations (under this TypeScript) are theirs and only counted.
    const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', '.'], { cwd: lib, env, encoding: 'utf8' });
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
    run(process.execPath, ['-e', transpile], { cwd: lib, env });
    return trained('TypeScript consumer', run(process.execPath, [join('build', 'consumer.mjs')], { cwd: lib, env }));
  });

  check('without the platform package: one clear error naming the platform and the fix', () => {
    const hidden = join(lib, 'node_modules', `.hidden-${platPkgName}`);
    renameSync(join(lib, 'node_modules', platPkgName), hidden);
    let stderr;
    try {
      ({ stderr } = run(process.execPath, ['-e', "require('ferroptim')"], { cwd: lib, env, expectFail: true }));
    } finally {
      renameSync(hidden, join(lib, 'node_modules', platPkgName));
    }
    const expected = [`no native binary for this platform (${process.platform} ${process.arch}`, platPkgName, 'build from source', 'npm install', 'Rust toolchain'];
    const missing = expected.filter((s) => !stderr.includes(s));
    assert(missing.length === 0, `the error lacks ${missing.map((s) => JSON.stringify(s)).join(', ')}:\n${stderr}`);
    assert(!stderr.includes('Cannot find native binding'), `the generated loader's error leaked:\n${stderr}`);
    return stderr.split('\n').find((l) => l.startsWith('Error: ')) ?? '';
  });

  check(`library user without TensorFlow.js: require('${pkg.name}/tfjs') gives one clear error`, () => {
    const { stderr } = run(process.execPath, ['-e', `require('${pkg.name}/tfjs')`], { cwd: lib, env, expectFail: true });
    const expected = '@tensorflow/tfjs-core is not installed; install TensorFlow.js first (npm install @tensorflow/tfjs)';
    assert(stderr.includes(expected), `the error lacks ${JSON.stringify(expected)}:\n${stderr}`);
    return stderr.split('\n').find((l) => l.startsWith('Error: ')) ?? '';
  });

  // ---- The TensorFlow.js user: `npm install ferroptim @tensorflow/tfjs`. ----
  const TFJS = ['@tensorflow/tfjs'];
  check(`tfjs user: npm install --offline of ${pkg.name}, ${platPkgName} and ${TFJS.join(', ')} into an empty folder`, () => {
    const pinned = writeConsumerProject(tfjsUser, [library, platformPackage], TFJS);
    installOffline(tfjsUser, env);
    return `${pinned} registry packages pinned by the repo's package-lock.json`;
  });
  writeFileSync(join(tfjsUser, 'consumer.mjs'), TFJS_CONSUMER);
  check(`tfjs user: model.compile({ optimizer: new TfjsOptimizer(new AdamW(parametersOf(model)), { inPlace: true }) }) and model.fit, in place on the cpu backend`, () =>
    trained('tfjs consumer', run(process.execPath, ['consumer.mjs'], { cwd: tfjsUser, env })),
  );
  check(`tfjs user: require('${pkg.name}/tfjs') from CommonJS gives the same classes tfjs-layers accepts`, () => {
    const probe = `const tf = require('@tensorflow/tfjs'); const { TfjsOptimizer, parametersOf } = require('${pkg.name}/tfjs'); const { SGD } = require('${pkg.name}');
      const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
      const o = new TfjsOptimizer(new SGD(parametersOf(m), { lr: 0.1 }));
      m.compile({ optimizer: o, loss: 'meanSquaredError' });
      if (!(o instanceof tf.Optimizer) || m.optimizer !== o) throw new Error('not a tf.Optimizer');
      console.log(o.getClassName());`;
    const { stdout } = run(process.execPath, ['-e', probe], { cwd: tfjsUser, env });
    assert(stdout.trim() === 'FerroptimOptimizer', `printed ${JSON.stringify(stdout.trim())}`);
    return 'tf.Optimizer instance, className FerroptimOptimizer';
  });

  // ---- The tune user: `npm install ferroptim-tune`, nothing else. ----
  check(`tune user: npm install --offline of ${tunePkg.name} alone (no ${pkg.name}, no pg) into a second empty folder`, () => {
    const pinned = writeConsumerProject(tuneUser, [tunePackage]);
    installOffline(tuneUser, env);
    assert(pinned === 0, `${pinned} registry packages were pinned for ${tunePkg.name}, which has no dependencies`);
    return `no registry package pinned`;
  });

  const installedTune = join(tuneUser, 'node_modules', tunePkg.name);
  check(`tune user: node_modules holds ${tunePkg.name} only, with no dependencies and no command`, () => {
    const installedPkg = JSON.parse(readFileSync(join(installedTune, 'package.json'), 'utf8'));
    assert(Object.keys({ ...installedPkg.dependencies, ...installedPkg.optionalDependencies }).length === 0, `the installed ${tunePkg.name} has dependencies: ${JSON.stringify({ ...installedPkg.dependencies, ...installedPkg.optionalDependencies })}`);
    const extra = Object.keys(installedPackages(tuneUser)).filter((p) => p !== '' && p !== `node_modules/${tunePkg.name}`);
    assert(extra.length === 0, `node_modules holds more than ${tunePkg.name}: ${extra.join(', ')}`);
    const folders = readdirSync(join(tuneUser, 'node_modules')).filter((f) => !f.startsWith('.'));
    assert(JSON.stringify(folders) === JSON.stringify([tunePkg.name]), `node_modules/ holds ${folders.join(', ')}`);
    const binaries = walk(installedTune).filter((f) => f.endsWith('.node'));
    assert(binaries.length === 0, `node_modules/${tunePkg.name} contains ${binaries.join(', ')}`);
    assert(!existsSync(join(tuneUser, 'node_modules', '.bin')), 'the install made a node_modules/.bin');
    return `node_modules/${tunePkg.name}: ${mib(bytesUnder(installedTune))}`;
  });

  check(`tune user: the code and types of ${tunePkg.name} import only Node's built-ins and its optional peer pg`, () => {
    const peers = optionalPeers(JSON.parse(readFileSync(join(installedTune, 'package.json'), 'utf8')));
    const { files, bad } = strayImports(installedTune, (name) => builtinModules.includes(name) || name === tunePkg.name || peers.includes(name));
    assert(bad.length === 0, `node_modules/${tunePkg.name} imports packages it does not depend on:\n${bad.join('\n')}`);
    // pg only where a PostgreSQL storage is made (dist/storage/postgres.*), not from the entry points.
    const pgImports = walk(installedTune)
      .filter((f) => /\.(c|m)?js$|\.d\.(c|m)?ts$/.test(f))
      .filter((f) => /\brequire\(\s*['"]pg['"]\s*\)|\bimport\(\s*['"]pg['"]\s*\)|\bfrom\s+['"]pg['"]/.test(readFileSync(join(installedTune, f), 'utf8')))
      .map((f) => f.split('\\').join('/'));
    assert(pgImports.every((f) => f.startsWith('dist/storage/postgres.')), `pg is imported outside dist/storage/postgres.*: ${pgImports.join(', ')}`);
    return `${files} files; optional peers: ${peers.join(', ')}; pg imported by ${pgImports.join(', ') || 'none'}`;
  });

  writeFileSync(join(tuneUser, 'consumer.cjs'), TUNE_CJS_CONSUMER);
  writeFileSync(join(tuneUser, 'consumer.mjs'), TUNE_ESM_CONSUMER);
  writeFileSync(join(tuneUser, 'consumer.mts'), TUNE_TS_CONSUMER);
  writeFileSync(join(tuneUser, 'pg-missing.mjs'), TUNE_PG_CONSUMER);
  // The TypeScript tools are the library user's: the tune user's node_modules holds ferroptim-tune only.
  const libTypes = join(lib, 'node_modules', '@types');
  writeFileSync(join(tuneUser, 'tsconfig.json'), `${JSON.stringify({ ...TS_CONFIG, compilerOptions: { ...TS_CONFIG.compilerOptions, typeRoots: [libTypes] } }, null, 2)}\n`);

  /** A consumer's study: 30 trials, all COMPLETE, a best value under `bound`, the journal file written. */
  const studied = (name, r, bound) => {
    const { trials, complete, best, params, journal } = lastJson(r.stdout);
    assert(trials === 30 && complete === 30, `${name}: ${complete} of ${trials} trials COMPLETE, expected 30 of 30`);
    assert(Number.isFinite(best) && best < bound, `${name}: best value ${best}, expected under ${bound} (the minimum is 0)`);
    assert(journal === true && existsSync(join(tuneUser, 'study.log')), `${name}: no journal file study.log`);
    return `30 trials, best ${best.toPrecision(4)} at ${JSON.stringify(params, (_, v) => (typeof v === 'number' ? Number(v.toPrecision(4)) : v))}`;
  };
  check("tune user: CommonJS consumer: require('ferroptim-tune'), seeded TPE, 30 trials in journal:study.log", () =>
    studied('CommonJS consumer', run(process.execPath, ['consumer.cjs'], { cwd: tuneUser, env }), 5),
  );
  check("tune user: ES-module consumer: import from 'ferroptim-tune', multivariate TPE, a second study in the same journal", () => {
    const r = run(process.execPath, ['consumer.mjs'], { cwd: tuneUser, env });
    const detail = studied('ES-module consumer', r, 5);
    const { other } = lastJson(r.stdout);
    assert(other === 30, `loadStudy of the CommonJS consumer's study found ${other} trials, expected 30`);
    const size = statSync(join(tuneUser, 'study.log')).size;
    return `${detail}; loadStudy of the CommonJS study: ${other} trials; study.log ${(size / 1024).toFixed(0)} kB`;
  });
  const libTsc = join(lib, 'node_modules', 'typescript', 'bin', 'tsc');
  check(`tune user: TypeScript consumer: tsc --noEmit (strict, exactOptionalPropertyTypes, skipLibCheck false) against the installed types`, () => {
    const r = spawnSync(process.execPath, [libTsc, '--noEmit', '-p', '.'], { cwd: tuneUser, env, encoding: 'utf8' });
    const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => / error TS\d+/.test(l));
    // Errors inside other packages' declarations (@types/node, under this TypeScript) are theirs and only counted.
    const ours = errors.filter((l) => !l.includes('node_modules/') || l.startsWith(`node_modules/${tunePkg.name}/`));
    assert(ours.length === 0 && (r.status === 0 || errors.length > 0), `tsc exited ${r.status}:\n${(ours.length ? ours : [r.stdout, r.stderr]).join('\n')}`);
    const theirs = errors.length - ours.length;
    return theirs === 0 ? 'no errors' : `no errors in ${tunePkg.name}'s types or the consumer (${theirs} inside other packages' declarations)`;
  });
  check('tune user: TypeScript consumer: compiled and run, RandomSampler + MedianPruner in memory', () => {
    const transpile = `const ts = require(${JSON.stringify(join(lib, 'node_modules', 'typescript'))}); const fs = require('node:fs');
      const out = ts.transpileModule(fs.readFileSync('consumer.mts', 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
      fs.mkdirSync('build', { recursive: true }); fs.writeFileSync('build/consumer.mjs', out.outputText);`;
    run(process.execPath, ['-e', transpile], { cwd: tuneUser, env });
    const { trials, complete, pruned, best, lr } = lastJson(run(process.execPath, [join('build', 'consumer.mjs')], { cwd: tuneUser, env }).stdout);
    assert(trials === 20 && complete >= 3 && pruned >= 1 && complete + pruned === 20, `${trials} trials: ${complete} COMPLETE, ${pruned} PRUNED (expected 20, at least 3 COMPLETE and 1 PRUNED, none FAIL)`);
    assert(Number.isFinite(best) && best < 2, `best value ${best}, expected under 2`);
    return `20 trials: ${complete} COMPLETE, ${pruned} PRUNED; best ${best.toPrecision(4)} at lr ${lr.toPrecision(3)}`;
  });
  check("tune user: a PostgreSQL storage without pg: the error says `npm install pg`", () => {
    assert(!existsSync(join(tuneUser, 'node_modules', 'pg')), 'node_modules/pg exists');
    const messages = lastJson(run(process.execPath, ['pg-missing.mjs'], { cwd: tuneUser, env }).stdout);
    const expected = ["PostgreSQL storages need the 'pg' package", 'npm install pg'];
    for (const [i, what] of ['createStudy({ storage: postgresql://... })', 'PostgresStorage.connect'].entries()) {
      const m = messages[i];
      assert(typeof m === 'string', `${what} did not throw`);
      const missing = expected.filter((s) => !m.includes(s));
      assert(missing.length === 0, `${what}: the error lacks ${missing.map((s) => JSON.stringify(s)).join(', ')}: ${m}`);
    }
    return messages[0];
  });

  // ---- The application user: `npm install ferroptim-cli`. ----
  check(`application user: npm install --offline of ${cliPkg.name}, ${pkg.name}, ${platPkgName} and ${tunePkg.name} into a third empty folder`, () => {
    const pinned = writeConsumerProject(app, [library, platformPackage, tunePackage, application]);
    installOffline(app, env);
    for (const name of [pkg.name, tunePkg.name]) {
      const nested = join(app, 'node_modules', cliPkg.name, 'node_modules', name);
      assert(!existsSync(nested), `${cliPkg.name} got its own copy of ${name} (node_modules/${cliPkg.name}/node_modules/${name})`);
    }
    const version = JSON.parse(readFileSync(join(app, 'node_modules', tunePkg.name, 'package.json'), 'utf8')).version;
    assert(version === tunePkg.version, `node_modules/${tunePkg.name} is ${version}, expected ${tunePkg.version}`);
    return `${pinned} registry packages pinned by the repo's package-lock.json (${cliPkg.name}'s, from ${CLI_DIR}/ then the root)`;
  });

  check('application user: installed size of node_modules and of its largest packages', () => {
    const tree = installedPackages(app);
    const total = bytesUnder(join(app, 'node_modules'));
    // Each package without the packages nested in it, which count on their own.
    const sizes = Object.keys(tree)
      .filter((p) => p.startsWith('node_modules/') && existsSync(join(app, p)))
      .map((p) => ({ name: p.slice('node_modules/'.length).replaceAll('/node_modules/', ' > '), bytes: bytesUnder(join(app, p), { own: true }) }))
      .sort((a, b) => b.bytes - a.bytes);
    return [
      `node_modules: ${total.toLocaleString('en-US')} bytes (${mib(total)}), ${sizes.length} packages`,
      `largest: ${sizes.slice(0, 5).map((s) => `${s.name} ${mib(s.bytes)}`).join(', ')}`,
    ].join('\n');
  });

  const command = join(app, 'node_modules', '.bin', WIN ? 'ferroptim.cmd' : 'ferroptim');
  check('application user: `ferroptim train --model mlp` (node_modules/.bin/ferroptim, 512 MNIST images, 1 epoch)', () => {
    assert(existsSync(command), `the install made no node_modules/.bin/${WIN ? 'ferroptim.cmd' : 'ferroptim'}`);
    const out = join(temp, 'run');
    run(command, ['train', '--model', 'mlp', '--epochs', '1', '--limit', '512', '--test-limit', '256', '--progress', 'lines', '--out', out], { cwd: app, env });
    const file = join(out, 'metrics.jsonl');
    assert(existsSync(file), 'no metrics.jsonl written');
    const epochs = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert(epochs.length === 1, `metrics.jsonl has ${epochs.length} lines, expected one (one epoch)`);
    const [m] = epochs;
    assert(m.epoch === 1 && [m.trainLoss, m.testLoss].every(Number.isFinite), `metrics.jsonl: ${JSON.stringify(m)}`);
    assert(m.testAccuracy > 0.2 && m.testAccuracy <= 1, `test accuracy ${m.testAccuracy}: the model learned nothing (chance is 0.1)`);
    return `metrics.jsonl: epoch 1, train loss ${m.trainLoss.toFixed(3)}, test loss ${m.testLoss.toFixed(3)}, test accuracy ${(100 * m.testAccuracy).toFixed(1)}%`;
  });

  check('application user: `ferroptim tune --model mlp` (2 trials of 1 epoch, 512 images, 256 for validation, journal in --out)', () => {
    const out = join(temp, 'tune-run');
    const { stdout } = run(command, ['tune', '--model', 'mlp', '--trials', '2', '--epochs', '1', '--limit', '512', '--val-size', '256', '--seed', '0', '--progress', 'lines', '--out', out], { cwd: app, env });
    const lines = stdout.split('\n');
    const best = lines.find((l) => l.startsWith('best: trial #'));
    assert(best !== undefined, `no "best: trial #..." line:\n${stdout.trim().split('\n').slice(-15).join('\n')}`);
    const again = lines.map((l) => l.trim()).find((l) => l.startsWith('ferroptim train '));
    assert(again !== undefined, `no "ferroptim train ..." command for the best trial:\n${stdout.trim().split('\n').slice(-15).join('\n')}`);
    const study = lines.find((l) => l.startsWith('study '));
    const written = ['studies.log', 'trials.csv'].filter((f) => !existsSync(join(out, f)));
    assert(written.length === 0, `--out lacks ${written.join(', ')}`);
    return [study, best, again].filter(Boolean).join('\n');
  });

  check('application user: `ferroptim --version`', () => {
    const printed = run(command, ['--version'], { cwd: app, env }).stdout.trim();
    assert(printed === application.manifest.version, `printed ${JSON.stringify(printed)}, expected ${application.manifest.version}`);
    return printed;
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
console.log(`pack:smoke: four packages (ferroptim, its platform package, ferroptim-tune, ferroptim-cli): ${passed} passed, ${failed} failed in ${((performance.now() - started) / 1000).toFixed(1)}s`);
process.exit(exitCode);
