/**
 * The article's demonstrations as functions that return data: 2-D loss landscapes, optimizer
 * races, mini-batch linear regression and the MNIST optimizer comparison. Named re-exports only.
 * @module
 */
export {
  HIMMELBLAU, ROSENBROCK, BEALE, RASTRIGIN, SADDLE, FUNCTIONS_2D, getFunction2D, sampleGrid, checkRange,
  type Function2D, type Range2D, type Grid2D,
} from './functions.js';
export { OPTIMIZER_NAMES, parseOptimizerSpec, createOptimizer, type OptimizerSpec } from './optimizer-spec.js';
export { race, type RaceOptions, type RaceResult, type RaceRun } from './race.js';
export { regress, type RegressOptions, type RegressResult } from './regress.js';
export { compare, ARTICLE_OPTIMIZER_OPTIONS, type CompareOptions, type CompareResult, type CompareRun } from './compare.js';
