/**
 * The training loop and checkpoints. Named re-exports only.
 * @module
 */
export {
  train,
  trainAsync,
  evaluate,
  saveWeights,
  outputPaths,
  type RunPaths,
  type TrainOptions,
  type TrainResult,
  type Divergence,
  type EpochMetrics,
  type BatchProgress,
  type TrainableOptimizer,
  type TrainableScheduler,
  type TrainMonitor,
  type TrainTrial,
  type PrunedAt,
} from './train.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  hasCheckpoint,
  writeFileAtomic,
  removeStaleTemporaries,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type CheckpointData,
  type CheckpointManifest,
  type EpochProgress,
} from './checkpoint.js';
