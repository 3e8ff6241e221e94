/**
 * `nn.spec.ts`'s fusion comparisons in a child process at the SIMD level `FERROPTIM_SIMD` forces,
 * on 1, 2 and 3 threads. Prints one JSON line: the level in force, how many comparisons ran, and
 * the ones whose bits differed.
 *
 *   FERROPTIM_SIMD=avx2 node --import @oxc-node/core/register __test__/helpers/fusion-child.ts
 */
import { getSimdLevel, setNumThreads } from '../../ts/index.js';
import { compareFusion, fusionModels } from './fusion.js';

export interface FusionReport {
  simd: string;
  compared: number;
  failures: string[];
}

const failures: string[] = [];
let compared = 0;
for (const threads of [1, 2, 3]) {
  setNumThreads(threads);
  for (const m of fusionModels) {
    const { want, got, noInputGrad } = compareFusion(m);
    compared++;
    const same = got.y === want.y && got.dx === want.dx && JSON.stringify(got.grads) === JSON.stringify(want.grads) && noInputGrad.dx === null && JSON.stringify(noInputGrad.grads) === JSON.stringify(want.grads);
    if (!same) failures.push(`${threads} thread(s): ${m.name}`);
  }
}
const report: FusionReport = { simd: getSimdLevel(), compared, failures };
console.log(JSON.stringify(report));
