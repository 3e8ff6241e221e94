/**
 * Verification before anything is timed: every selected optimizer against its TS oracle
 * (__test__/oracles/*.ts) at each thread count, with fresh gradients each step, and for identical
 * results across thread counts. A mismatch aborts the run. Printed as two sections, as before the
 * harness: the three optimizers with naive-ts rows (whose timed loops are these oracles), then the others.
 */
import { fill, round, THREADS, type Harness, type Suite } from '../harness.js';
import type { BenchOptimizer } from '../catalog.js';

/** Tensors of the checks: awkward lengths, > PAR_MIN (131072) in total so the parallel path runs too. */
const VERIFY_LENS = [150001, 10240, 1000, 4097, 1];
const VERIFY_TOTAL = VERIFY_LENS.reduce((a, b) => a + b, 0);

export interface Verdict {
  kind: string;
  threads: number;
  steps: number;
  /** 'reference' (against the TS oracle) or 'sanity' (finite and moved only: no oracle). */
  check: 'reference' | 'sanity';
  maxAbsDiff: number | null;
  /** max |native − oracle| / (1e-6 + 1e-5·|oracle|); <= 1 passes. */
  worst: number | null;
  /** Elements whose bits differ at all. */
  differing: number | null;
  finite: boolean;
  moved: number;
  ok: boolean;
  threadInvariant: boolean;
}

/**
 * `steps` steps of the native optimizer and its oracle on the same data at each thread count.
 * Passes when every element is finite, the update is far above the tolerance (moved > `minMoved`)
 * and native and oracle agree within 1e-6 + 1e-5·|p|.
 */
function verify(h: Harness, o: BenchOptimizer, steps: number, minMoved: number): Verdict[] {
  const out: Array<Omit<Verdict, 'threadInvariant'>> = [];
  const finals: Float32Array[][] = [];
  for (const threads of THREADS) {
    h.lib.setNumThreads(threads);
    const params = VERIFY_LENS.map((n, j) => new h.lib.Parameter(fill(new Float32Array(n), 101 + j, -1, 1)));
    const initial = params.map((p) => p.data.slice());
    const ref = params.map((p) => p.data.slice());
    const oracle = o.oracle?.(ref) ?? null;
    const nat = o.make(params);
    for (let t = 1; t <= steps; t++) {
      params.forEach((p, j) => fill(p.grad!, 1000 * t + j, -1, 1));
      nat.step();
      oracle?.(
        params.map((p) => p.grad!.slice()),
        t,
      );
    }
    let maxAbsDiff = 0;
    let worst = 0;
    let differing = 0;
    let moved = 0;
    let finite = true;
    params.forEach((p, j) => {
      const r = ref[j]!;
      for (let i = 0; i < r.length; i++) {
        const x = p.data[i]!;
        if (!Number.isFinite(x)) finite = false;
        moved = Math.max(moved, Math.abs(x - initial[j]![i]!));
        if (!oracle) continue;
        if (!Object.is(x, r[i]!)) differing++;
        const d = Math.abs(x - r[i]!);
        maxAbsDiff = Math.max(maxAbsDiff, d);
        worst = Math.max(worst, d / (1e-6 + 1e-5 * Math.abs(r[i]!)));
      }
    });
    const ok = finite && moved > minMoved && (!oracle || (worst <= 1 && Number.isFinite(worst)));
    const checked = oracle !== null;
    out.push({
      kind: o.name,
      threads,
      steps,
      check: checked ? 'reference' : 'sanity',
      maxAbsDiff: checked ? maxAbsDiff : null,
      worst: checked ? round(worst, 4) : null,
      differing: checked ? differing : null,
      finite,
      moved: round(moved, 6),
      ok,
    });
    finals.push(params.map((p) => p.data));
  }
  const bits = (a: Float32Array[]) => a.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const first = bits(finals[0]!);
  const threadInvariant = finals.every((f) => bits(f).every((b, j) => b.equals(first[j]!)));
  h.lib.setNumThreads(THREADS[THREADS.length - 1]!);
  return out.map((v) => ({ ...v, threadInvariant }));
}

/**
 * @param naiveKinds - the optimizers with naive-ts rows (5 steps, as their first section)
 * @param others - the rest (12 steps: Lookahead syncs after steps 1, 6 and 11; RAdam is rectified from step 6)
 */
export function verifySuite(naiveKinds: BenchOptimizer[], others: BenchOptimizer[]): Suite {
  const first: Verdict[] = [];
  const second: Verdict[] = [];
  return {
    async run(h) {
      let failed = false;
      const report = (o: BenchOptimizer, vs: Verdict[], pad: number, line: (v: Verdict) => string) => {
        for (const v of vs) {
          console.log(`  ${o.label.padEnd(pad)} ${v.threads}T: ${line(v)} -> ${v.ok ? 'ok' : 'MISMATCH'}`);
          if (!v.ok) failed = true;
        }
        if (THREADS.length > 1) console.log(`  ${o.label.padEnd(pad)} results bit-identical across thread counts: ${vs[0]!.threadInvariant ? 'yes' : 'NO'}`);
        if (!vs[0]!.threadInvariant) failed = true;
      };
      if (naiveKinds.length) {
        console.log(`\n# verification: native vs naive TS (the oracle loops the naive-ts rows time), 5 steps, ${VERIFY_LENS.length} tensors (${VERIFY_TOTAL} params), fresh grads each step`);
        for (const o of naiveKinds) {
          const vs = verify(h, o, 5, 1e-3);
          first.push(...vs);
          report(o, vs, 13, (v) => `max |Δ| ${v.maxAbsDiff!.toExponential(2)}, worst/tol ${v.worst} (tol 1e-6 + 1e-5·|p|), moved ${v.moved}`);
        }
      }
      if (others.length) {
        const some = others.filter((o) => !o.oracle).map((o) => o.label);
        console.log(
          `\n# verification: native vs the TS reference oracles (__test__/oracles/*.ts), bit for bit${some.length ? ` (finite and moved only for ${some.join(', ')}: no oracle)` : ''}, ` +
            `12 steps, ${VERIFY_LENS.length} tensors (${VERIFY_TOTAL} params), fresh grads each step`,
        );
        for (const o of others) {
          // Lion moves each element by lr = 1e-4 a step; everything else moves far more.
          const vs = verify(h, o, 12, 1e-4);
          second.push(...vs);
          report(o, vs, 24, (v) =>
            v.check === 'reference'
              ? `max |Δ| ${v.maxAbsDiff!.toExponential(2)}, ${v.differing === 0 ? 'bit-identical' : `${v.differing} elements differ in their bits`}, finite ${v.finite ? 'yes' : 'NO'}, moved ${v.moved}`
              : `no oracle, finite ${v.finite ? 'yes' : 'NO'}, moved ${v.moved}`,
          );
        }
      }
      if (failed) h.fail('a native optimizer disagrees with its reference (or differs across thread counts); not timing anything.');
    },
    json: () => ({ verification: first, allOptimizersVerification: second }),
  };
}
