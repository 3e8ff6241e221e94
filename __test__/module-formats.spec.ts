/**
 * The built package loads as CommonJS (`dist/index.js`) and as an ES module (`dist/index.mjs`), by
 * path and by package name through the `exports` map, with the same named exports; both construct
 * AdamW and step; and the type declarations exist.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const CJS = `${DIST}index.js`;
const ESM = `${DIST}index.mjs`;
const DTS = `${DIST}index.d.ts`;
const BUILD = 'run `npm run build` (or `npm run build:ts`) first';

/** What every child prints: its export names and the result of one AdamW step. */
const PROBE = `
  const names = Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule').sort();
  const p = new m.Parameter(new Float32Array([1, 2, 3]), { name: 'w' });
  p.grad.set([0.1, -0.2, 0]);
  const opt = new m.AdamW([p], { lr: 0.1 });
  const loss = opt.step(() => 0.5);
  out({ names, data: Array.from(p.data), loss, step: opt.stateDict().state.w.step, simd: m.getSimdLevel(),
        isOptimizer: opt instanceof m.Optimizer, sameAsCjs: typeof cjs === 'undefined' ? null : cjs === m.default && cjs.AdamW === m.AdamW });
`;
const OUT = 'const out = (o) => process.stdout.write(JSON.stringify(o) + "\\n");';

interface Probe {
  names: string[];
  data: number[];
  loss: number;
  step: number;
  simd: string;
  isOptimizer: boolean;
  sameAsCjs: boolean | null;
}

const CHILDREN: Array<[title: string, args: string[]]> = [
  ['CommonJS require of dist/index.js', ['-e', `${OUT} const m = require(${JSON.stringify(CJS)}); ${PROBE}`]],
  ["CommonJS require('ferroptim') through the exports map", ['-e', `${OUT} const m = require('ferroptim'); ${PROBE}`]],
  [
    'ESM import of dist/index.mjs',
    ['--input-type=module', '-e', `${OUT} import * as m from ${JSON.stringify(pathToFileURL(ESM).href)}; import { createRequire } from 'node:module'; const cjs = createRequire(${JSON.stringify(CJS)})(${JSON.stringify(CJS)}); ${PROBE}`],
  ],
  [
    "ESM import 'ferroptim' through the exports map",
    ['--input-type=module', '-e', `${OUT} import * as m from 'ferroptim'; import { createRequire } from 'node:module'; const cjs = createRequire(${JSON.stringify(CJS)})('ferroptim'); ${PROBE}`],
  ],
];

async function probe(args: string[]): Promise<Probe> {
  const { stdout } = await run(process.execPath, args, { cwd: ROOT, timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Probe;
}

const probes = existsSync(CJS) && existsSync(ESM) ? CHILDREN.map(([title, args]) => ({ title, result: probe(args) })) : [];
for (const p of probes) p.result.catch(() => {});

for (const { title, result } of probes) {
  test(`${title} in a child process constructs AdamW and steps`, async (t) => {
    const r = await result;
    t.true(r.names.includes('AdamW') && r.names.includes('Parameter'), r.names.join(', '));
    t.is(r.loss, 0.5);
    t.is(r.step, 1);
    t.true(r.isOptimizer);
    t.true(r.data[0]! < 1 && r.data[1]! > 2, `data ${r.data}`);
    if (r.sameAsCjs !== null) t.true(r.sameAsCjs, 'the ES module re-exports the very CommonJS objects (no dual-package hazard)');
  });
}

test('CommonJS and ESM entries have the same named exports and give the same step results', async (t) => {
  if (!probes.length) return t.fail(`dist/index.js or dist/index.mjs is missing: ${BUILD}`);
  const all = await Promise.all(probes.map((p) => p.result));
  for (const [i, r] of all.entries()) {
    t.deepEqual(r.names, all[0]!.names, `${probes[i]!.title} vs ${probes[0]!.title}`);
    t.deepEqual(r.data, all[0]!.data, `${probes[i]!.title} vs ${probes[0]!.title}`);
  }
});

test('the built named exports match the TypeScript sources (dist is not stale)', async (t) => {
  if (!probes.length) return t.fail(`dist/index.js or dist/index.mjs is missing: ${BUILD}`);
  const source = Object.keys(await import('../ts/index.js')).sort();
  const built = (await probes[0]!.result).names;
  t.deepEqual(built, source, `dist differs from ts/index.ts: ${BUILD}`);
});

test('dist/index.d.ts exists and declares every runtime export', async (t) => {
  if (!existsSync(DTS)) return t.fail(`${DTS} is missing: ${BUILD}`);
  const dts = readFileSync(DTS, 'utf8');
  const names = Object.keys(await import('../ts/index.js'));
  for (const name of names) t.regex(dts, new RegExp(`\\b${name}\\b`), `${name} is not in dist/index.d.ts`);
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));
  t.is(pkg.types, 'dist/index.d.ts');
  t.is(pkg.exports['.'].types, './dist/index.d.ts');
});
