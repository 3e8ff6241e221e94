/**
 * Grid search: Optuna's `GridSampler` (`optuna/samplers/_grid.py`).
 * @module
 */
import { describe, type CategoricalChoice, type Distribution } from '../distributions.js';
import { isFinished, TrialState, type FrozenTrial, type JsonValue, type Sampler, type StudyView } from '../types.js';
import { checkOptions } from '../options.js';
import { checkSeed, Rng } from './rng.js';
import { sortedNames } from './searchSpace.js';

/**
 * The grid of a {@link GridSampler}: for each parameter name, the values to try (numbers for
 * numeric parameters; any of the categorical choices for categorical ones).
 * @group Samplers
 */
export type GridSearchSpace = Readonly<Record<string, readonly CategoricalChoice[]>>;

/**
 * Options of {@link GridSampler}.
 * @group Samplers
 */
export interface GridSamplerOptions {
  /**
   * Seed of the shuffle of the grid: an integer in `[0, 2**32 - 1]` (default 0, as Optuna's
   * `seed or 0`). The same seed gives Optuna's order of grid points.
   */
  seed?: number | null;
}

/** Python's `==` between grid values, with NaN equal to NaN (`_grid_value_equal`). */
function gridValueEqual(a: unknown, b: unknown): boolean {
  const num = (v: unknown) => (typeof v === 'boolean' ? Number(v) : v);
  const x = num(a);
  const y = num(b);
  if (typeof x === 'number' && typeof y === 'number') return x === y || (Number.isNaN(x) && Number.isNaN(y));
  return x === y;
}

/**
 * Tries every combination of the given values (Optuna's `GridSampler`): the Cartesian product
 * of the grid, in a shuffled (seeded) order. Trial number i takes grid point i while i is below
 * the grid's size; later trials (parallel workers, or a study resumed) take a random grid point
 * no finished or running trial has taken, or any not finished when all are running.
 *
 * The grid point of a trial is recorded in its system attributes `grid_id` and `search_space`
 * (what {@link GridSampler.beforeTrial} returns for the study to store), as Optuna records it,
 * so studies shared with Optuna see the same grid bookkeeping.
 * @group Samplers
 */
export class GridSampler implements Sampler {
  private readonly searchSpace: Record<string, CategoricalChoice[]>;
  private readonly paramNames: string[];
  private readonly allGrids: CategoricalChoice[][];
  private readonly rng: Rng;
  /** Grid ids chosen by {@link GridSampler.beforeTrial}, by trial id (until the study stores them). */
  private readonly chosen = new Map<number, number>();

