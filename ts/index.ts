/**
 * ferroptim: PyTorch-grade optimizers for Node.js, with fused multithreaded SIMD steps in Rust.
 * @module ferroptim
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
  type ZeroGradOptions,
} from './optim/optimizer.js';
export { SGD, SGD_DEFAULTS, type SGDOptions } from './optim/sgd.js';
export { Adam, AdamW, ADAM_DEFAULTS, ADAMW_DEFAULTS, type AdamOptions, type AdamGroupOptions } from './optim/adam.js';
export { setNumThreads, getNumThreads, getSimdLevel, getDetectedSimdLevel, type SimdLevel } from './runtime.js';
export { clipGradNorm, clipGradValue, getTotalNorm, type ClipGradNormOptions } from './clip/clip-grad.js';
export { GradNormMonitor, type GradNormMonitorOptions, type GradNormRecord, type GradNormEvent } from './monitor/grad-norm-monitor.js';
export { type StepInParts, type StepInfo, type StepObserver } from './optim/optimizer.js';
export { type CommonOptions } from './optim/options.js';
export { STATE_BLOCK, STATE_DTYPES, type Bfloat16Buffer, type Int8Buffer, type LowPrecisionBuffer, type StateDtype, type StateDtypeOptions } from './optim/state-dtype.js';
export { type NumberRule } from './validate.js';
export { OPTIMIZERS, type RegisteredOptimizer, type OptimizerClass, type BaseGroupOptions } from './optim/registry.js';
export {
  defaultsOf,
  type OptimizerDescriptor,
  type OptionSpec,
  type NumberOption,
  type BooleanOption,
  type PairOption,
  type DerivedOption,
  type GroupState,
  type GroupStateEntry,
  type ComputedState,
  pairRange,
  type Reference,
} from './optim/descriptor.js';
export { RMSprop, RMSPROP_DEFAULTS, type RMSpropOptions, type RMSpropGroupOptions } from './optim/rmsprop.js';
export { Adagrad, ADAGRAD_DEFAULTS, type AdagradOptions, type AdagradGroupOptions } from './optim/adagrad.js';
export { RAdam, RADAM_DEFAULTS, type RAdamOptions, type RAdamGroupOptions } from './optim/radam.js';
export { NAdam, NADAM_DEFAULTS, type NAdamOptions, type NAdamGroupOptions } from './optim/nadam.js';
export { Adamax, ADAMAX_DEFAULTS, type AdamaxOptions, type AdamaxGroupOptions } from './optim/adamax.js';
export { Adadelta, ADADELTA_DEFAULTS, type AdadeltaOptions, type AdadeltaGroupOptions } from './optim/adadelta.js';
export { AdaBound, ADABOUND_DEFAULTS, type AdaBoundOptions, type AdaBoundGroupOptions } from './optim/adabound.js';
export { LAMB, LAMB_DEFAULTS, type LAMBOptions, type LAMBGroupOptions } from './optim/lamb.js';
export { Lion, LION_DEFAULTS, type LionOptions, type LionGroupOptions } from './optim/lion.js';
export { SGDScheduleFree, SGD_SCHEDULE_FREE_DEFAULTS, type SGDScheduleFreeOptions, type SGDScheduleFreeGroupOptions } from './optim/sgd-schedule-free.js';
export { AdamWScheduleFree, ADAMW_SCHEDULE_FREE_DEFAULTS, type AdamWScheduleFreeOptions, type AdamWScheduleFreeGroupOptions } from './optim/adamw-schedule-free.js';
export { type ScheduleFreeGroupState } from './optim/schedule-free.js';
export { Rprop, RPROP_DEFAULTS, type RpropOptions, type RpropGroupOptions } from './optim/rprop.js';
export { ASGD, ASGD_DEFAULTS, type ASGDOptions, type ASGDGroupOptions } from './optim/asgd.js';
export { Lookahead, LOOKAHEAD_DEFAULTS, type LookaheadOptions, type LookaheadStateDict } from './optim/lookahead.js';
export { LBFGS, LBFGS_DEFAULTS, LBFGS_OPTIONS, type LBFGSOptions, type LBFGSParamGroup, type LBFGSState, type LBFGSStateDict } from './optim/lbfgs.js';
export {
  Muon, MUON_DEFAULTS, MUON_OPTIONS, splitMuonParams, type MuonOptions, type MuonGroupOptions, type MuonParamGroup, type MuonAdjustLrFn, type SplitMuonParamsOptions, type MuonParamSplit,
} from './optim/muon.js';
export { MultiOptimizer, type MultiOptimizerMember } from './optim/multi-optimizer.js';
export { Adafactor, ADAFACTOR_DEFAULTS, ADAFACTOR_OPTIONS, type AdafactorOptions, type AdafactorParamGroup, type AdafactorStateEntry } from './optim/adafactor.js';
export {
  LRScheduler,
  LambdaLR,
  MultiplicativeLR,
  StepLR,
  MultiStepLR,
  ConstantLR,
  LinearLR,
  ExponentialLR,
  PolynomialLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  CyclicLR,
  OneCycleLR,
  SequentialLR,
  ChainedScheduler,
  ReduceLROnPlateau,
  SCHEDULER_DEFAULTS,
  type LRSchedulerOptions,
  type SchedulerStateDict,
  type SchedulableOptimizer,
  type SchedulerParamGroup,
  type LrLambda,
  type LambdaLROptions,
  type MultiplicativeLROptions,
  type StepLROptions,
  type MultiStepLROptions,
  type ConstantLROptions,
  type LinearLROptions,
  type ExponentialLROptions,
  type PolynomialLROptions,
  type CosineAnnealingLROptions,
  type CosineAnnealingWarmRestartsOptions,
  type CyclicLROptions,
  type CyclicMode,
  type ScaleMode,
  type OneCycleLROptions,
  type AnnealStrategy,
  type SequentialLROptions,
  type ReduceLROnPlateauOptions,
} from './schedulers/index.js';
/**
 * Pure learning-rate schedules, `step → lr` functions usable without an optimizer (Optax's
 * `schedules`); `warmupCosine`, `joinSchedules`, `Schedule` and `WarmupCosineOptions` are also
 * exported at the top level.
 *
 * The PyTorch-shaped ones (`step`, `multistep`, `cosineAnnealing`, `oneCycle`, `cyclic`) are
 * PyTorch's closed forms; the Optax-shaped ones (`linear`, `polynomial`, `exponential`,
 * `cosineDecay`, `warmupCosine`, `joinSchedules`) clamp at their ends as Optax does. Use one with
 * an optimizer through {@link LambdaLR}: `new LambdaLR(optimizer, { lrLambda: (e) => schedule(e) / baseLr })`.
 * @group Schedulers
 * @category Functional schedules
 */
