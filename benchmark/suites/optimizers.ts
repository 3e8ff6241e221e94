/**
 * Every optimizer on one shared 16M-parameter tensor, at 1 and all threads, interleaved round by
 * round, with GB/s at its bytes per parameter and the ratio of its best step to the C probe's best
 * AdamW (run between segments); NAdam, Lion and LAMB also against the same update in plain C
 * (benchmark/same-in-c.c).
 */
import { contender, fmtTime, gparams, isSubnormal, makeTensors, NOISY, num, printRow, round, THREADS, toRow, type Contender, type Harness, type Row, type Stepper, type Suite } from '../harness.js';
import { DEFAULT_TARGET, type BenchOptimizer } from '../catalog.js';
import { BIG } from './large-steps.js';

interface ZooRatio {
  kind: string;
  threads: number;
  bytesPerParam: number;
  gbPerSBest: number;
  cAdamwMs: number | null;
  cAdamwGbPerS: number | null;
  value: number | null;
  /** The same against the median step (a lower bound under noise). */
  valueMedian: number | null;
  /** LAMB: the ratio with its GB/s counted at the bytes it actually moves (40) instead of 28. */
  valueMoved: number | null;
  /** NAdam, Lion, LAMB: the same update in plain C, best time / ferroptim best time (> 1: faster). */
  vsSameC: number | null;
  sameCMs: number | null;
  target: number;
  pass?: boolean;
}

/** The B/param column: † quoted AdamW-equivalent (moves more), ‡ amortised over a window. */
const bytesCell = (o: BenchOptimizer) => (o.moved ? `${o.bytes}†` : o.window > 1 ? `${round(o.bytes, 1)}‡` : String(o.bytes));

/**
 * @param kinds - the optimizers to time, in table order
 * @param all - every optimizer, whose options and bytes go into latest.json whichever are timed
 * @param adamw - the C probe's AdamW is the yardstick, counted at AdamW's bytes per parameter
 */
