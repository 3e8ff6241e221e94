/**
 * The TS oracle of low-precision optimizer state (`stateDtype: 'bfloat16' | 'int8'`), for the
 * bit-exactness tests of `lowp.spec.ts`: it wraps the float32 oracles of `torch.ts` and
 * `third-party.ts` as the native `Lowp<R, S>` wraps the float32 kernels (crate/src/kernels/lowp.rs).
 * Each parameter is worked in blocks of 256 elements: the block's state is loaded to float32
 * (bfloat16 exactly; int8 as `map[code] · absmax`), the float32 oracle steps the block as if it
 * were a tensor of its own, and the state it computed is stored back (bfloat16 rounded to nearest
 * even, NaN → 0x7FC0; int8 with the block's new absmax, max(max |s|, 1e-12) or NaN, and each code
 * the nearest map entry to s / absmax, ties up as torchao's `quantize_8bit_with_qmap`). Only the
 * slots the group's options use are loaded and stored (an int8 block is never re-quantized
 * without a change).
 *
 * The state is kept in the compact form a state dict holds (`bits`, or `codes` and `absmax`),
 * independently of the native arena layout. The quantization maps are the fixture's (torchao's).
 * @module
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { adamReference, sgdReference } from './torch.js';
import { lionReference } from './third-party.js';

const f = Math.fround;
export const BLOCK = 256;
const ABSMAX_MIN = f(1e-12);

/** torchao's maps, from the committed fixture (float32 bits). */
export const MAPS = (() => {
  const fx = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/lowp.json', import.meta.url)), 'utf8')) as { qmapSigned: number[]; qmapUnsigned: number[] };
  const toF32 = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
  return { signed: toF32(fx.qmapSigned), unsigned: toF32(fx.qmapUnsigned) };
})();

