/**
 * The Gaussian and truncated-Gaussian math of TPE, ported from Optuna's
 * `optuna/samplers/_tpe/_erf.py` and `_truncnorm.py` (which themselves follow SciPy and
 * FreeBSD's `s_erf.c`). Everything works in log space where tails would underflow.
 *
 * Notation: `ndtr(x)` is the standard normal CDF Φ(x); a truncated normal with standardized
 * bounds `a < b` has density φ(x) / (Φ(b) − Φ(a)) on `[a, b]`.
 * @module
 */

// ---------------------------------------------------------------------------------------------
// erf / erfc: a port of FreeBSD's msun s_erf.c (Sun Microsystems, 1993: "Permission to use,
// copy, modify, and distribute this software is freely granted, provided that this notice is
// preserved"). Python's math.erf/math.erfc (glibc) is the same algorithm, so the results agree
// to the last bit or two. Optuna's _erf.py uses these coefficients too.
// ---------------------------------------------------------------------------------------------

const erx = 8.45062911510467529297e-1;
const efx = 1.28379167095512586316e-1;
const efx8 = 1.02703333676410069053e0;
const pp0 = 1.28379167095512558561e-1;
const pp1 = -3.25042107247001499370e-1;
const pp2 = -2.84817495755985104766e-2;
const pp3 = -5.77027029648944159157e-3;
const pp4 = -2.37630166566501626084e-5;
const qq1 = 3.97917223959155352819e-1;
const qq2 = 6.50222499887672944485e-2;
const qq3 = 5.08130628187576562776e-3;
const qq4 = 1.32494738004321644526e-4;
const qq5 = -3.96022827877536812320e-6;
const pa0 = -2.36211856075265944077e-3;
const pa1 = 4.14856118683748331666e-1;
const pa2 = -3.72207876035701323847e-1;
const pa3 = 3.18346619901161753674e-1;
const pa4 = -1.10894694282396677476e-1;
const pa5 = 3.54783043256182359371e-2;
const pa6 = -2.16637559486879084300e-3;
const qa1 = 1.06420880400844228286e-1;
const qa2 = 5.40397917702171048937e-1;
const qa3 = 7.18286544141962662868e-2;
const qa4 = 1.26171219808761642112e-1;
const qa5 = 1.36370839120290507362e-2;
const qa6 = 1.19844998467991074170e-2;
const ra0 = -9.86494403484714822705e-3;
const ra1 = -6.93858572707181764372e-1;
const ra2 = -1.05586262253232909814e1;
const ra3 = -6.23753324503260060396e1;
const ra4 = -1.62396669462573470355e2;
const ra5 = -1.84605092906711035994e2;
const ra6 = -8.12874355063065934246e1;
const ra7 = -9.81432934416914548592e0;
const sa1 = 1.96512716674392571292e1;
const sa2 = 1.37657754143519042600e2;
const sa3 = 4.34565877475229228821e2;
const sa4 = 6.45387271733267880336e2;
const sa5 = 4.29008140027567833386e2;
const sa6 = 1.08635005541779435134e2;
const sa7 = 6.57024977031928170135e0;
const sa8 = -6.04244152148580987438e-2;
const rb0 = -9.86494292470009928597e-3;
const rb1 = -7.99283237680523006574e-1;
const rb2 = -1.77579549177547519889e1;
const rb3 = -1.60636384855821916062e2;
const rb4 = -6.37566443368389627722e2;
const rb5 = -1.02509513161107724954e3;
const rb6 = -4.83519191608651397019e2;
const sb1 = 3.03380607434824582924e1;
const sb2 = 3.25792512996573918826e2;
const sb3 = 1.53672958608443695994e3;
const sb4 = 3.19985821950859553908e3;
const sb5 = 2.55305040643316442583e3;
const sb6 = 4.74528541206955367215e2;
const sb7 = -2.24409524465858183362e1;
const tiny = 1e-300;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Index of the high (sign and exponent) 32-bit word of a double in the platform's byte order. */
export const HI_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** The high 32 bits of a double, as a signed integer (fdlibm's GET_HIGH_WORD). */
function highWord(x: number): number {
  f64[0] = x;
  return u32[HI_WORD]! | 0;
}

/** `x` with its low 32 bits cleared (fdlibm's SET_LOW_WORD(x, 0)). */
function clearLowWord(x: number): number {
  f64[0] = x;
  u32[1 - HI_WORD] = 0;
  return f64[0]!;
}

/** exp(−x² − 0.5625 + R/S) computed as fdlibm does, splitting x² to keep its rounding error out. */
function tailExp(x: number, rs: number): number {
  const z = clearLowWord(x);
  return Math.exp(-z * z - 0.5625) * Math.exp((z - x) * (z + x) + rs);
}

/** The error function erf(x) (fdlibm `erf`, error < 1 ulp). */
export function erf(x: number): number {
  const hx = highWord(x);
  const ix = hx & 0x7fffffff;
  if (ix >= 0x7ff00000) {
    // erf(NaN) = NaN, erf(±inf) = ±1.
    if (Number.isNaN(x)) return x;
    return x > 0 ? 1 : -1;
  }
  if (ix < 0x3feb0000) {
    // |x| < 0.84375: erf(x) = x + x·R(x²).
    if (ix < 0x3e300000) {
      // |x| < 2**-28.
      if (ix < 0x00800000) return 0.125 * (8.0 * x + efx8 * x);
      return x + efx * x;
    }
    const z = x * x;
    const r = pp0 + z * (pp1 + z * (pp2 + z * (pp3 + z * pp4)));
    const s = 1 + z * (qq1 + z * (qq2 + z * (qq3 + z * (qq4 + z * qq5))));
    const y = r / s;
    return x + x * y;
  }
  if (ix < 0x3ff40000) {
    // 0.84375 <= |x| < 1.25: erf(x) = erx + P(s)/Q(s), s = |x| − 1.
    const s = Math.abs(x) - 1;
    const P = pa0 + s * (pa1 + s * (pa2 + s * (pa3 + s * (pa4 + s * (pa5 + s * pa6)))));
    const Q = 1 + s * (qa1 + s * (qa2 + s * (qa3 + s * (qa4 + s * (qa5 + s * qa6)))));
    return hx >= 0 ? erx + P / Q : -erx - P / Q;
  }
  if (ix >= 0x40180000) {
    // |x| >= 6: erf(x) = ±1 to double precision.
    return hx >= 0 ? 1 - tiny : tiny - 1;
  }
  const ax = Math.abs(x);
  const s = 1 / (ax * ax);
  let R: number;
  let S: number;
  if (ix < 0x4006db6e) {
    // |x| < 1/0.35.
    R = ra0 + s * (ra1 + s * (ra2 + s * (ra3 + s * (ra4 + s * (ra5 + s * (ra6 + s * ra7))))));
    S = 1 + s * (sa1 + s * (sa2 + s * (sa3 + s * (sa4 + s * (sa5 + s * (sa6 + s * (sa7 + s * sa8)))))));
  } else {
    // 1/0.35 <= |x| < 6.
    R = rb0 + s * (rb1 + s * (rb2 + s * (rb3 + s * (rb4 + s * (rb5 + s * rb6)))));
    S = 1 + s * (sb1 + s * (sb2 + s * (sb3 + s * (sb4 + s * (sb5 + s * (sb6 + s * sb7))))));
  }
  const r = tailExp(ax, R / S);
  return hx >= 0 ? 1 - r / ax : r / ax - 1;
}

/** The complementary error function erfc(x) = 1 − erf(x), accurate in the right tail (fdlibm `erfc`). */
export function erfc(x: number): number {
  const hx = highWord(x);
  const ix = hx & 0x7fffffff;
  if (ix >= 0x7ff00000) {
    // erfc(NaN) = NaN, erfc(+inf) = 0, erfc(-inf) = 2.
    if (Number.isNaN(x)) return x;
    return x > 0 ? 0 : 2;
  }
  if (ix < 0x3feb0000) {
    // |x| < 0.84375.
    if (ix < 0x3c700000) return 1 - x; // |x| < 2**-56
    const z = x * x;
    const r = pp0 + z * (pp1 + z * (pp2 + z * (pp3 + z * pp4)));
    const s = 1 + z * (qq1 + z * (qq2 + z * (qq3 + z * (qq4 + z * qq5))));
    const y = r / s;
    if (hx < 0x3fd00000) {
      // x < 1/4 (including every negative x: hx is signed).
      return 1 - (x + x * y);
    }
    let rr = x * y;
    rr += x - 0.5;
    return 0.5 - rr;
  }
  if (ix < 0x3ff40000) {
    // 0.84375 <= |x| < 1.25.
    const s = Math.abs(x) - 1;
    const P = pa0 + s * (pa1 + s * (pa2 + s * (pa3 + s * (pa4 + s * (pa5 + s * pa6)))));
    const Q = 1 + s * (qa1 + s * (qa2 + s * (qa3 + s * (qa4 + s * (qa5 + s * qa6)))));
    if (hx >= 0) return 1 - erx - P / Q;
    return 1 + (erx + P / Q);
  }
  if (ix < 0x403c0000) {
    // |x| < 28.
    const ax = Math.abs(x);
    const s = 1 / (ax * ax);
    let R: number;
    let S: number;
    if (ix < 0x4006db6d) {
      // |x| < 1/0.35.
      R = ra0 + s * (ra1 + s * (ra2 + s * (ra3 + s * (ra4 + s * (ra5 + s * (ra6 + s * ra7))))));
      S = 1 + s * (sa1 + s * (sa2 + s * (sa3 + s * (sa4 + s * (sa5 + s * (sa6 + s * (sa7 + s * sa8)))))));
    } else {
      // |x| >= 1/0.35.
      if (hx < 0 && ix >= 0x40180000) return 2 - tiny; // x < -6
      R = rb0 + s * (rb1 + s * (rb2 + s * (rb3 + s * (rb4 + s * (rb5 + s * rb6)))));
      S = 1 + s * (sb1 + s * (sb2 + s * (sb3 + s * (sb4 + s * (sb5 + s * (sb6 + s * sb7))))));
    }
    const r = tailExp(ax, R / S);
    return hx > 0 ? r / ax : 2 - r / ax;
  }
  return hx > 0 ? tiny * tiny : 2 - tiny;
}

// ---------------------------------------------------------------------------------------------
// Normal CDF and its logarithm (_truncnorm.py: _ndtr_single, _ndtr, _log_ndtr_single).
// ---------------------------------------------------------------------------------------------

const SQRT2 = Math.SQRT2; // Python's 2**0.5, bit for bit.
/** log √(2π) (`_norm_pdf_logC`). */
export const NORM_PDF_LOG_C = Math.log(Math.sqrt(2 * Math.PI));
const NDTRI_EXP_APPROX_C = Math.sqrt(3) / Math.PI;
const LN2 = Math.LN2;
const EPSILON = 2.220446049250313e-16;

/**
 * Φ(a) with erfc in both tails (`_ndtr_single`): 0.5·erfc(−a/√2) on the left, 0.5 + 0.5·erf
 * in the middle, 1 − 0.5·erfc(a/√2) on the right.
 */
export function ndtrSingle(a: number): number {
  const x = a / SQRT2;
  if (x < -1 / SQRT2) return 0.5 * erfc(-x);
  if (x < 1 / SQRT2) return 0.5 + 0.5 * erf(x);
  return 1.0 - 0.5 * erfc(x);
}

/** Φ(a) as 0.5 + 0.5·erf(a/√2) (`_ndtr`, used where Φ is not small). */
export function ndtr(a: number): number {
  return 0.5 + 0.5 * erf(a / SQRT2);
}

/**
 * log Φ(a) (`_log_ndtr_single`): −Φ(−a) for a > 6 (log(1 − p) ≈ −p), log Φ(a) down to −20, and
 * below that the asymptotic series log Φ(a) = −a²/2 − log(−a) − log √(2π) +
 * log(1 − 1/a² + 3/a⁴ − 15/a⁶ + …), summed until it stops changing.
 */
export function logNdtr(a: number): number {
  if (a > 6) return -ndtrSingle(-a);
  if (a > -20) return Math.log(ndtrSingle(a));
  const logLHS = -0.5 * (a * a) - Math.log(-a) - 0.5 * Math.log(2 * Math.PI);
  let lastTotal = 0;
  let rhs = 1;
  let numerator = 1;
  let denomFactor = 1;
  const denomCons = 1 / (a * a);
  let sign = 1;
  let i = 0;
  while (Math.abs(lastTotal - rhs) > EPSILON) {
    i += 1;
    lastTotal = rhs;
    sign = -sign;
    denomFactor *= denomCons;
    numerator *= 2 * i - 1;
    rhs += sign * numerator * denomFactor;
  }
  return logLHS + Math.log(rhs);
}

/** log(e^p + e^q) as NumPy's `logaddexp` computes it (`_log_sum`). */
export function logAddExp(x: number, y: number): number {
  if (x === y) return x + LN2; // also +inf/+inf and -inf/-inf
  const tmp = x - y;
  if (tmp > 0) return x + Math.log1p(Math.exp(-tmp));
  if (tmp <= 0) return y + Math.log1p(Math.exp(tmp));
  return tmp; // NaN
}

/** log(e^p − e^q) for q <= p (`_log_diff`). */
export function logDiff(logP: number, logQ: number): number {
  return logP + Math.log1p(-Math.exp(logQ - logP));
}

/**
 * log(Φ(b) − Φ(a)), the log Gaussian mass of `[a, b]` (`_log_gauss_mass`). Left of 0 it is a
 * difference of log-CDFs; right of 0 the interval is mirrored (the left tail is the accurate
 * one); an interval straddling 0 uses log1p(−Φ(a) − Φ(−b)), which avoids cancellation when the
 * mass is close to 1.
 */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a));
  if (a > 0) return logDiff(logNdtr(-a), logNdtr(-b));
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return Math.log1p(-ndtr(a) - ndtr(-b));
}