export function optimizersSuite(kinds: BenchOptimizer[], all: BenchOptimizer[], adamw: BenchOptimizer): Suite {
  const rows: Row[] = [];
  const ratios: ZooRatio[] = [];
  let rounds = 0;
  let steps = 0;
  let segments = 0;
  const phaseName = 'all-optimizers-16M';

  function phase(h: Harness): Record<string, unknown> {
    const probe = h.yardstick.available;
    const la = kinds.find((o) => o.window > 1);
    console.log(
      `\n# all optimizers: ${BIG} params (one tensor, shared), ${rounds} interleaved rounds of ${steps} step(s) each` +
        (la ? ` (${la.label.replace(/\(.*/, '')}: one window of k = ${la.window} steps, which holds exactly one sync)` : '') +
        (probe ? `, in ${segments} segment(s) with the C probe (${[...THREADS].reverse().join(' and ')} threads) before each${h.quick ? '' : ' and after the last'}` : ''),
    );
    // All optimizers step the same θ and g: the timing does not depend on the values (none
    // becomes subnormal or non-finite, checked below), and memory stays at θ, g and the states.
    const params = makeTensors(h.lib, BIG, 1, 11);
    const contenders: Contender[] = [];
    const opts: Stepper[] = [];
    for (const o of kinds) {
      const opt = o.make(params);
      opts.push(opt);
      for (const t of THREADS) contenders.push(contender({ id: `zoo/${o.name}/${t}`, kind: o.name, label: o.label, bytes: o.bytes, caseName: '16M', impl: 'ferroptim', threads: t, params: BIG, tensors: 1, opt, batch: o.window }));
    }
    // Allocate every state and get past RAdam's un-rectified first 5 steps and Lookahead's first sync.
    h.useThreads(THREADS[THREADS.length - 1]!);
    for (const opt of opts) for (let i = 0; i < 7; i++) opt.step();
    h.warm(contenders, 1);
    h.segmented(contenders, {
      rounds,
      segments,
      perRound: (c) => (c.batch > 1 ? 1 : steps),
      probe,
      tag: 'zoo',
      params: BIG,
      after: !h.quick,
      sameC: kinds.some((o) => o.sameInC),
    });
    for (const c of contenders) {
      const r = toRow(c);
      rows.push(r);
      printRow(r);
    }
    let nonFinite = 0;
    let subnormal = 0;
    for (const x of params[0]!.data) {
      if (!Number.isFinite(x)) nonFinite++;
      else if (isSubnormal(x)) subnormal++;
    }
    console.log(`  θ after ${contenders.reduce((n, c) => n + c.samples.length * c.batch, 0)} timed steps: ${nonFinite} non-finite, ${subnormal} subnormal values`);
    if (nonFinite > 0) console.log('  <- non-finite parameters: the timings above may not be representative');
    return { nonFiniteParams: nonFinite, subnormalParams: subnormal };
  }

  return {
    async run(h) {
      rounds = h.quick ? 2 : 10;
      steps = h.quick ? 1 : 3;
      segments = h.quick ? 1 : 2;
      if (kinds.length) await h.phase(phaseName, () => phase(h));
      // Each optimizer's best GB/s over the C probe's best AdamW GB/s in the same phase.
      const whens = h.yardstick.whens('zoo:');
      for (const o of kinds) {
        for (const t of THREADS) {
          const r = rows.find((x) => x.kind === o.name && x.threads === t);
          if (!r) continue;
          const c = h.yardstick.best('adamw', BIG, t, whens);
          const cGb = c ? gparams(BIG, c.ms) * adamw.bytes : null;
          const value = cGb ? r.gbPerSBest / cGb : null;
          const same = o.sameInC ? h.yardstick.best(o.name, BIG, t, whens) : null;
          ratios.push({
            kind: o.name,
            threads: t,
            bytesPerParam: round(o.bytes, 2),
            gbPerSBest: round(r.gbPerSBest, 2),
            cAdamwMs: c?.ms ?? null,
            cAdamwGbPerS: cGb === null ? null : round(cGb, 2),
            value: value === null ? null : round(value, 3),
            valueMedian: cGb ? round(r.gbPerS / cGb, 3) : null,
            valueMoved: value !== null && o.moved ? round((value * o.moved) / o.bytes, 3) : null,
            vsSameC: same ? round(same.ms / r.minMs, 3) : null,
            sameCMs: same?.ms ?? null,
            target: o.target,
            pass: value === null ? undefined : value >= o.target,
          });
        }
      }
    },

    summary(h) {
      if (!ratios.length) return;
      const noisy = h.noisy(phaseName);
      console.log(`\n# all optimizers at 16M: best GB/s / C AdamW best GB/s (same phase)${noisy ? ` (* other processes used > ${NOISY} cores meanwhile)` : ''}`);
      for (const z of ratios) {
        const o = kinds.find((x) => x.name === z.kind)!;
        const moved = o.moved ? `; ${((z.gbPerSBest * o.moved) / z.bytesPerParam).toFixed(1)} GB/s actually moved at ${o.moved} B/param (${((z.valueMoved ?? 0) * 100).toFixed(0)}% of C AdamW's)` : '';
        console.log(
          `${noisy ? '* ' : '  '}${`${o.label} ${z.threads}T`.padEnd(30)} ${(z.value === null ? 'n/a' : z.value.toFixed(3)).padStart(6)}${z.pass === undefined ? '' : z.pass ? `  [ok, target >= ${z.target}]` : `  [MISS, target >= ${z.target}]`}   ` +
            `${z.gbPerSBest.toFixed(1)} GB/s at ${z.bytesPerParam} B/param vs C AdamW ${z.cAdamwGbPerS?.toFixed(1) ?? 'n/a'} GB/s; median-based ${z.valueMedian?.toFixed(3) ?? 'n/a'}${moved}` +
            (z.vsSameC === null ? '' : `; ${z.vsSameC.toFixed(2)}x the same update in C (${z.sameCMs!.toFixed(2)} ms)`),
        );
      }
    },

    markdown(h) {
      if (!rows.length) return;
      const noisy = h.noisy(phaseName);
      const b = h.md.block('optimizers', () => ({
        title: '**All optimizers at 16M parameters**',
        table: ['| Optimizer | B/param | Threads | Median / step | Min / step | G params/s | GB/s | GB/s (best) | Best / C AdamW | Target |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|'],
      }));
      for (const o of kinds) {
        for (const t of THREADS) {
          const r = rows.find((x) => x.kind === o.name && x.threads === t);
          const z = ratios.find((x) => x.kind === o.name && x.threads === t);
          if (!r || !z) continue;
          b.table.push(
            `| ${r.optimizer} | ${bytesCell(o)} | ${t} | ${fmtTime(r.medianMs, r.params)} | ${fmtTime(r.minMs, r.params)} | ${r.gparamsPerS.toFixed(3)} | ${r.gbPerS.toFixed(1)} | ${r.gbPerSBest.toFixed(1)} | ` +
              `${z.value === null ? 'n/a' : `${(z.value * 100).toFixed(0)}%`}${noisy ? ' *' : ''} | ≥ ${(z.target * 100).toFixed(0)}%${z.pass === undefined ? '' : z.pass ? ' ✓' : ' ✗'}` +
              `${z.valueMoved === null ? '' : ` (at ${o.moved} B moved: ${(z.valueMoved * 100).toFixed(0)}%)`} |`,
          );
        }
      }
      const whens = h.yardstick.whens('zoo:');
      for (const t of [...THREADS].reverse()) {
        const c = h.yardstick.best('adamw', BIG, t, whens);
        if (c) b.table.push(`| C/OpenMP AdamW probe (best of ${c.runs} runs) | ${adamw.bytes} | ${t} | — | ${c.ms.toFixed(2)} ms | ${gparams(BIG, c.ms).toFixed(3)} | — | ${(gparams(BIG, c.ms) * adamw.bytes).toFixed(1)} | 100% | |`);
      }
      const sameRows = ratios.filter((z) => z.sameCMs !== null);
      for (const z of sameRows) {
        const o = kinds.find((x) => x.name === z.kind)!;
        const ms = z.sameCMs!;
        const gb = gparams(BIG, ms) * o.bytes;
        b.table.push(
          `| ${o.label} in plain C (same-in-c.c) | ${bytesCell(o)} | ${z.threads} | — | ${ms.toFixed(2)} ms | ${gparams(BIG, ms).toFixed(3)} | — | ` +
            `${gb.toFixed(1)} | ${z.cAdamwGbPerS ? `${((gb / z.cAdamwGbPerS) * 100).toFixed(0)}%` : 'n/a'} | ferroptim ${z.vsSameC!.toFixed(2)}× its speed |`,
        );
      }
      // Optimizers whose bytes have the same streams are listed together.
      const streams = new Map<string, string[]>();
      for (const o of kinds) {
        const key = `${round(o.bytes, 1)} (${o.streams})`;
        streams.set(key, [...(streams.get(key) ?? []), o.label]);
      }
      const la = kinds.find((o) => o.window > 1);
      const plain = kinds.filter((o) => o !== la);
      const changed = plain
        .map((o) => `${o.label} ${changedOptions(h, o).map((k) => `${k} ${num(o.options[k] as number)}`).join(', ')}`)
        .filter((s) => !s.endsWith(' '));
      const exceptions = kinds.filter((o) => o.target !== DEFAULT_TARGET);
      b.notes.push([
        'One 16M-parameter tensor shared by all optimizers, every optimizer interleaved round by round with the others and the C ' +
          'probe run between segments. G params/s and GB/s at the median step; "Best / C AdamW" is the best step\'s GB/s over the ' +
          'best C AdamW GB/s of the same phase (the C figure is itself a best of 10). B/param counts the f32 streams each fused kernel ' +
          'reads and writes per element (the state slots in use, as the descriptors name them): ' +
          [...streams].map(([key, labels]) => `${labels.join(', ')} ${key}`).join('; ') +
          '. ' +
          kinds
            .filter((o) => o.moved)
            .map((o) => `† ${o.label} is quoted at ${o.bytes} B/param, AdamW-equivalent (so its column compares params/s with AdamW's, the stricter reading of its target); it moves ${o.moved}, and the figure in brackets counts those. `)
            .join('') +
          (la ? `‡ ${la.label}: per step, amortised over its window of k = ${la.window} steps, which holds one sync. ` : '') +
          `Options: the descriptors' defaults (OPTIMIZERS[name].descriptor.options)${changed.length ? `, except ${changed.join('; ')}` : ''}; ` +
          `lr ${plain.map((o) => `${o.label} ${num(o.options.lr as number)}`).join(', ')}` +
          (la ? `; ${la.label} ${Object.entries(la.options).map(([k, v]) => `${k} ${v}`).join(', ')} over the ${adamw.label} above` : '') +
          ' (every option in latest.json, options.allOptimizerOptions). ' +
          `Targets: elementwise optimizers ≥ ${(DEFAULT_TARGET * 100).toFixed(0)}% of the C AdamW GB/s${exceptions.map((o) => `, ${o.label} ≥ ${(o.target * 100).toFixed(0)}%`).join('')}.` +
          (sameRows.length
            ? ' "In plain C" rows: the same update as a straightforward C/OpenMP loop (benchmark/same-in-c.c, built like the probe and run ' +
              'beside it, best of 10 per run), so the distance to AdamW\'s bandwidth can be told apart from the distance to plain C; ' +
              'the last column is ferroptim\'s best step over that loop\'s.'
            : '') +
          (noisy ? ` * measured while other processes used more than ${NOISY} cores on average.` : ''),
      ]);
    },

    json: () => ({
      options: {
        allOptimizers: kinds.map((o) => o.name),
        zooRounds: rounds,
        zooStepsPerRound: steps,
        allOptimizerOptions: Object.fromEntries(all.map((o) => [o.name, o.options])),
        bytesPerParam: Object.fromEntries(all.map((o) => [o.name, o.bytes])),
      },
      allOptimizers: { results: rows, ratios },
    }),
  };
}

/** The options the benchmark sets to other values than the descriptor's defaults. */
function changedOptions(h: Harness, o: BenchOptimizer): string[] {
  const spec = h.lib.OPTIMIZERS[o.name]!.descriptor.options as Record<string, { default: unknown }>;
  return Object.keys(o.options).filter((k) => JSON.stringify(o.options[k]) !== JSON.stringify(spec[k]?.default));
}
