/**
 * Runs a TypeScript script in a child process at a forced SIMD level (`FERROPTIM_SIMD`) and
 * resolves to the JSON report on the last line of its output: how the conformance and
 * low-precision suites check every level the CPU has.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SimdLevel } from '../../ts/index.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * @param script - the child's path
 * @param level - the SIMD level it runs at (the thread count is left to the child)
 * @param env - more environment for it
 * @param maxBuffer - the most output it may print
 */
export function runAtLevel<R>(script: string, level: SimdLevel, env: NodeJS.ProcessEnv = {}, maxBuffer = 64 << 20): Promise<R> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, FERROPTIM_SIMD: level, ...env };
  delete childEnv.FERROPTIM_NUM_THREADS;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', '@oxc-node/core/register', script], { cwd: REPO, env: childEnv, timeout: 280_000, maxBuffer }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`the ${level} child process failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as R);
      } catch (e) {
        reject(new Error(`the ${level} child process printed no report: ${String(e)}\n${stdout}\n${stderr}`));
      }
    });
  });
}
