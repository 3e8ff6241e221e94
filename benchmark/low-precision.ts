/**
 * `npm run bench:lowp`: steps with low-precision optimizer state (`stateDtype: 'bfloat16'` and
 * `'int8'`) beside float32 state, for Adam, AdamW, SGD-momentum and Lion over one tensor of 16M
 * parameters, at 1 and all threads, with the C yardstick (../shared/perf/run-probe.sh: its AdamW
 * and SGD-momentum over float32 state) run between optimizers.
 *
 *   node --expose-gc --import @oxc-node/core/register benchmark/low-precision.ts [--quick] [--no-probe] [--only adamw,sgd]
 *
 * Before timing, each optimizer and state type takes 3 steps over 10,000 parameters beside the TS
 * oracle of low-precision state (__test__/oracles/lowp.ts): parameters and compact state must be
 * the same bits, or the run stops. Timing: the three state types of one optimizer interleaved in
 * rounds (medians), each with its own parameters. Writes benchmark/results/lowp.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fill, fillGrad, Harness, median, parseFlags, ROOT, round, THREADS, usage } from './harness.js';
import { lowpStep, type LowDtype, type LowState } from '../__test__/oracles/lowp.js';

type Dtype = 'float32' | LowDtype;
const DTYPES: readonly Dtype[] = ['float32', 'bfloat16', 'int8'];
const N = 16 * 1024 * 1024;
const CHECK_N = 10_000;
const CHECK_STEPS = 3;

/** The optimizers timed: registry name, label, options, and the probe kernel of the same float32 update. */
const KINDS = [
  { name: 'adamw', label: 'AdamW', options: { lr: 1e-3, weightDecay: 0.01 }, probe: 'adamw' },
  { name: 'adam', label: 'Adam', options: { lr: 1e-3 }, probe: 'adamw' },
  { name: 'sgd', label: 'SGD-momentum', options: { lr: 0.01, momentum: 0.9 }, probe: 'sgd_momentum' },
  { name: 'lion', label: 'Lion', options: { lr: 1e-4 }, probe: null },
] as const;
type Kind = (typeof KINDS)[number];

interface Stepper {
  step(): unknown;
  stateDict(): { state: Record<string, Record<string, unknown>>; paramGroups: Array<Record<string, unknown>> };
  readonly stateByteLength: number;
  readonly paramGroups: Array<Record<string, unknown>>;
  dispose(): void;
}

const flags = parseFlags(process.argv.slice(2));
if (flags.help) usage(undefined, KINDS.map((k) => k.name).join(', '));
for (const n of flags.only ?? []) if (!KINDS.some((k) => k.name === n)) usage(`unknown name "${n}" in --only (expected ${KINDS.map((k) => k.name).join(', ')})`);
const h = await Harness.load(flags);
const lib = h.lib;
const kinds = KINDS.filter((k) => !flags.only || flags.only.includes(k.name));

function make(kind: Kind, dtype: Dtype, n: number, seed: number): { opt: Stepper; p: InstanceType<typeof lib.Parameter> } {
  const p = new lib.Parameter(fill(new Float32Array(n), seed, -1, 1), { name: 'w' });
  fillGrad(p.grad!, seed + 1);
  const Class = lib.OPTIMIZERS[kind.name]!.Class as unknown as new (params: unknown[], o: Record<string, unknown>) => Stepper;
  return { opt: new Class([p], { ...kind.options, stateDtype: dtype }), p };
}

/** 3 steps beside the oracle; returns a difference, or null when every bit agrees. */
function check(kind: Kind, dtype: LowDtype): string | null {
  const { opt, p } = make(kind, dtype, CHECK_N, 17);
  const ref = Float32Array.from(p.data);
  const g = Float32Array.from(p.grad!);
  const { params: _, ...options } = opt.paramGroups[0]!;
  let st: LowState | undefined;
  for (let s = 0; s < CHECK_STEPS; s++) {
    opt.step();
    st = lowpStep(kind.name, dtype, ref, g, st, options);
  }
  const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
  const [pa, pb] = [bits(p.data), bits(ref)];
  const i = pa.findIndex((x, j) => x !== pb[j]);
  if (i >= 0) return `parameter ${i}: ${p.data[i]} natively, ${ref[i]} in the oracle`;
  const native = Object.values(opt.stateDict().state)[0]!;
  for (const [slot, want] of Object.entries(st!.slots)) {
    const got = native[slot] as { bits?: number[]; codes?: number[]; absmax?: Array<number | string> };
    const same = 'bits' in want ? got.bits?.every((x, j) => x === want.bits[j]) : got.codes?.every((x, j) => x === want.codes[j]) && got.absmax?.every((x, j) => Object.is(Number(x), want.absmax[j]));
    if (!same) return `state ${slot} differs`;
  }
  opt.dispose();
  return null;
}

