/**
 * Learning-rate schedulers: PyTorch's classes and pure `step → lr` schedules. Named re-exports only.
 * @module
 */
export { LRScheduler, type LRSchedulerOptions, type SchedulerStateDict, type SchedulableOptimizer, type SchedulerParamGroup } from './lr-scheduler.js';
export { SCHEDULER_DEFAULTS } from './defaults.js';
export { LambdaLR, type LambdaLROptions, type LrLambda } from './lambda-lr.js';
export { MultiplicativeLR, type MultiplicativeLROptions } from './multiplicative-lr.js';
export { StepLR, type StepLROptions } from './step-lr.js';
export { MultiStepLR, type MultiStepLROptions } from './multi-step-lr.js';
export { ConstantLR, type ConstantLROptions } from './constant-lr.js';
export { LinearLR, type LinearLROptions } from './linear-lr.js';
export { ExponentialLR, type ExponentialLROptions } from './exponential-lr.js';
export { PolynomialLR, type PolynomialLROptions } from './polynomial-lr.js';
export { CosineAnnealingLR, type CosineAnnealingLROptions } from './cosine-annealing-lr.js';
export { CosineAnnealingWarmRestarts, type CosineAnnealingWarmRestartsOptions } from './cosine-annealing-warm-restarts.js';
export { CyclicLR, type CyclicLROptions, type CyclicMode, type ScaleMode } from './cyclic-lr.js';
export { OneCycleLR, type OneCycleLROptions, type AnnealStrategy } from './one-cycle-lr.js';
export { SequentialLR, type SequentialLROptions } from './sequential-lr.js';
export { ChainedScheduler } from './chained-scheduler.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './reduce-lr-on-plateau.js';
export * as schedules from './functional.js';
export {
  warmupCosine,
  joinSchedules,
  type Schedule,
  type WarmupCosineOptions,
} from './functional.js';
