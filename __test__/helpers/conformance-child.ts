/**
 * The oracle half of the conformance suite, in a child process: the SIMD level is chosen once per
 * process (`FERROPTIM_SIMD`, read at the first step), so `conformance.spec.ts` runs this file once
 * per level. For every registered optimizer and every scenario of `oracleScenarios`, it runs the
 * oracle once, then the native optimizer at each thread count, and compares them bit for bit.
 * Prints one JSON line: the level in force and, per optimizer and thread count, the differences.
 *
 *   FERROPTIM_SIMD=avx2 node --import @oxc-node/core/register __test__/helpers/conformance-child.ts [name...]
 */
import { getDetectedSimdLevel, getNumThreads, getSimdLevel, setNumThreads } from '../../ts/index.js';
import { compareWithOracle, CONFORMANCE_THREADS, NAMES, oracleScenarios, runOracle, type ChildReport, type ChildResult } from './conformance.js';
import { describeScenario } from './scenario.js';

function check(name: string): ChildResult {
  const failures: Record<string, string[]> = Object.fromEntries(CONFORMANCE_THREADS.map((n) => [String(n), []]));
  let scenarios = 0;
  try {
    const runs = oracleScenarios(name).map((sc) => ({ sc, oracle: runOracle(name, sc) }));
    scenarios = runs.length;
    // Thread counts outside: resizing the pool is not free.
    for (const n of CONFORMANCE_THREADS) {
      setNumThreads(n);
      const list = failures[String(n)]!;
      for (const { sc, oracle } of runs) {
        const diff = compareWithOracle(name, sc, oracle);
        if (diff && list.length < 5) list.push(`${diff}\n    scenario ${describeScenario(sc)}`);
      }
    }
  } catch (e) {
    return { scenarios, failures, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  return { scenarios, failures };
}

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : NAMES;
const before = getNumThreads();
const results: Record<string, ChildResult> = {};
for (const name of names) results[name] = check(name);
setNumThreads(before);
const report: ChildReport = { simd: getSimdLevel(), detected: getDetectedSimdLevel(), results };
process.stdout.write(`${JSON.stringify(report)}\n`);