console.log(`# checks: ${CHECK_STEPS} steps over ${CHECK_N} parameters against __test__/oracles/lowp.ts, bit for bit`);
for (const kind of kinds) {
  for (const dtype of ['bfloat16', 'int8'] as const) {
    const diff = check(kind, dtype);
    console.log(`  ${kind.label} ${dtype}: ${diff ?? 'same bits'}`);
    if (diff) {
      console.error(`bench:lowp: ${kind.label} with ${dtype} state differs from its oracle (${diff}); not timing`);
      process.exit(1);
    }
  }
}

const rounds = flags.quick ? 2 : 6;
const perRound = flags.quick ? 2 : 3;
interface Row {
  optimizer: string;
  threads: number;
  medianMs: Record<Dtype, number>;
  stateBytesPerParam: Record<Dtype, number>;
  cMs: number | null;
}
const rows: Row[] = [];
for (const kind of kinds) {
  console.log(`\n# ${kind.label}, ${N.toLocaleString('en-US')} parameters in one tensor`);
  const runs = DTYPES.map((d, i) => ({ dtype: d, ...make(kind, d, N, 101 + 2 * i), samples: new Map<number, number[]>() }));
  if (kind.probe) h.yardstick.at(N, `${kind.name}:0`);
  for (const r of runs) for (let i = 0; i < 2; i++) r.opt.step(); // state created, pages in
  for (let round = 0; round < rounds; round++) {
    for (const t of round % 2 ? [...THREADS].reverse() : THREADS) {
      if (h.useThreads(t)) runs[0]!.opt.step();
      for (let j = 0; j < runs.length; j++) {
        const r = runs[(j + round) % runs.length]!;
        r.opt.step(); // untimed: the previous contender's streams leave the caches and TLB to this one
        const out = r.samples.get(t) ?? [];
        for (let k = 0; k < perRound; k++) {
          const t0 = performance.now();
          r.opt.step();
          out.push(performance.now() - t0);
        }
        r.samples.set(t, out);
      }
    }
  }
  if (kind.probe) h.yardstick.at(N, `${kind.name}:1`);
  for (const t of THREADS) {
    const c = kind.probe ? h.yardstick.best(kind.probe, N, t, [`${kind.name}:0`, `${kind.name}:1`]) : null;
    const row: Row = {
      optimizer: kind.label,
      threads: t,
      medianMs: Object.fromEntries(runs.map((r) => [r.dtype, round(median(r.samples.get(t)!), 3)])) as Record<Dtype, number>,
      stateBytesPerParam: Object.fromEntries(runs.map((r) => [r.dtype, round(r.opt.stateByteLength / N, 3)])) as Record<Dtype, number>,
      cMs: c ? round(c.ms, 3) : null,
    };
    rows.push(row);
    console.log(`  ${t}T: ${DTYPES.map((d) => `${d} ${row.medianMs[d].toFixed(2)} ms`).join(', ')}${row.cMs !== null ? `; C (float32) ${row.cMs.toFixed(2)} ms` : ''}`);
  }
  for (const r of runs) r.opt.dispose();
}

const m = h.machine;
const ratio = (a: number, b: number) => `${(b / a).toFixed(2)}×`;
const md = [
  `Machine: ${m.cpu}, ${m.cores} cores, SIMD ${m.simd}, Node ${m.node}, ${m.date}, commit ${m.commit}. Command: \`npm run bench:lowp${flags.argv.length ? ` -- ${flags.argv.join(' ')}` : ''}\`.`,
  '',
  '| optimizer | threads | float32 | bfloat16 | int8 | bfloat16 vs float32 | int8 vs float32 | C loop (float32 state) | bfloat16 vs C | state B/param (f32 / bf16 / int8) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.optimizer} | ${r.threads} | ${r.medianMs.float32.toFixed(2)} ms | ${r.medianMs.bfloat16.toFixed(2)} ms | ${r.medianMs.int8.toFixed(2)} ms | ${ratio(r.medianMs.bfloat16, r.medianMs.float32)} | ${ratio(r.medianMs.int8, r.medianMs.float32)} | ` +
      `${r.cMs !== null ? `${r.cMs.toFixed(2)} ms` : '—'} | ${r.cMs !== null ? ratio(r.medianMs.bfloat16, r.cMs) : '—'} | ${DTYPES.map((d) => r.stateBytesPerParam[d].toFixed(2)).join(' / ')} |`,
  ),
  '',
  `Medians of ${rounds} interleaved rounds of ${perRound} steps; "vs" columns: how many times faster (> 1: faster). C: the best run of ../shared/perf/run-probe.sh (AdamW's kernel for Adam and AdamW) before and after the optimizer's rounds.`,
];
console.log(`\n# Markdown\n\n${md.join('\n')}`);
const dir = path.join(ROOT, 'benchmark', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'lowp.json'), `${JSON.stringify({ machine: m, rows, yardstick: h.yardstick.json() }, null, 2)}\n`);
console.log(`\nraw results: ${path.relative(ROOT, path.join(dir, 'lowp.json'))}`);
