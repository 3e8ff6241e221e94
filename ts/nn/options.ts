/**
 * Argument checks shared by the layers.
 * @module
 */
import { checkNumber, describeValue } from '../validate.js';
import { Generator, defaultGenerator } from './generator.js';

/** A size given as one number for both axes or as `[height, width]`. */
export type Size2 = number | readonly [number, number];

/** @internal Resolves a {@link Size2} to a pair, checking each entry. */
export function pair(ctx: string, name: string, v: unknown, min: number): [number, number] {
  if (typeof v === 'number') {
    checkNumber(ctx, name, v, { integer: true, min });
    return [v, v];
  }
  if (Array.isArray(v) && v.length === 2) {
    checkNumber(ctx, `${name}[0]`, v[0], { integer: true, min });
    checkNumber(ctx, `${name}[1]`, v[1], { integer: true, min });
    return [v[0] as number, v[1] as number];
  }
  throw new TypeError(`${ctx}: expected ${name} to be an integer >= ${min} or a pair of them, received ${describeValue(v)}`);
}

/** @internal The generator option, defaulting to the shared one. */
export function generatorOption(ctx: string, g: unknown): Generator {
  if (g === undefined) return defaultGenerator;
  if (!(g instanceof Generator)) throw new TypeError(`${ctx}: expected generator to be a Generator, received ${describeValue(g)}`);
  return g;
}

/** @internal Checks a boolean option with a default. */
export function boolOption(ctx: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${ctx}: expected ${name} to be a boolean, received ${describeValue(v)}`);
  return v;
}

/** @internal Formats a shape for messages. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