export { schedules, warmupCosine, joinSchedules, type Schedule, type WarmupCosineOptions } from './schedulers/index.js';
export {
  Module, tensor, numel, Generator, defaultGenerator, manualSeed, Linear, Conv2d, MaxPool2d, ReLU, Flatten, Dropout, Sequential, CrossEntropyLoss, mlp, cnn,
  encodeSafetensors, decodeSafetensors, loadWeights,
  type Tensor, type StateEntry, type GeneratorState, type LinearOptions, type Conv2dOptions, type MaxPool2dOptions, type ReLUOptions, type FlattenOptions,
  type DropoutOptions, type CrossEntropyLossOptions, type Targets, type PresetOptions, type SafetensorsContents, type Size2,
} from './nn/index.js';
export { loadMnist, defaultMnistDir, parseIdx, batches, numBatches, type LoadMnistOptions, type ImageDataset, type MnistSplit, type Batch, type BatchesOptions } from './data/index.js';
export {
  train, trainAsync, evaluate, saveWeights, outputPaths, saveCheckpoint, loadCheckpoint, hasCheckpoint, writeFileAtomic, removeStaleTemporaries,
  type TrainOptions, type TrainResult, type Divergence, type TrainTrial, type PrunedAt, type EpochMetrics, type BatchProgress, type TrainableOptimizer, type TrainableScheduler, type TrainMonitor, type CheckpointData, type EpochProgress, type RunPaths,
} from './train/index.js';
