/**
 * L-BFGS, as `torch.optim.LBFGS`: a quasi-Newton method over one flat vector of all parameters,
 * with an optional strong-Wolfe line search; `step(closure)` re-evaluates the model as often as
 * it needs.
 * @module
 */
import { Parameter } from '../tensor.js';
import { optionName } from './options.js';
import { flag, nonNegative, numberIn, validateOptions, type OptionSpec } from './descriptor.js';
import { checkKnownFields, checkKnownKeys, checkNumber, checkOptions, describeValue } from '../validate.js';
import { checkStateDictShape, clearGrads, groupInput, isGroupInput, paramsList, setToNoneOption, stateKeys } from './groups.js';
import { decodeBuffer, decodeFloat, disposedError, encodeFloat, type ParamsInput, type ZeroGradOptions } from './optimizer.js';

/**
 * Options of {@link LBFGS}; every field is optional. Names are torch's in camelCase
 * (`max_iter` → `maxIter`, `line_search_fn` → `lineSearchFn`).
 * @group Optimizers
 * @category Options and defaults
 */
export interface LBFGSOptions {
  /** Step length: the fixed step without line search, the line search's first trial otherwise (a finite number >= 0). @defaultValue 1 */
  lr?: number;
  /** Iterations per `step()` (an integer >= 0). @defaultValue 20 */
  maxIter?: number;
  /**
   * Closure evaluations per `step()` (an integer >= 0; >= 1 with `'strong_wolfe'` when maxIter
   * >= 1, where torch fails with an UnboundLocalError). Defaults to ⌊maxIter · 5/4⌋ of the
   * constructor's options, as torch computes it: a param group's own `maxIter` does not change it.
   * @defaultValue 25
   */
  maxEval?: number;
  /** A step ends when the largest |gradient| is at most this (first-order optimality; a finite number >= 0). @defaultValue 1e-7 */
  toleranceGrad?: number;
  /** A step ends when the loss or the parameters change by less than this (a finite number >= 0). @defaultValue 1e-9 */
  toleranceChange?: number;
  /** Number of (y, s) correction pairs kept (an integer >= 1; torch fails on 0). @defaultValue 100 */
  historySize?: number;
  /** `'strong_wolfe'` for torch's strong-Wolfe line search (c1 = 1e-4, c2 = 0.9), or `null` for fixed steps of `lr`. @defaultValue null */
  lineSearchFn?: 'strong_wolfe' | null;
  /** Maximize the closure's value instead of minimizing it. @defaultValue false */
  maximize?: boolean;
}

/**
 * PyTorch's defaults of LBFGS. `maxEval` is ⌊maxIter · 5/4⌋ of the options given (25 for the
 * default maxIter).
 * @example
 * ```ts
 * LBFGS_DEFAULTS.historySize; // 100
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const LBFGS_DEFAULTS: Readonly<Required<LBFGSOptions>> = Object.freeze({
  lr: 1,
  maxIter: 20,
  maxEval: 25,
  toleranceGrad: 1e-7,
  toleranceChange: 1e-9,
  historySize: 100,
  lineSearchFn: null,
  maximize: false,
});

/**
 * LBFGS's numeric and boolean options as the registry's descriptors give theirs (default and
 * valid range), for tools that list or search options (`ferroptim tune`). `lineSearchFn` is not
 * among them, and `maxEval`'s default is the one for the default `maxIter`.
 * @example
 * ```ts
 * LBFGS_OPTIONS.historySize.range; // { integer: true, min: 1 }
 * ```
 * @group Optimizers
 * @category Options and defaults
 */
export const LBFGS_OPTIONS: Readonly<Record<'lr' | 'maxIter' | 'maxEval' | 'toleranceGrad' | 'toleranceChange' | 'historySize' | 'maximize', OptionSpec>> = Object.freeze({
  lr: nonNegative(LBFGS_DEFAULTS.lr),
  maxIter: numberIn(LBFGS_DEFAULTS.maxIter, { integer: true, min: 0 }),
  maxEval: numberIn(LBFGS_DEFAULTS.maxEval, { integer: true, min: 0 }),
  toleranceGrad: nonNegative(LBFGS_DEFAULTS.toleranceGrad),
  toleranceChange: nonNegative(LBFGS_DEFAULTS.toleranceChange),
  historySize: numberIn(LBFGS_DEFAULTS.historySize, { integer: true, min: 1 }),
  maximize: flag(LBFGS_DEFAULTS.maximize),
});

const OPTION_KEYS = Object.keys(LBFGS_DEFAULTS);

/**
 * LBFGS's one parameter group: its parameters and every option, live (a scheduler may change
 * `lr` between steps; every option is checked again at each step).
 * @group Optimizers
 * @category Base class and parameters
 */
export type LBFGSParamGroup = Required<LBFGSOptions> & {
  /** The parameters, in the order of the flat vector; they cannot be changed after construction. */
  params: Parameter[];
  /** The group's lr when a scheduler first took it over (PyTorch's `initial_lr`). */
  initialLr?: number;
};

/**
 * LBFGS's state in a state dict: torch's `state` (which torch files under the first parameter)
 * with camelCase names. The counters are always there; the rest only once an iteration has run
 * (`nIter >= 1`). Vectors are flat over all parameters, in parameter order, as arrays of numbers
 * with -0, NaN and infinities as the strings `"-0"`, `"NaN"`, `"Infinity"`, `"-Infinity"`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface LBFGSState {
  /** Closure evaluations since construction (torch's `func_evals`). */
  funcEvals: number;
  /** Iterations since construction (torch's `n_iter`). */
  nIter: number;
  /** The last search direction. */
  d?: Array<number | string>;
  /** The last step length (a float64: torch keeps it as a Python float or a float32 tensor). */
  t?: number | string;
  /** The gradient differences y, oldest first. */
  oldDirs?: Array<Array<number | string>>;
  /** The steps s = t·d, oldest first. */
  oldStps?: Array<Array<number | string>>;
  /** 1 / (y·s) of each pair (float32 values). */
  ro?: Array<number | string>;
  /** The scale of the initial inverse Hessian, (y·s) / (y·y) of the last pair (a float32 value). */
  hDiag?: number | string;
  /** The gradient at the start of the last iteration. */
  prevFlatGrad?: Array<number | string>;
  /** The loss at the start of the last iteration. */
  prevLoss?: number | string;
}

