/**
 * `npm run bench`: ferroptim's optimizer steps against a naive TypeScript loop and the C/OpenMP
 * yardstick in ../shared/perf (run back to back, since the machines are shared and noisy).
 *
 *   node --expose-gc --import @oxc-node/core/register benchmark/bench.ts [--quick] [--only NAMES] [--no-probe] [--dist]
 *
 * The suites (benchmark/suites/), run in this order by the harness (benchmark/harness.ts):
 *  - verify: every optimizer timed below against its TS oracle (__test__/oracles/*.ts), bit for
 *    bit, and for identical results with 1 and all threads; a mismatch aborts;
 *  - large-steps and small-steps (`original`): SGD-momentum, Adam and AdamW on 16M, 256×64K and
 *    10K parameters, against the naive TS loop and the C probe;
 *  - optimizers (`all-optimizers`): every optimizer of the registry (and Lookahead over AdamW) on
 *    16M parameters, GB/s at its bytes per parameter against the C probe's AdamW; NAdam, Lion and
 *    LAMB also against the same update in plain C (benchmark/same-in-c.c);
 *  - monitoring (`monitor`): GradNormMonitor, skipNonFinite and clipGradNorm beside an AdamW step.
 * `--only` takes optimizer names (adamw, sgd, adam: both original suites and the optimizers suite;
 * the others: the optimizers suite), `monitor`, or the groups `original` and `all-optimizers`.
 * The optimizers and their metadata come from the registry (benchmark/catalog.ts).
 *
 * Results go to benchmark/results/latest.json. It imports the TypeScript sources (ts/) and the
 * native addon in native/, as the tests do; `--dist` measures the compiled package (dist/)
 * instead. `--quick` is a smoke run (~1 min), `--no-probe` skips the C yardstick (also skipped,
 * with the reason printed, without gcc or ../shared/perf). A full run takes 1.5-3 minutes on 2 cores.
 */
import { Harness, parseFlags, usage } from './harness.js';
import { loadCatalog } from './catalog.js';
import { verifySuite } from './suites/verify.js';
import { largeSteps } from './suites/large-steps.js';
import { smallSteps } from './suites/small-steps.js';
import { optimizersSuite } from './suites/optimizers.js';
import { monitoringSuite } from './suites/monitoring.js';

/** The optimizers of the original cases, in their order. */
const ORIGINAL = ['adamw', 'sgd', 'adam'];
const GROUPS = ['original', 'all-optimizers', 'monitor'];

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const h = await Harness.load(flags);
  const catalog = loadCatalog(h.lib);
  const zooNames = [...catalog.keys()];
  const names = `a comma-separated list of ${zooNames.join(', ')}, monitor, or the groups original, all-optimizers`;
  if (flags.help) usage(undefined, names);
  for (const n of flags.only ?? []) if (!catalog.has(n) && !GROUPS.includes(n)) usage(`unknown name "${n}" in --only (expected ${[...zooNames, ...GROUPS].join(', ')})`, names);

  const only = flags.only;
  const original = ORIGINAL.filter((k) => !only || only.includes('original') || only.includes(k)).map((k) => catalog.get(k)!);
  const zoo = zooNames.filter((k) => !only || only.includes('all-optimizers') || only.includes(k)).map((k) => catalog.get(k)!);
  const monitor = !only || only.includes('monitor');
  const adamw = catalog.get('adamw')!;
  // Checked against the naive loops' oracle: the original optimizers, and AdamW whenever it is timed at all.
  const naiveChecked = ORIGINAL.filter((k) => original.some((o) => o.name === k) || zoo.some((o) => o.name === k) || (k === 'adamw' && (monitor || zoo.some((o) => o.name === 'lookahead'))));

  await h.run(
    [
      verifySuite(
        naiveChecked.map((k) => catalog.get(k)!),
        zoo.filter((o) => !ORIGINAL.includes(o.name)),
      ),
      largeSteps(original, ORIGINAL.map((k) => catalog.get(k)!)),
      smallSteps(original),
      optimizersSuite(zoo, [...catalog.values()], adamw),
      monitoringSuite(monitor, adamw),
    ],
    `original cases: ${original.map((o) => o.name).join(', ') || 'none'}; all-optimizers rows: ${zoo.map((o) => o.name).join(', ') || 'none'}; monitoring: ${monitor ? 'yes' : 'no'}`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
