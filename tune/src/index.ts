/**
 * ferroptim-tune: hyperparameter search in Optuna's vocabulary for Node.js. Define-by-run
 * studies with async objectives, TPE, random and grid samplers, median and successive-halving
 * pruners, and storages that Optuna itself opens: an Optuna journal file (the crash-safe,
 * multi-process default) and PostgreSQL in Optuna's RDB schema.
 * @module ferroptim-tune
 */
export { createStudy, loadStudy, Study, type CreateStudyOptions, type LoadStudyOptions, type OptimizeOptions, type Objective } from './study.js';
export { Trial, TrialPruned, type SuggestFloatOptions, type SuggestIntOptions } from './trial.js';
export { TrialState, TRIAL_STATE_NAMES, UpdateFinishedTrialError, DuplicatedStudyError, type FrozenTrial, type FrozenStudy, type Storage, type StudyDirection, type StudyView, type Sampler, type Pruner, type JsonValue, type TrialTemplate, type Params } from './types.js';
export {
  floatDistribution,
  intDistribution,
  categoricalDistribution,
  distributionToJson,
  jsonToDistribution,
  type Distribution,
  type FloatDistribution,
  type IntDistribution,
  type CategoricalDistribution,
  type CategoricalChoice,
  type ParamValue,
} from './distributions.js';
export { MedianPruner, PercentilePruner, SuccessiveHalvingPruner, NopPruner, type PercentilePrunerOptions, type SuccessiveHalvingPrunerOptions } from './pruners/index.js';
export * from './samplers/index.js';
export { openStorage } from './storage/index.js';
export { JournalStorage, JournalFileStorage, type JournalFileStorageOptions } from './storage/journal.js';
export { InMemoryStorage } from './storage/memory.js';
export { PostgresStorage, type PostgresStorageOptions } from './storage/postgres.js';
