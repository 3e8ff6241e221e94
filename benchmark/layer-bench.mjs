// What the layer benchmarks (relu-pool, conv-relu-pool, step-during-backward) share: the built
// package, their --threads and --rounds options (plus their own), the machine line, and the
// median (min) of a sample.
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
/** The built package (`npm run build` first). */
export const lib = require('../dist/index.js');

/**
 * Parses --threads (default 2), --rounds (default `rounds`) and `extra` options, sets the thread
 * count and prints the machine line; returns the parsed values, rounds as a number.
 */
export function setup(rounds, extra = {}) {
  const { values } = parseArgs({
    options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: String(rounds) }, ...extra },
    strict: true,
  });
  lib.setNumThreads(Number(values.threads));
  console.log(`machine: ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores; node ${process.version}; ferroptim SIMD ${lib.getSimdLevel()}; ${lib.getNumThreads()} thread(s)`);
  return { ...values, rounds: Number(values.rounds) };
}

/** A typed array's bytes in hex, to compare bits. */
export const hex = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
/** Microseconds, monotonic. */
export const now = () => Number(process.hrtime.bigint()) / 1e3;
/** The median of a sample. */
export const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
/** "median (min)" of a sample, with `digits` decimals. */
export const stat = (v, digits = 0) => `${median(v).toFixed(digits)} (${Math.min(...v).toFixed(digits)})`;

/**
 * Runs `apart` and `fused` (each returns `{ f, b }`: its forward and backward µs) alternately
 * `rounds` times; returns "one after the other forward …, backward …; fused forward …, backward …",
 * each a median (min).
 */
export function interleaved(rounds, apart, fused) {
  const t = { uf: [], ub: [], ff: [], fb: [] };
  for (let k = 0; k < rounds; k++) {
    const u = apart();
    const f = fused();
    t.uf.push(u.f);
    t.ub.push(u.b);
    t.ff.push(f.f);
    t.fb.push(f.b);
  }
  return `one after the other forward ${stat(t.uf)}, backward ${stat(t.ub)}; fused forward ${stat(t.ff)}, backward ${stat(t.fb)}`;
}
