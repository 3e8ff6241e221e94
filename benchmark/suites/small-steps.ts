/**
 * The original cases at 10K parameters (one tensor and 10 tensors of 1K) against the naive TS loop,
 * and the fixed cost of a step (16 parameters, one tensor and 256 tensors). Thousands of steps run
 * per sample, so each sample is a batch calibrated to ~3 ms, and θ is restored before each one.
 */
import { contender, findRow, isSubnormal, makeTensors, mdRow, printRow, THREADS, timeBatch, toRow, type Contender, type Harness, type Ratio, type Row, type Stepper, type Suite } from '../harness.js';
import { naive, type BenchOptimizer } from '../catalog.js';
import { ORDER, resultsNote } from './large-steps.js';

const SMALL = 10240;
const ALL = THREADS[THREADS.length - 1]!;

/** Subnormal float32 values in an optimizer's state buffers (via stateDict), or null if unreadable. */
function countSubnormalState(opt: Stepper): number | null {
  try {
    const sd = (opt as unknown as { stateDict(): { state: Record<string, Record<string, unknown>> } }).stateDict();
    let n = 0;
    for (const entry of Object.values(sd.state)) {
      for (const v of Object.values(entry)) if (Array.isArray(v)) for (const x of v as number[]) if (isSubnormal(x)) n++;
    }
    return n;
  } catch {
    return null;
  }
}

export function smallSteps(kinds: BenchOptimizer[]): Suite {
  const rows: Row[] = [];
  let rounds = 0;
  let sampleMs = 0;
  const find = (kind: string, caseName: string, impl: string, threads: number) => findRow(rows, kind, caseName, impl, threads);

  function phase(h: Harness, o: BenchOptimizer): Record<string, unknown> {
    console.log(`\n# ${o.label}: ${SMALL} params (one tensor / 10 tensors), ${rounds} interleaved rounds of ~${sampleMs} ms samples`);
    const contenders: Contender[] = [];
    // Thousands of steps run here; restoring θ before each sample keeps it in its start range.
    const restorer = (targets: Float32Array[]) => {
      const saved = targets.map((d) => d.slice());
      return () => targets.forEach((d, j) => d.set(saved[j]!));
    };
    const add = (caseName: string, impl: Contender['impl'], threads: number, ps: Array<{ data: Float32Array }>, opt: Stepper) =>
      contenders.push(
        contender({
          id: `${o.name}/${caseName}/${impl}/${threads}`,
          kind: o.name,
          label: o.label,
          bytes: o.bytes,
          caseName,
          impl,
          threads,
          params: ps.reduce((s, p) => s + p.data.length, 0),
          tensors: ps.length,
          opt,
          reset: restorer(ps.map((p) => p.data)),
        }),
      );
    const single = makeTensors(h.lib, SMALL, 1, 3);
    const ten = makeTensors(h.lib, SMALL, 10, 4);
    const tiny = makeTensors(h.lib, 16, 1, 5);
    const tiny256 = makeTensors(h.lib, 256 * 16, 256, 6);
    const optSingle = o.make(single);
    const optTen = o.make(ten);
    for (const t of THREADS) {
      add('10K', 'ferroptim', t, single, optSingle);
      add('10x1K', 'ferroptim', t, ten, optTen);
    }
    const slow = naive(o, single);
    add('10K', 'naive-ts', 1, slow.data.map((data) => ({ data })), slow);
    // Fixed cost of a step (JS + N-API + engine), with one tensor and with 256 tensors.
    const optTiny = o.make(tiny);
    const optTiny256 = o.make(tiny256);
    add('16 params', 'ferroptim', 1, tiny, optTiny);
    add('256x16', 'ferroptim', 1, tiny256, optTiny256);
    // Calibrate the batch so a sample takes about sampleMs.
    for (const c of contenders) {
      h.useThreads(c.threads);
      timeBatch(c.opt, 50);
      const per = Math.min(...[0, 1, 2].map(() => timeBatch(c.opt, 50)));
      c.batch = Math.max(1, Math.round(sampleMs / Math.max(per, 1e-6)));
    }
    h.warm(contenders, 1);
    h.interleave(contenders, rounds, () => 1);
    for (const c of contenders) {
      const r = toRow(c);
      rows.push(r);
      printRow(r);
    }
    // Subnormal optimizer state makes every step several times slower; the data is chosen to avoid it, and this checks that it did.
    const subnormals = [optSingle, optTen, optTiny, optTiny256].reduce<number | null>((acc, x) => {
      const n = countSubnormalState(x);
      return acc === null || n === null ? null : acc + n;
    }, 0);
    if (subnormals === null) console.log('  (could not read the optimizer state to check for subnormals)');
    else console.log(`  subnormal values in the optimizer state after timing: ${subnormals}${subnormals > 0 ? '  <- the timings above are slowed by subnormal arithmetic' : ''}`);
    return { subnormalStateValues: subnormals };
  }

  return {
    async run(h) {
      rounds = h.quick ? 6 : 40;
      sampleMs = h.quick ? 1 : 3;
      // The C kernels alone at this size, for the fixed cost in the µs-per-step ratios.
      if (kinds.some((o) => o.probeKernel)) h.yardstick.probe(SMALL, 1, 'small');
      for (const o of kinds) await h.phase(`${o.name}-10K`, () => phase(h, o));
    },

    ratios(h) {
      const out: Ratio[] = [];
      const cSmall = h.yardstick.runs.find((r) => r.when === 'small');
      kinds.forEach((o, i) => {
        const slow = find(o.name, '10K', 'naive-ts', 1);
        const fast = find(o.name, '10K', 'ferroptim', ALL);
        if (slow && fast) {
          out.push({
            name: `${o.label} 10K ${ALL}T: ferroptim / naive TS speed`,
            phase: `${o.name}-10K`,
            order: ORDER.vsNaive + i,
            value: slow.medianMs / fast.medianMs,
            detail: `${(slow.medianMs * 1e3).toFixed(2)} µs vs ${(fast.medianMs * 1e3).toFixed(2)} µs (medians)`,
          });
        }
        for (const t of THREADS) {
          const r = find(o.name, '10K', 'ferroptim', t);
          if (!r) continue;
          const us = r.medianMs * 1e3;
          const cl = o.probeKernel ? cSmall?.lines.find((l) => l.kernel === o.probeKernel) : undefined;
          const fixed = find(o.name, '16 params', 'ferroptim', 1);
          out.push({
            name: `${o.label} 10K ${t}T: µs per step`,
            phase: `${o.name}-10K`,
            order: ORDER.smallUs + i,
            value: us,
            target: '<= 10 µs',
            pass: us <= 10,
            detail:
              `min ${(r.minMs * 1e3).toFixed(2)} µs${fixed ? `; fixed cost of a step (16 params) ${(fixed.medianMs * 1e3).toFixed(2)} µs` : ''}` +
              (cl ? `; C kernel alone ${(cl.ms * 1e3).toFixed(1)} µs (probe, 3 decimals of ms)` : ''),
          });
        }
      });
      return out;
    },

    markdown(h) {
      if (!rows.length) return;
      h.md.results().table.push(...rows.map(mdRow));
      resultsNote(h, kinds);
    },

    json: () => ({ options: { smallRounds: rounds }, results: rows }),
  };
}
