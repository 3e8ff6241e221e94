/**
 * Scenarios of the low-precision state tests (`lowp.spec.ts`, and `lowp-child.ts` at each SIMD
 * level): one optimizer with `stateDtype` bfloat16 or int8 over tensors of awkward lengths in two
 * groups, run natively and through the oracle of `oracles/lowp.ts`, compared bit for bit.
 * @module
 */
import { Adam, AdamW, Lion, Parameter, SGD, type Optimizer, type StateDtype } from '../../ts/index.js';
import { lowpStep, type LowDtype, type LowState } from '../oracles/lowp.js';
import { values } from './data.js';

/** 0, 1, partial and whole blocks, a chunk plus a partial block, and one tensor over 5 chunks. */
export const LOWP_LENGTHS = [0, 1, 7, 255, 256, 257, 1023, 1025, 8192 + 300, 40001];
export const LOWP_STEPS = 6;

type AnyOpt = Optimizer<object>;
type Options = Record<string, unknown>;

export interface LowpScenario {
  /** The registry's lower-case name: adam, adamw, sgd, lion. */
  name: string;
  dtype: LowDtype;
  /** Options of the constructor (group 0) and overrides of group 1. */
  options: Options;
  second: Options;
  /** At step 4, a NaN in tensor 9's gradient (a poisoned int8 block). */
  nan?: boolean;
  /** At step 5, amsgrad of group 1 is flipped (a slot the step then leaves alone). */
  flip?: string;
}

const CLASSES: Record<string, new (p: never, o: never) => AnyOpt> = { adam: Adam, adamw: AdamW, sgd: SGD, lion: Lion } as never;

export function createLowp(name: string, params: Parameter[], options: Options, second: Options, dtype: StateDtype): AnyOpt {
  const half = Math.ceil(params.length / 2);
  const Cls = CLASSES[name]!;
  const groups = params.length < 2 ? [{ params, ...second }] : [{ params: params.slice(0, half) }, { params: params.slice(half), ...second }];
  return new Cls(groups as never, { ...options, stateDtype: dtype } as never);
}

/** Every scenario: per optimizer, two option sets, each with bfloat16 and int8. */
export function lowpScenarios(): LowpScenario[] {
  const table: Array<Omit<LowpScenario, 'dtype'>> = [
    { name: 'adamw', options: { lr: 0.01, weightDecay: 0.1 }, second: { betas: [0.4, 0.99], eps: 1e-6, amsgrad: true, maximize: true }, nan: true, flip: 'amsgrad' },
    { name: 'adamw', options: { lr: 3e-3, amsgrad: true }, second: { lr: 0.03, weightDecay: 0 } },
    { name: 'adam', options: { lr: 0.01, weightDecay: 0.05 }, second: { amsgrad: true }, flip: 'amsgrad' },
    { name: 'adam', options: { lr: 0.02, betas: [0.0, 0.5], eps: 1e-3 }, second: { maximize: true } },
    { name: 'sgd', options: { lr: 0.05, momentum: 0.9, weightDecay: 0.01 }, second: { momentum: 0.5, dampening: 0.1 }, nan: true },
    { name: 'sgd', options: { lr: 0.05, momentum: 0.9, nesterov: true }, second: { maximize: true, lr: 0.1 } },
    { name: 'lion', options: { lr: 1e-3, weightDecay: 0.1 }, second: { betas: [0.5, 0.9] }, nan: true },
  ];
  return table.flatMap((s) => (['bfloat16', 'int8'] as const).map((dtype) => ({ ...s, dtype })));
}

export function describeLowp(s: LowpScenario): string {
  return `${s.name} ${s.dtype} ${JSON.stringify(s.options)} / ${JSON.stringify(s.second)}${s.nan ? ' with a NaN gradient' : ''}${s.flip ? `, ${s.flip} flipped` : ''}`;
}

