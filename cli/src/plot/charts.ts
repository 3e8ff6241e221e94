/**
 * The article's pictures as Vega-Lite charts: a contour plot of a loss landscape with a colour
 * bar, optimizer paths over it, loss curves, and average loss per epoch per optimizer. Each
 * function returns a chart spec; render it with `savePlot` (SVG and PNG) or `renderSvg`.
 * @module
 */
import { resolveFunction2D, sampleGridAs, checkRange, type Function2D, type Range2D } from '../demos/functions.js';
import type { RaceResult, RaceRun } from '../demos/race.js';
import type { RegressResult } from '../demos/regress.js';
import type { CompareResult, CompareRun } from '../demos/compare.js';
import { checkBoolean, checkKnownKeys, checkNumber, checkNumbers, checkOneOf, checkOptions, checkRecord, checkString, describeValue, option } from 'ferroptim/internal';
import { MAX_LEVELS, contourLines, logDomain, spacedLevels } from './contour.js';
import { CHART_FONT, type ChartSpec } from './render.js';

/** @internal The Vega-Lite schema of every chart. */
export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 520;
const HEIGHT = 440;

/** @internal Shared look: readable font sizes, a white background. */
export const CONFIG = {
  font: CHART_FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 17, subtitleFontSize: 13, anchor: 'middle', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 14, titlePadding: 8 },
  legend: { labelFontSize: 12, titleFontSize: 13, symbolStrokeWidth: 3, symbolSize: 110 },
  view: { stroke: '#888' },
} as const;

/**
 * Options of the contour charts.
 * @group Charts
 */
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

/** Checks the options of a contour chart (all of them, before anything is computed). */
function contourOptions(ctx: string, options: unknown): ContourOptions {
  const o = checkOptions(ctx, options);
  checkKnownKeys(ctx, o, ['range', 'levels', 'resolution', 'scale', 'title']);
  if (o.range !== undefined) checkRange(ctx, o.range);
  if (o.levels !== undefined) checkNumber(ctx, 'levels', o.levels, { integer: true, min: 1, max: MAX_LEVELS });
  if (o.scale !== undefined) checkOneOf(ctx, 'scale', o.scale, ['linear', 'log']);
  if (o.title !== undefined) checkString(ctx, 'title', o.title);
  return o as ContourOptions;
}

