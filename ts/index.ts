/**
 * ferroptim: PyTorch-grade optimizers for Node.js, with fused multithreaded SIMD steps in Rust.
 * @packageDocumentation
 */
export { Parameter, type ParameterOptions } from './tensor.js';
export {
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamsInput,
  type OptimizerStateDict,
  type ParamStateEntry,
  type LoadStateDictOptions,
} from './optim/optimizer.js';
export { SGD, SGD_DEFAULTS, type SGDOptions } from './optim/sgd.js';
export { Adam, AdamW, ADAM_DEFAULTS, ADAMW_DEFAULTS, type AdamOptions, type AdamGroupOptions } from './optim/adam.js';
export { setNumThreads, getNumThreads, getSimdLevel, getDetectedSimdLevel, type SimdLevel } from './runtime.js';
export { clipGradNorm, clipGradValue, getTotalNorm, type ClipGradNormOptions } from './clip/clip-grad.js';
export { GradNormMonitor, type GradNormMonitorOptions, type GradNormRecord, type GradNormEvent } from './monitor/grad-norm-monitor.js';
export { type StepInfo, type StepObserver } from './optim/optimizer.js';
export { type CommonOptions } from './optim/options.js';
