/**
 * Plots of the demonstrations, rendered without a browser (Vega-Lite → SVG → PNG). Named
 * re-exports only.
 * @module
 */
export { renderSvg, svgToPng, savePlot, CHART_FONT, type ChartSpec, type SavedPlot, type SvgToPngOptions } from './render.js';
export { contourLevels, contourLines, logDomain, type ContourPoint } from './contour.js';
export {
  landscapeChart, raceChart, raceLossChart, regressionLossChart, epochLossChart, batchLossChart, lineChart,
  type ContourOptions, type Series, type LineChartOptions,
} from './charts.js';
