/**
 * The state store's arenas: `compact()` gathers the buffers of small arenas into one, bit for
 * bit, leaves large arenas where they are, and does nothing when there is nothing to gather.
 */
import test from 'ava';
import { StateStore } from '../ts/optim/state-store.js';

function bits(a: Float32Array | null): number[] {
  return a === null ? [] : Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

test('compact() gathers buffers created part by part into one arena, keeping every bit', (t) => {
  const store = new StateStore(2);
  store.addParams(5);
  // One create per parameter, as a step in parts does layer by layer: five arenas.
  for (let id = 0; id < 5; id++) store.create([{ id, slot: 0, length: 3 + id, fill: 0 }, ...(id % 2 === 0 ? [{ id, slot: 1, length: 17, fill: 1.5 }] : [])]);
  t.is(store.arenas.length, 5);
  // Distinct bits in every buffer, NaN payloads and -0 included.
  for (let id = 0; id < 5; id++) {
    const u = new Uint32Array(store.get(id, 0)!.buffer, store.get(id, 0)!.byteOffset, 3 + id);
    u.forEach((_, i) => (u[i] = 0x7fa00000 + 97 * id + i));
    u[0] = 0x80000000;
  }
  store.clearSlot(3, 0);
  const before = [0, 1, 2, 3, 4].map((id) => [bits(store.get(id, 0)), bits(store.get(id, 1))]);
  const have = Array.from(store.have);
  store.compact();
  t.is(store.arenas.length, 1);
  t.deepEqual([0, 1, 2, 3, 4].map((id) => [bits(store.get(id, 0)), bits(store.get(id, 1))]), before);
  t.deepEqual(Array.from(store.have), have);
  t.is(store.get(3, 0), null);
  // `where` points the native side at the same views: arena 0, each view's offset.
  for (let id = 0; id < 5; id++) {
    for (let slot = 0; slot < 2; slot++) {
      const k = id * 2 + slot;
      const view = store.get(id, slot);
      t.is(store.where[2 * k], view === null ? -1 : 0);
      if (view !== null) {
        t.is(view.buffer, store.arenas[0]!.buffer);
        t.is(store.where[2 * k + 1], view.byteOffset / 4);
      }
    }
  }
  // Nothing left to gather: the same arena stays.
  const arena = store.arenas[0];
  store.compact();
  t.is(store.arenas[0], arena);
});

test('compact() leaves a large arena where it is and gathers the small ones around it', (t) => {
  const store = new StateStore(1);
  store.addParams(3);
  const big = (1 << 26) / 16; // SMALL_ARENA elements: not small
  store.create([{ id: 0, slot: 0, length: 5, fill: 1 }]);
  store.create([{ id: 1, slot: 0, length: big, fill: 2 }]);
  store.create([{ id: 2, slot: 0, length: 7, fill: 3 }]);
  const large = store.arenas[1];
  store.compact();
  t.is(store.arenas.length, 2);
  t.is(store.arenas[0], large);
  t.is(store.where[2], 0);
  t.is(store.where[0], 1);
  t.is(store.where[4], 1);
  t.deepEqual([store.get(0, 0)![4], store.get(1, 0)![big - 1], store.get(2, 0)![6]], [1, 2, 3]);
  t.is(store.get(0, 0)!.buffer, store.get(2, 0)!.buffer);
});

test('compact() leaves alone arenas it cannot reduce', (t) => {
  const store = new StateStore(1);
  store.addParams(2);
  store.create([{ id: 0, slot: 0, length: 8, fill: 2 }, { id: 1, slot: 0, length: 8, fill: 3 }]);
  const arena = store.arenas[0];
  store.compact();
  t.is(store.arenas.length, 1);
  t.is(store.arenas[0], arena);
  t.deepEqual(Array.from(store.get(1, 0)!), new Array(8).fill(3));
});
