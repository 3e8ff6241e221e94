/**
 * Where an optimizer's state buffers live: views into a few large Float32Arrays.
 * @module
 */
import { native } from '../native.js';

/** Most elements in one arena (256 MiB); a larger buffer gets an arena of its own. */
const ARENA_MAX = 1 << 26;
/** Arenas under this many elements (16 MiB) are gathered by {@link StateStore.compact}. */
const SMALL_ARENA = ARENA_MAX / 16;
/**
 * Buffers start at multiples of 16 elements (64 bytes, a cache line) from the arena's start, so
 * each is aligned as the arena is, as a separately allocated buffer would be.
 */
const ALIGN = 16;

const padded = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** A buffer to place: (parameter, slot) index `k`, its length, and its fill or the values to copy. */
interface Placement {
  k: number;
  length: number;
  fill: number;
  from: Float32Array | null;
}

/**
 * How buffers in order share arenas: runs `[start, end)` of at most {@link ARENA_MAX} elements in
 * all, a larger buffer alone, each with its arena's length (the buffers padded).
 */
function arenaRuns(items: readonly { length: number }[]): [start: number, end: number, total: number][] {
  const runs: [number, number, number][] = [];
  let start = 0;
  while (start < items.length) {
    let end = start;
    let total = 0;
    while (end < items.length && (end === start || total + items[end]!.length <= ARENA_MAX)) total += padded(items[end++]!.length);
    runs.push([start, end, total]);
    start = end;
  }
  return runs;
}

/** A state buffer to create: parameter `id`'s slot `slot`, `length` elements filled with `fill`. */
export interface SlotRequest {
  id: number;
  slot: number;
  length: number;
  fill: number;
}

/**
 * The state buffers (`expAvg`, `momentumBuffer`, ...) of one optimizer. Each is a view into one of
 * a few large V8-owned Float32Arrays, the arenas, so the garbage collector accounts for the
 * state and frees it with the optimizer, synchronously, with no native finalizer to wait for;
 * and a step hands the native side the arenas and one table of offsets instead of one typed
 * array per buffer (each costs a Node-API call per step).
 *
 * The native step reads `where`: for parameter `id` and slot `s`, `where[2k]` (k = id · slots + s)
 * is the index of the arena that holds it, or -1, and `where[2k + 1]` its offset there. An arena
 * is freed when none of its buffers is in use; a buffer that is dropped on its own (a load that
 * replaces one parameter's state) leaves its room unused until the arena goes.
 */
export class StateStore {
  /** The arenas, in the order `where` indexes them. */
  readonly arenas: Float32Array[] = [];
  /**
   * Arena index (or -1) and offset of each (parameter, slot); see the class remarks. Offsets fit
   * an Int32Array: a shared arena holds at most {@link ARENA_MAX} elements, a larger buffer starts
   * at 0 of its own.
   */
  where = new Int32Array(0);
  /** Per parameter: bit s is set when it has slot s, so a step tests all its slots at once. */
  have = new Uint8Array(0);
  readonly #views: Array<Float32Array | null> = [];
  /** The arena count with which {@link StateStore.compact} last found nothing to gather (it does nothing again until that changes). */
  #compacted = 0;

  /** @param slots - state buffers per parameter (the kernel's slot count). */
  constructor(readonly slots: number) {}

