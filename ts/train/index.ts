/**
 * The training loop and checkpoints. Named re-exports only.
 * @module
 */
export {
  train,
  evaluate,
  saveWeights,
  outputPaths,
  type TrainOptions,
  type TrainResult,
  type EpochMetrics,
  type BatchProgress,
  type TrainableOptimizer,
  type TrainableScheduler,
  type TrainMonitor,
} from './train.js';
export { saveCheckpoint, loadCheckpoint, hasCheckpoint, writeFileAtomic, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type CheckpointData, type CheckpointManifest } from './checkpoint.js';