async function contourLayer(ctx: string, f: Function2D, o: ContourOptions, opacity: number, strokeWidth: number): Promise<{ layer: Record<string, unknown>; range: Range2D; levels: number[]; scale: 'linear' | 'log' }> {
  const range = checkRange(ctx, option(o.range, f.range));
  const count = option(o.levels, 50);
  const scale = checkOneOf(ctx, 'scale', option<unknown>(o.scale, f.levelScale), ['linear', 'log']);
  const grid = sampleGridAs(ctx, f, range, option(o.resolution, f.resolution));
  if (scale === 'log' && !(grid.max > 0)) {
    throw new RangeError(`${ctx}: scale "log" needs positive values; ${f.label} has none over range x [${range.x.join(', ')}], y [${range.y.join(', ')}]`);
  }
  const domain: [number, number] = scale === 'log' ? logDomain(grid) : [grid.min, grid.max];
  // Levels need a finite interval of values: a flat grid has none, an overflowing one no finite end.
  if (!(Number.isFinite(domain[0]) && Number.isFinite(domain[1]) && domain[0] < domain[1])) {
    const n = grid.xs.length;
    throw new RangeError(
      `${ctx}: ${f.label} takes values from ${describeValue(domain[0])} to ${describeValue(domain[1])} on the ${n}×${n} grid over range x [${range.x.join(', ')}], y [${range.y.join(', ')}]; contour levels need a finite interval, choose another range or resolution`,
    );
  }
  // Checked above: count by contourOptions, the interval here, and logDomain's low end is > 0.
  const levels = spacedLevels(domain[0], domain[1], count, scale);
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
 * @throws TypeError or RangeError (as a rejected promise) for an unknown function or bad options.
 * @group Charts
 */
export async function landscapeChart(fn: string | Function2D, options: ContourOptions = {}): Promise<ChartSpec> {
  const f = resolveFunction2D('landscapeChart', 'fn', fn);
  const o = contourOptions('landscapeChart', options);
  const { layer } = await contourLayer('landscapeChart', f, o, 1, 1.2);
  return {
    $schema: SCHEMA,
    title: { text: o.title ?? f.title, subtitle: `f(x, y) = ${f.formula}` },
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
 * The ✕ that marks where a run diverged: an SVG path in Vega's unit square, stroked, never
 * filled, so it differs from every end marker.
 */
const DIVERGED_SHAPE = 'M-1,-1L1,1M-1,1L1,-1';

/**
 * The two layers of the ✕ at each of `values` (`x`, `y`, `note`): a wide black outline, silent for
 * screen readers, under a coloured stroke that carries the note. `encoding` goes to both layers,
 * `colour` to the top one only (without it, the chart's own colour encoding applies).
 */
function crossLayers(
  values: ReadonlyArray<Record<string, unknown>>,
  mark: { size: number; strokeWidth: number; outlineWidth: number; clip?: boolean },
  encoding: Record<string, unknown> = {},
  colour: Record<string, unknown> = {},
): Array<Record<string, unknown>> {
  const base = { type: 'point', shape: DIVERGED_SHAPE, filled: false, size: mark.size, opacity: 1, ...(mark.clip ? { clip: true } : {}) };
  return [
    { data: { values }, mark: { ...base, strokeWidth: mark.outlineWidth, aria: false }, encoding: { ...encoding, color: { value: 'black' } } },
    { data: { values }, mark: { ...base, strokeWidth: mark.strokeWidth }, encoding: { ...encoding, ...colour, description: { field: 'note' } } },
  ];
}

/** End-marker shapes, one per run in order; the ✕ is kept for divergence. */
const END_SHAPES = ['circle', 'square', 'diamond', 'triangle-up', 'triangle-down', 'triangle-right', 'triangle-left', 'cross'];

/**
 * Line styles of paths drawn over each other, in drawing order: each line is narrower than the
 * ones under it, so where paths coincide every one still shows as a band around the next; the
 * top ones are dashed, so the lines under them also show through the gaps.
 */
const PATH_STYLES: ReadonlyArray<{ width: number; dash: number[] }> = [
  { width: 7, dash: [1, 0] },
  { width: 4.5, dash: [1, 0] },
  { width: 2.5, dash: [9, 4] },
  { width: 2, dash: [2, 3] },
  { width: 1.5, dash: [12, 3, 3, 3] },
  { width: 1.5, dash: [5, 2] },
];

function pathStyle(i: number): { width: number; dash: number[] } {
  return PATH_STYLES[Math.min(i, PATH_STYLES.length - 1)]!;
}

/** A series' name in a legend, with how it diverged: `sgd:lr=10 (diverged at step 4)`. */
function legendLabel(name: string, diverged: string | undefined): string {
  return diverged ? `${name} (${diverged})` : name;
}

/**
 * One number notation for every label of a loss axis: plain decimals while the values stay within
 * [1e-3, 1e5] (0.01, 0.1, 1, 10), powers of ten beyond (1e-6, 1e+20). Vega's default writes
 * 10,000,000,000 and then 1e+21 on the same axis, and 0.000001 beside 1.
 */
function lossFormat(values: readonly number[], scale: 'linear' | 'log'): string | undefined {
  let lo = Infinity;
  let hi = 0;
  for (const v of values) {
    const a = Math.abs(v);
    if (a > 0 && a < lo) lo = a;
    if (a > hi) hi = a;
  }
  const decimal = hi === 0 || (lo >= 1e-3 && hi <= 1e5);
  // A log axis's ticks are 1 to 9 times a power of ten: one significant digit says them.
  if (scale === 'log') return decimal ? '~g' : '.0e';
  // A linear axis's ticks are evenly spaced: Vega's default gives them a common precision.
  return hi > 1e5 ? '~e' : undefined;
}

/** A log scale when every value is positive and they span at least three decades. */
function autoScale(values: readonly number[]): 'linear' | 'log' {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!(v > 0)) return 'linear';
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi / lo >= 1e3 ? 'log' : 'linear';
}

/** The part of the segment (x0, y0)–(x1, y1) inside the window, as parameters t0 ≤ t1 along it, or null (Liang–Barsky). */
function clipSegment(x0: number, y0: number, x1: number, y1: number, r: Range2D): [number, number] | null {
  const dx = x1 - x0;
  const dy = y1 - y0;
  let t0 = 0;
  let t1 = 1;
  for (const [p, q] of [[-dx, x0 - r.x[0]], [dx, r.x[1] - x0], [-dy, y0 - r.y[0]], [dy, r.y[1] - y0]] as const) {
    if (p === 0) {
      if (q < 0) return null;
      continue;
    }
    const t = q / p;
    if (p < 0) {
      if (t > t1) return null;
      if (t > t0) t0 = t;
    } else {
      if (t < t0) return null;
      if (t < t1) t1 = t;
    }
  }
  return [t0, t1];
}

interface PathRow {
  optimizer: string;
  step: number;
  x: number | null;
  y: number | null;
}

/**
 * The polyline through `idx`'s points cut to the window: pieces inside it, cut where they cross
 * its edge (at fractional steps), separated by rows with null x and y that break the line. A
 * diverged run's far points are thus never handed to the renderer, which drops a whole path
 * whose coordinates reach 1e30.
 */
function clipPath(optimizer: string, xs: Float64Array, ys: Float64Array, idx: number[], r: Range2D): PathRow[] {
  const rows: PathRow[] = [];
  const at = (i: number, j: number, t: number): PathRow => {
    if (t === 0) return { optimizer, step: i, x: xs[i]!, y: ys[i]! };
    if (t === 1) return { optimizer, step: j, x: xs[j]!, y: ys[j]! };
    return { optimizer, step: i + (j - i) * t, x: xs[i]! + (xs[j]! - xs[i]!) * t, y: ys[i]! + (ys[j]! - ys[i]!) * t };
  };
  if (idx.length === 1) {
    const i = idx[0]!;
    if (clipSegment(xs[i]!, ys[i]!, xs[i]!, ys[i]!, r)) rows.push(at(i, i, 0));
    return rows;
  }
  let open = false;
  for (let k = 1; k < idx.length; k++) {
    const i = idx[k - 1]!;
    const j = idx[k]!;
    const c = clipSegment(xs[i]!, ys[i]!, xs[j]!, ys[j]!, r);
    if (!c) {
      open = false;
      continue;
    }
    if (!open) {
      const first = at(i, j, c[0]);
      const last = rows.at(-1);
      if (last && last.step < first.step) rows.push({ optimizer, step: (last.step + first.step) / 2, x: null, y: null });
      if (!last || last.step < first.step) rows.push(first);
    }
    rows.push(at(i, j, c[1]));
    open = c[1] === 1;
  }
  return rows;
}

function inside(x: number, y: number, r: Range2D): boolean {
  return x >= r.x[0] && x <= r.x[1] && y >= r.y[0] && y <= r.y[1];
}

/** The leading points of a run whose position is finite (all of them unless it diverged). */
function finitePrefix(run: RaceRun): number {
  let n = 0;
  while (n < run.x.length && Number.isFinite(run.x[n]) && Number.isFinite(run.y[n])) n++;
  return n;
}

/**
 * How far each run went, said truly: `100 steps` when every run took them all, with a note per
 * diverged run (`sgd:lr=10 diverged at step 4`, `… of 100` when no run finished).
 */
function raceSteps(result: RaceResult): { steps: string; notes: string[] } {
  const finished = result.runs.some((r) => !r.diverged);
  return {
    steps: finished ? `, ${result.steps} steps` : '',
    notes: result.runs.filter((r) => r.diverged).map((r) => `${r.label} diverged at step ${r.steps}${finished ? '' : ` of ${result.steps}`}`),
  };
}

/**
 * The optimizers' paths over the function's contour plot, one colour and line style per optimizer
 * with a legend; a black dot marks the start, small markers every 1/25 of the steps, and a large
 * one the end, of a different shape per optimizer. A run that diverged is drawn up to its last
 * finite point (or to where it left the window) and ends in an ✕; the legend and the subtitle say
 * at which step.
 *
 * @remarks
 * Paths often share a valley: each is drawn narrower than the ones before it, on top of them, and
 * from the third on dashed, so coinciding paths and end markers all stay visible.
 * @example
 * ```ts
 * const result = race('rosenbrock', { optimizers: ['sgd:lr=0.001', 'sgd:lr=0.001,momentum=0.9'] });
 * await savePlot(await raceChart(result), 'runs/race/rosenbrock');
 * ```
 * @throws TypeError or RangeError (as a rejected promise) for a result that is not a
 * {@link race} result or bad options.
 * @group Charts
 */
export async function raceChart(result: RaceResult, options: ContourOptions = {}): Promise<ChartSpec> {
  const f = checkRaceResult('raceChart', result).fn;
  const o = contourOptions('raceChart', options);
  const { layer, range } = await contourLayer('raceChart', f, o, 0.55, 1);
  const labels = result.runs.map((r) => legendLabel(r.label, r.diverged ? `diverged at step ${r.steps}` : undefined));
  const paths: PathRow[] = [];
  const marks: Array<Record<string, unknown>> = [];
  const ends: Array<Record<string, unknown>> = [];
  const blown: Array<Record<string, unknown>> = [];
  result.runs.forEach((run, k) => {
    const optimizer = labels[k]!;
    const n = finitePrefix(run);
    const rows = clipPath(optimizer, run.x, run.y, thin(n, 4000), range);
    paths.push(...rows);
    // Markers at 25 evenly spaced steps show how far each optimizer got, and when.
    for (const i of thin(n, 26).slice(1, -1)) if (inside(run.x[i]!, run.y[i]!, range)) marks.push({ optimizer, step: i, x: run.x[i], y: run.y[i] });
    // Each marker says what it marks (the SVG's aria-label).
    if (run.diverged) {
      // The last finite point, or where the path last left the window on its way out.
      const last = rows.findLast((r) => r.x !== null);
      const where = last?.step === n - 1 ? `its last finite position, step ${n - 1}` : 'its path leaves the window here';
      if (last) blown.push({ optimizer, x: last.x, y: last.y, note: `${run.label} diverged at step ${run.steps}: ${where}` });
    } else if (inside(run.final.x, run.final.y, range)) {
      ends.push({ optimizer, x: run.final.x, y: run.final.y, note: `${run.label}: end after ${run.steps} steps, loss ${fmt(run.final.loss)}` });
    }
  });
  const styles = labels.map((_, i) => pathStyle(i));
  const x = { field: 'x', type: 'quantitative' };
  const y = { field: 'y', type: 'quantitative' };
  // The legend's lines take each run's dashes (entries come in the domain's order).
  const dashes = { signal: `${JSON.stringify(styles.map((s) => s.dash))}[datum.index]` };
  const legend = { orient: 'bottom', direction: 'vertical', symbolType: 'stroke', labelLimit: 480, symbolStrokeWidth: 3.5, symbolSize: 576, encode: { symbols: { update: { strokeDash: dashes } } } };
  const color = { field: 'optimizer', type: 'nominal', title: 'Optimizer', sort: labels, scale: { scheme: 'set1', domain: labels }, legend };
  // One value per run; numbers through an ordinal scale, which maps them as given (not interpolated).
  const byRun = (values: unknown[]) => ({ field: 'optimizer', type: 'nominal', sort: labels, scale: { ...(typeof values[0] === 'number' ? { type: 'ordinal' } : {}), domain: labels, range: values }, legend: null });
  // Earlier end markers are larger and drawn first: coinciding ends stay visible.
  const sizes = labels.map((_, i) => Math.max(70, 260 - 70 * i));
  const { steps, notes } = raceSteps(result);
  const formula = `${f.label}: f(x, y) = ${f.formula}`;
  const from = `from (${fmt(result.start[0])}, ${fmt(result.start[1])})${steps}`;
  return {
    $schema: SCHEMA,
    title: { text: o.title ?? `Optimizer Race on the ${f.label} Function`, subtitle: notes.length ? [`${from}; ${formula}`, notes.join('; ')] : `${from}; ${formula}` },
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    layer: [
      layer,
      {
        layer: [
          {
            data: { values: paths },
            mark: { type: 'line', clip: true, strokeCap: 'butt' },
            encoding: {
              x, y, color,
              order: { field: 'step', type: 'quantitative' },
              strokeWidth: byRun(styles.map((s) => s.width)),
              strokeDash: byRun(styles.map((s) => s.dash)),
            },
          },
          {
            data: { values: marks },
            mark: { type: 'point', filled: true, opacity: 1, size: 40, stroke: 'white', strokeWidth: 0.6, clip: true },
            encoding: { x, y, color: { ...color, legend: null }, shape: byRun(END_SHAPES) },
          },
          { data: { values: [{ x: result.start[0], y: result.start[1] }] }, mark: { type: 'point', filled: true, size: 90, color: 'black', clip: true }, encoding: { x, y } },
          {
            data: { values: ends },
            mark: { type: 'point', filled: true, stroke: 'black', strokeWidth: 1, opacity: 1, clip: true },
            encoding: { x, y, color: { ...color, legend: null }, shape: byRun(END_SHAPES), size: byRun(sizes), description: { field: 'note' } },
          },
          // The ✕ may sit on the frame, where the path left the window: not clipped.
          ...crossLayers(blown, { size: 260, strokeWidth: 3.2, outlineWidth: 6 }, { x, y }, { color: { ...color, legend: null } }),
        ],
      },
    ],
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  } as unknown as ChartSpec;
}

/**
 * One named series of a line chart.
 * @group Charts
 */
export interface Series {
  /** The series' name in the legend. */
  name: string;
  /** The x values. */
  x: ArrayLike<number>;
  /** The y values, one per x value. */
  y: ArrayLike<number>;
  /**
   * Set when the series stopped because its values stopped being finite: how, said after the name
   * in the legend (`'diverged at step 4'`). Its last finite point gets an ✕.
   */
  diverged?: string;
}

/**
 * Options of {@link lineChart}.
 * @group Charts
 */
export interface LineChartOptions {
  /** The chart's title. Required. */
  title: string;
  /** A second title line, smaller. */
  subtitle?: string;
  /** The x axis title. Required. */
  xTitle: string;
  /** The y axis title. Required. */
  yTitle: string;
  /**
   * `'auto'`: log when every value is positive and they span three decades or more (a diverging
   * loss), else linear. A log axis labels in decimals within [1e-3, 1e5], in powers of ten beyond.
   * @defaultValue 'linear'
   */
  yScale?: 'linear' | 'log' | 'auto';
  /** Draw a marker at every point (as matplotlib's `marker='o'`). @defaultValue false */
  points?: boolean;
  /** Series title in the legend. @defaultValue 'Optimizer' */
  legendTitle?: string;
  /** Integer ticks on the x axis (steps, batches, epochs), labelled without separators. @defaultValue false */
  integerX?: boolean;
  /** Line widths per series, by name. */
  strokeWidths?: Record<string, number>;
  /** A Vega colour scheme for the series. @defaultValue 'tableau10' */
  scheme?: string;
}

/**
 * A line chart with one line per series and a legend, like `plt.plot(..., label=...)` with
 * `plt.legend()` and `plt.grid(True)`. Non-finite points, and on a log scale points <= 0, are
 * left out; a series marked `diverged` ends in an ✕ and says so in the legend.
 * @throws TypeError or RangeError for no series, a series that is not `{ name, x, y }` with lists
 * of numbers, a series with more x values than y values or fewer, or bad options (`title`,
 * `xTitle` and `yTitle` are required).
 * @group Charts
 */
export function lineChart(series: readonly Series[], options: LineChartOptions): ChartSpec {
  const ctx = 'lineChart';
  if (!Array.isArray(series)) throw new TypeError(`${ctx}: expected series to be a non-empty array of { name, x, y }, received ${describeValue(series)}`);
  if (series.length === 0) throw new RangeError(`${ctx}: expected at least one series, received ${describeValue(series)}`);
  series.forEach((s: unknown, i) => {
    const r = fieldObject(ctx, `series[${i}]`, s, 'a series { name, x, y }');
    checkString(ctx, `series[${i}].name`, r.name);
    checkNumbers(ctx, `series[${i}].x`, r.x);
    checkNumbers(ctx, `series[${i}].y`, r.y);
    if (r.diverged !== undefined) checkString(ctx, `series[${i}].diverged`, r.diverged);
  });
  const o = checkOptions(ctx, options) as unknown as LineChartOptions;
  checkKnownKeys(ctx, o as unknown as Record<string, unknown>, ['title', 'subtitle', 'xTitle', 'yTitle', 'yScale', 'points', 'legendTitle', 'integerX', 'strokeWidths', 'scheme']);
  for (const k of ['title', 'xTitle', 'yTitle'] as const) checkString(ctx, k, o[k]);
  for (const k of ['subtitle', 'legendTitle', 'scheme'] as const) if (o[k] !== undefined) checkString(ctx, k, o[k]);
  if (o.yScale !== undefined) checkOneOf(ctx, 'yScale', o.yScale, ['linear', 'log', 'auto']);
  for (const k of ['points', 'integerX'] as const) if (o[k] !== undefined) checkBoolean(ctx, k, o[k]);
  if (o.strokeWidths !== undefined) {
    const widths = checkRecord(ctx, 'strokeWidths', o.strokeWidths, 'an object of widths by series name');
    for (const [name, w] of Object.entries(widths)) checkNumber(ctx, `strokeWidths[${JSON.stringify(name)}]`, w, { above: 0 });
  }
  const finite: number[] = [];
  for (const s of series) {
    if (s.x.length !== s.y.length) throw new RangeError(`${ctx}: series ${describeValue(s.name)} has ${s.x.length} x values and ${s.y.length} y values`);
    for (let i = 0; i < s.y.length; i++) if (Number.isFinite(s.y[i]) && Number.isFinite(s.x[i])) finite.push(s.y[i]!);
  }
  const yScale = o.yScale === 'auto' ? autoScale(finite) : (o.yScale ?? 'linear');
  const names = series.map((s) => legendLabel(s.name, s.diverged));
  const rows: Array<Record<string, unknown>> = [];
  const blown: Array<Record<string, unknown>> = [];
  // A line through one point draws nothing: such a series gets a dot.
  const lone: Array<Record<string, unknown>> = [];
  series.forEach((s, k) => {
    const drawn = (i: number) => Number.isFinite(s.y[i]) && Number.isFinite(s.x[i]) && !(yScale === 'log' && s.y[i]! <= 0);
    // Thin over the points up to the last one drawn, so a diverged series keeps its last point.
    let n = s.x.length;
    while (n > 0 && !drawn(n - 1)) n--;
    const before = rows.length;
    for (const i of thin(n, 6000)) if (drawn(i)) rows.push({ series: names[k], x: s.x[i], y: s.y[i] });
    if (rows.length - before === 1 && !o.points) lone.push(rows.at(-1)!);
    if (s.diverged && n > 0) blown.push({ series: names[k], x: s.x[n - 1], y: s.y[n - 1], note: `${s.name} ${s.diverged}: its last finite value` });
  });
  // Lines often overlap (Adam and AdamW early on): earlier series are drawn wider, so each stays
  // visible; long series (per step, per batch) are noisy and get thinner lines.
  const dense = series.some((s) => s.x.length > 100);
  const widths = series.map((s, i) => (o.strokeWidths && Object.hasOwn(o.strokeWidths, s.name) ? o.strokeWidths[s.name] : undefined) ?? (dense ? Math.max(1.4, 2.6 - 0.4 * i) : Math.max(2, 5 - 1.2 * i)));
  const color = { field: 'series', type: 'nominal', title: o.legendTitle ?? 'Optimizer', sort: names, scale: { scheme: o.scheme ?? 'tableau10', domain: names }, legend: { orient: 'right', symbolType: 'stroke', labelLimit: 480 } };
  const shape = { field: 'series', type: 'nominal', title: o.legendTitle ?? 'Optimizer', sort: names, scale: { domain: names, range: ['circle', 'square', 'triangle-up', 'diamond', 'triangle-down', 'cross'] } };
  // Padding keeps the first and last markers, and an ✕ at a corner, inside the frame.
  const padding = o.points || blown.length > 0 ? { padding: 14 } : {};
  const format = lossFormat(yScale === 'log' ? finite.filter((v) => v > 0) : finite, yScale);
  return {
    $schema: SCHEMA,
    title: { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) },
    width: WIDTH + 80,
    height: HEIGHT - 80,
    config: CONFIG,
    data: { values: rows },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: { zero: false, nice: false, ...padding }, axis: o.integerX ? { tickMinStep: 1, format: 'd', tickCount: 10 } : { tickCount: 10 } },
      y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: yScale === 'log' ? { type: 'log', ...padding } : { zero: false, ...padding }, ...(format ? { axis: { format } } : {}) },
      color,
    },
    layer: [
      {
        mark: { type: 'line', clip: true },
        encoding: { strokeWidth: { field: 'series', type: 'nominal', sort: names, scale: { type: 'ordinal', domain: names, range: widths }, legend: null }, order: { field: 'x', type: 'quantitative' } },
      },
      ...(o.points ? [{ mark: { type: 'point', filled: true, size: 70, opacity: 1, clip: true }, encoding: { shape: { ...shape, legend: null } } }] : []),
      ...(lone.length > 0 ? [{ data: { values: lone }, mark: { type: 'point', filled: true, size: 70, opacity: 1, clip: true } }] : []),
      ...(blown.length > 0 ? crossLayers(blown, { size: 200, strokeWidth: 3, outlineWidth: 5.5, clip: true }) : []),
    ],
  } as unknown as ChartSpec;
}

