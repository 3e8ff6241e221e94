/**
 * The bit-exactness half of `lowp.spec.ts`, in a child process: the SIMD level is chosen once per
 * process (`FERROPTIM_SIMD`), so the spec runs this file once per level, with
 * `FERROPTIM_PAR_MIN` low enough that two threads split every scenario. Each low-precision
 * scenario runs through its oracle once and natively with 1 and 2 threads. Prints one JSON line:
 * the level in force and the failures.
 *
 *   FERROPTIM_SIMD=avx2 FERROPTIM_PAR_MIN=1024 node --import @oxc-node/core/register __test__/helpers/lowp-child.ts
 */
import { getNumThreads, getSimdLevel, setNumThreads } from '../../ts/index.js';
import { describeLowp, lowpDiff, lowpScenarios, runNative, runOracle } from './lowp.js';

const failures: string[] = [];
let runs = 0;
const before = getNumThreads();
try {
  const scenarios = lowpScenarios().map((s) => ({ s, want: runOracle(s) }));
  for (const threads of [1, 2]) {
    setNumThreads(threads);
    for (const { s, want } of scenarios) {
      const diff = lowpDiff(runNative(s), want);
      runs++;
      if (diff) failures.push(`${threads} thread(s), ${describeLowp(s)}: ${diff}`);
    }
  }
} catch (e) {
  failures.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
}
setNumThreads(before);
process.stdout.write(`${JSON.stringify({ simd: getSimdLevel(), runs, failures })}\n`);