  /**
   * @param searchSpace The values of each parameter (at least one each): null, booleans,
   * finite numbers or strings.
   * @param options See {@link GridSamplerOptions}.
   * @throws TypeError or RangeError naming a bad argument and the received value.
   */
  constructor(searchSpace: GridSearchSpace, options: GridSamplerOptions = {}) {
    const where = 'GridSampler';
    if (searchSpace === null || typeof searchSpace !== 'object' || Array.isArray(searchSpace)) {
      throw new TypeError(`${where}: expected searchSpace to be an object mapping parameter names to arrays of values, received ${describe(searchSpace)}`);
    }
    checkOptions(where, options, ['seed']);
    const seed = checkSeed(where, options?.seed) ?? 0;
    this.paramNames = sortedNames(Object.keys(searchSpace));
    this.searchSpace = {};
    for (const name of this.paramNames) {
      const values = searchSpace[name];
      if (!Array.isArray(values)) throw new TypeError(`${where}: expected searchSpace.${name} to be an array of values, received ${describe(values)}`);
      if (values.length === 0) throw new RangeError(`${where}: expected searchSpace.${name} to hold at least one value, received []`);
      values.forEach((v: unknown, i) => {
        const ok = v === null || typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && !Number.isNaN(v) && Number.isFinite(v));
        if (!ok) throw new TypeError(`${where}: expected searchSpace.${name}[${i}] to be null, a boolean, a finite number or a string, received ${describe(v)}`);
      });
      this.searchSpace[name] = [...values];
    }
    // itertools.product over the names in sorted order: the last name varies fastest.
    let grids: CategoricalChoice[][] = [[]];
    for (const name of this.paramNames) {
      const next: CategoricalChoice[][] = [];
      for (const g of grids) for (const v of this.searchSpace[name]!) next.push([...g, v]);
      grids = next;
    }
    this.allGrids = grids;
    this.rng = new Rng(seed);
    this.rng.shuffle(this.allGrids);
  }

  /** The number of grid points (the product of the numbers of values). */
  get gridSize(): number {
    return this.allGrids.length;
  }

  /** Restarts the random stream from the OS's random source (Optuna's `reseed_rng`). */
  reseedRng(): void {
    this.rng.reseed();
  }

  /**
   * Picks the trial's grid point and returns the system attributes to store on the trial:
   * `{ search_space, grid_id }` (Optuna's `before_trial` writes the same). Returns nothing for
   * a trial that already has a `grid_id` or was enqueued with fixed params (`fixed_params`).
   */
  beforeTrial(study: StudyView, trial: FrozenTrial): void | Record<string, JsonValue> {
    if ('grid_id' in trial.systemAttrs || 'fixed_params' in trial.systemAttrs) return;
    let gridId: number;
    if (trial.number >= 0 && trial.number < this.allGrids.length) {
      gridId = trial.number;
    } else {
      let target = this.unvisitedGridIds(study);
      // Every grid point has finished: Optuna warns and re-evaluates one.
      if (target.length === 0) target = this.allGrids.map((_, i) => i);
      gridId = target[this.rng.integer(target.length)]!;
    }
    this.chosen.set(trial.trialId, gridId);
    return { search_space: this.searchSpaceJson(), grid_id: gridId };
  }

  private searchSpaceJson(): Record<string, JsonValue> {
    const out: Record<string, JsonValue> = {};
    for (const name of this.paramNames) out[name] = [...this.searchSpace[name]!];
    return out;
  }

  /** No joint sampling: always `{}`. */
  inferRelativeSearchSpace(_study: StudyView, _trial: FrozenTrial): Record<string, Distribution> {
    return {};
  }

  /** No joint sampling: always `{}`. */
  sampleRelative(_study: StudyView, _trial: FrozenTrial, _searchSpace: Record<string, Distribution>): Record<string, number> {
    return {};
  }

  /**
   * The trial's grid value of `name`, as an internal number: the value itself for numeric
   * distributions (used even outside the distribution's range, as Optuna does after a
   * warning), the index among the choices for categorical ones.
   * @throws Error if `name` is not in the grid, if the trial has no grid point (an enqueued
   * trial must fix every grid parameter), or if the value is not one of the choices or not a
   * number for a numeric parameter.
   */
  sampleIndependent(_study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): number {
    const attr = trial.systemAttrs.grid_id;
    const gridId = typeof attr === 'number' ? attr : this.chosen.get(trial.trialId);
    if (gridId === undefined) throw new Error('GridSampler: All parameters must be specified when using GridSampler with enqueue_trial.');
    const index = this.paramNames.indexOf(name);
    if (index < 0) throw new Error(`GridSampler: The parameter name, ${name}, is not found in the given grid.`);
    const grid = this.allGrids[gridId];
    if (grid === undefined) throw new Error(`GridSampler: trial ${trial.number} has grid_id ${gridId}, outside this grid of ${this.allGrids.length} points`);
    const value = grid[index]!;
    if (distribution.type === 'categorical') {
      const i = distribution.choices.findIndex((c) => gridValueEqual(c, value) && typeof c === typeof value);
      if (i < 0) throw new Error(`GridSampler: the grid value ${describe(value)} of ${JSON.stringify(name)} is not one of its choices ${describe(distribution.choices)}`);
      return i;
    }
    if (typeof value !== 'number') throw new Error(`GridSampler: the grid value ${describe(value)} of ${JSON.stringify(name)} is not a number, but the parameter is a ${distribution.type}`);
    return value;
  }

  /** Forgets the grid point remembered for the trial. */
  afterTrial(_study: StudyView, trial: FrozenTrial, _state: TrialState, _values: readonly number[] | null): void {
    this.chosen.delete(trial.trialId);
  }

  /**
   * Whether every grid point has been evaluated by a finished trial (Optuna's `is_exhausted`).
   * Optuna's sampler stops the study itself after the trial that exhausts the grid; here the
   * study asks this.
   */
  isExhausted(study: StudyView): boolean {
    return this.unvisitedGridIds(study).length === 0;
  }

  /**
   * The grid ids no finished or running trial of this grid has (`_get_unvisited_grid_ids`),
   * or, when every one is taken, those no finished trial has; ascending.
   */
  private unvisitedGridIds(study: StudyView): number[] {
    const visited = new Set<number>();
    const running = new Set<number>();
    for (const t of study.getTrials()) {
      const id = typeof t.systemAttrs.grid_id === 'number' ? t.systemAttrs.grid_id : this.chosen.get(t.trialId);
      if (id === undefined) continue;
      if ('grid_id' in t.systemAttrs && !this.sameSearchSpace(t.systemAttrs.search_space)) continue;
      if (isFinished(t.state)) visited.add(id);
      else if (t.state === TrialState.RUNNING) running.add(id);
    }
    const all = this.allGrids.map((_, i) => i);
    const unvisited = all.filter((i) => !visited.has(i) && !running.has(i));
    return unvisited.length > 0 ? unvisited : all.filter((i) => !visited.has(i));
  }

  /** Whether a stored `search_space` attribute is this grid (`_same_search_space`). */
  private sameSearchSpace(stored: JsonValue | undefined): boolean {
    if (stored === null || stored === undefined || typeof stored !== 'object' || Array.isArray(stored)) return false;
    const keys = Object.keys(stored);
    if (keys.length !== this.paramNames.length || !keys.every((k) => k in this.searchSpace)) return false;
    for (const name of this.paramNames) {
      const a = stored[name];
      const b = this.searchSpace[name]!;
      if (!Array.isArray(a) || a.length !== b.length) return false;
      if (!a.every((v, i) => gridValueEqual(v, b[i]))) return false;
    }
    return true;
  }
}