/**
 * A JSON-serialisable LBFGS state, as returned by `LBFGS.stateDict()`.
 * @group Optimizers
 * @category Base class and parameters
 */
export interface LBFGSStateDict {
  /**
   * The optimizer's whole state, filed under the first parameter's key as torch files it (LBFGS
   * has no per-parameter state): `{ [firstKey]: LBFGSState }`. This is the layout every other
   * optimizer's state dict has, so training checkpoints store it the same way.
   */
  state: Record<string, LBFGSState>;
  /** The one param group's options, with `params` listing the parameters' keys. */
  paramGroups: Array<
    Record<string, unknown> & {
      /** The parameters' keys: names when every parameter has a unique one, else positions. */
      params: string[];
    }
  >;
}

const LABEL = 'LBFGS';
const STATE_KEYS = ['funcEvals', 'nIter', 'd', 't', 'oldDirs', 'oldStps', 'ro', 'hDiag', 'prevFlatGrad', 'prevLoss'];
const VECTOR_KEYS = STATE_KEYS.slice(2);

// ---- torch's scalars ------------------------------------------------------------------------
//
// torch's LBFGS mixes Python floats (float64) with 0-dim float32 tensors (dot products, and what
// is computed from them), and its branches depend on which is which: a Python float meeting a
// float32 tensor is rounded to float32 first, then the operation is a float32 one; comparisons
// with a tensor are float32 comparisons. `F32` is such a tensor, a plain number a Python float.

/** A 0-dim float32 tensor of torch's code; `v` is a float32 value. */
class F32 {
  constructor(readonly v: number) {}
}
type Num = number | F32;

const f32 = Math.fround;
const T = (x: number): F32 => new F32(f32(x));
const isT = (x: Num): x is F32 => x instanceof F32;
/** The value as a float32 operand: a Python float meeting a tensor is rounded first. */
const v32 = (x: Num): number => (isT(x) ? x.v : f32(x));

function add(a: Num, b: Num): Num {
  return isT(a) || isT(b) ? T(v32(a) + v32(b)) : a + b;
}
function sub(a: Num, b: Num): Num {
  return isT(a) || isT(b) ? T(v32(a) - v32(b)) : a - b;
}
function mul(a: Num, b: Num): Num {
  return isT(a) || isT(b) ? T(v32(a) * v32(b)) : a * b;
}
function div(a: Num, b: Num): Num {
  // float / tensor is Tensor.__rdiv__: reciprocal(b) * a, two float32 roundings.
  if (isT(b) && !isT(a)) return T(f32(1 / b.v) * f32(a));
  if (isT(a) || isT(b)) return T(v32(a) / v32(b));
  if (b === 0) {
    throw new Error(
      `${LABEL}: the strong-Wolfe line search divided by zero (a bracket of width 0 at t = ${describeValue(a)}); torch.optim.LBFGS raises ZeroDivisionError here. Parameters and state were left as they were before the step`,
    );
  }
  return a / b;
}
const lt = (a: Num, b: Num): boolean => (isT(a) || isT(b) ? v32(a) < v32(b) : a < b);
const le = (a: Num, b: Num): boolean => (isT(a) || isT(b) ? v32(a) <= v32(b) : a <= b);
const gt = (a: Num, b: Num): boolean => (isT(a) || isT(b) ? v32(a) > v32(b) : a > b);
const ge = (a: Num, b: Num): boolean => (isT(a) || isT(b) ? v32(a) >= v32(b) : a >= b);
const abs = (a: Num): Num => (isT(a) ? new F32(Math.abs(a.v)) : Math.abs(a));
/** Python's `min(a, b)`: `b` only if `b < a` (so a NaN keeps `a`). */
const pyMin = (a: Num, b: Num): Num => (lt(b, a) ? b : a);
/** Python's `max(a, b)`: `b` only if `b > a`. */
const pyMax = (a: Num, b: Num): Num => (gt(b, a) ? b : a);

// ---- float32 vectors --------------------------------------------------------------------------

/** The largest finite float32 and half its ulp (the midpoint above it rounds to Infinity). */
const F32_MAX = 3.4028234663852886e38;
const F32_MAX_HALF_ULP = 2 ** 103;

/**
 * fma(a, b, c) rounded once to float32, as torch's vectorised `add_(x, alpha=a)` computes it.
 * a·b of two float32 values is exact in float64; the float64 sum s is then rounded to float32,
 * which is the correct rounding except when s lies exactly halfway between two float32 values,
 * where the sign of the float64 rounding error e (TwoSum) decides.
 */
function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = f32(s);
  if (r === s || Number.isNaN(s) || !Number.isFinite(p) || !Number.isFinite(c)) return r;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb);
  if (e === 0) return r;
  if (!Number.isFinite(r)) {
    const max = Math.sign(s) * F32_MAX;
    return s === max + Math.sign(s) * F32_MAX_HALF_ULP && e * Math.sign(s) < 0 ? max : r;
  }
  const other = 2 * s - r;
  if (f32(other) !== other) return r;
  return e > 0 ? Math.max(r, other) : Math.min(r, other);
}

/** a·b: products (exact in float64) summed in float64 in index order, rounded once to float32. */
function dot(a: Float32Array, b: Float32Array): F32 {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc += a[i]! * b[i]!;
  return T(acc);
}

/** Σ|a|, summed as {@link dot}. */
function absSum(a: Float32Array): F32 {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc += Math.abs(a[i]!);
  return T(acc);
}

/** max|a| (NaN if any element is NaN, as torch's `max()`). */
function absMax(a: Float32Array): F32 {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i]!);
    if (x > m) m = x;
    else if (x !== x) return new F32(NaN);
  }
  return new F32(m);
}

/** max|a·t| over the float32 products, without storing them. */
function absMaxScaled(a: Float32Array, t: Num): F32 {
  const tf = v32(t);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(f32(a[i]! * tf));
    if (x > m) m = x;
    else if (x !== x) return new F32(NaN);
  }
  return new F32(m);
}

function neg(a: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = -a[i]!;
  return out;
}

/** a·t, each product rounded to float32 (t rounded to float32 first, as torch's `mul`). */
function scaled(a: Float32Array, t: Num): Float32Array {
  const tf = v32(t);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * tf;
  return out;
}