/** The standard normal log-density (`_norm_logpdf`). */
export function normLogpdf(x: number): number {
  return -(x * x) / 2.0 - NORM_PDF_LOG_C;
}

/**
 * The log density at `x` of a normal with mean `loc` and standard deviation `scale` truncated to
 * standardized bounds `[a, b]` (`logpdf`): log φ(z) − log(Φ(b) − Φ(a)) − log(scale) with
 * z = (x − loc)/scale; −inf outside `[a, b]`, NaN when `a === b`.
 */
export function truncnormLogpdf(x: number, a: number, b: number, loc: number, scale: number): number {
  const z = (x - loc) / scale;
  if (a === b) return NaN;
  if (z < a || z > b) return -Infinity;
  return normLogpdf(z) - logGaussMass(a, b) - Math.log(scale);
}

/**
 * Inverts log Φ for a whole batch (`_ndtri_exp`): returns x with log Φ(x) = y for each y.
 *
 * Newton's method on f(x) = log Φ(x) − y, with f'(x) = φ(x)/Φ(x), so
 * x ← x − (log Φ(x) − y)·exp(log Φ(x) − log φ(x)). For y close to 0 (y > −0.01) it solves for
 * −x instead, from z = log(1 − e^y) = log(−expm1(y)). Initial guesses: the tail asymptote
 * x ≈ −√(−2(z + log √(2π))) for z < −5, otherwise the logistic approximation
 * Φ(x) ≈ 1/(1 + e^{−πx/√3}), i.e. x ≈ −(√3/π)·log(expm1(−z)).
 *
 * As in Optuna, the iteration stops when every element of the batch has converged
 * (|dx| < 1e-8·|x|), so elements keep polishing while others finish, which this mirrors.
 */
