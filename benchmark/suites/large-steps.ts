/**
 * The original cases at 16M parameters: SGD-momentum, Adam and AdamW over one tensor and over 256
 * tensors, at each thread count, against the naive TS loop (one thread) and the C probe, which runs
 * between the segments of the interleaved measurement.
 */
import { contender, findRow, gparams, makeTensors, mdRow, median, num, printRow, round, THREADS, toRow, type Contender, type Harness, type Ratio, type Row, type Suite } from '../harness.js';
import { naive, type BenchOptimizer } from '../catalog.js';

export const BIG = 16 * 1024 * 1024;
const MULTI = 256;

/** Ratio groups, in print order (the small-steps suite shares them). */
export const ORDER = { vsC: 0, vsNaive: 100, multi: 200, smallUs: 300 };

/** The note under the results table (once, whichever suite adds rows first). */
export function resultsNote(h: Harness, kinds: BenchOptimizer[]): void {
  const b = h.md.results();
  if (b.notes.length) return;
  const by = new Map<number, string[]>();
  for (const o of kinds) by.set(o.bytes, [...(by.get(o.bytes) ?? []), o.label]);
  const opts = (o: BenchOptimizer) =>
    (['lr', 'momentum', 'weightDecay'] as const)
      .filter((k) => k in o.options && (k === 'lr' || o.options[k] !== 0))
      .map((k) => `${k === 'weightDecay' ? 'weight decay' : k} ${num(o.options[k] as number)}`)
      .join(', ');
  b.notes.push([
    `G params/s and GB/s at the median step (${[...by].map(([bytes, labels]) => `${bytes} B/param for ${labels.join('/')}`).join(', ')}). C rows: the best run of ` +
      '`../shared/perf/run-probe.sh` (each run is a best of 10). ' +
      kinds.map((o) => `${o.label}: ${opts(o)}`).join('; ') +
      '. Naive TS: the TS reference oracle (`__test__/oracles/torch.ts`), a plain per-element loop with every operation rounded to f32, one thread.',
  ]);
}

/**
 * @param kinds - the optimizers to time (today SGD-momentum, Adam, AdamW, in the order given)
 * @param all - all three, whose options go into latest.json as `hyper` whichever are timed
 */