/** y ← y + alpha·x in place, one rounding per element (torch's `y.add_(x, alpha=alpha)`). */
function axpy(y: Float32Array, alpha: Num, x: Float32Array): void {
  const a = v32(alpha);
  for (let i = 0; i < y.length; i++) y[i] = fma32(a, x[i]!, y[i]!);
}

/** torch's `_cubic_interpolate`: the minimizer of the cubic through two points, clamped to bounds. */
function cubicInterpolate(x1: Num, f1: number, g1: Num, x2: Num, f2: number, g2: Num, bounds?: readonly [Num, Num]): Num {
  const [xminBound, xmaxBound] = bounds ?? (le(x1, x2) ? [x1, x2] : [x2, x1]);
  // d1 = g1 + g2 − 3(f1 − f2)/(x1 − x2);  d2 = √(d1² − g1·g2)
  const d1 = sub(add(g1, g2), div(3 * (f1 - f2), sub(x1, x2)));
  const d2Square = sub(isT(d1) ? T(d1.v * d1.v) : d1 * d1, mul(g1, g2));
  if (ge(d2Square, 0)) {
    const d2 = isT(d2Square) ? T(Math.sqrt(d2Square.v)) : Math.sqrt(d2Square);
    // min_pos = x2 − (x2 − x1)·(g2 + d2 − d1)/(g2 − g1 + 2·d2), or the same from x1's side
    const minPos = le(x1, x2)
      ? sub(x2, mul(sub(x2, x1), div(sub(add(g2, d2), d1), add(sub(g2, g1), mul(2, d2)))))
      : sub(x1, mul(sub(x1, x2), div(sub(add(g1, d2), d1), add(sub(g1, g2), mul(2, d2)))));
    return pyMin(pyMax(minPos, xminBound), xmaxBound);
  }
  return div(add(xminBound, xmaxBound), 2);
}

/** One evaluation of the line search: the loss and flat gradient at x + t·d. */
type Evaluate = (t: Num) => { f: number; g: Float32Array };

/**
 * torch's `_strong_wolfe` (ported from lswolfe.lua), with its fixed c1 = 1e-4, c2 = 0.9 and
 * tolerance_change = 1e-9 (torch does not pass the group's toleranceChange).
 */
function strongWolfe(obj: Evaluate, t: Num, d: Float32Array, f: number, g: Float32Array, gtd: Num, maxLs: number): { f: number; g: Float32Array; t: Num; evals: number } {
  const c1 = 1e-4;
  const c2 = 0.9;
  const toleranceChange = 1e-9;
  const dNorm = absMax(d);
  let { f: fNew, g: gNew } = obj(t);
  let lsFuncEvals = 1;
  let gtdNew: Num = dot(gNew, d);

  // Bracket an interval containing a point satisfying the Wolfe criteria.
  let tPrev: Num = 0;
  let fPrev = f;
  let gPrev = g;
  let gtdPrev: Num = gtd;
  let done = false;
  let lsIter = 0;
  let bracket: Num[] = [];
  let bracketF: number[] = [];
  let bracketG: Float32Array[] = [];
  let bracketGtd: Num[] = [];
  while (lsIter < maxLs) {
    if (gt(fNew, add(f, mul(mul(c1, t), gtd))) || (lsIter > 1 && fNew >= fPrev)) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    if (le(abs(gtdNew), mul(-c2, gtd))) {
      bracket = [t];
      bracketF = [fNew];
      bracketG = [gNew];
      done = true;
      break;
    }
    if (ge(gtdNew, 0)) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    // Interpolate within [t + 0.01·(t − t_prev), 10·t].
    const minStep = add(t, mul(0.01, sub(t, tPrev)));
    const maxStep = mul(t, 10);
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [minStep, maxStep]);
    tPrev = tmp;
    fPrev = fNew;
    gPrev = gNew;
    gtdPrev = gtdNew;
    ({ f: fNew, g: gNew } = obj(t));
    lsFuncEvals++;
    gtdNew = dot(gNew, d);
    lsIter++;
  }
  if (lsIter === maxLs) {
    bracket = [0, t];
    bracketF = [f, fNew];
    bracketG = [g, gNew];
  }

  // Zoom: refine the bracket until a point satisfies the criteria.
  let insufProgress = false;
  let [lowPos, highPos]: [number, number] = bracketF[0]! <= bracketF[bracketF.length - 1]! ? [0, 1] : [1, 0];
  while (!done && lsIter < maxLs) {
    if (lt(mul(abs(sub(bracket[1]!, bracket[0]!)), dNorm), toleranceChange)) break;
    t = cubicInterpolate(bracket[0]!, bracketF[0]!, bracketGtd[0]!, bracket[1]!, bracketF[1]!, bracketGtd[1]!);
    // A trial point within 10 % of the bracket's width from an end, twice or at the end, is
    // moved to 10 % from the nearer end.
    const bMax = pyMax(bracket[0]!, bracket[1]!);
    const bMin = pyMin(bracket[0]!, bracket[1]!);
    const eps = mul(0.1, sub(bMax, bMin));
    if (lt(pyMin(sub(bMax, t), sub(t, bMin)), eps)) {
      if (insufProgress || ge(t, bMax) || le(t, bMin)) {
        t = lt(abs(sub(t, bMax)), abs(sub(t, bMin))) ? sub(bMax, eps) : add(bMin, eps);
        insufProgress = false;
      } else {
        insufProgress = true;
      }
    } else {
      insufProgress = false;
    }
    ({ f: fNew, g: gNew } = obj(t));
    lsFuncEvals++;
    gtdNew = dot(gNew, d);
    lsIter++;
    if (gt(fNew, add(f, mul(mul(c1, t), gtd))) || fNew >= bracketF[lowPos]!) {
      // Armijo condition not satisfied or not lower than the lowest point.
      bracket[highPos] = t;
      bracketF[highPos] = fNew;
      bracketG[highPos] = gNew;
      bracketGtd[highPos] = gtdNew;
      [lowPos, highPos] = bracketF[0]! <= bracketF[1]! ? [0, 1] : [1, 0];
    } else {
      if (le(abs(gtdNew), mul(-c2, gtd))) {
        done = true;
      } else if (ge(mul(gtdNew, sub(bracket[highPos]!, bracket[lowPos]!)), 0)) {
        // The old high becomes the new low.
        bracket[highPos] = bracket[lowPos]!;
        bracketF[highPos] = bracketF[lowPos]!;
        bracketG[highPos] = bracketG[lowPos]!;
        bracketGtd[highPos] = bracketGtd[lowPos]!;
      }
      bracket[lowPos] = t;
      bracketF[lowPos] = fNew;
      bracketG[lowPos] = gNew;
      bracketGtd[lowPos] = gtdNew;
    }
  }
  if (lowPos >= bracket.length) {
    // A one-point bracket whose loss is NaN: torch's `bracket[low_pos]` raises IndexError.
    throw new Error(
      `${LABEL}: the strong-Wolfe line search accepted a point whose loss is NaN (its gradient met the curvature condition); torch.optim.LBFGS raises IndexError here. Parameters and state were left as they were before the step`,
    );
  }
  return { f: bracketF[lowPos]!, g: bracketG[lowPos]!, t: bracket[lowPos]!, evals: lsFuncEvals };
}