/**
 * The loss of each optimizer at every step of a race: a log scale when every loss is positive,
 * integer step ticks, and a diverged run drawn up to its last finite loss, ending in an ✕.
 * @throws TypeError or RangeError for a result that is not a {@link race} result.
 * @group Charts
 */
export function raceLossChart(result: RaceResult): ChartSpec {
  checkRaceResult('raceLossChart', result);
  const positive = result.runs.every((r) => r.loss.every((v) => !(v <= 0)));
  const { steps, notes } = raceSteps(result);
  return lineChart(
    result.runs.map((r) => ({ name: r.label, x: Float64Array.from(r.loss, (_, i) => i), y: Float64Array.from(r.loss), ...(r.diverged ? { diverged: `diverged at step ${r.steps}` } : {}) })),
    {
      title: `Loss per Step on the ${result.fn.label} Function`,
      subtitle: [`from (${fmt(result.start[0])}, ${fmt(result.start[1])})${steps}`, ...notes].join('; '),
      xTitle: 'Step',
      yTitle: 'Loss',
      yScale: positive ? 'log' : 'linear',
      scheme: 'set1',
      integerX: true,
    },
  );
}

/**
 * The regression's loss curve: every mini-batch's loss (the article's `losses`) and the mean per
 * epoch, on a log scale, against epochs. A diverged run is drawn up to its last finite loss.
 * @throws TypeError or RangeError for a result that is not a {@link regress} result.
 * @group Charts
 */
