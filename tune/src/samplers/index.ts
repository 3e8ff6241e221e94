/**
 * Samplers: how a study chooses parameter values. {@link RandomSampler}, {@link GridSampler}
 * and {@link TPESampler} port Optuna's samplers of the same names; with a seed, they consume
 * NumPy-identical random streams in Optuna's order.
 * @module
 */
export { RandomSampler, type RandomSamplerOptions } from './random.js';
export { GridSampler, type GridSamplerOptions, type GridSearchSpace } from './grid.js';
export { TPESampler, defaultGamma, defaultWeights, splitTrials, type TPESamplerOptions, type TrialSplit } from './tpe.js';