function gradAt(s: LowpScenario, step: number, j: number, n: number): Float32Array | null {
  if (step === 3 && j === 2) return null;
  const g = values(31, step, j, n);
  if (s.nan && step === 4 && j === 9) g[5] = NaN;
  return g;
}

/** The final parameters and state of a scenario, in a comparable form: hex of every float32, codes and bits as numbers. */
export interface LowpResult {
  params: string[];
  state: Record<string, string>;
}

const hex32 = (x: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(x as ArrayLike<number>).buffer), (b) => b.toString(16)).join(',');

function slotText(slot: unknown): string {
  const r = slot as { bits?: ArrayLike<number>; codes?: ArrayLike<number>; absmax?: ArrayLike<number | string> };
  if (r.bits) return `bits:${Array.from(r.bits).join(',')}`;
  const absmax = Array.from(r.absmax!, (x) => (typeof x === 'string' ? (x === 'NaN' ? NaN : Number(x)) : x));
  return `codes:${Array.from(r.codes!).join(',')};absmax:${hex32(absmax)}`;
}

/** Runs a scenario natively (at the thread count and SIMD level in force). */
export function runNative(s: LowpScenario): LowpResult {
  const params = LOWP_LENGTHS.map((n, j) => new Parameter(values(30, 0, j, n), { name: `p${j}` }));
  const opt = createLowp(s.name, params, s.options, s.second, s.dtype);
  for (let step = 1; step <= LOWP_STEPS; step++) {
    if (s.flip && step === 5) (opt.paramGroups[1] as Options)[s.flip] = !(opt.paramGroups[1] as Options)[s.flip];
    params.forEach((p, j) => (p.grad = gradAt(s, step, j, p.numel)));
    opt.step();
  }
  const state: Record<string, string> = {};
  for (const [key, entry] of Object.entries(opt.stateDict().state)) {
    for (const [name, v] of Object.entries(entry)) state[`${key}.${name}`] = typeof v === 'number' ? String(v) : slotText(v);
  }
  return { params: params.map((p) => hex32(p.data)), state };
}

/** Runs a scenario through the oracle, with the options each group resolves to. */
export function runOracle(s: LowpScenario): LowpResult {
  const params = LOWP_LENGTHS.map((n, j) => values(30, 0, j, n));
  // The resolved options of each group, as the optimizer resolves them.
  const probe = createLowp(s.name, LOWP_LENGTHS.map((n) => new Parameter(new Float32Array(n))), s.options, s.second, 'float32');
  const groups = probe.paramGroups.map(({ params: _, ...o }) => o as Options);
  probe.dispose();
  const half = Math.ceil(params.length / 2);
  const states: Array<LowState | undefined> = params.map(() => undefined);
  for (let step = 1; step <= LOWP_STEPS; step++) {
    if (s.flip && step === 5) groups[1]![s.flip] = !groups[1]![s.flip];
    params.forEach((p, j) => {
      const g = gradAt(s, step, j, p.length);
      if (g) states[j] = lowpStep(s.name, s.dtype, p, g, states[j], groups[j < half ? 0 : 1]!);
    });
  }
  const state: Record<string, string> = {};
  states.forEach((st, j) => {
    if (!st) return;
    state[`p${j}.step`] = String(st.step);
    for (const [name, slot] of Object.entries(st.slots)) state[`p${j}.${name}`] = slotText(slot);
  });
  return { params: params.map((p) => hex32(p)), state };
}

/** The first difference between two results, or null. */
export function lowpDiff(got: LowpResult, want: LowpResult): string | null {
  for (let j = 0; j < want.params.length; j++) if (got.params[j] !== want.params[j]) return `parameter p${j} differs`;
  const keys = new Set([...Object.keys(got.state), ...Object.keys(want.state)]);
  for (const k of keys) {
    if (got.state[k] !== want.state[k]) return `state ${k} differs: ${String(got.state[k]).slice(0, 120)} vs oracle ${String(want.state[k]).slice(0, 120)}`;
  }
  return null;
}
