/**
 * `MultiOptimizer`: several optimizers over disjoint parameters, stepped as one (Optax's
 * `multi_transform`), e.g. Muon for the hidden weight matrices and AdamW for the rest.
 * @module
 */
import { Parameter } from '../tensor.js';
import { checkKnownKeys, checkOptions, describeValue } from '../validate.js';
import type { SchedulerParamGroup } from '../schedulers/internal.js';
import type { LoadStateDictOptions, OptimizerStateDict, ParamStateEntry, ZeroGradOptions } from './optimizer.js';

const LABEL = 'MultiOptimizer';

/**
 * What {@link MultiOptimizer} combines: any ferroptim optimizer (`AdamW`, `Muon`, `Adafactor`,
 * `Lookahead`, ...).
 * @group Optimizers
 * @category Classes
 */
export interface MultiOptimizerMember {
  /** One update of its parameters. */
  step(): unknown;
  /** Zeroes its gradients. */
  zeroGrad(options?: ZeroGradOptions): void;
  /** Its state. */
  stateDict(): OptimizerStateDict;
  /** Restores its state. */
  loadStateDict(sd: OptimizerStateDict, options?: LoadStateDictOptions): void;
  /** Its live parameter groups (schedulers set their `lr`). */
  readonly paramGroups: ReadonlyArray<SchedulerParamGroup>;
  /** Its parameters. */
  parameters(): Parameter[];
  /** Frees its state. */
  dispose(): void;
  /** False after a skipped step (`skipNonFinite`). */
  readonly lastStepApplied?: boolean;
  /** Schedule-Free's switch to the training point. */
  train?(): void;
  /** Schedule-Free's switch to the evaluation point. */
  eval?(): void;
}

/** A member's part of the combined state: its groups carry `member`, its keys the prefix `<member>/`. */
type MemberGroup = Record<string, unknown> & { params: string[]; member?: unknown };

/**
 * Several optimizers over disjoint parameters, used as one: `step()`, `zeroGrad()`,
 * `stateDict()`/`loadStateDict()`, `paramGroups` (every member's live groups, in order, so one
 * scheduler drives them all, each group from its own initial lr), `parameters()`, `train()`/`eval()`
 * (forwarded to members that have them) and `dispose()`. So the trainer, its checkpoints and the
 * schedulers take it as they take one optimizer.
 *
 * @remarks
 * The members step in order. Each checks its own input before it writes anything, but a member
 * that throws leaves the members before it stepped. `loadStateDict` is all or nothing: it restores
 * every member's previous state if one refuses its part. In `stateDict()` each member's parameter
 * keys are prefixed by its index (`0/fc1.weight`) and each group has a `member` field.
 *
 * @example
 * ```ts
 * const { muon, adamw } = splitMuonParams(model.parameters(), { exclude: ['9'] }); // '9': the head
 * const optimizer = new MultiOptimizer([new Muon(muon, { lr: 0.02 }), new AdamW(adamw, { lr: 1e-3 })]);
 * const scheduler = new CosineAnnealingLR(optimizer, { tMax: 100 }); // scales both lrs
 * ```
 * @throws TypeError if `optimizers` is not a non-empty array of optimizers; RangeError if two
 * members share a parameter.
 * @group Optimizers
 * @category Classes
 */
export class MultiOptimizer {
  /** The members, in the order they step. */
  readonly optimizers: readonly MultiOptimizerMember[];

  constructor(optimizers: readonly MultiOptimizerMember[]) {
    if (!Array.isArray(optimizers) || optimizers.length === 0) {
      throw new TypeError(`${LABEL}: expected optimizers to be a non-empty array of optimizers, received ${describeValue(optimizers)}`);
    }
    const owner = new Map<Parameter, number>();
    optimizers.forEach((o, i) => {
      const ok =
        o !== null &&
        typeof o === 'object' &&
        ['step', 'zeroGrad', 'stateDict', 'loadStateDict', 'parameters', 'dispose'].every((m) => typeof (o as unknown as Record<string, unknown>)[m] === 'function') &&
        Array.isArray(o.paramGroups);
      if (!ok) throw new TypeError(`${LABEL}: expected optimizers[${i}] to be a ferroptim optimizer, received ${describeValue(o)}`);
      o.parameters().forEach((p: Parameter, j: number) => {
        const other = owner.get(p);
        if (other !== undefined) throw new RangeError(`${LABEL}: ${Parameter.describe(p, j)} of optimizers[${i}] is also in optimizers[${other}]; each parameter may have one optimizer`);
        owner.set(p, i);
      });
    });
    this.optimizers = Object.freeze([...optimizers]);
  }

