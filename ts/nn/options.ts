/**
 * Argument checks shared by the layers.
 * @module
 */
import { MAX_ELEMENTS, checkBoolean, checkNumber, describeValue } from '../validate.js';
import { Generator, defaultGenerator } from './generator.js';

/**
 * A size given as one number for both axes or as `[height, width]`.
 * @group Layers and models
 */
export type Size2 = number | readonly [number, number];

/** @internal Resolves a {@link Size2} to a pair, checking each entry (an integer in [min, 2^31 − 1]). */
export function pair(ctx: string, name: string, v: unknown, min: number): [number, number] {
  if (typeof v === 'number') {
    sizeAtLeast(ctx, name, v, min);
    return [v, v];
  }
  if (Array.isArray(v) && v.length === 2) {
    sizeAtLeast(ctx, `${name}[0]`, v[0], min);
    sizeAtLeast(ctx, `${name}[1]`, v[1], min);
    return [v[0] as number, v[1] as number];
  }
  throw new TypeError(`${ctx}: expected ${name} to be an integer >= ${min} or a pair of them, received ${describeValue(v)}`);
}

/** @internal Checks a size argument: an integer in [1, 2^31 − 1]. */
export function size(ctx: string, name: string, v: unknown): number {
  return sizeAtLeast(ctx, name, v, 1);
}

/** An integer >= min, and (a separate check, so the usual message stays) at most 2^31 − 1. */
function sizeAtLeast(ctx: string, name: string, v: unknown, min: number): number {
  const n = checkNumber(ctx, name, v, { integer: true, min });
  if (n > MAX_ELEMENTS) throw new RangeError(`${ctx}: expected ${name} to be at most ${MAX_ELEMENTS}, received ${describeValue(n)}`);
  return n;
}

/** @internal Checks that a tensor of `shape`, about to be allocated, holds at most 2^31 − 1 elements. */
export function checkOutputSize(ctx: string, what: string, shape: readonly number[]): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!(n <= MAX_ELEMENTS)) throw new RangeError(`${ctx}: ${what} ${shapeText(shape)} would hold ${n} elements, more than ${MAX_ELEMENTS}`);
}

/** @internal The generator option, defaulting to the shared one. */
export function generatorOption(ctx: string, g: unknown): Generator {
  if (g === undefined) return defaultGenerator;
  if (!(g instanceof Generator)) throw new TypeError(`${ctx}: expected generator to be a Generator, received ${describeValue(g)}`);
  return g;
}

/** @internal Checks a boolean option with a default. */
export function boolOption(ctx: string, name: string, v: unknown, dflt: boolean): boolean {
  return v === undefined ? dflt : checkBoolean(ctx, name, v);
}

/** @internal Formats a shape for messages. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