export function regressionLossChart(result: RegressResult): ChartSpec {
  checkRegressResult('regressionLossChart', result);
  const nb = result.batchesPerEpoch;
  const epochs = result.epochLosses.length;
  const d = result.diverged;
  // Everything from the first non-finite loss on is NaN or infinite: it is left out.
  const batches = d ? (d.epoch - 1) * nb + d.batch - 1 : result.losses.length;
  const means = d ? d.epoch - 1 : epochs;
  const note = d ? `diverged in epoch ${d.epoch}, batch ${d.batch}` : undefined;
  return lineChart(
    [
      { name: 'mini-batch loss', x: Float64Array.from({ length: batches }, (_, k) => (k + 1) / nb), y: Float64Array.from(result.losses).subarray(0, batches), ...(note ? { diverged: note } : {}) },
      { name: 'mean per epoch', x: Float64Array.from({ length: means }, (_, e) => e + 1), y: Float64Array.from(result.epochLosses).subarray(0, means) },
    ],
    {
      title: 'Mini-batch Linear Regression: Training Loss',
      subtitle: `${result.samples}×${result.weights.length} data, batch ${result.batchSize}, ${epochs} epochs, ${result.optimizer}${note ? `; ${note}` : ''}`,
      xTitle: 'Epoch',
      yTitle: 'Loss (MSE)',
      yScale: 'log',
      legendTitle: 'Loss',
      integerX: true,
      strokeWidths: { 'mini-batch loss': 1, 'mean per epoch': 2.5 },
    },
  );
}

