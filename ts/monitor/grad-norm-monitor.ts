/**
 * Gradient-norm monitoring: global and per-parameter norms every step, with events for exploding,
 * vanishing and non-finite gradients.
 * @module
 */
import { EventEmitter } from 'node:events';
import { mapNativeError, native } from '../native.js';
import type { Optimizer, StepInfo } from '../optim/optimizer.js';
import { Parameter } from '../tensor.js';
import { gradsOf } from '../clip/clip-grad.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';

/**
 * Options of {@link GradNormMonitor}.
 * @group Clipping and monitoring
 */
export interface GradNormMonitorOptions {
  /** Records kept (the oldest are dropped). @defaultValue 10000 */
  historySize?: number;
  /** Smoothing β of the moving average: ema ← β·ema + (1 − β)·norm. @defaultValue 0.98 */
  emaBeta?: number;
  /** A norm above `explodeFactor` × the moving average (before this step) is reported as exploding. @defaultValue 10 */
  explodeFactor?: number;
  /** A global norm below this is reported as vanishing. @defaultValue 1e-7 */
  vanishThreshold?: number;
  /** Steps recorded before exploding gradients are reported (the average needs a few). @defaultValue 5 */
  warmupSteps?: number;
  /** Record each parameter's norm, by name. @defaultValue true */
  perParameter?: boolean;
  /** Called for every event, besides the `'exploding'`, `'vanishing'` and `'nonfinite'` events. */
  onEvent?: (event: GradNormEvent) => void;
}

/**
 * One step's record.
 * @group Clipping and monitoring
 */
export interface GradNormRecord {
  /** 1 for the first recorded step. */
  step: number;
  /** The global 2-norm of all gradients of the step. */
  norm: number;
  /** The moving average after this step (non-finite norms do not enter it). */
  ema: number;
  /** Whether the optimizer applied the step (false when `skipNonFinite` skipped it). */
  applied: boolean;
  /** Each parameter's gradient 2-norm, keyed by name (by position when unnamed, or for all when names repeat). */
  params: Record<string, number>;
}

/**
 * An anomaly found in a step.
 * @group Clipping and monitoring
 */
export interface GradNormEvent {
  /** The anomaly: a norm above explodeFactor × ema, below vanishThreshold, or a NaN/infinite gradient. */
  kind: 'exploding' | 'vanishing' | 'nonfinite';
  /** The step it happened at (1 for the first recorded step). */
  step: number;
  /** The step's global 2-norm. */
  norm: number;
  /** The moving average before this step. */
  ema: number;
  /** The parameters concerned: those with a non-finite norm, or the largest norm for `exploding`. */
  params: string[];
}

/** Keys of parameters in records: each name, or the position when unnamed; all positions if that leaves duplicates. */
function keysOf(params: readonly Parameter[]): string[] {
  const keys = params.map((p, i) => p.name ?? String(i));
  return new Set(keys).size === keys.length ? keys : keys.map((_, i) => String(i));
}

