/**
 * The optimizers the benchmark times, read from the library's registry (`OPTIMIZERS`: the class
 * and the descriptor, with every option's default and the state slots), plus the table below of
 * what only the benchmark needs: a label, options that differ from the defaults, the TS oracle
 * (__test__/oracles/*.ts) that verifies it and that the naive-ts rows time, and how it compares
 * with C. An optimizer added to the registry is timed and sanity-checked without an entry here.
 */
import type { Parameter } from '../ts/index.js';
import { ORACLES, type OracleState } from '../__test__/oracles/index.js';
import * as thirdParty from '../__test__/oracles/third-party.js';
import type { Lib, Stepper } from './harness.js';

/** One reference step over the arrays the oracle was made with, in place; `t` is the step number (1-based). */
export type OracleStep = (grads: Float32Array[], t: number) => void;
type Options = Record<string, unknown>;
type Oracle = (params: Float32Array[], o: Options) => OracleStep;

/**
 * The conformance suite's oracle of `name` (`__test__/oracles/index.ts`: one table for every
 * optimizer) over one group of `params`, as a step function; undefined when it has none.
 */
function oracleOf(name: string): Oracle | undefined {
  const entry = ORACLES[name];
  if (!entry) return undefined;
  return (ps, o) => {
    // A copy: an oracle may keep its group's scalar state in the group's options (Schedule-Free).
    const options = entry.resolve ? entry.resolve({ ...o }) : { ...o };
    const state: Array<OracleState | undefined> = ps.map((p) => entry.initialState?.(p.length, options));
    return (gs) => entry.step([ps], [gs], [state], [options]);
  };
}

interface Extra {
  /** The name in the output, when not the descriptor's. */
  label?: string;
  /** Options that differ from the descriptor's defaults. */
  options?: Options;
  /** The kernel of ../shared/perf/probe.c that runs the same update. */
  probeKernel?: string;
  /** Also timed as the same update in plain C (benchmark/same-in-c.c, kernel of the same name). */
  sameInC?: boolean;
  /** Bytes per parameter actually moved, where they differ from the quoted figure (LAMB's two passes). */
  moved?: number;
  /** The streams behind the bytes, when the one-pass count from the slots does not describe the kernel. */
  streams?: string;
  /** Target: best GB/s over the C AdamW's best GB/s (default 0.85). */
  target?: number;
}

/** The benchmark's extras, in table order (optimizers of the registry not listed here follow, by name). */
const EXTRAS: Record<string, Extra> = {
  sgd: { label: 'SGD-momentum', options: { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }, probeKernel: 'sgd_momentum' },
  adam: { options: { weightDecay: 1e-2 } },
  adamw: { probeKernel: 'adamw' },
  rmsprop: {},
  adagrad: {},
  radam: {},
  nadam: { sameInC: true },
  adamax: {},
  adadelta: {},
  adabound: {},
  lamb: {
    sameInC: true,
    moved: 40,
    streams: 'quoted AdamW-equivalent; its two passes move 40: θ r, g r, m r/w, v r/w (24), then θ r/w, m r, v r (16)',
    target: 0.6,
  },
  lion: { sameInC: true },
};

/** The target of an optimizer without one in EXTRAS. */
export const DEFAULT_TARGET = 0.85;

/** The optimizer Lookahead wraps in the benchmark. */
const LOOKAHEAD_INNER = 'adamw';

/** One optimizer as the benchmark runs it. */
export interface BenchOptimizer {
  /** Its registry name ('adamw'), or 'lookahead'. */
  name: string;
  label: string;
  /** Every option: the descriptor's defaults with the benchmark's changes (Lookahead: k and alpha). */
  options: Options;
  /** A new optimizer over `params` with these options (and `more`, e.g. skipNonFinite). */
  make(params: Parameter[], more?: Options): Stepper;
  /** A reference step over `params` (in place), or null without an oracle. */
  oracle: ((params: Float32Array[]) => OracleStep) | null;
  /** Bytes per parameter of one step: 4 × (θ r/w + g r + each state slot in use r/w), Lookahead's sync amortised. */
  bytes: number;
  /** What `bytes` counts. */
  streams: string;
  moved: number | null;
  target: number;
  probeKernel: string | null;
  sameInC: boolean;
  /** Steps per timed sample: 1, or Lookahead's k (one window, which holds exactly one sync). */
  window: number;
}

