/**
 * The article's pictures as Vega-Lite charts: a contour plot of a loss landscape with a colour
 * bar, optimizer paths over it, loss curves, and average loss per epoch per optimizer. Each
 * function returns a chart spec; render it with `savePlot` (SVG and PNG) or `renderSvg`.
 * @module
 */
import { getFunction2D, sampleGrid, checkRange, type Function2D, type Range2D } from '../demos/functions.js';
import type { RaceResult } from '../demos/race.js';
import type { RegressResult } from '../demos/regress.js';
import type { CompareResult } from '../demos/compare.js';
import { describeValue } from '../validate.js';
import { contourLevels, contourLines, logDomain } from './contour.js';
import { CHART_FONT, type ChartSpec } from './render.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 520;
const HEIGHT = 440;

/** Shared look: readable font sizes, a white background. */
const CONFIG = {
  font: CHART_FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 17, subtitleFontSize: 13, anchor: 'middle', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 14, titlePadding: 8 },
  legend: { labelFontSize: 12, titleFontSize: 13, symbolStrokeWidth: 3, symbolSize: 110 },
  view: { stroke: '#888' },
} as const;

/** Options of the contour charts. */
export interface ContourOptions {
  /** The window. @defaultValue the function's range ([-5, 5]² for Himmelblau) */
  range?: Range2D;
  /** Number of contour levels. @defaultValue 50 (the article's `levels=50`) */
  levels?: number;
  /**
   * Samples per axis. @defaultValue the function's `resolution`: 100 for Himmelblau (the article's
   * `np.linspace(-5, 5, 100)`), more where valleys are narrow or minima many
   */
  resolution?: number;
  /** Level spacing and colour scale. @defaultValue the function's `levelScale` */
  scale?: 'linear' | 'log';
  /** @defaultValue the function's title */
  title?: string;
}

async function contourLayer(f: Function2D, o: ContourOptions, opacity: number, strokeWidth: number): Promise<{ layer: Record<string, unknown>; range: Range2D; levels: number[]; scale: 'linear' | 'log' }> {
  const range = checkRange('contour chart', o.range ?? f.range);
  const count = o.levels ?? 50;
  const scale = o.scale ?? f.levelScale;
  if (scale !== 'linear' && scale !== 'log') throw new RangeError(`contour chart: expected scale to be 'linear' or 'log', received ${describeValue(scale)}`);
  const grid = sampleGrid(f, range, o.resolution ?? f.resolution);
  if (scale === 'log' && !(grid.max > 0)) throw new RangeError(`contour chart: a log scale needs positive values; ${f.label} has none over this range`);
  const domain: [number, number] = scale === 'log' ? logDomain(grid) : [grid.min, grid.max];
  const levels = contourLevels(domain[0], domain[1], count, scale);
  const rows = await contourLines(grid, levels);
  const layer = {
    data: { values: rows },
    mark: { type: 'line', strokeWidth, opacity, clip: true, interpolate: 'linear' },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 'Weight 1', scale: { domain: [...range.x], nice: false, zero: false }, axis: { grid: false, tickCount: 8 } },
      y: { field: 'y', type: 'quantitative', title: 'Weight 2', scale: { domain: [...range.y], nice: false, zero: false }, axis: { grid: false, tickCount: 8 } },
      color: {
        field: 'level',
        type: 'quantitative',
        title: 'Loss',
        scale: { scheme: 'viridis', type: scale, domain, nice: false, ...(scale === 'log' ? {} : { zero: false }) },
        legend: { orient: 'right', gradientLength: HEIGHT - 20, gradientThickness: 18, tickCount: 8, format: scale === 'log' ? '.1~e' : '~s', labelFontSize: 12 },
      },
      detail: { field: 'line', type: 'nominal' },
      order: { field: 'order', type: 'quantitative' },
    },
  };
  return { layer, range, levels, scale };
}

