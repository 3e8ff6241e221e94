/**
 * Where a TensorFlow.js tensor's float32 values live, and whether ferroptim may write them in
 * place. This file is the only one that looks inside a tfjs backend; everything it reads is
 * feature-tested, and a backend it does not know gets the copying path.
 * @module
 */
import type { Tensor } from '@tensorflow/tfjs-core';

/** Direct access to the storage of one backend's tensors. */
export interface BackendStorage {
  /** The backend's name (`'cpu'`, `'wasm'`). */
  readonly name: string;
  /**
   * Whether a tensor's storage may be written in place: true on cpu, whose kernels read the values
   * afresh each time; false on wasm, whose XNNPACK kernels keep packed copies of weights keyed by
   * tensor id (a weight changed in place would be multiplied by its stale packed copy).
   */
  readonly writable: boolean;
  /**
   * Whether `tf.tensor(values)` copies `values` into the backend (so the caller may reuse them):
   * true on wasm (the heap), false on cpu (which keeps the array itself).
   */
  readonly copiesOnWrite: boolean;
  /**
   * A live Float32Array over the tensor's storage (writes change the tensor), or null when this
   * backend does not hold the tensor's data or it is not float32 of the tensor's size.
   */
  view(t: Tensor): Float32Array | null;
  /** How many tensors share the tensor's storage (1: the tensor is its only holder). */
  refCount(t: Tensor): number;
}

type DataId = object;
interface CpuBackend {
  data: { has(id: DataId): boolean; get(id: DataId): { values?: unknown } | undefined };
  refCount(id: DataId): number;
}
interface WasmBackend {
  dataIdMap: { has(id: DataId): boolean };
  typedArrayFromHeap(info: { shape: number[]; dtype: string; dataId: DataId }): unknown;
  refCount(id: DataId): number;
}

function isFunction(v: unknown): v is (...args: never[]) => unknown {
  return typeof v === 'function';
}

function checked(t: Tensor, a: unknown): Float32Array | null {
  return a instanceof Float32Array && a.length === t.size ? a : null;
}

/**
 * The storage access for a backend: tfjs-backend-cpu keeps each tensor's values in a JS typed
 * array (`backend.data.get(dataId).values`); tfjs-backend-wasm keeps them in the WebAssembly heap
 * (`typedArrayFromHeap`), read in place but not written. Any other backend (webgl, tfjs-node's
 * TensorFlow) returns null: its data is copied in and out.
 */
export function storageOf(name: string, backend: unknown): BackendStorage | null {
  if (backend === null || typeof backend !== 'object') return null;
  const b = backend as Partial<CpuBackend & WasmBackend>;
  if (name === 'cpu' && isFunction(b.refCount) && b.data && isFunction(b.data.has) && isFunction(b.data.get)) {
    const cpu = b as CpuBackend;
    return {
      name,
      writable: true,
      copiesOnWrite: false,
      view: (t) => (t.dtype === 'float32' && cpu.data.has(t.dataId) ? checked(t, cpu.data.get(t.dataId)?.values) : null),
      refCount: (t) => cpu.refCount(t.dataId),
    };
  }
  if (name === 'wasm' && isFunction(b.refCount) && isFunction(b.typedArrayFromHeap) && b.dataIdMap && isFunction(b.dataIdMap.has)) {
    const wasm = b as WasmBackend;
    return {
      name,
      writable: false,
      copiesOnWrite: true,
      // A view of the heap as it is now: the heap may grow (and its old buffer detach) at the
      // next allocation, so views are taken after every allocation of a step and used at once.
      view: (t) =>
        t.dtype === 'float32' && wasm.dataIdMap.has(t.dataId) ? checked(t, wasm.typedArrayFromHeap({ shape: t.shape, dtype: t.dtype, dataId: t.dataId })) : null,
      refCount: (t) => wasm.refCount(t.dataId),
    };
  }
  return null;
}