/** `opt`, put in train mode when it has one (a Schedule-Free optimizer starts in eval mode and steps only in train mode). */
function ready<T extends object>(opt: T): T {
  (opt as { train?(): void }).train?.();
  return opt;
}

/**
 * The state slots an optimizer fills with these options (the descriptor lists every slot; Adam's
 * `maxExpAvgSq` only exists with amsgrad, RMSprop's `momentumBuffer` and `gradAvg` only with
 * momentum and centered): the slots in its state after one step over four parameters.
 */
function slotsInUse(lib: Lib, name: string, options: Options): string[] {
  const { Class, descriptor } = lib.OPTIMIZERS[name]!;
  const p = new lib.Parameter(new Float32Array(4).fill(0.5));
  p.grad!.fill(0.1);
  const opt = ready(new Class([p], options as never));
  opt.step();
  const entry = Object.values(opt.stateDict().state)[0] ?? {};
  opt.dispose();
  return descriptor.slots.filter((s) => s in entry);
}

/** Every optimizer of the registry (and Lookahead over AdamW), in table order. */
export function loadCatalog(lib: Lib): Map<string, BenchOptimizer> {
  const order = Object.keys(EXTRAS);
  const names = Object.keys(lib.OPTIMIZERS).sort((a, b) => (order.includes(a) ? order.indexOf(a) : 1e9) - (order.includes(b) ? order.indexOf(b) : 1e9) || a.localeCompare(b));
  const out = new Map<string, BenchOptimizer>();
  for (const name of names) {
    const { Class, descriptor } = lib.OPTIMIZERS[name]!;
    const x = EXTRAS[name] ?? {};
    const options: Options = { ...lib.defaultsOf(descriptor as never), ...x.options };
    const slots = slotsInUse(lib, name, options);
    const unused = descriptor.slots.filter((s) => !slots.includes(s));
    const oracle = oracleOf(name);
    out.set(name, {
      name,
      label: x.label ?? descriptor.name,
      options,
      make: (params, more) => ready(new Class(params, { ...options, ...more } as never)),
      oracle: oracle ? (ps) => oracle(ps, options) : null,
      bytes: 4 * (3 + 2 * slots.length),
      streams: x.streams ?? ['θ r/w', 'g r', ...slots.map((s) => `${s} r/w`)].join(', ') + (unused.length ? ` (${unused.join(', ')} unused with these options: +8 each)` : ''),
      moved: x.moved ?? null,
      target: x.target ?? DEFAULT_TARGET,
      probeKernel: x.probeKernel ?? null,
      sameInC: x.sameInC ?? false,
      window: 1,
    });
  }
  const inner = out.get(LOOKAHEAD_INNER)!;
  const { k, alpha } = lib.LOOKAHEAD_DEFAULTS;
  out.set('lookahead', {
    name: 'lookahead',
    label: `Lookahead(${inner.label}, k=${k})`,
    options: { k, alpha },
    make: (params) => new lib.Lookahead(inner.make(params) as never, { k, alpha }),
    oracle: (ps) => {
      const step = inner.oracle!(ps);
      const slow: Array<Float32Array | undefined> = [];
      return (gs, t) => {
        step(gs, t);
        // The sync follows inner steps 1, k + 1, 2k + 1, ... (torch-optimizer's counter).
        if ((t - 1) % k === 0) thirdParty.lookaheadSyncReference(ps, slow, alpha);
      };
    },
    bytes: inner.bytes + 16 / k,
    streams: `${inner.label}'s ${inner.bytes} + the sync's θ r/w, φ r/w (16) every k = ${k} steps`,
    moved: null,
    target: DEFAULT_TARGET,
    probeKernel: null,
    sameInC: false,
    window: k,
  });
  return out;
}

/**
 * The optimizer written the way someone would without ferroptim: its TS oracle, a plain loop per
 * tensor, one thread, over its own copies of the parameters and gradients.
 */
export function naive(o: BenchOptimizer, params: Parameter[]): Stepper & { data: Float32Array[] } {
  const data = params.map((p) => p.data.slice());
  const grads = params.map((p) => p.grad!.slice());
  const step = o.oracle!(data);
  let t = 0;
  return { data, step: () => step(grads, ++t) };
}
