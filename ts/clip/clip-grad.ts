/**
 * Gradient clipping and norms, computed natively over all gradients in one call.
 * @module
 */
import { mapNativeError, native } from '../native.js';
import { Parameter } from '../tensor.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';

/**
 * Options of {@link clipGradNorm} and {@link getTotalNorm}.
 * @group Clipping and monitoring
 */
export interface ClipGradNormOptions {
  /** Order p of the norm: any number > 0, or `Infinity` for the max norm. @defaultValue 2 */
  normType?: number;
  /** Throw a RangeError, before changing any gradient, when the total norm is NaN or infinite. @defaultValue false */
  errorIfNonfinite?: boolean;
}

/** The non-null gradients of `params` (a Parameter or an iterable of them), checked. */
export function gradsOf(ctx: string, params: Parameter | Iterable<Parameter>): Float32Array[] {
  const list = params instanceof Parameter ? [params] : params;
  if (list === null || typeof list !== 'object' || typeof (list as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`${ctx}: expected params to be a Parameter or an iterable of Parameters, received ${describeValue(params)}`);
  }
  const grads: Float32Array[] = [];
  let i = 0;
  for (const p of list as Iterable<unknown>) {
    if (!(p instanceof Parameter)) throw new TypeError(`${ctx}: expected params[${i}] to be a Parameter, received ${describeValue(p)}`);
    const g = p.grad;
    if (g !== null) {
      if (g.length !== p.numel) {
        throw new RangeError(`${ctx}: expected grad of ${Parameter.describe(p, i)} to have length ${p.numel}, received ${g.length} (its buffer was detached or transferred)`);
      }
      grads.push(g);
    }
    i++;
  }
  return grads;
}

function normTypeOf(ctx: string, options: ClipGradNormOptions | undefined, known: readonly string[]): number {
  const o = checkOptions(ctx, options);
  checkKnownKeys(ctx, o, known);
  // Only an absent option takes the default: null is a wrong value like any other.
  const p = o.normType === undefined ? 2 : o.normType;
  if (p !== Infinity) checkNumber(ctx, 'normType', p, { above: 0 });
  return p as number;
}

/**
 * The total p-norm of the gradients of `params`, as PyTorch's `get_total_norm`: the norm of the
 * per-gradient norms. Parameters whose grad is `null` are skipped; no gradient gives 0.
 *
 * @remarks Accumulated in f64 over fixed chunks and combined in order: the same bits whatever the
 * thread count.
 * @example
 * ```ts
 * const norm = getTotalNorm(model.parameters());
 * ```
 * @throws TypeError or RangeError for bad params or normType.
 * @group Clipping and monitoring
 */
export function getTotalNorm(params: Parameter | Iterable<Parameter>, options?: Pick<ClipGradNormOptions, 'normType'>): number {
  const ctx = 'getTotalNorm';
  const p = normTypeOf(ctx, options, ['normType']);
  const grads = gradsOf(ctx, params);
  try {
    return native.gradNorms(grads, p, null);
  } catch (e) {
    return mapNativeError(e, ctx);
  }
}

/**
 * Rescales the gradients of `params` in place so their total norm is at most `maxNorm`, as
 * `torch.nn.utils.clip_grad_norm_`, and returns the total norm before clipping.
 *
 * @remarks
 * ```text
 * total = ‖(‖g_1‖_p, …, ‖g_n‖_p)‖_p
 * coef  = min(maxNorm / (total + 1e-6), 1)      (float32, as PyTorch)
 * g     ← coef · g                               (skipped when coef = 1: the product would be g)
 * ```
 * One native read pass for the norm, and a scaling pass only when clipping is needed. As in
 * PyTorch, a NaN total turns every gradient into NaN unless `errorIfNonfinite` is set (pair it
 * with an optimizer's `skipNonFinite` to drop such steps).
 *
 * @example
 * ```ts
 * const norm = clipGradNorm(model.parameters(), 1.0);
 * optimizer.step();
 * ```
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.nn.utils.clip_grad_norm_.html | torch.nn.utils.clip_grad_norm_}
 * @throws TypeError or RangeError for bad arguments, overlapping gradients, or (with
 * `errorIfNonfinite`) a non-finite total norm; no gradient changes when it throws.
 * @group Clipping and monitoring
 */
export function clipGradNorm(params: Parameter | Iterable<Parameter>, maxNorm: number, options?: ClipGradNormOptions): number {
  const ctx = 'clipGradNorm';
  checkNumber(ctx, 'maxNorm', maxNorm, { min: 0 });
  const p = normTypeOf(ctx, options, ['normType', 'errorIfNonfinite']);
  const errorIfNonfinite = options?.errorIfNonfinite === undefined ? false : checkBoolean(ctx, 'errorIfNonfinite', options.errorIfNonfinite);
  const grads = gradsOf(ctx, params);
  try {
    return native.clipGradNorm(grads, maxNorm, p, errorIfNonfinite, null);
  } catch (e) {
    return mapNativeError(e, ctx);
  }
}

/**
 * Clamps every gradient element of `params` to [−clipValue, clipValue] in place, as
 * `torch.nn.utils.clip_grad_value_` (NaN stays NaN).
 * @example
 * ```ts
 * clipGradValue(model.parameters(), 0.5);
 * ```
 * @throws TypeError or RangeError for bad arguments or overlapping gradients.
 * @group Clipping and monitoring
 */
export function clipGradValue(params: Parameter | Iterable<Parameter>, clipValue: number): void {
  const ctx = 'clipGradValue';
  checkNumber(ctx, 'clipValue', clipValue, { min: 0 });
  const grads = gradsOf(ctx, params);
  try {
    native.clipGradValue(grads, clipValue);
  } catch (e) {
    mapNativeError(e, ctx);
  }
}