/** How a compare run diverged, for a legend: `diverged in epoch 2, batch 17`. */
function compareNote(run: CompareRun): string | undefined {
  return run.diverged ? `diverged in epoch ${run.diverged.epoch}, batch ${run.diverged.batch}` : undefined;
}

/**
 * The article's comparison plot: average training loss per epoch, one line per optimizer (a log
 * scale when the losses span three decades). A diverged run ends in an ✕ at its last complete epoch.
 * @throws TypeError or RangeError for a result that is not a {@link compare} result.
 * @group Charts
 */
export function epochLossChart(result: CompareResult): ChartSpec {
  checkCompareResult('epochLossChart', result);
  return lineChart(
    result.runs.map((r) => {
      const note = compareNote(r);
      return { name: r.label, x: r.metrics.map((m) => m.epoch), y: r.metrics.map((m) => m.trainLoss), ...(note ? { diverged: note } : {}) };
    }),
    {
      title: 'Optimizer Comparison on MNIST',
      subtitle: `${result.model === 'cnn' ? 'SimpleCNN' : 'MLP'}, ${result.trainSize.toLocaleString('en-US')} training images, same initial weights`,
      xTitle: 'Epoch',
      yTitle: 'Average Loss',
      yScale: 'auto',
      points: true,
      integerX: true,
    },
  );
}