export function ndtriExp(y: Float64Array): Float64Array {
  const n = y.length;
  const z = new Float64Array(n);
  const flipped = new Uint8Array(n);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const yi = y[i]!;
    if (yi > -1e-2) {
      flipped[i] = 1;
      z[i] = Math.log(-Math.expm1(yi));
    } else {
      z[i] = yi;
    }
    const zi = z[i]!;
    if (zi < -5) x[i] = -Math.sqrt(-2.0 * (zi + NORM_PDF_LOG_C));
    else if (zi >= -5) x[i] = -NDTRI_EXP_APPROX_C * Math.log(Math.expm1(-zi));
    else x[i] = zi; // NaN
  }
  for (let iter = 0; iter < 100; iter++) {
    let all = true;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const logNdtrX = logNdtr(xi);
      const dx = (logNdtrX - z[i]!) * Math.exp(logNdtrX - normLogpdf(xi));
      const xn = xi - dx;
      x[i] = xn;
      if (!(Math.abs(dx) < 1e-8 * Math.abs(xn))) all = false;
    }
    if (all) break;
  }
  for (let i = 0; i < n; i++) if (flipped[i]) x[i] = -x[i]!;
  return x;
}

/**
 * The quantile function of truncated standard normals (`ppf`): for each i, the c with
 * Φ(c) = Φ(a) + q·(Φ(b) − Φ(a)), computed as log Φ(c) = logaddexp(log Φ(a), log q + log mass).
 * For a >= 0 it works on the mirrored interval [−b, −a] with 1 − q. Elements with a < 0 and
 * with a >= 0 are inverted as two batches, as Optuna does.
 */