  /** Every member's live parameter groups, in order. */
  get paramGroups(): SchedulerParamGroup[] {
    return this.optimizers.flatMap((o) => o.paramGroups as SchedulerParamGroup[]);
  }

  /** True when every member applied its last step. */
  get lastStepApplied(): boolean {
    return this.optimizers.every((o) => o.lastStepApplied !== false);
  }

  /**
   * Calls `closure` (if given), then steps every member in order.
   * @returns the closure's value, if a closure was given.
   */
  step(closure?: () => number): number | undefined {
    if (closure !== undefined && typeof closure !== 'function') {
      throw new TypeError(`${LABEL}: expected closure to be a function or undefined, received ${describeValue(closure)}`);
    }
    const loss = closure?.();
    for (const o of this.optimizers) o.step();
    return loss;
  }

  /** Zeroes (or with `setToNone` nulls) every member's gradients. */
  zeroGrad(options?: ZeroGradOptions): void {
    for (const o of this.optimizers) o.zeroGrad(options);
  }

  /** Every member's parameters, in order. */
  parameters(): Parameter[] {
    return this.optimizers.flatMap((o) => o.parameters());
  }

  /** Forwards `train()` to the members that have it (Schedule-Free ones). */
  train(): void {
    for (const o of this.optimizers) o.train?.();
  }

  /** Forwards `eval()` to the members that have it (Schedule-Free ones). */
  eval(): void {
    for (const o of this.optimizers) o.eval?.();
  }

  /** Frees every member's state. */
  dispose(): void {
    for (const o of this.optimizers) o.dispose();
  }

  /** The members' states in one: keys prefixed `<member>/`, groups marked with `member`. */
  stateDict(): OptimizerStateDict {
    const state: Record<string, ParamStateEntry> = Object.create(null);
    const paramGroups: OptimizerStateDict['paramGroups'] = [];
    this.optimizers.forEach((o, i) => {
      const sd = o.stateDict();
      for (const [key, entry] of Object.entries(sd.state)) state[`${i}/${key}`] = entry;
      for (const g of sd.paramGroups) paramGroups.push({ ...g, params: g.params.map((k) => `${i}/${k}`), member: i });
    });
    return { state, paramGroups };
  }

  /**
   * Loads a state from {@link MultiOptimizer.stateDict}: each member its part. If a member refuses
   * its part, every member gets its previous state back and the error is thrown.
   * @throws TypeError or RangeError for a malformed state, or what a member's `loadStateDict` throws.
   */
  loadStateDict(sd: OptimizerStateDict, options?: LoadStateDictOptions): void {
    const ctx = `${LABEL}.loadStateDict`;
    if (options !== undefined) checkKnownKeys(ctx, checkOptions(ctx, options), ['strict']);
    if (sd === null || typeof sd !== 'object' || sd.state === null || typeof sd.state !== 'object' || !Array.isArray(sd.paramGroups)) {
      throw new TypeError(`${ctx}: expected an object with state and paramGroups, received ${describeValue(sd)}`);
    }
    const n = this.optimizers.length;
    const parts = this.optimizers.map((): OptimizerStateDict => ({ state: Object.create(null), paramGroups: [] }));
    const memberOf = (key: string): [number, string] => {
      const m = /^(\d+)\/(.*)$/s.exec(key);
      const i = m ? Number(m[1]) : NaN;
      if (!(i < n)) throw new RangeError(`${ctx}: expected every key to start with a member index below ${n} and "/", received ${JSON.stringify(key)}`);
      return [i, m![2]!];
    };
    for (const [key, entry] of Object.entries(sd.state)) {
      const [i, rest] = memberOf(key);
      parts[i]!.state[rest] = entry;
    }
    sd.paramGroups.forEach((g: MemberGroup, gi) => {
      if (g === null || typeof g !== 'object' || !Array.isArray(g.params) || !Number.isInteger(g.member) || (g.member as number) < 0 || (g.member as number) >= n) {
        throw new TypeError(`${ctx}: expected param group ${gi} to have params and a member index below ${n}, received ${describeValue(g)}`);
      }
      const { member, ...group } = g;
      const params = g.params.map((k) => {
        const [i, rest] = memberOf(String(k));
        if (i !== member) throw new RangeError(`${ctx}: param group ${gi} of member ${member} lists ${JSON.stringify(k)}, a key of member ${i}`);
        return rest;
      });
      parts[member as number]!.paramGroups.push({ ...group, params });
    });
    const before = this.optimizers.map((o) => o.stateDict());
    let loaded = 0;
    try {
      for (; loaded < n; loaded++) this.optimizers[loaded]!.loadStateDict(parts[loaded]!, options);
    } catch (e) {
      for (let i = 0; i < loaded; i++) this.optimizers[i]!.loadStateDict(before[i]!);
      throw e;
    }
  }
}