/**
 * Every batch's loss per optimizer (`compare` with `perBatch`): the article's RAdam-versus-Adam
 * view; integer batch ticks, a log scale when the losses span three decades, and a diverged run
 * ending in an ✕ at its last finite loss.
 * @throws TypeError or RangeError for a result that is not a {@link compare} result, or one made
 * without `perBatch`.
 * @group Charts
 */
export function batchLossChart(result: CompareResult): ChartSpec {
  checkCompareResult('batchLossChart', result);
  const runs = result.runs.filter((r) => r.batchLosses);
  if (runs.length === 0) throw new RangeError('batchLossChart: expected a compare() result made with perBatch: true');
  const epochs = Math.max(...runs.map((r) => r.metrics.length + (r.diverged ? 1 : 0)));
  return lineChart(
    runs.map((r) => {
      // batchLosses count on across epochs: the diverging batch is the next one.
      const note = r.diverged ? `diverged at batch ${r.batchLosses!.length + 1}` : undefined;
      return { name: r.label, x: Float64Array.from(r.batchLosses!, (_, i) => i + 1), y: r.batchLosses!, ...(note ? { diverged: note } : {}) };
    }),
    {
      title: `${runs.map((r) => r.label).join(' vs ')}: ${epochs === 1 ? 'First Epoch, ' : ''}Batch by Batch`,
      subtitle: `MNIST, ${result.model === 'cnn' ? 'SimpleCNN' : 'MLP'}, same initial weights and batches`,
      xTitle: 'Batch',
      yTitle: 'Loss',
      yScale: 'auto',
      integerX: true,
      // Noisy series: thin lines, so both stay readable where they cross.
      strokeWidths: Object.fromEntries(runs.map((r) => [r.label, 1.6])),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// The results the charts draw: checked whole, so a malformed one is named, not met half-drawn.

function fieldObject(ctx: string, name: string, v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${ctx}: expected ${name} to be ${what}, received ${describeValue(v)}`);
  return v as Record<string, unknown>;
}

/** Checks `result.runs`: a non-empty array of objects (`what`) with a string label, each then given to `check`. */
function forEachRun(ctx: string, runs: unknown, what: string, check: (run: Record<string, unknown>, at: string) => void): void {
  if (!Array.isArray(runs) || runs.length === 0) throw new TypeError(`${ctx}: expected result.runs to be a non-empty array of runs, received ${describeValue(runs)}`);
  runs.forEach((run: unknown, i) => {
    const at = `result.runs[${i}]`;
    const u = fieldObject(ctx, at, run, what);
    checkString(ctx, `${at}.label`, u.label);
    check(u, at);
  });
}

const checkCount = (ctx: string, name: string, v: unknown, min: number) => checkNumber(ctx, name, v, { integer: true, min });

function checkDiverged(ctx: string, name: string, v: unknown): void {
  if (v === undefined) return;
  const d = fieldObject(ctx, name, v, 'undefined or { epoch, batch, loss }');
  checkCount(ctx, `${name}.epoch`, d.epoch, 1);
  checkCount(ctx, `${name}.batch`, d.batch, 1);
  if (typeof d.loss !== 'number') throw new TypeError(`${ctx}: expected ${name}.loss to be a number, received ${describeValue(d.loss)}`);
}

/** Checks a {@link race} result: its function, start, steps and runs (paths of equal lengths). */
function checkRaceResult(ctx: string, v: unknown): RaceResult {
  const r = fieldObject(ctx, 'result', v, 'a race() result');
  if (typeof r.fn !== 'object') throw new TypeError(`${ctx}: expected result.fn to be a Function2D, received ${describeValue(r.fn)}`);
  const f = resolveFunction2D(ctx, 'result.fn', r.fn);
  checkString(ctx, 'result.fn.label', f.label);
  const start = r.start;
  if (!Array.isArray(start) || start.length !== 2) throw new TypeError(`${ctx}: expected result.start to be a pair [x, y], received ${describeValue(start)}`);
  start.forEach((x, i) => checkNumber(ctx, `result.start[${i}]`, x));
  checkCount(ctx, 'result.steps', r.steps, 0);
  forEachRun(ctx, r.runs, 'a run { label, x, y, loss, final, steps, diverged }', (u, at) => {
    const n = checkNumbers(ctx, `${at}.x`, u.x).length;
    for (const k of ['y', 'loss'] as const) {
      const len = checkNumbers(ctx, `${at}.${k}`, u[k]).length;
      if (len !== n) throw new RangeError(`${ctx}: expected ${at}.${k} to hold as many values as ${at}.x (${n}), received ${len}`);
    }
    if (n === 0) throw new RangeError(`${ctx}: expected ${at}.x to hold at least the start, received []`);
    const fin = fieldObject(ctx, `${at}.final`, u.final, '{ x, y, loss }');
    for (const k of ['x', 'y', 'loss'] as const) if (typeof fin[k] !== 'number') throw new TypeError(`${ctx}: expected ${at}.final.${k} to be a number, received ${describeValue(fin[k])}`);
    checkCount(ctx, `${at}.steps`, u.steps, 0);
    checkBoolean(ctx, `${at}.diverged`, u.diverged);
  });
  return v as RaceResult;
}

/** Checks a {@link regress} result: per-batch and per-epoch losses that agree with batchesPerEpoch. */
function checkRegressResult(ctx: string, v: unknown): RegressResult {
  const r = fieldObject(ctx, 'result', v, 'a regress() result');
  const losses = checkNumbers(ctx, 'result.losses', r.losses);
  const epochs = checkNumbers(ctx, 'result.epochLosses', r.epochLosses).length;
  const nb = checkCount(ctx, 'result.batchesPerEpoch', r.batchesPerEpoch, 1);
  if (losses.length !== epochs * nb) {
    throw new RangeError(`${ctx}: expected result.losses to hold epochLosses.length × batchesPerEpoch = ${epochs} × ${nb} = ${epochs * nb} values, received ${losses.length}`);
  }
  checkCount(ctx, 'result.samples', r.samples, 1);
  checkCount(ctx, 'result.batchSize', r.batchSize, 1);
  checkNumbers(ctx, 'result.weights', r.weights);
  checkString(ctx, 'result.optimizer', r.optimizer);
  checkDiverged(ctx, 'result.diverged', r.diverged);
  const d = r.diverged as { epoch: number; batch: number } | undefined;
  if (d && (d.epoch > epochs || d.batch > nb)) {
    throw new RangeError(`${ctx}: expected result.diverged to be within the ${epochs} epochs of ${nb} batches, received epoch ${d.epoch}, batch ${d.batch}`);
  }
  return v as RegressResult;
}

/** Checks a {@link compare} result: its model, sizes and runs (metrics with epoch and trainLoss, optional batch losses). */
function checkCompareResult(ctx: string, v: unknown): CompareResult {
  const r = fieldObject(ctx, 'result', v, 'a compare() result');
  checkOneOf(ctx, 'result.model', r.model, ['cnn', 'mlp']);
  checkCount(ctx, 'result.trainSize', r.trainSize, 0);
  checkCount(ctx, 'result.testSize', r.testSize, 0);
  forEachRun(ctx, r.runs, 'a run { label, metrics, batchLosses?, diverged? }', (u, at) => {
    if (!Array.isArray(u.metrics)) throw new TypeError(`${ctx}: expected ${at}.metrics to be an array of epoch metrics, received ${describeValue(u.metrics)}`);
    u.metrics.forEach((m: unknown, j) => {
      const e = fieldObject(ctx, `${at}.metrics[${j}]`, m, 'epoch metrics { epoch, trainLoss, ... }');
      for (const k of ['epoch', 'trainLoss'] as const) if (typeof e[k] !== 'number') throw new TypeError(`${ctx}: expected ${at}.metrics[${j}].${k} to be a number, received ${describeValue(e[k])}`);
    });
    if (u.batchLosses !== undefined) checkNumbers(ctx, `${at}.batchLosses`, u.batchLosses);
    checkDiverged(ctx, `${at}.diverged`, u.diverged);
  });
  return v as CompareResult;
}