/**
 * The article's first picture: `plt.contour(X, Y, Z, levels=50, cmap='viridis')` with a colour
 * bar labelled Loss, titled 'Complex Loss Landscape with Multiple Minima' for Himmelblau, axes
 * 'Weight 1' and 'Weight 2'.
 * @example
 * ```ts
 * await savePlot(await landscapeChart('himmelblau'), 'runs/landscape/himmelblau');
 * ```
 * @throws RangeError for an unknown function or bad options.
 */
export async function landscapeChart(fn: string | Function2D, options: ContourOptions = {}): Promise<ChartSpec> {
  const f = getFunction2D(fn);
  const { layer } = await contourLayer(f, options, 1, 1.2);
  return {
    $schema: SCHEMA,
    title: { text: options.title ?? f.title, subtitle: `f(x, y) = ${f.formula}` },
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    ...layer,
  } as unknown as ChartSpec;
}

/** At most `max` indices of `n`, evenly spread, always with the first and the last. */
function thin(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out = Array.from({ length: max - 1 }, (_, i) => Math.floor((i * (n - 1)) / (max - 1)));
  out.push(n - 1);
  return out;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/**
 * The optimizers' paths over the function's contour plot, one colour per optimizer with a legend;
 * a black dot marks the start, small dots every 1/25 of the steps, and a large dot the end.
 * @example
 * ```ts
 * const result = race('rosenbrock', { optimizers: ['sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9'] });
 * await savePlot(await raceChart(result), 'runs/race/rosenbrock');
 * ```
 */
export async function raceChart(result: RaceResult, options: ContourOptions = {}): Promise<ChartSpec> {
  const f = result.fn;
  const { layer } = await contourLayer(f, options, 0.55, 1);
  const paths: Array<Record<string, unknown>> = [];
  const ends: Array<Record<string, unknown>> = [];
  const marks: Array<Record<string, unknown>> = [];
  for (const run of result.runs) {
    for (const i of thin(run.x.length, 4000)) paths.push({ optimizer: run.label, step: i, x: run.x[i], y: run.y[i] });
    // Markers at 25 evenly spaced steps show how far each optimizer got, and when.
    for (const i of thin(run.x.length, 26).slice(1, -1)) marks.push({ optimizer: run.label, step: i, x: run.x[i], y: run.y[i] });
    ends.push({ optimizer: run.label, x: run.final.x, y: run.final.y, loss: run.final.loss });
  }
  const labels = result.runs.map((r) => r.label);
  // Paths often share a valley: earlier ones are drawn wider, so each stays visible under the next.
  const widths = labels.map((_, i) => Math.max(1.5, 6.5 - 2.5 * i));
  const x = { field: 'x', type: 'quantitative' };
  const y = { field: 'y', type: 'quantitative' };
  const color = { field: 'optimizer', type: 'nominal', title: 'Optimizer', sort: labels, scale: { scheme: 'set1', domain: labels }, legend: { orient: 'bottom', direction: 'vertical', symbolType: 'stroke', labelLimit: 480 } };
  return {
    $schema: SCHEMA,
    title: { text: options.title ?? `Optimizer Race on the ${f.label} Function`, subtitle: `from (${fmt(result.start[0])}, ${fmt(result.start[1])}), ${result.steps} steps; ${f.label}: f(x, y) = ${f.formula}` },
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    layer: [
      layer,
      {
        layer: [
          {
            data: { values: paths },
            mark: { type: 'line', clip: true },
            encoding: { x, y, color, order: { field: 'step', type: 'quantitative' }, strokeWidth: { field: 'optimizer', type: 'nominal', sort: labels, scale: { type: 'ordinal', domain: labels, range: widths }, legend: null } },
          },
          {
            data: { values: marks },
            mark: { type: 'point', filled: true, opacity: 1, size: 34, stroke: 'white', strokeWidth: 0.6, clip: true },
            encoding: { x, y, color: { ...color, legend: null } },
          },
          { data: { values: [{ x: result.start[0], y: result.start[1] }] }, mark: { type: 'point', filled: true, size: 90, color: 'black', clip: true }, encoding: { x, y } },
          { data: { values: ends }, mark: { type: 'point', filled: true, size: 110, stroke: 'black', strokeWidth: 1, opacity: 1, clip: true }, encoding: { x, y, color: { ...color, legend: null } } },
        ],
      },
    ],
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  } as unknown as ChartSpec;
}

/** One named series of a line chart. */
export interface Series {
  /** The series' name in the legend. */
  name: string;
  /** The x values. */
  x: ArrayLike<number>;
  /** The y values, one per x value. */
  y: ArrayLike<number>;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  /** The chart's title. Required. */
  title: string;
  /** A second title line, smaller. */
  subtitle?: string;
  /** The x axis title. Required. */
  xTitle: string;
  /** The y axis title. Required. */
  yTitle: string;
  /** @defaultValue 'linear' */
  yScale?: 'linear' | 'log';
  /** Draw a marker at every point (as matplotlib's `marker='o'`). @defaultValue false */
  points?: boolean;
  /** Series title in the legend. @defaultValue 'Optimizer' */
  legendTitle?: string;
  /** Integer ticks on the x axis (epochs). @defaultValue false */
  integerX?: boolean;
  /** Line widths per series, by name. */
  strokeWidths?: Record<string, number>;
  /** A Vega colour scheme for the series. @defaultValue 'tableau10' */
  scheme?: string;
}

/**
 * A line chart with one line per series and a legend, like `plt.plot(..., label=...)` with
 * `plt.legend()` and `plt.grid(True)`. Non-finite points are left out.
 * @throws RangeError for no series or a log scale over values <= 0.
 */
export function lineChart(series: readonly Series[], o: LineChartOptions): ChartSpec {
  if (!Array.isArray(series) || series.length === 0) throw new RangeError(`lineChart: expected at least one series, received ${describeValue(series)}`);
  const rows: Array<Record<string, unknown>> = [];
  for (const s of series) {
    if (s.x.length !== s.y.length) throw new RangeError(`lineChart: series ${describeValue(s.name)} has ${s.x.length} x values and ${s.y.length} y values`);
    for (const i of thin(s.x.length, 6000)) {
      const yv = s.y[i]!;
      if (!Number.isFinite(yv) || !Number.isFinite(s.x[i]!)) continue;
      if (o.yScale === 'log' && yv <= 0) continue;
      rows.push({ series: s.name, x: s.x[i], y: yv });
    }
  }
  const names = series.map((s) => s.name);
  // Lines often overlap (Adam and AdamW early on): earlier series are drawn wider, so each stays
  // visible; long series (per step, per batch) are noisy and get thinner lines.
  const dense = series.some((s) => s.x.length > 100);
  const widths = names.map((n, i) => o.strokeWidths?.[n] ?? (dense ? Math.max(1.4, 2.6 - 0.4 * i) : Math.max(2, 5 - 1.2 * i)));
  const color = { field: 'series', type: 'nominal', title: o.legendTitle ?? 'Optimizer', sort: names, scale: { scheme: o.scheme ?? 'tableau10', domain: names }, legend: { orient: 'right', symbolType: 'stroke', labelLimit: 320 } };
  const shape = { field: 'series', type: 'nominal', title: o.legendTitle ?? 'Optimizer', sort: names, scale: { domain: names, range: ['circle', 'square', 'triangle-up', 'diamond', 'triangle-down', 'cross'] } };
  return {
    $schema: SCHEMA,
    title: { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) },
    width: WIDTH + 80,
    height: HEIGHT - 80,
    config: CONFIG,
    data: { values: rows },
    encoding: {
      // Padding keeps the first and last markers inside the frame.
      x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: { zero: false, nice: false, ...(o.points ? { padding: 14 } : {}) }, axis: o.integerX ? { tickMinStep: 1, format: 'd' } : { tickCount: 10 } },
      y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: o.yScale === 'log' ? { type: 'log' } : { zero: false, ...(o.points ? { padding: 14 } : {}) } },
      color,
    },
    layer: [
      {
        mark: { type: 'line', clip: true },
        encoding: { strokeWidth: { field: 'series', type: 'nominal', sort: names, scale: { type: 'ordinal', domain: names, range: widths }, legend: null }, order: { field: 'x', type: 'quantitative' } },
      },
      ...(o.points ? [{ mark: { type: 'point', filled: true, size: 70, opacity: 1, clip: true }, encoding: { shape: { ...shape, legend: null } } }] : []),
    ],
  } as unknown as ChartSpec;
}