/** JSON has no NaN or infinities: they are written as strings. */
function jsonNumber(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

const DEFAULTS = {
  historySize: 10000,
  emaBeta: 0.98,
  explodeFactor: 10,
  vanishThreshold: 1e-7,
  warmupSteps: 5,
  perParameter: true,
};

/**
 * Records the global gradient norm and per-parameter norms every step, keeps a bounded history
 * and an exponential moving average, and reports exploding, vanishing and non-finite gradients.
 *
 * @remarks
 * Attached to an optimizer, the norms are gathered inside the optimizer's fused native step
 * (each chunk's Σg² is taken while the chunk is in cache), so monitoring adds no pass over
 * memory. Without an optimizer, call {@link GradNormMonitor.record} with the parameters.
 * Events: `'exploding'` (norm > explodeFactor × ema), `'vanishing'` (norm < vanishThreshold),
 * `'nonfinite'` (a NaN or infinite gradient), each with a {@link GradNormEvent}.
 *
 * @example
 * ```ts
 * const monitor = new GradNormMonitor(optimizer, { explodeFactor: 5 });
 * monitor.on('exploding', (e) => console.warn(`step ${e.step}: norm ${e.norm}`));
 * // ... train ...
 * fs.writeFileSync('grad-norms.csv', monitor.toCSV());
 * ```
 * @throws TypeError or RangeError for bad options.
 * @group Clipping and monitoring
 */
export class GradNormMonitor extends EventEmitter {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<Required<Omit<GradNormMonitorOptions, 'onEvent'>>>;
  readonly #onEvent: ((e: GradNormEvent) => void) | undefined;
  readonly #history: GradNormRecord[] = [];
  #start = 0;
  #steps = 0;
  #finite = 0;
  #ema = NaN;
  readonly #names = new Map<Parameter, string>();
  #detach: (() => void) | undefined;
  readonly #optimizer: Optimizer<object> | undefined;

  constructor(optimizer?: Optimizer<object>, options: GradNormMonitorOptions = {}) {
    super();
    const ctx = 'GradNormMonitor';
    const o = checkOptions(ctx, options);
    checkKnownKeys(ctx, o, [...Object.keys(DEFAULTS), 'onEvent']);
    const merged = { ...DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS & GradNormMonitorOptions;
    checkNumber(ctx, 'historySize', merged.historySize, { integer: true, min: 1 });
    checkNumber(ctx, 'emaBeta', merged.emaBeta, { min: 0, below: 1 });
    checkNumber(ctx, 'explodeFactor', merged.explodeFactor, { above: 1 });
    checkNumber(ctx, 'vanishThreshold', merged.vanishThreshold, { min: 0 });
    checkNumber(ctx, 'warmupSteps', merged.warmupSteps, { integer: true, min: 0 });
    checkBoolean(ctx, 'perParameter', merged.perParameter);
    if (merged.onEvent !== undefined && typeof merged.onEvent !== 'function') {
      throw new TypeError(`${ctx}: expected onEvent to be a function, received ${describeValue(merged.onEvent)}`);
    }
    this.#onEvent = merged.onEvent;
    const { onEvent: _unused, ...rest } = merged;
    this.options = Object.freeze(rest);
    if (optimizer !== undefined) {
      if (optimizer === null || typeof (optimizer as { observeSteps?: unknown }).observeSteps !== 'function') {
        throw new TypeError(`${ctx}: expected a ferroptim optimizer, received ${describeValue(optimizer)}`);
      }
      this.#optimizer = optimizer;
      this.#detach = optimizer.observeSteps({ wantsGradNorms: true, onStep: (info: StepInfo) => this.#fromStep(info) });
    }
  }

  /** Stops observing the optimizer. */
  detach(): void {
    this.#detach?.();
    this.#detach = undefined;
  }

  /** The moving average of the global norm (NaN before the first finite record). */
  get ema(): number {
    return this.#ema;
  }

  /** Number of steps recorded so far (including those dropped from the history). */
  get steps(): number {
    return this.#steps;
  }

  /** The kept records, oldest first. */
  history(): GradNormRecord[] {
    return [...this.#history.slice(this.#start), ...this.#history.slice(0, this.#start)];
  }

  /** The last record, if any. */
  last(): GradNormRecord | undefined {
    const h = this.#history;
    if (h.length === 0) return undefined;
    return h.length < this.options.historySize ? h[h.length - 1] : h[(this.#start + h.length - 1) % h.length];
  }

  /**
   * Records the current gradients of `params` (for use without an optimizer, or between steps).
   * @throws TypeError or RangeError for bad params.
   */
  record(params: Parameter | Iterable<Parameter>): GradNormRecord {
    const grads = gradsOf('GradNormMonitor.record', params);
    const list = params instanceof Parameter ? [params] : [...params];
    const keys = keysOf(list);
    const withGrad: Parameter[] = [];
    const names: string[] = [];
    list.forEach((p, i) => {
      if (p.grad !== null) withGrad.push(p), names.push(keys[i]!);
    });
    const norms = new Float64Array(grads.length);
    try {
      native.gradNorms(grads, 2, norms);
    } catch (e) {
      mapNativeError(e, 'GradNormMonitor.record');
    }
    return this.#add(names, norms.map((n) => n * n), true);
  }

  #fromStep(info: StepInfo): void {
    // Keys follow the optimizer's parameter positions; they are (re)computed when a parameter
    // is new to the monitor, e.g. after addParamGroup.
    if (this.#optimizer && info.params.some((p) => !this.#names.has(p))) {
      const all = this.#optimizer.parameters();
      const keys = keysOf(all);
      this.#names.clear();
      all.forEach((p, i) => this.#names.set(p, keys[i]!));
    }
    this.#add(
      info.params.map((p) => this.#names.get(p)!),
      info.gradSqSums,
      info.applied,
    );
  }

  #add(names: readonly string[], sqSums: Float64Array, applied: boolean): GradNormRecord {
    let total = 0;
    for (const s of sqSums) total += s;
    const norm = Math.sqrt(total);
    // Keys are parameter names, i.e. data: a null-prototype object keeps "__proto__" an own key.
    const perParam: Record<string, number> = Object.create(null);
    const nonfinite: string[] = [];
    let largest = '';
    let largestNorm = -1;
    names.forEach((name, i) => {
      const pn = Math.sqrt(sqSums[i]!);
      if (this.options.perParameter) perParam[name] = pn;
      if (!Number.isFinite(pn)) nonfinite.push(name);
      else if (pn > largestNorm) {
        largestNorm = pn;
        largest = name;
      }
    });
    const step = ++this.#steps;
    const before = this.#ema;
    const events: GradNormEvent[] = [];
    if (!Number.isFinite(norm)) {
      events.push({ kind: 'nonfinite', step, norm, ema: before, params: nonfinite });
    } else {
      if (this.#finite >= this.options.warmupSteps && norm > this.options.explodeFactor * before) {
        events.push({ kind: 'exploding', step, norm, ema: before, params: largest ? [largest] : [] });
      }
      if (norm < this.options.vanishThreshold) events.push({ kind: 'vanishing', step, norm, ema: before, params: [] });
      const beta = this.options.emaBeta;
      this.#ema = this.#finite === 0 ? norm : beta * before + (1 - beta) * norm;
      this.#finite++;
    }
    const rec: GradNormRecord = { step, norm, ema: this.#ema, applied, params: perParam };
    const h = this.#history;
    if (h.length < this.options.historySize) h.push(rec);
    else {
      h[this.#start] = rec;
      this.#start = (this.#start + 1) % h.length;
    }
    for (const e of events) {
      this.#onEvent?.(e);
      this.emit(e.kind, e);
    }
    return rec;
  }

  /** The history as JSON Lines: one record per line (NaN and infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`). */
  toJSONL(): string {
    return this.history()
      .map((r) => JSON.stringify(r, jsonNumber))
      .join('\n')
      .concat(this.#history.length ? '\n' : '');
  }

  /** The history as CSV: `step,norm,ema,applied` then one column per parameter (empty when it had no gradient). */
  toCSV(): string {
    const rows = this.history();
    const cols: string[] = [];
    const seen = new Set<string>();
    for (const r of rows) for (const k of Object.keys(r.params)) if (!seen.has(k)) seen.add(k), cols.push(k);
    const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const lines = [['step', 'norm', 'ema', 'applied', ...cols.map(quote)].join(',')];
    for (const r of rows) lines.push([r.step, r.norm, r.ema, r.applied, ...cols.map((c) => (Object.hasOwn(r.params, c) ? r.params[c] : ''))].join(','));
    return lines.join('\n') + '\n';
  }
}
