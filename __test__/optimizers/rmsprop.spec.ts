/**
 * What is particular to RMSprop; the conformance suite checks what every optimizer shares. Its
 * momentum buffer and centered average are created on the first step that needs them, also when
 * momentum or centering is switched on later (PyTorch fails there).
 */
import test from 'ava';
import { Parameter, RMSprop } from '../../ts/index.js';
import { values } from '../helpers/data.js';

test('RMSprop creates momentumBuffer and gradAvg only when momentum and centering ask for them', (t) => {
  const p = new Parameter(values(1, 0, 0, 5), { name: 'w' });
  const opt = new RMSprop([p], { lr: 0.01 });
  p.grad = values(1, 1, 0, 5);
  opt.step();
  t.deepEqual(Object.keys(opt.stateDict().state.w!).sort(), ['squareAvg', 'step']);
  opt.paramGroups[0]!.momentum = 0.9;
  opt.paramGroups[0]!.centered = true;
  opt.step();
  t.deepEqual(Object.keys(opt.stateDict().state.w!).sort(), ['gradAvg', 'momentumBuffer', 'squareAvg', 'step']);
});
