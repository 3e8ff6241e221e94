/**
 * One Muon run on awkward shapes, through the native class or through the TypeScript oracle
 * (`__test__/oracles/muon.ts`), and a child-process entry that prints the native run's hash with
 * the SIMD level and thread count in force (used by `__test__/muon.spec.ts` with
 * `FERROPTIM_SIMD` / `FERROPTIM_NUM_THREADS` set).
 *
 *   node --import @oxc-node/core/register __test__/helpers/muon-scenario.ts
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { MUON_DEFAULTS, Muon, Parameter, getNumThreads, getSimdLevel, type MuonOptions } from '../../ts/index.js';
import { muonReference, type MuonRefOptions } from '../oracles/muon.js';
import { values } from './data.js';

/**
 * Square, tall, wide, one-row and one-column matrices; 260 × 300 has several tiles per product
 * and sums over more than 256 terms, and is above the element-wise passes' parallel threshold.
 */
export const SCENARIO_SHAPES: ReadonlyArray<readonly [number, number]> = [
  [40, 17],
  [96, 130],
  [1, 9],
  [9, 1],
  [7, 7],
  [130, 96],
  [260, 300],
];

/** Group 0 holds the first four shapes; group 1 the rest, with other forms of every option. */
export const SCENARIO_GROUPS: readonly MuonOptions[] = [
  { lr: 0.02, weightDecay: 0.1, momentum: 0.95, nesterov: true },
  { lr: 0.01, weightDecay: 0.01, momentum: 0.4, nesterov: false, nsSteps: 2, adjustLrFn: 'match_rms_adamw', nsCoefficients: [3.4, -4.7, 2.0], eps: 1e-3 },
];
const GROUP0 = 4;
export const SCENARIO_STEPS = 3;

/** Gradient of tensor j at step s; tensor 2 has none at step 2. */
function grad(s: number, j: number, n: number): Float32Array | null {
  if (j === 2 && s === 2) return null;
  return values(77, s, j, n);
}

/** Final weights and momentum buffers of every tensor, in order. */
export function runScenario(impl: 'native' | 'oracle'): Float32Array[] {
  const data = SCENARIO_SHAPES.map(([r, c], j) => values(77, 0, j, r * c));
  if (impl === 'native') {
    const ps = SCENARIO_SHAPES.map(([r, c], j) => new Parameter(data[j]!, { name: `w${j}`, shape: [r, c] }));
    const opt = new Muon([{ params: ps.slice(0, GROUP0), ...SCENARIO_GROUPS[0] }, { params: ps.slice(GROUP0), ...SCENARIO_GROUPS[1] }]);
    for (let s = 1; s <= SCENARIO_STEPS; s++) {
      ps.forEach((p, j) => (p.grad = grad(s, j, p.numel)));
      opt.step();
    }
    const state = opt.stateDict().state;
    return [...ps.map((p) => p.data), ...ps.map((p) => Float32Array.from(state[p.name!]!.momentumBuffer as number[]))];
  }
  const bufs = SCENARIO_SHAPES.map(([r, c]) => new Float32Array(r * c));
  for (let s = 1; s <= SCENARIO_STEPS; s++) {
    SCENARIO_SHAPES.forEach(([r, c], j) => {
      const g = grad(s, j, r * c);
      if (g === null) return;
      const o = { ...MUON_DEFAULTS, ...SCENARIO_GROUPS[j < GROUP0 ? 0 : 1] } as MuonRefOptions;
      muonReference(data[j]!, g, bufs[j]!, r, c, o);
    });
  }
  return [...data, ...bufs];
}

/** SHA-256 of the arrays' bytes. */
export function hashOf(arrays: readonly Float32Array[]): string {
  const h = createHash('sha256');
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify({ simd: getSimdLevel(), threads: getNumThreads(), hash: hashOf(runScenario('native')) }));
}
