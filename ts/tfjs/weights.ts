/**
 * An optimizer's state dict as tfjs weights: its JSON skeleton (steps, options, names) in one
 * string tensor and every state buffer, bit for bit, in one flat float32 tensor.
 * @module
 */
import { decodeFloat } from '../optim/optimizer.js';
import { describeValue } from '../validate.js';

/** Version of the layout below, written into the skeleton. */
export const WEIGHTS_FORMAT = 1;

/** Where a buffer sits in the flat tensor. */
interface BufferRef {
  $buffer: [offset: number, length: number];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Maps the values of a keyed object (a state dict's `state` or `slowState`); null-prototype out. */
function mapEntries(o: unknown, f: (entry: unknown, key: string) => unknown): unknown {
  if (o === null || typeof o !== 'object') return o;
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(o)) out[k] = f(v, k);
  return out;
}

/** The state dict's buffers (the arrays inside `state` entries and `slowState` entries). */
function mapBuffers(sd: unknown, f: (buffer: unknown) => unknown): unknown {
  if (sd === null || typeof sd !== 'object') return sd;
  const entryBuffers = (entry: unknown): unknown =>
    entry === null || typeof entry !== 'object'
      ? entry
      : Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, Array.isArray(v) || (v !== null && typeof v === 'object' && '$buffer' in v) ? f(v) : v]));
  const o = sd as Record<string, unknown>;
  if ('fastState' in o) {
    return { ...o, fastState: mapBuffers(o.fastState, f), slowState: mapEntries(o.slowState, entryBuffers) };
  }
  return { ...o, state: mapEntries(o.state, entryBuffers) };
}

/**
 * Splits a state dict (an optimizer's or a Lookahead's) into its JSON skeleton and one flat
 * Float32Array of its buffers.
 */
export function packState(sd: unknown, extra: Record<string, Json>): { json: string; flat: Float32Array } {
  const buffers: unknown[][] = [];
  let total = 0;
  const skeleton = mapBuffers(sd, (b) => {
    const arr = b as unknown[];
    const ref: BufferRef = { $buffer: [total, arr.length] };
    buffers.push(arr);
    total += arr.length;
    return ref;
  });
  const flat = new Float32Array(total);
  let at = 0;
  for (const arr of buffers) {
    for (let i = 0; i < arr.length; i++) flat[at + i] = decodeFloat(arr[i]) ?? NaN;
    at += arr.length;
  }
  return { json: JSON.stringify({ format: WEIGHTS_FORMAT, ...extra, stateDict: skeleton }), flat };
}

/**
 * The inverse of {@link packState}: the parsed skeleton with every buffer reference replaced by a
 * Float32Array view of `flat`. References are checked to lie inside `flat` before any is taken;
 * the optimizer's own `loadStateDict` checks the rest.
 */
export function unpackState(ctx: string, json: string, flat: Float32Array): { stateDict: unknown; extra: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new TypeError(`${ctx}: the saved optimizer state is not JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || (parsed as { format?: unknown }).format !== WEIGHTS_FORMAT) {
    throw new TypeError(`${ctx}: expected saved optimizer state of format ${WEIGHTS_FORMAT}, received ${describeValue((parsed as { format?: unknown } | null)?.format)}`);
  }
  const { stateDict, ...extra } = parsed as { stateDict?: unknown };
  const out = mapBuffers(stateDict, (ref) => {
    const r = (ref as Partial<BufferRef>).$buffer;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isInteger(x) && x >= 0) || r[0] + r[1] > flat.length) {
      throw new RangeError(`${ctx}: a saved state buffer points outside the ${flat.length} saved values, received ${describeValue(r ?? ref)}`);
    }
    return flat.subarray(r[0], r[0] + r[1]);
  });
  return { stateDict: out, extra };
}
