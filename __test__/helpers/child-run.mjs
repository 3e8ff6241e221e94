// Runs SGD (momentum, nesterov), Adam (amsgrad) and AdamW for 5 steps on tensors of awkward
// lengths and prints one JSON line: the SIMD level and thread count in force and a SHA-256 of all
// final parameters and state. Used by __test__/determinism.spec.ts, which runs it in child
// processes with FERROPTIM_SIMD / FERROPTIM_NUM_THREADS set; it also imports `runAll` in-process.
//
//   node __test__/helpers/child-run.mjs [path/to/dist/index.js]
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** 1, 7, 17, 1025, 70001 and 300 tensors of 333: ~172k elements, over the multithreading threshold. */
export const LENGTHS = [1, 7, 17, 1025, 70001, ...Array.from({ length: 300 }, () => 333)];
export const STEPS = 5;

/** A deterministic float32 in [-1, 1]. */
function value(seed, step, tensor, i) {
  let x = (Math.imul(seed, 0x9e3779b1) + Math.imul(step, 0x85ebca77) + Math.imul(tensor, 0xc2b2ae3d) + i) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return Math.fround(((x % 2001) - 1000) / 1000);
}

function fill(out, seed, step, tensor) {
  for (let i = 0; i < out.length; i++) out[i] = value(seed, step, tensor, i);
  return out;
}

export const CONFIGS = [
  { name: 'SGD', cls: 'SGD', options: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, second: { lr: 0.01, momentum: 0.5 } },
  { name: 'Adam', cls: 'Adam', options: { lr: 0.01, amsgrad: true, weightDecay: 0.01 }, second: { betas: [0.8, 0.99], eps: 1e-6 } },
  { name: 'AdamW', cls: 'AdamW', options: { lr: 0.01, weightDecay: 0.1 }, second: { lr: 0.003, amsgrad: true } },
];

function bytes(a) {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Runs every config with the given ferroptim module; returns a SHA-256 per config and overall. */
export function runAll(lib) {
  const total = createHash('sha256');
  const hashes = {};
  for (const c of CONFIGS) {
    const params = LENGTHS.map((n, t) => new lib.Parameter(fill(new Float32Array(n), 1, 0, t), { name: `p${t}` }));
    // Two groups, interleaved, so each chunk mixes hyperparameter sets.
    const groups = [
      { params: params.filter((_, t) => t % 2 === 0) },
      { params: params.filter((_, t) => t % 2 === 1), ...c.second },
    ];
    const opt = new lib[c.cls](groups, c.options);
    for (let s = 1; s <= STEPS; s++) {
      params.forEach((p, t) => fill(p.grad, 2, s, t));
      opt.step();
    }
    const h = createHash('sha256');
    for (const p of params) h.update(bytes(p.data));
    const { state } = opt.stateDict();
    for (const key of Object.keys(state).sort()) {
      const entry = state[key];
      for (const name of Object.keys(entry).sort()) {
        const v = entry[name];
        h.update(`${key}.${name}:`);
        h.update(typeof v === 'number' ? String(v) : bytes(Float32Array.from(v)));
      }
    }
    hashes[c.name] = h.digest('hex');
    total.update(hashes[c.name]);
  }
  return { hash: total.digest('hex'), hashes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const require = createRequire(import.meta.url);
  const lib = require(process.argv[2] ?? fileURLToPath(new URL('../../dist/index.js', import.meta.url)));
  const result = runAll(lib);
  process.stdout.write(
    `${JSON.stringify({ simd: lib.getSimdLevel(), detected: lib.getDetectedSimdLevel(), threads: lib.getNumThreads(), ...result })}\n`,
  );
}