export function largeSteps(kinds: BenchOptimizer[], all: BenchOptimizer[]): Suite {
  const rows: Row[] = [];
  /** Per-segment minima of each contender, to pair with the probe runs around each segment. */
  const segMins = new Map<string, number[]>();
  let probed: BenchOptimizer[] = [];
  let rounds = 0;
  let steps = 0;
  let segments = 0;
  const find = (kind: string, caseName: string, impl: string, threads: number) => findRow(rows, kind, caseName, impl, threads);

  function phase(h: Harness, o: BenchOptimizer, probe: boolean): void {
    console.log(
      `\n# ${o.label}: ${BIG} params (one tensor / ${MULTI} tensors), ${rounds} interleaved rounds` +
        (probe ? ` in ${segments} segments, C probe (1 and ${THREADS[THREADS.length - 1]} threads) before each segment and after the last` : ''),
    );
    const single = makeTensors(h.lib, BIG, 1, 1);
    const multi = makeTensors(h.lib, BIG, MULTI, 2);
    const contenders: Contender[] = [];
    const add = (caseName: string, impl: Contender['impl'], threads: number, tensors: number, opt: Contender['opt']) =>
      contenders.push(contender({ id: `${o.name}/${caseName}/${impl}/${threads}`, kind: o.name, label: o.label, bytes: o.bytes, caseName, impl, threads, params: BIG, tensors, opt }));
    // One optimizer per layout, shared by the thread counts (the pool size is global), so 1 and
    // all threads run over the very same memory.
    const optSingle = o.make(single);
    const optMulti = o.make(multi);
    for (const t of THREADS) {
      add('16M', 'ferroptim', t, 1, optSingle);
      add(`${MULTI}x64K`, 'ferroptim', t, MULTI, optMulti);
    }
    add('16M', 'naive-ts', 1, 1, naive(o, single));
    h.warm(contenders, h.quick ? 1 : 2);
    h.segmented(contenders, { rounds, segments, perRound: (c) => (c.impl === 'naive-ts' ? 1 : steps), probe, tag: o.name, params: BIG, after: true });
    for (const c of contenders) {
      const r = toRow(c);
      rows.push(r);
      printRow(r);
      segMins.set(c.id, Array.from({ length: segments }, (_, k) => Math.min(...c.samples.filter((_, i) => c.segs[i] === k))));
    }
  }

  return {
    async run(h) {
      rounds = h.quick ? 2 : 16;
      steps = h.quick ? 2 : 4;
      segments = h.quick ? 1 : 4;
      probed = h.yardstick.available ? kinds.filter((o) => o.probeKernel) : [];
      for (const o of kinds) await h.phase(`${o.name}-16M`, () => phase(h, o, probed.includes(o)));
    },

    ratios(h) {
      const out: Ratio[] = [];
      probed.forEach((o) => {
        const kernel = o.probeKernel!;
        const whens = Array.from({ length: segments + 1 }, (_, b) => `${o.name}:${b}`);
        for (const t of [...THREADS].reverse()) {
          const r = find(o.name, '16M', 'ferroptim', t);
          const c = h.yardstick.best(kernel, BIG, t, whens);
          if (!r) continue;
          // Best against best over the whole phase (the C figure is itself a best of 10 per run).
          const value = c ? c.ms / r.minMs : null;
          // And segment by segment: the best native step of a segment against the best C run around it.
          const paired = (segMins.get(`${o.name}/16M/ferroptim/${t}`) ?? [])
            .map((m, k) => {
              const ck = h.yardstick.best(kernel, BIG, t, [`${o.name}:${k}`, `${o.name}:${k + 1}`]);
              return ck && Number.isFinite(m) ? ck.ms / m : null;
            })
            .filter((x): x is number => x !== null);
          out.push({
            name: `${o.label} 16M ${t}T: ferroptim / C params/s`,
            phase: `${o.name}-16M`,
            order: ORDER.vsC,
            value,
            target: '>= 0.90',
            pass: value === null ? undefined : value >= 0.9,
            paired: paired.map((x) => round(x, 3)),
            detail: c
              ? `ferroptim best ${r.minMs.toFixed(2)} ms (median ${r.medianMs.toFixed(2)}) vs C best ${c.ms.toFixed(2)} ms (C runs ${c.ms.toFixed(2)}..${c.worstMs.toFixed(2)} ms, ${c.runs} runs)` +
                (paired.length > 1 ? `; per segment ${paired.map((x) => x.toFixed(2)).join(' ')} (median ${median(paired).toFixed(2)})` : '')
              : 'no C probe result',
          });
        }
      });
      kinds.forEach((o, i) => {
        const slow = find(o.name, '16M', 'naive-ts', 1);
        for (const t of THREADS) {
          const r = find(o.name, '16M', 'ferroptim', t);
          if (slow && r) out.push({ name: `${o.label} 16M ${t}T: ferroptim / naive TS speed`, phase: `${o.name}-16M`, order: ORDER.vsNaive + i, value: slow.medianMs / r.medianMs, detail: `${slow.medianMs.toFixed(1)} ms vs ${r.medianMs.toFixed(2)} ms (medians)` });
        }
        for (const t of THREADS) {
          const one = find(o.name, '16M', 'ferroptim', t);
          const many = find(o.name, `${MULTI}x64K`, 'ferroptim', t);
          if (!one || !many) continue;
          const value = many.medianMs / one.medianMs;
          out.push({ name: `${o.label} ${t}T: ${MULTI}-tensor / 1-tensor time`, phase: `${o.name}-16M`, order: ORDER.multi + i, value, target: '<= 1.15', pass: value <= 1.15, detail: `${many.medianMs.toFixed(2)} ms vs ${one.medianMs.toFixed(2)} ms (medians)` });
        }
      });
      return out;
    },

    markdown(h) {
      if (!rows.length) return;
      const b = h.md.results();
      b.table.push(...rows.map(mdRow));
      // The C probe's best run of the original phases (not the all-optimizers or monitoring ones).
      const whens = h.yardstick.runs.filter((r) => !r.when.startsWith('zoo:') && !r.when.startsWith('monitor:')).map((r) => r.when);
      for (const o of kinds.filter((x) => x.probeKernel)) {
        for (const t of [...THREADS].reverse()) {
          const best = h.yardstick.best(o.probeKernel!, BIG, t, whens);
          if (!best) continue;
          const gps = gparams(BIG, best.ms);
          b.table.push(`| ${o.label} | 16M | C/OpenMP probe (best of runs) | ${t} | — | ${best.ms.toFixed(2)} ms | ${gps.toFixed(3)} | ${(gps * o.bytes).toFixed(1)} |`);
        }
      }
      resultsNote(h, kinds);
    },

    json: () => ({
      options: {
        only: kinds.map((o) => o.name),
        bigRounds: rounds,
        bigStepsPerRound: steps,
        hyper: Object.fromEntries(all.map((o) => [o.name, o.options])),
        betas: all.find((o) => o.name === 'adamw')?.options.betas,
        eps: all.find((o) => o.name === 'adamw')?.options.eps,
      },
      results: rows,
    }),
  };
}