export function ppf(q: Float64Array, a: Float64Array, b: Float64Array): Float64Array {
  const n = q.length;
  const out = new Float64Array(n);
  const left: number[] = [];
  const right: number[] = [];
  for (let i = 0; i < n; i++) (a[i]! < 0 ? left : right).push(i);
  const solve = (idx: number[], isLeft: boolean) => {
    if (idx.length === 0) return;
    const logPhi = new Float64Array(idx.length);
    idx.forEach((i, k) => {
      const ai = a[i]!;
      const bi = b[i]!;
      const logMass = logGaussMass(ai, bi);
      logPhi[k] = isLeft ? logAddExp(logNdtr(ai), Math.log(q[i]!) + logMass) : logAddExp(logNdtr(-bi), Math.log1p(-q[i]!) + logMass);
    });
    const x = ndtriExp(logPhi);
    idx.forEach((i, k) => {
      out[i] = isLeft ? x[k]! : -x[k]!;
    });
  };
  solve(left, true);
  solve(right, false);
  for (let i = 0; i < n; i++) {
    if (q[i] === 0) out[i] = a[i]!;
    if (q[i] === 1) out[i] = b[i]!;
    if (a[i] === b[i]) out[i] = NaN;
  }
  return out;
}

/**
 * NumPy's summation order for a contiguous run of doubles (`pairwise_sum`): sequential below
 * 8 terms, eight interleaved partial sums up to 128, and halving above. Used where Optuna
 * calls `sum()`, so results agree to the last bit more often (the order only moves the
 * last bits).
 */
export function npSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    // Eight partial sums in locals (no allocation), added in NumPy's order.
    let r0 = a[start]!;
    let r1 = a[start + 1]!;
    let r2 = a[start + 2]!;
    let r3 = a[start + 3]!;
    let r4 = a[start + 4]!;
    let r5 = a[start + 5]!;
    let r6 = a[start + 6]!;
    let r7 = a[start + 7]!;
    let i = 8;
    const end = n - (n % 8);
    for (; i < end; i += 8) {
      const o = start + i;
      r0 += a[o]!;
      r1 += a[o + 1]!;
      r2 += a[o + 2]!;
      r3 += a[o + 3]!;
      r4 += a[o + 4]!;
      r5 += a[o + 5]!;
      r6 += a[o + 6]!;
      r7 += a[o + 7]!;
    }
    // prettier-ignore
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npSum(a, start, n2) + npSum(a, start + n2, n - n2);
}

/** NumPy's `np.round` (round half to even, "banker's rounding"; Python's `round` too). */
export function roundHalfEven(v: number): number {
  if (!Number.isFinite(v)) return v;
  const r = Math.round(v);
  if (Math.abs(v % 1) === 0.5) return 2 * Math.round(v / 2);
  return r;
}