/** The loss of each optimizer at every step of a race (log scale when every loss is positive). */
export function raceLossChart(result: RaceResult): ChartSpec {
  const positive = result.runs.every((r) => r.loss.every((v) => !(v <= 0)));
  return lineChart(
    result.runs.map((r) => ({ name: r.label, x: Float64Array.from(r.loss, (_, i) => i), y: r.loss })),
    { title: `Loss per Step on the ${result.fn.label} Function`, subtitle: `from (${fmt(result.start[0])}, ${fmt(result.start[1])}), ${result.steps} steps`, xTitle: 'Step', yTitle: 'Loss', yScale: positive ? 'log' : 'linear', scheme: 'set1' },
  );
}

/**
 * The regression's loss curve: every mini-batch's loss (the article's `losses`) and the mean per
 * epoch, on a log scale, against epochs.
 */
export function regressionLossChart(result: RegressResult): ChartSpec {
  const nb = result.batchesPerEpoch;
  const epochs = result.epochLosses.length;
  return lineChart(
    [
      { name: 'mini-batch loss', x: Float64Array.from(result.losses, (_, k) => (k + 1) / nb), y: result.losses },
      { name: 'mean per epoch', x: Float64Array.from(result.epochLosses, (_, e) => e + 1), y: result.epochLosses },
    ],
    {
      title: 'Mini-batch Linear Regression: Training Loss',
      subtitle: `${result.samples}×${result.weights.length} data, batch ${result.batchSize}, ${epochs} epochs, ${result.optimizer}`,
      xTitle: 'Epoch',
      yTitle: 'Loss (MSE)',
      yScale: 'log',
      legendTitle: 'Loss',
      strokeWidths: { 'mini-batch loss': 1, 'mean per epoch': 2.5 },
    },
  );
}