export type LowDtype = 'bfloat16' | 'int8';
/** One slot in compact form. */
export type LowSlot = { bits: Uint16Array } | { codes: Uint8Array; absmax: Float32Array };
export interface LowState {
  step: number;
  slots: Record<string, LowSlot>;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBf16(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  f32[0] = x;
  const b = u32[0]!;
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}

export function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** torchao's code of y: binary search for the largest entry ≤ y, then up when at least halfway. */
export function quantize(y: number, map: Float32Array): number {
  let c = y >= map[128]! ? 128 : 0;
  for (const step of [64, 32, 16, 8, 4, 2, 1]) if (y >= map[c + step]!) c += step;
  const up = Math.min(c + 1, 255);
  const lo = map[c]!, hi = map[up]!;
  return f(y - lo) >= f(f(hi - lo) * 0.5) ? up : c;
}

function blockAbsmax(x: Float32Array): number {
  let m = 0;
  for (const v of x) {
    const a = Math.abs(v);
    if (Number.isNaN(a)) return NaN;
    if (a > m) m = a;
  }
  return m >= ABSMAX_MIN ? m : ABSMAX_MIN;
}

function emptySlot(dtype: LowDtype, n: number): LowSlot {
  return dtype === 'bfloat16' ? { bits: new Uint16Array(n) } : { codes: new Uint8Array(n), absmax: new Float32Array(Math.ceil(n / BLOCK)) };
}

function load(slot: LowSlot, a: number, e: number, map: Float32Array): Float32Array {
  const out = new Float32Array(e - a);
  if ('bits' in slot) for (let i = a; i < e; i++) out[i - a] = bf16ToF32(slot.bits[i]!);
  else {
    const s = slot.absmax[a / BLOCK]!;
    for (let i = a; i < e; i++) out[i - a] = f(map[slot.codes[i]!]! * s);
  }
  return out;
}

function store(slot: LowSlot, a: number, x: Float32Array, map: Float32Array): void {
  if ('bits' in slot) {
    for (let j = 0; j < x.length; j++) slot.bits[a + j] = f32ToBf16(x[j]!);
    return;
  }
  const s = blockAbsmax(x);
  slot.absmax[a / BLOCK] = s;
  for (let j = 0; j < x.length; j++) slot.codes[a + j] = quantize(f(x[j]! / s), map);
}

/** What the lowp oracle needs of one optimizer: its float32 oracle on one tensor, its slots, their signs, and which a group uses. */
export interface LowpEntry {
  /** Steps one tensor (p, g) with state `st` (float32 oracle state: step and slot arrays). */
  step(p: Float32Array, g: Float32Array, st: Record<string, unknown> & { step: number }, o: Record<string, unknown>): void;
  /** Slot names (camelCase) and whether each may be negative (the signed map). */
  readonly slots: ReadonlyArray<readonly [string, boolean]>;
  /** The slots a group with options `o` updates. */
  uses(o: Record<string, unknown>): string[];
  /**
   * Whether a new slot is left out of the float32 oracle's state (SGD: its first momentum step
   * copies the gradient, as the native fresh mask says); otherwise a new slot is read as the
   * native side reads zeroed storage (int8: `map[0] · 0`, which is −0 in the signed map).
   */
  readonly freshUnset?: boolean;
}

const one = <S>(run: (p: Float32Array[], g: Array<Float32Array | null>, st: Array<S | undefined>) => void) => (p: Float32Array, g: Float32Array, st: unknown) => run([p], [g], [st as S]);

/* eslint-disable @typescript-eslint/no-explicit-any */
export const LOWP_ORACLES: Record<string, LowpEntry> = {
  adam: {
    step: (p, g, st, o) => one((pp, gg, ss) => adamReference(pp, gg, ss as any, o as any, false))(p, g, st),
    slots: [['expAvg', true], ['expAvgSq', false], ['maxExpAvgSq', false]],
    uses: (o) => (o.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq']),
  },
  adamw: {
    step: (p, g, st, o) => one((pp, gg, ss) => adamReference(pp, gg, ss as any, o as any, true))(p, g, st),
    slots: [['expAvg', true], ['expAvgSq', false], ['maxExpAvgSq', false]],
    uses: (o) => (o.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq']),
  },
  sgd: {
    step: (p, g, st, o) => one((pp, gg, ss) => sgdReference(pp, gg, ss as any, o as any))(p, g, st),
    slots: [['momentumBuffer', true]],
    uses: (o) => (o.momentum !== 0 ? ['momentumBuffer'] : []),
    freshUnset: true,
  },
  lion: {
    step: (p, g, st, o) => one((pp, gg, ss) => lionReference(pp, gg, ss as any, o as any))(p, g, st),
    slots: [['expAvg', true]],
    uses: () => ['expAvg'],
  },
};
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * One step of optimizer `name` with `dtype` state over one parameter `p` (in place) with
 * gradient `g` (its state `st` created on first use), options `o` resolved.
 */
export function lowpStep(name: string, dtype: LowDtype, p: Float32Array, g: Float32Array, st: LowState | undefined, o: Record<string, unknown>): LowState {
  const entry = LOWP_ORACLES[name]!;
  const state = st ?? { step: 0, slots: {} };
  const n = p.length;
  const used = entry.uses(o);
  const sign = new Map(entry.slots);
  let stepAfter = state.step + 1;
  // Slots this step creates: decided once, before the first block creates them.
  const fresh = new Set(used.filter((name) => !state.slots[name]));
  // At least one (empty) block, so a tensor of length 0 still gets its state.
  for (let a = 0; a < Math.max(n, 1); a += BLOCK) {
    const e = Math.min(a + BLOCK, n);
    const sub: Record<string, unknown> & { step: number } = { step: state.step };
    for (const name of used) {
      let slot = state.slots[name];
      if (!slot) slot = state.slots[name] = emptySlot(dtype, n);
      if (!(entry.freshUnset && fresh.has(name))) sub[name] = load(slot, a, e, sign.get(name) ? MAPS.signed : MAPS.unsigned);
    }
    entry.step(p.subarray(a, e), g.subarray(a, e), sub, o);
    stepAfter = sub.step;
    for (const name of used) {
      const x = sub[name] as Float32Array | undefined;
      if (!x) continue;
      const slot = (state.slots[name] ??= emptySlot(dtype, n));
      store(slot, a, x, sign.get(name) ? MAPS.signed : MAPS.unsigned);
    }
  }
  state.step = stepAfter;
  return state;
}