  /** Registers `count` more parameters, without state. */
  addParams(count: number): void {
    const params = this.have.length + count;
    const k = params * this.slots;
    if (2 * k > this.where.length) {
      const grown = new Int32Array(Math.max(2 * k, 2 * this.where.length)).fill(-1);
      grown.set(this.where);
      this.where = grown;
    }
    const have = new Uint8Array(params);
    have.set(this.have);
    this.have = have;
    while (this.#views.length < k) this.#views.push(null);
  }

  /** Slot `slot` of parameter `id`, or null when it has none. */
  get(id: number, slot: number): Float32Array | null {
    return this.#views[id * this.slots + slot] ?? null;
  }

  /**
   * Creates the requested buffers (none may exist yet) in new arenas and returns them, in order.
   * {@link StateStore.discard} with the same requests undoes it while no other buffer was created.
   */
  create(requests: readonly SlotRequest[]): Float32Array[] {
    return this.#place(requests.map(({ id, slot, length, fill }) => ({ k: id * this.slots + slot, length, fill, from: null })));
  }

  /**
   * Gathers the buffers of small arenas (under {@link SMALL_ARENA} elements each) into one new
   * arena, keeping their bits. A step hands the native side every arena (a Node-API call each),
   * and a step in parts creates state part by part: without this, a model's first step taken
   * layer by layer left an arena per layer, passed again to every later update (L² calls per
   * step for L layers). One call copies at most {@link ARENA_MAX} elements, so it adds at most an
   * arena's memory for a moment; the next call (the next step) gathers the rest. Views taken
   * before no longer alias the state.
   */
  compact(): void {
    if (this.arenas.length === this.#compacted) return;
    // Live elements per arena, then the small arenas, in order, as many as one arena holds.
    const used = new Array<number>(this.arenas.length).fill(0);
    this.#views.forEach((view, k) => view !== null && (used[this.where[2 * k]!]! += padded(view.length)));
    const take = new Set<number>();
    let total = 0;
    this.arenas.forEach((arena, i) => {
      if (arena.length < SMALL_ARENA && total + used[i]! <= ARENA_MAX) {
        take.add(i);
        total += used[i]!;
      }
    });
    if (take.size >= 2) {
      // The arenas kept, renumbered in order; the taken ones' buffers move to one new arena.
      const moved: Placement[] = [];
      const kept: Float32Array[] = [];
      const index = new Map<number, number>();
      this.arenas.forEach((arena, i) => {
        if (!take.has(i)) index.set(i, kept.push(arena) - 1);
      });
      this.#views.forEach((view, k) => {
        if (view === null) return;
        const a = this.where[2 * k]!;
        if (take.has(a)) moved.push({ k, length: view.length, fill: 0, from: view });
        else this.where[2 * k] = index.get(a)!;
      });
      this.arenas.length = 0;
      this.arenas.push(...kept);
      this.#place(moved);
    } else {
      this.#compacted = this.arenas.length;
    }
  }

  /** Places buffers in new arenas, each filled with `fill` or copied from `from`; returns them. */
  #place(items: readonly Placement[]): Float32Array[] {
    const out: Float32Array[] = [];
    for (const [start, end, total] of arenaRuns(items)) {
      const arena = new Float32Array(total);
      // Before the fill below or the first step touches it (large arenas only; a hint).
      native.adviseHugePages(arena);
      const index = this.arenas.push(arena) - 1;
      let offset = 0;
      for (let r = start; r < end; r++) {
        const { k, length, fill, from } = items[r]!;
        const view = arena.subarray(offset, offset + length);
        if (from !== null) view.set(from);
        else if (fill !== 0) view.fill(fill);
        this.where[2 * k] = index;
        this.where[2 * k + 1] = offset;
        this.#views[k] = view;
        this.have[Math.floor(k / this.slots)]! |= 1 << k % this.slots;
        out.push(view);
        offset += padded(length);
      }
    }
    return out;
  }

  /** Undoes the last {@link StateStore.create} of `requests`. */
  discard(requests: readonly SlotRequest[], created: readonly Float32Array[]): void {
    for (const { id, slot } of requests) this.#drop(id * this.slots + slot);
    const arenas = new Set(created.map((v) => v.buffer));
    while (this.arenas.length > 0 && arenas.has(this.arenas[this.arenas.length - 1]!.buffer)) this.arenas.pop();
  }

  /** Drops slot `slot` of parameter `id`. */
  clearSlot(id: number, slot: number): void {
    this.#drop(id * this.slots + slot);
  }

  /** Drops every buffer and arena. */
  clearAll(): void {
    this.arenas.length = 0;
    this.where.fill(-1);
    this.have.fill(0);
    this.#views.fill(null);
  }

  #drop(k: number): void {
    this.where[2 * k] = -1;
    this.where[2 * k + 1] = 0;
    this.have[Math.floor(k / this.slots)]! &= ~(1 << k % this.slots);
    this.#views[k] = null;
  }
}
