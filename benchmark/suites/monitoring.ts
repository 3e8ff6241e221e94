/**
 * The cost of monitoring and clipping beside an AdamW step at 16M parameters: AdamW plain, with a
 * GradNormMonitor attached, with skipNonFinite, and clipGradNorm(params, 1e30) (the norm's read
 * pass; nothing to scale), interleaved round by round, against the C probe's sum of squares.
 */
import { contender, fmtTime, makeTensors, median, NOISY, printRow, round, THREADS, toRow, type Contender, type Harness, type Row, type Stepper, type Suite } from '../harness.js';
import type { BenchOptimizer } from '../catalog.js';
import { BIG } from './large-steps.js';

interface Overhead {
  what: string;
  threads: number;
  pairedPct: number;
  medianPct: number;
  target?: string;
  pass?: boolean;
}

/** The median over rounds of (best step of `a` / best step of `b`) within each round of `per` samples. */
function perRoundRatio(a: Row, b: Row, per: number): number {
  const mins = (r: Row) => Array.from({ length: Math.floor(r.samplesMs.length / per) }, (_, k) => Math.min(...r.samplesMs.slice(k * per, (k + 1) * per)));
  const bm = mins(b);
  return median(mins(a).map((x, k) => x / bm[k]!));
}

/**
 * @param enabled - whether to run it (`--only monitor`, or everything)
 * @param adamw - the optimizer measured
 */