/** The article's comparison plot: average training loss per epoch, one line per optimizer. */
export function epochLossChart(result: CompareResult): ChartSpec {
  return lineChart(
    result.runs.map((r) => ({ name: r.label, x: r.metrics.map((m) => m.epoch), y: r.metrics.map((m) => m.trainLoss) })),
    { title: 'Optimizer Comparison on MNIST', subtitle: `${result.model === 'cnn' ? 'SimpleCNN' : 'MLP'}, ${result.trainSize.toLocaleString('en-US')} training images, same initial weights`, xTitle: 'Epoch', yTitle: 'Average Loss', points: true, integerX: true },
  );
}

/** Every batch's loss per optimizer (`compare` with `perBatch`): the article's RAdam-versus-Adam view. */
export function batchLossChart(result: CompareResult): ChartSpec {
  const runs = result.runs.filter((r) => r.batchLosses);
  if (runs.length === 0) throw new RangeError('batchLossChart: expected a compare() result made with perBatch: true');
  const epochs = Math.max(...runs.map((r) => r.metrics.length));
  return lineChart(
    runs.map((r) => ({ name: r.label, x: Float64Array.from(r.batchLosses!, (_, i) => i + 1), y: r.batchLosses! })),
    {
      title: `${runs.map((r) => r.label).join(' vs ')}: ${epochs === 1 ? 'First Epoch, ' : ''}Batch by Batch`,
      subtitle: `MNIST, ${result.model === 'cnn' ? 'SimpleCNN' : 'MLP'}, same initial weights and batches`,
      xTitle: 'Batch',
      yTitle: 'Loss',
      // Noisy series: thin lines, so both stay readable where they cross.
      strokeWidths: Object.fromEntries(runs.map((r) => [r.label, 1.6])),
    },
  );
}