/** The history and search state torch keeps between steps. */
interface History {
  d: Float32Array;
  t: number;
  oldDirs: Float32Array[];
  oldStps: Float32Array[];
  ro: number[];
  hDiag: number;
  prevFlatGrad: Float32Array;
  prevLoss: number;
}

/** The options of the group, checked; `where` names the group in messages. */
function checkGroupOptions(ctx: string, g: Record<string, unknown>, where: string): Required<LBFGSOptions> {
  const n = (k: string) => optionName(k, where);
  validateOptions(ctx, LBFGS_OPTIONS, g, where);
  const { maxIter, maxEval } = g as { maxIter: number; maxEval: number };
  const ls = g.lineSearchFn;
  if (ls !== null && typeof ls !== 'string') throw new TypeError(`${ctx}: expected ${n('lineSearchFn')} to be 'strong_wolfe' or null, received ${describeValue(ls)}`);
  if (ls !== null && ls !== 'strong_wolfe') throw new RangeError(`${ctx}: expected ${n('lineSearchFn')} to be 'strong_wolfe' or null (the only line search torch has), received ${describeValue(ls)}`);
  if (ls === 'strong_wolfe' && maxIter >= 1 && maxEval < 1) {
    throw new RangeError(
      `${ctx}: expected ${n('maxEval')} to be an integer >= 1 with lineSearchFn 'strong_wolfe' (the line search evaluates the closure at least once; torch fails with an UnboundLocalError), received ${describeValue(maxEval)}`,
    );
  }
  return g as unknown as Required<LBFGSOptions>;
}

/**
 * L-BFGS with PyTorch's semantics, transcribed from `torch.optim.LBFGS` (torch 2.15): the same
 * iterations, stopping tests, history, line search and counters, and the same float32 and
 * float64 arithmetic in each place.
 *
 * @remarks
 * All parameters form one flat float32 vector x (in parameter order) with gradient g; `step(closure)`
 * runs up to `maxIter` iterations of:
 * ```text
 * first iteration ever:  d = −g,  t = min(1, 1/Σ|g|)·lr,  history empty,  H_diag = 1
 * later:                 y = g − g_prev,  s = t_prev·d_prev
 *                        if y·s > 1e−10:  push (y, s, ρ = 1/(y·s)), dropping the oldest pair when the history holds historySize;
 *                                         H_diag = (y·s)/(y·y)
 *                        two-loop recursion:  q = −g;  for i newest → oldest: α_i = ρ_i·(s_i·q),  q −= α_i·y_i
 *                                             d = H_diag·q;  for i oldest → newest: β_i = ρ_i·(y_i·d),  d += (α_i − β_i)·s_i
 *                        t = lr
 * stop if g·d > −toleranceChange (not a descent direction)
 * line search:  null: x += t·d and evaluate the closure again (not after the last iteration)
 *               'strong_wolfe': t from torch's strong-Wolfe search (cubic interpolation, zoom), x += t·d
 * stop after maxIter iterations, maxEval evaluations, when max|g| <= toleranceGrad,
 *   max|t·d| <= toleranceChange, or |loss − loss_prev| < toleranceChange
 * ```
 * A step first evaluates the closure and returns that first loss; if max|g| <= toleranceGrad
 * there, it stops at once. The state (history, d, t, counters) carries over between steps, as in
 * torch; `funcEvals` and `nIter` count since construction.
 *
 * **The closure** must do what PyTorch's does: zero the gradients, compute the loss at the
 * parameters' current values, write the gradient of each parameter into its `grad` (a `null`
 * grad counts as zeros) and return the loss as a number. It is required, and it is called at
 * least once and usually several times per step (up to about `maxEval` times: the line search
 * may make one evaluation beyond it, as torch's), each time with the parameters' `data` at
 * another trial point, which LBFGS writes in place. A missing closure, or one that returns something other than a
 * number, is a TypeError. A non-finite loss is used as torch uses it: comparisons with NaN are
 * false, so the iterations carry on and the parameters may become NaN; two corner cases where
 * torch raises (the line search accepting a NaN loss, and a bracket of width 0) throw an Error.
 * The loss is used as returned (a float64, as torch's `float(loss)`); a float32 model that
 * returns `Math.fround(loss)` reproduces torch's numbers.
 *
 * **Float semantics.** torch keeps the flat vectors as float32 tensors, so element operations are
 * float32 ones, with `add_(v, alpha=a)` fused into one rounding as torch's AVX2/AVX-512 kernels
 * do it; dot products and what derives from them (ρ, H_diag, the αs and βs, g·d) are 0-dim
 * float32 tensors, while the loss and the line search's step lengths are Python floats (float64).
 * LBFGS follows each of these, including torch's promotion rules (a float64 meeting a float32
 * tensor is rounded to float32 first; comparisons with a tensor are float32 ones; `x / tensor` is
 * `reciprocal(tensor) · x`). Two operations differ from torch's by design: dot products and Σ|g|
 * are summed in float64 in index order and rounded once to float32 (torch's MKL `sdot` and cascade
 * sum use another order, so results may differ by an ulp or so), and the line search's square
 * root is correctly rounded (torch's float32 `sqrt` goes through MKL's vector math, one ulp off
 * for about a fifth of inputs). With those two made the same in torch, LBFGS reproduces torch bit
 * for bit (the committed fixtures check every step); against torch itself, the parameters agreed
 * within 3e-7 over the fixture steps that are not chaotic (see `scripts/FIXTURES.md`). On
 * ill-conditioned problems over many iterations (Rosenbrock), such an ulp grows as it would
 * between any two L-BFGS implementations.
 *
 * Deviations from torch: options are validated (torch checks only `lr`), at construction and at
 * every step; if the closure throws, or an error is raised mid-step, the parameters are put back
 * as they were before the step and the state is left unchanged (torch leaves the parameters at
 * the last trial point and its counters advanced); torch's `al` scratch list is sized to the
 * history at each iteration (torch sizes it once, and fails if historySize is raised later).
 * As in torch, lowering historySize below the current history length stops the history from
 * shrinking or shifting (torch drops a pair only when the length equals historySize). There is
 * one param group, and its parameters are fixed at construction. LBFGS runs in TypeScript
 * (no native kernel): a step's own cost, about 4·historySize·N flops per iteration, is usually
 * small beside the closure's.
 *
 * LBFGS is not an {@link Optimizer} subclass (no descriptor or native kernel) and is not in the
 * `OPTIMIZERS` registry; schedulers accept it (they drive `paramGroups[0].lr`).
 *
 * @example
 * ```ts
 * const x = new Parameter(new Float32Array([-1.5, 2]), { name: 'x' });
 * const opt = new LBFGS([x], { lineSearchFn: 'strong_wolfe' });
 * const closure = () => {
 *   const [a, b] = x.data;                        // Rosenbrock: (1 − a)² + 100 (b − a²)²
 *   x.grad![0] = -2 * (1 - a!) - 400 * a! * (b! - a! * a!);
 *   x.grad![1] = 200 * (b! - a! * a!);
 *   return (1 - a!) ** 2 + 100 * (b! - a! * a!) ** 2;
 * };
 * for (let i = 0; i < 5; i++) opt.step(closure);
 * // x.data ≈ [1, 1]
 * ```
 * @see Liu and Nocedal, "On the limited memory BFGS method for large scale optimization", Mathematical Programming 45 (1989) ({@link https://doi.org/10.1007/BF01589116 | doi:10.1007/BF01589116}).
 * @see {@link https://docs.pytorch.org/docs/stable/generated/torch.optim.LBFGS.html | torch.optim.LBFGS}, the reference followed.
 * @throws TypeError or RangeError from the constructor for bad parameters or options, or more
 * than one param group; from `step` for a missing closure, a closure that returns a non-number,
 * an option changed to a bad value, a changed param group, or a detached buffer; from
 * `loadStateDict` for a state that does not fit. Error from `step` where torch raises (see
 * above), and from any method but `parameters()` after `dispose()`.
 * @group Optimizers
 * @category Classes
 */
