/**
 * Search spaces inferred from a study's trials, for relative (joint) sampling: Optuna's
 * `optuna/search_space/intersection.py` (`IntersectionSearchSpace`) and
 * `group_decomposed.py` (`_SearchSpaceGroup`, `_GroupDecomposedSearchSpace`).
 * @module
 */
import { sameDistribution, type Distribution } from '../distributions.js';
import { TrialState, type FrozenTrial } from '../types.js';

/** Compares strings by Unicode code point, as Python sorts `str` (JS compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

/** `names` sorted as Python's `sorted()` sorts strings. */
export function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort(compareCodePoints);
}

/**
 * The parameters every finished trial has, with the same distribution in each (Optuna's
 * `IntersectionSearchSpace`): over the COMPLETE trials, and PRUNED ones when `includePruned`;
 * FAIL, RUNNING and WAITING trials do not count. Kept up to date incrementally, as Optuna
 * does: each finished trial is folded in once, by trial id (a finished trial never changes),
 * so a call only looks at the trials that finished since the last one. One instance per study.
 */
export class IntersectionSearchSpace {
  private readonly folded = new Set<number>();
  /** The intersection of the folded trials' distributions (null before the first). */
  private space: Map<string, Distribution> | null = null;

  /** @param includePruned Whether PRUNED trials count (COMPLETE ones always do). */
  constructor(private readonly includePruned: boolean) {}

  /**
   * The intersection search space of `trials` (all of the study's trials, any states): sorted
   * by name, each distribution the one of the last qualifying trial of `trials` (as Optuna's,
   * which starts from the newest trial); empty when no trial qualifies.
   */
  calculate(trials: readonly FrozenTrial[]): Record<string, Distribution> {
    const includePruned = this.includePruned;
    for (let i = 0; i < trials.length; i++) {
      const t = trials[i]!;
      if (!(t.state === TrialState.COMPLETE || (includePruned && t.state === TrialState.PRUNED))) continue;
      if (this.folded.has(t.trialId)) continue;
      this.folded.add(t.trialId);
      if (this.space === null) {
        this.space = new Map(Object.entries(t.distributions));
        continue;
      }
      for (const [name, d] of this.space) {
        const other = Object.prototype.hasOwnProperty.call(t.distributions, name) ? t.distributions[name] : undefined;
        if (other === undefined || !sameDistribution(other, d)) this.space.delete(name);
      }
    }
    const out: Record<string, Distribution> = {};
    if (this.space === null) return out;
    // Optuna starts from the newest qualifying trial and only deletes, so its distributions are
    // that trial's (the same ones, by sameDistribution, as every other's).
    let last: FrozenTrial | undefined;
    for (let i = trials.length - 1; i >= 0 && last === undefined; i--) {
      const t = trials[i]!;
      if (t.state === TrialState.COMPLETE || (includePruned && t.state === TrialState.PRUNED)) last = t;
    }
    for (const name of sortedNames(this.space.keys())) out[name] = last!.distributions[name]!;
    return out;
  }
}

/**
 * The coarsest partition of the parameters seen so far such that each trial's parameter set is
 * a union of parts (`_SearchSpaceGroup`), built by adding trials' distributions in order. A
 * part keeps the distribution under which its parameter was first seen.
 */
export class SearchSpaceGroup {
  private spaces: Map<string, Distribution>[] = [];

  /** A partition with the same parts. */
  copy(): SearchSpaceGroup {
    const c = new SearchSpaceGroup();
    c.spaces = this.spaces.map((m) => new Map(m));
    return c;
  }

  /** The parts, in Optuna's order (each a map from parameter name to distribution). */
  get searchSpaces(): readonly ReadonlyMap<string, Distribution>[] {
    return this.spaces;
  }

  /**
   * Refines the partition with one trial's parameters (`add_distributions`): each part splits
   * into its names inside and outside the trial; the trial's new names form a new last part.
   */
  addDistributions(distributions: Readonly<Record<string, Distribution>>): void {
    const distKeys = new Set(Object.keys(distributions));
    const next: Map<string, Distribution>[] = [];
    for (const space of this.spaces) {
      const inside = new Map<string, Distribution>();
      const outside = new Map<string, Distribution>();
      for (const [name, d] of space) (distKeys.has(name) ? inside : outside).set(name, d);
      next.push(inside, outside);
      for (const name of space.keys()) distKeys.delete(name);
    }
    next.push(new Map([...distKeys].map((name) => [name, distributions[name]!] as const)));
    this.spaces = next.filter((s) => s.size > 0);
  }
}

/**
 * The group-decomposed search space of a study (`_GroupDecomposedSearchSpace`): one partition
 * per study, kept across calls, which every call refines with the COMPLETE trials (and PRUNED
 * ones when `includePruned`) in trial order. Kept, not rebuilt: when trials finish out of order
 * the parts come in the order they were first split, as in Optuna, and that order decides the
 * order of the random draws.
 */
export class GroupDecomposedSearchSpace {
  readonly #group = new SearchSpaceGroup();
  readonly #includePruned: boolean;

  /** @param includePruned Refine with PRUNED trials too. */
  constructor(includePruned: boolean) {
    this.#includePruned = includePruned;
  }

  /** The partition after refining it with `trials`, as a copy (the next call may refine it further). */
  calculate(trials: readonly FrozenTrial[]): SearchSpaceGroup {
    for (const t of trials) {
      if (t.state === TrialState.COMPLETE || (this.#includePruned && t.state === TrialState.PRUNED)) this.#group.addDistributions(t.distributions);
    }
    return this.#group.copy();
  }
}
