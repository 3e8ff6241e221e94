/**
 * ferroptim-cli: the application beside the ferroptim library. The `ferroptim` command (train,
 * race, regress, compare, landscape), the article's demonstrations as functions, and the charts
 * they draw (Vega-Lite, rendered to SVG and PNG without a browser). The optimizers, schedulers,
 * layers and trainer come from the `ferroptim` package.
 * @module ferroptim-cli
 */
export {
  race, regress, compare, parseOptimizerSpec, createOptimizer, getFunction2D, sampleGrid,
  HIMMELBLAU, ROSENBROCK, BEALE, RASTRIGIN, SADDLE, FUNCTIONS_2D, OPTIMIZER_NAMES, ARTICLE_OPTIMIZER_OPTIONS,
  type Function2D, type Range2D, type Grid2D, type OptimizerSpec, type RaceOptions, type RaceResult, type RaceRun,
  type RegressOptions, type RegressResult, type CompareOptions, type CompareResult, type CompareRun,
} from './demos/index.js';
export {
  savePlot, renderSvg, svgToPng, landscapeChart, raceChart, raceLossChart, regressionLossChart, epochLossChart, batchLossChart, lineChart, contourLevels, contourLines,
  type ChartSpec, type SavedPlot, type SvgToPngOptions, type ContourOptions, type ContourPoint, type Series, type LineChartOptions,
} from './plot/index.js';
export { run } from './cli/index.js';