export class LBFGS {
  /** The default options (PyTorch's, with `maxEval` derived from `maxIter`, and those given to the constructor). */
  readonly defaults: Readonly<Required<LBFGSOptions>>;
  /** The one live param group (an array, for schedulers and for PyTorch's shape). */
  readonly paramGroups: LBFGSParamGroup[];

  readonly #params: Parameter[];
  readonly #numel: number;
  #disposed = false;
  #funcEvals = 0;
  #nIter = 0;
  /** The search state, null until an iteration has run. */
  #history: History | null = null;

  constructor(params: ParamsInput<LBFGSOptions>, options?: LBFGSOptions) {
    const opts = checkOptions(LABEL, options);
    checkKnownKeys(LABEL, opts, OPTION_KEYS);
    const defaults: Record<string, unknown> = { ...LBFGS_DEFAULTS };
    for (const [k, v] of Object.entries(opts)) if (v !== undefined) defaults[k] = v;
    // torch: max_eval = max_iter * 5 // 4 when not given.
    if (opts.maxEval === undefined) {
      const maxIter = checkNumber(LABEL, 'maxIter', defaults.maxIter, { integer: true, min: 0 });
      defaults.maxEval = Math.floor((maxIter * 5) / 4);
    }
    checkGroupOptions(LABEL, defaults, 'options');

    const list = paramsList(LABEL, params, 'an array of Parameters or one param group');
    let group: Record<string, unknown> = {};
    let members: unknown[] = list;
    let where = 'params';
    if (list.every(isGroupInput)) {
      if (list.length !== 1) {
        throw new RangeError(
          `${LABEL}: expected one param group, received ${list.length} (LBFGS doesn't support per-parameter options or parameter groups, as torch.optim.LBFGS)`,
        );
      }
      ({ g: group, members } = groupInput(LABEL, 'param group 0', list[0], OPTION_KEYS));
      where = 'param group 0.params';
    }
    const seen = new Set<Parameter>();
    members.forEach((p, i) => {
      if (!(p instanceof Parameter)) {
        throw new TypeError(`${LABEL}: expected ${where}[${i}] to be a Parameter, received ${describeValue(p)}${where === 'params' ? ' (or pass one param group { params, ...options })' : ''}`);
      }
      if (seen.has(p)) throw new RangeError(`${LABEL}: ${where}[${i}] (${p.name ?? 'unnamed'}) appears twice; each parameter may appear once`);
      seen.add(p);
    });
    const ps = members as Parameter[];
    const numel = ps.reduce((a, p) => a + p.numel, 0);
    if (numel === 0) throw new RangeError(`${LABEL}: expected the parameters to hold at least one element, received ${ps.length} empty parameters`);

    const live: Record<string, unknown> = { ...defaults };
    for (const k of OPTION_KEYS) if (group[k] !== undefined) live[k] = group[k];
    checkGroupOptions(LABEL, live, 'param group 0');
    if (group.initialLr !== undefined) live.initialLr = checkNumber(LABEL, 'initialLr (param group 0)', group.initialLr, { min: 0 });
    live.params = [...ps];

    this.defaults = Object.freeze(defaults as Required<LBFGSOptions>);
    this.paramGroups = [live as LBFGSParamGroup];
    this.#params = ps;
    this.#numel = numel;
  }

  /** Closure evaluations since construction (torch's `state['func_evals']`). */
  get funcEvals(): number {
    return this.#funcEvals;
  }

  /** Iterations since construction (torch's `state['n_iter']`). */
  get nIter(): number {
    return this.#nIter;
  }