export function monitoringSuite(enabled: boolean, adamw: BenchOptimizer): Suite {
  const rows: Row[] = [];
  const overheads: Overhead[] = [];
  const clipVsC: Array<{ threads: number; clipMinMs: number; cMs: number | null; ratio: number | null; pctOfAdamW: number }> = [];
  const checks: Record<string, unknown> = {};
  let rounds = 0;
  let steps = 0;
  let segments = 0;
  const phaseName = 'monitor-16M';
  const KINDS = {
    adamw: { label: adamw.label, bytes: adamw.bytes },
    'adamw+monitor': { label: `${adamw.label} + GradNormMonitor`, bytes: adamw.bytes },
    'adamw+skip': { label: `${adamw.label} + skipNonFinite`, bytes: adamw.bytes },
    clip: { label: 'clipGradNorm (no clipping)', bytes: 4 },
  };

  function phase(h: Harness): Record<string, unknown> {
    const probe = h.yardstick.available;
    console.log(
      `\n# monitoring and clipping: ${adamw.label} ${BIG} params, plain / + GradNormMonitor / + skipNonFinite, and clipGradNorm(maxNorm 1e30); ` +
        `${rounds} interleaved rounds of ${steps} step(s)` +
        (probe ? `, C probe (sum_squares) before each of ${segments} segment(s)${h.quick ? '' : ' and after the last'}` : ''),
    );
    const { lib } = h;
    const params = makeTensors(lib, BIG, 1, 21);
    const plain = adamw.make(params);
    const watched = adamw.make(params);
    const monitor = new lib.GradNormMonitor(watched as never);
    const guarded = adamw.make(params, { skipNonFinite: true });
    let clipNorm = NaN;
    const clip: Stepper = { step: () => (clipNorm = lib.clipGradNorm(params, 1e30)) };
    const contenders: Contender[] = [];
    const pairs: Array<[keyof typeof KINDS, Stepper]> = [
      ['adamw', plain],
      ['adamw+monitor', watched],
      ['adamw+skip', guarded],
      ['clip', clip],
    ];
    for (const [kind, opt] of pairs) {
      for (const t of THREADS) contenders.push(contender({ id: `mon/${kind}/${t}`, kind, ...KINDS[kind], caseName: '16M', impl: 'ferroptim', threads: t, params: BIG, tensors: 1, opt }));
    }
    h.warm(contenders, 2);
    h.segmented(contenders, { rounds, segments, perRound: () => steps, probe, tag: 'monitor', params: BIG, after: !h.quick });
    for (const c of contenders) {
      const r = toRow(c);
      rows.push(r);
      printRow(r);
    }
    // The work was done: the monitor saw every step with the right norm; nothing was skipped.
    const total = lib.getTotalNorm(params);
    const last = monitor.last();
    Object.assign(checks, {
      monitorSteps: monitor.steps,
      monitorNorm: last?.norm ?? null,
      totalNorm: total,
      clipNorm,
      guardedSkipped: (guarded as unknown as { skippedSteps: number }).skippedSteps,
    });
    const agree = (x: number | undefined) => x !== undefined && Math.abs(x - total) <= 1e-9 * total;
    console.log(
      `  checks: monitor recorded ${monitor.steps} steps, last norm ${last?.norm.toFixed(6)} vs getTotalNorm ${total.toFixed(6)} (${agree(last?.norm) ? 'equal' : 'DIFFERENT'}); ` +
        `clipGradNorm returned ${clipNorm.toFixed(6)} (${agree(clipNorm) ? 'equal' : 'DIFFERENT'}); skipNonFinite skipped ${checks.guardedSkipped} steps`,
    );
    monitor.detach();
    return { checks: { ...checks } };
  }

  return {
    async run(h) {
      rounds = h.quick ? 3 : 16;
      steps = h.quick ? 1 : 3;
      segments = h.quick ? 1 : 2;
      if (!enabled) return;
      await h.phase(phaseName, () => phase(h));
      // Overheads: the median over rounds of (best with / best without) within the round (the
      // contenders of a round ran back to back), and the ratio of medians.
      const whens = h.yardstick.whens('monitor:');
      for (const t of THREADS) {
        const base = rows.find((r) => r.kind === 'adamw' && r.threads === t)!;
        for (const kind of ['adamw+monitor', 'adamw+skip']) {
          const r = rows.find((x) => x.kind === kind && x.threads === t)!;
          const pairedPct = round((perRoundRatio(r, base, steps) - 1) * 100, 2);
          const o: Overhead = { what: kind, threads: t, pairedPct, medianPct: round((r.medianMs / base.medianMs - 1) * 100, 2) };
          if (kind === 'adamw+monitor') Object.assign(o, { target: '< 10%', pass: pairedPct < 10 });
          overheads.push(o);
        }
        const clip = rows.find((x) => x.kind === 'clip' && x.threads === t)!;
        const c = h.yardstick.best('sum_squares', BIG, t, whens);
        clipVsC.push({ threads: t, clipMinMs: clip.minMs, cMs: c?.ms ?? null, ratio: c ? round(c.ms / clip.minMs, 3) : null, pctOfAdamW: round((clip.medianMs / base.medianMs) * 100, 1) });
      }
    },

    summary(h) {
      if (!rows.length) return;
      const star = h.noisy(phaseName) ? '* ' : '  ';
      console.log(`\n# monitoring / clipping overhead beside ${adamw.label} 16M${h.noisy(phaseName) ? ` (* other processes used > ${NOISY} cores meanwhile)` : ''}`);
      const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
      for (const o of overheads) {
        console.log(
          `${star}${`${KINDS[o.what as keyof typeof KINDS].label} ${o.threads}T`.padEnd(34)} ${pct(o.pairedPct).padStart(7)}` +
            `${o.pass === undefined ? '' : o.pass ? `  [ok, target ${o.target}]` : `  [MISS, target ${o.target}]`}   (paired per round; ratio of medians ${pct(o.medianPct)})`,
        );
      }
      for (const c of clipVsC) {
        console.log(
          `${star}${`clipGradNorm ${c.threads}T`.padEnd(34)} best ${c.clipMinMs.toFixed(2)} ms = ${c.pctOfAdamW}% of an ${adamw.label} step (medians); ` +
            `C sum_squares best ${c.cMs?.toFixed(2) ?? 'n/a'} ms -> C / ferroptim ${c.ratio?.toFixed(3) ?? 'n/a'}`,
        );
      }
    },

    markdown(h) {
      if (!rows.length) return;
      const noisy = h.noisy(phaseName);
      const b = h.md.block('monitoring', () => ({
        title: `**Monitoring and clipping overhead (${adamw.label}, 16M parameters)**`,
        table: [`| Measurement | Threads | Median / step | Min / step | GB/s | Overhead vs ${adamw.label} alone | Target |`, '|---|---:|---:|---:|---:|---:|---|'],
      }));
      const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
      const whens = h.yardstick.whens('monitor:');
      for (const t of THREADS) {
        for (const kind of Object.keys(KINDS)) {
          const r = rows.find((x) => x.kind === kind && x.threads === t)!;
          const o = overheads.find((x) => x.what === kind && x.threads === t);
          const cc = clipVsC.find((x) => x.threads === t)!;
          const name = kind === 'adamw' ? `${adamw.label} alone` : kind === 'clip' ? 'clipGradNorm, maxNorm 1e30 (one read pass)' : r.optimizer;
          const over =
            kind === 'adamw'
              ? '—'
              : kind === 'clip'
                ? `${cc.pctOfAdamW}% of a step; ${cc.ratio === null ? 'no C figure' : `${(cc.ratio * 100).toFixed(0)}% of C sum_squares speed`}`
                : `${pct(o!.pairedPct)} (medians ${pct(o!.medianPct)})`;
          const target = o?.target ? `${o.target}${o.pass ? ' ✓' : ' ✗'}` : kind === 'adamw+skip' ? '— (one more read pass over g: about a clipGradNorm)' : '';
          b.table.push(`| ${name} | ${t} | ${fmtTime(r.medianMs, r.params)} | ${fmtTime(r.minMs, r.params)} | ${r.gbPerS.toFixed(1)} | ${over}${noisy && kind !== 'adamw' ? ' *' : ''} | ${target} |`);
        }
        const c = h.yardstick.best('sum_squares', BIG, t, whens);
        if (c) b.table.push(`| C/OpenMP sum_squares probe (best of ${c.runs} runs) | ${t} | — | ${c.ms.toFixed(2)} ms | ${((BIG * 4) / (c.ms / 1e3) / 1e9).toFixed(1)} | | |`);
      }
      b.notes.push([
        `Three ${adamw.label} optimizers over the same 16M parameters, plain, with a \`GradNormMonitor\` attached (the fused step gathers each ` +
          "tensor's Σg² in the update's own element loop) and with `skipNonFinite: true` (a read pass over the gradients before the update), " +
          "and `clipGradNorm(params, 1e30)` (the norm's read pass; nothing to scale), interleaved round by round. Overhead: the median over " +
          'rounds of the best step with the option over the best plain step of the same round; in brackets the ratio of medians. GB/s at ' +
          `${adamw.bytes} B/param for the ${adamw.label} rows (what the update itself needs) and 4 for clipGradNorm; the C row is \`../shared/perf/run-probe.sh\`'s ` +
          'sum_squares over the same size, run between segments.' +
          (noisy ? ` * measured while other processes used more than ${NOISY} cores on average.` : ''),
      ]);
    },

    json: () => ({
      options: {
        monitor: enabled,
        monitorRounds: rounds,
        monitorStepsPerRound: steps,
        bytesPerParam: Object.fromEntries(Object.entries(KINDS).filter(([k]) => k !== 'adamw').map(([k, v]) => [k, v.bytes])),
      },
      monitoring: rows.length ? { results: rows, overheads, clipGradNorm: clipVsC, checks } : null,
    }),
  };
}