  /** Whether {@link LBFGS.dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** The parameters, in the order of the flat vector. */
  parameters(): Parameter[] {
    return [...this.#params];
  }

  #live(method: string): void {
    if (this.#disposed) throw disposedError(LABEL, method);
  }

  /** The one param group, checked: still one, with the constructor's parameters and valid options. */
  #group(ctx: string): Required<LBFGSOptions> {
    const groups = this.paramGroups;
    if (!Array.isArray(groups)) throw new TypeError(`${ctx}: expected paramGroups to be an array, received ${describeValue(groups)}`);
    if (groups.length !== 1) {
      throw new RangeError(`${ctx}: expected exactly one param group, found ${groups.length} (LBFGS doesn't support per-parameter options or parameter groups, as torch.optim.LBFGS)`);
    }
    const g = groups[0] as unknown;
    if (g === null || typeof g !== 'object') throw new TypeError(`${ctx}: expected param group 0 to be an object, received ${describeValue(g)}`);
    const ps = (g as { params?: unknown }).params;
    const mine = this.#params;
    if (!Array.isArray(ps) || ps.length !== mine.length || ps.some((p, i) => p !== mine[i])) {
      throw new RangeError(`${ctx}: the parameters of param group 0 differ from those given to the constructor; LBFGS keeps one flat vector over them, so create a new LBFGS for other parameters`);
    }
    return checkGroupOptions(ctx, g as Record<string, unknown>, 'param group 0');
  }

  /** Checks every parameter's data and grad still have their length (a detached buffer has 0). */
  #checkBuffers(ctx: string, grads: boolean): void {
    this.#params.forEach((p, i) => {
      const buf = grads ? p.grad : p.data;
      if (buf !== null && buf.length !== p.numel) {
        throw new RangeError(
          `${ctx}: expected ${grads ? 'grad' : 'data'} of ${Parameter.describe(p, i)} to have length ${p.numel}, received ${buf.length} (its buffer was detached or transferred)`,
        );
      }
    });
  }

  /** The parameters as one flat vector. */
  #cloneParams(): Float32Array {
    const out = new Float32Array(this.#numel);
    let off = 0;
    for (const p of this.#params) {
      out.set(p.data, off);
      off += p.numel;
    }
    return out;
  }

  /** Writes a flat vector into the parameters. */
  #setParams(x: Float32Array): void {
    let off = 0;
    for (const p of this.#params) {
      if (p.data.length === p.numel) p.data.set(x.subarray(off, off + p.numel));
      off += p.numel;
    }
  }

  /**
   * The parameters ← base + t·d, one rounding per element: torch's `_add_grad(t, d)`, applied to
   * the parameters themselves (`base` null) or to x_init, which the line search always restores
   * them to before it moves them.
   */
  #addGrad(base: Float32Array | null, t: Num, d: Float32Array): void {
    this.#checkBuffers(`${LABEL}.step`, false);
    const tf = v32(t);
    let off = 0;
    for (const p of this.#params) {
      const data = p.data;
      const x = base === null ? data : base.subarray(off, off + p.numel);
      for (let i = 0; i < data.length; i++) data[i] = fma32(tf, d[off + i]!, x[i]!);
      off += p.numel;
    }
  }

  /** The gradients as one flat vector (a null grad as zeros), negated when maximizing. */
  #gatherFlatGrad(maximize: boolean): Float32Array {
    this.#checkBuffers(`${LABEL}.step`, true);
    const out = new Float32Array(this.#numel);
    let off = 0;
    for (const p of this.#params) {
      if (p.grad !== null) out.set(p.grad, off);
      off += p.numel;
    }
    if (maximize) for (let i = 0; i < out.length; i++) out[i] = -out[i]!;
    return out;
  }

  /** Calls the closure and checks that it returned a number. */
  #evaluate(closure: () => number): number {
    const loss: unknown = closure();
    if (typeof loss !== 'number') {
      throw new TypeError(`${LABEL}.step: expected the closure to return the loss as a number, received ${describeValue(loss)}`);
    }
    return loss;
  }

  /**
   * Runs up to `maxIter` L-BFGS iterations (see the class remarks), calling `closure` whenever it
   * needs the loss and gradient at the parameters' current values.
   *
   * @param closure - re-evaluates the model: zeroes the gradients, computes the loss, writes each
   * parameter's `grad`, returns the loss. Required; called one or more times.
   * @returns the loss of the first evaluation (at the parameters as they were before the step).
   * @throws TypeError for a missing closure or one that returns a non-number; TypeError or
   * RangeError for a bad option, a changed param group or a detached buffer; Error where torch
   * raises; whatever the closure throws. On any of these the parameters are put back as they
   * were before the step and the state is unchanged.
   */
  step(closure: () => number): number {
    this.#live('step');
    const ctx = `${LABEL}.step`;
    if (typeof closure !== 'function') {
      throw new TypeError(
        `${ctx}: expected a closure that re-evaluates the model (zeroes the gradients, computes the loss, writes each parameter's grad and returns the loss), received ${describeValue(closure)}`,
      );
    }
    const options = this.#group(ctx);
    this.#checkBuffers(ctx, false);
    const before = this.#cloneParams();
    try {
      return this.#step(closure, options);
    } catch (e) {
      this.#setParams(before);
      throw e;
    }
  }

  #step(closure: () => number, o: Required<LBFGSOptions>): number {
    const { lr, maxIter, maxEval, toleranceGrad, toleranceChange, historySize, lineSearchFn, maximize } = o;
    let funcEvals = this.#funcEvals;
    let stateNIter = this.#nIter;

    // Evaluate the initial f(x) and df/dx.
    const origLoss = this.#evaluate(closure);
    let loss = maximize ? -origLoss : origLoss;
    let currentEvals = 1;
    funcEvals += 1;
    let flatGrad = this.#gatherFlatGrad(maximize);
    let optCond = le(absMax(flatGrad), toleranceGrad);
    if (optCond) {
      this.#funcEvals = funcEvals;
      return origLoss;
    }

    const h = this.#history;
    let d = h?.d ?? null;
    let t: Num = h?.t ?? 0;
    let oldDirs = h ? [...h.oldDirs] : [];
    let oldStps = h ? [...h.oldStps] : [];
    let ro: Num[] = h ? h.ro.map((r) => new F32(r)) : [];
    let hDiag: Num = h ? new F32(h.hDiag) : 1;
    let prevFlatGrad = h?.prevFlatGrad ?? null;
    let prevLoss = h?.prevLoss ?? NaN;

    let nIter = 0;
    while (nIter < maxIter) {
      nIter++;
      stateNIter++;

      // The descent direction.
      if (stateNIter === 1) {
        d = neg(flatGrad);
        oldDirs = [];
        oldStps = [];
        ro = [];
        hDiag = 1;
      } else {
        const y = new Float32Array(flatGrad.length);
        for (let i = 0; i < y.length; i++) y[i] = flatGrad[i]! - prevFlatGrad![i]!;
        const s = scaled(d!, t);
        const ys = dot(y, s);
        if (gt(ys, 1e-10)) {
          if (oldDirs.length === historySize) {
            oldDirs.shift();
            oldStps.shift();
            ro.shift();
          }
          oldDirs.push(y);
          oldStps.push(s);
          ro.push(div(1, ys));
          hDiag = div(ys, dot(y, y));
        }
        // Two-loop recursion: d = −H·g with the approximate inverse Hessian H.
        const numOld = oldDirs.length;
        const al: Num[] = new Array<Num>(numOld);
        const q = neg(flatGrad);
        for (let i = numOld - 1; i >= 0; i--) {
          al[i] = mul(dot(oldStps[i]!, q), ro[i]!);
          axpy(q, mul(-1, al[i]!), oldDirs[i]!);
        }
        const r = scaled(q, hDiag);
        for (let i = 0; i < numOld; i++) {
          const be = mul(dot(oldDirs[i]!, r), ro[i]!);
          axpy(r, sub(al[i]!, be), oldStps[i]!);
        }
        d = r;
      }
      prevFlatGrad = flatGrad.slice();
      prevLoss = loss;

      // The step length.
      t = stateNIter === 1 ? mul(pyMin(1, div(1, absSum(flatGrad))), lr) : lr;
      const gtd = dot(flatGrad, d);
      if (gt(gtd, -toleranceChange)) break;

      let lsFuncEvals = 0;
      if (lineSearchFn !== null) {
        const xInit = this.#cloneParams();
        const dir = d;
        const obj: Evaluate = (tt) => {
          this.#addGrad(xInit, tt, dir);
          const l = this.#evaluate(closure);
          const g = this.#gatherFlatGrad(maximize);
          this.#setParams(xInit);
          return { f: maximize ? -l : l, g };
        };
        const ls = strongWolfe(obj, t, d, loss, flatGrad, gtd, maxEval - currentEvals);
        loss = ls.f;
        flatGrad = ls.g;
        t = ls.t;
        lsFuncEvals = ls.evals;
        this.#addGrad(xInit, t, d);
        optCond = le(absMax(flatGrad), toleranceGrad);
      } else {
        this.#addGrad(null, t, d);
        if (nIter !== maxIter) {
          // Re-evaluated except in the last iteration (torch: no use in a stochastic setting).
          const l = this.#evaluate(closure);
          loss = maximize ? -l : l;
          flatGrad = this.#gatherFlatGrad(maximize);
          optCond = le(absMax(flatGrad), toleranceGrad);
          lsFuncEvals = 1;
        }
      }
      currentEvals += lsFuncEvals;
      funcEvals += lsFuncEvals;

      // The stopping tests.
      if (nIter === maxIter) break;
      if (currentEvals >= maxEval) break;
      if (optCond) break;
      if (le(absMaxScaled(d, t), toleranceChange)) break;
      if (Math.abs(loss - prevLoss) < toleranceChange) break;
    }

    this.#funcEvals = funcEvals;
    this.#nIter = stateNIter;
    if (d !== null && prevFlatGrad !== null) {
      this.#history = {
        d,
        t: isT(t) ? t.v : t,
        oldDirs,
        oldStps,
        ro: ro.map((r) => (isT(r) ? r.v : f32(r))),
        hDiag: isT(hDiag) ? hDiag.v : hDiag,
        prevFlatGrad,
        prevLoss,
      };
    }
    return origLoss;
  }

  /**
   * Zeroes every gradient in place (a `null` grad stays `null`); with `setToNone: true`, sets
   * every grad to `null` instead (LBFGS reads a `null` grad as zeros).
   * @throws TypeError for bad options; RangeError, before any gradient changes, if a gradient's
   * buffer was detached.
   */
  zeroGrad(options?: ZeroGradOptions): void {
    const ctx = `${LABEL}.zeroGrad`;
    this.#live('zeroGrad');
    const setToNone = setToNoneOption(ctx, options);
    if (!setToNone) this.#checkBuffers(ctx, true);
    clearGrads(this.#params, setToNone);
  }

  /**
   * Frees the history now instead of when the garbage collector finds the optimizer unreachable;
   * every later `step`, `zeroGrad`, `stateDict` or `loadStateDict` throws an Error. Calling it
   * again does nothing; `[Symbol.dispose]` calls it.
   * @example
   * ```ts
   * using opt = new LBFGS(params, { historySize: 10 });
   * ```
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#history = null;
  }

  /** Calls {@link LBFGS.dispose}, for `using` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The parameters' keys: names when all are present and unique, else positions. */
  #keys(): string[] {
    return stateKeys(this.#params);
  }

  /**
   * The whole state (counters, history, d, t, H_diag, the previous gradient and loss) and the
   * param group's options, as plain JSON-serialisable data (-0, NaN and infinities as the strings
   * `"-0"`, `"NaN"`, `"Infinity"`, `"-Infinity"`). Loading it with {@link LBFGS.loadStateDict}
   * and continuing reproduces an uninterrupted run bit for bit.
   */
  stateDict(): LBFGSStateDict {
    this.#live('stateDict');
    const ctx = `${LABEL}.stateDict`;
    const o = this.#group(ctx);
    const state: LBFGSState = { funcEvals: this.#funcEvals, nIter: this.#nIter };
    const h = this.#history;
    if (h !== null) {
      const vec = (v: Float32Array) => Array.from(v, encodeFloat);
      state.d = vec(h.d);
      state.t = encodeFloat(h.t);
      state.oldDirs = h.oldDirs.map(vec);
      state.oldStps = h.oldStps.map(vec);
      state.ro = h.ro.map(encodeFloat);
      state.hDiag = encodeFloat(h.hDiag);
      state.prevFlatGrad = vec(h.prevFlatGrad);
      state.prevLoss = encodeFloat(h.prevLoss);
    }
    const g = this.paramGroups[0]!;
    const keys = this.#keys();
    const group: Record<string, unknown> & { params: string[] } = { params: keys };
    for (const k of OPTION_KEYS) group[k] = (o as Record<string, unknown>)[k];
    if (g.initialLr !== undefined) group.initialLr = checkNumber(ctx, 'initialLr (param group 0)', g.initialLr, { min: 0 });
    return { state: { [keys[0]!]: state }, paramGroups: [group] };
  }

  /**
   * Loads a state produced by {@link LBFGS.stateDict} (possibly through JSON): the param group's
   * options and the whole state. Everything is checked before anything changes.
   * @throws TypeError or RangeError for a malformed state: parameter keys that differ, unknown
   * keys, a bad option, counters that are not integers >= 0, a vector of the wrong length,
   * `oldDirs`, `oldStps` and `ro` of different lengths, or history present with `nIter` 0 (or
   * missing with `nIter` >= 1).
   */
  loadStateDict(sd: LBFGSStateDict): void {
    const ctx = `${LABEL}.loadStateDict`;
    this.#live('loadStateDict');
    this.#group(ctx);
    checkStateDictShape(ctx, sd);
    checkKnownFields(ctx, 'the state dict', sd, ['state', 'paramGroups']);
    if (sd.paramGroups.length !== 1) throw new RangeError(`${ctx}: expected one saved param group, received ${sd.paramGroups.length}`);
    const saved = sd.paramGroups[0] as unknown;
    if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) throw new TypeError(`${ctx}: expected paramGroups[0] to be an object, received ${describeValue(saved)}`);
    const sg = saved as Record<string, unknown>;
    checkKnownFields(ctx, 'paramGroups[0]', sg, ['params', 'initialLr', ...OPTION_KEYS]);
    const keys = this.#keys();
    if (!Array.isArray(sg.params) || sg.params.length !== keys.length || sg.params.some((k, i) => k !== keys[i])) {
      throw new RangeError(`${ctx}: the saved parameters ${describeValue(sg.params)} do not match this optimizer's ${describeValue(keys)}`);
    }
    const merged: Record<string, unknown> = { ...this.paramGroups[0] };
    for (const k of OPTION_KEYS) if (sg[k] !== undefined) merged[k] = sg[k];
    checkGroupOptions(ctx, merged, 'saved param group 0');
    const initialLr = sg.initialLr === undefined ? undefined : checkNumber(ctx, 'initialLr of saved param group 0', sg.initialLr, { min: 0 });

    // The whole state is filed under the first parameter's key, as torch files it.
    const first = keys[0]!;
    checkKnownFields(ctx, 'state', sd.state, [first]);
    const where = `state[${JSON.stringify(first)}]`;
    const st = sd.state[first] as unknown as Record<string, unknown>;
    if (st === null || typeof st !== 'object' || Array.isArray(st)) throw new TypeError(`${ctx}: expected ${where} to be LBFGS's state { funcEvals, nIter, ... }, received ${describeValue(st)}`);
    checkKnownFields(ctx, where, st, STATE_KEYS);
    const funcEvals = checkNumber(ctx, `${where}.funcEvals`, st.funcEvals, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    const nIter = checkNumber(ctx, `${where}.nIter`, st.nIter, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    const present = VECTOR_KEYS.filter((k) => st[k] !== undefined);
    let history: History | null = null;
    if (nIter === 0) {
      if (present.length > 0) throw new RangeError(`${ctx}: expected no ${present.join(', ')} with ${where}.nIter 0 (they are set by the first iteration)`);
    } else {
      const missing = VECTOR_KEYS.filter((k) => st[k] === undefined);
      if (missing.length > 0) throw new RangeError(`${ctx}: expected ${missing.map((k) => `${where}.${k}`).join(', ')} with ${where}.nIter ${nIter} >= 1`);
      const n = this.#numel;
      const scalar = (name: string, v: unknown, float32: boolean): number => {
        const x = decodeFloat(v);
        if (x === undefined) throw new TypeError(`${ctx}: expected ${where}.${name} to be a number (or "NaN", "Infinity", "-Infinity", "-0"), received ${describeValue(v)}`);
        if (float32 && !Object.is(f32(x), x) && !Number.isNaN(x)) throw new RangeError(`${ctx}: expected ${where}.${name} to be a float32 value, received ${describeValue(x)}`);
        return x;
      };
      const vectors = (name: string, v: unknown): Float32Array[] => {
        if (!Array.isArray(v)) throw new TypeError(`${ctx}: expected ${where}.${name} to be an array of vectors, received ${describeValue(v)}`);
        return v.map((x, i) => decodeBuffer(ctx, `${where}.${name}[${i}]`, x, n));
      };
      const oldDirs = vectors('oldDirs', st.oldDirs);
      const oldStps = vectors('oldStps', st.oldStps);
      // A checkpoint gives ro back as a Float32Array.
      const roIn: unknown = st.ro instanceof Float32Array ? Array.from(st.ro) : st.ro;
      if (!Array.isArray(roIn)) throw new TypeError(`${ctx}: expected ${where}.ro to be an array of numbers, received ${describeValue(st.ro)}`);
      const ro = roIn.map((x, i) => scalar(`ro[${i}]`, x, true));
      if (oldStps.length !== oldDirs.length || ro.length !== oldDirs.length) {
        throw new RangeError(`${ctx}: expected ${where}.oldDirs, ${where}.oldStps and ${where}.ro to have the same length, received ${oldDirs.length}, ${oldStps.length} and ${ro.length}`);
      }
      history = {
        d: decodeBuffer(ctx, `${where}.d`, st.d, n),
        t: scalar('t', st.t, false),
        oldDirs,
        oldStps,
        ro,
        hDiag: scalar('hDiag', st.hDiag, true),
        prevFlatGrad: decodeBuffer(ctx, `${where}.prevFlatGrad`, st.prevFlatGrad, n),
        prevLoss: scalar('prevLoss', st.prevLoss, false),
      };
    }
    // Commit.
    const g = this.paramGroups[0] as unknown as Record<string, unknown>;
    for (const k of OPTION_KEYS) g[k] = merged[k];
    if (initialLr !== undefined) g.initialLr = initialLr;
    this.#funcEvals = funcEvals;
    this.#nIter = nIter;
    this.#history = history;
  }
}
