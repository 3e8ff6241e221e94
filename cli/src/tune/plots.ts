/**
 * The charts of a study (Vega-Lite specs; render them with `savePlot`): the optimization history
 * (each trial's value, completed and pruned marked apart, and the best value so far) and the
 * value against each parameter (log axes for log-sampled parameters, categories for the optimizer).
 * @module
 */
import { TrialState, type Distribution, type FrozenTrial } from 'ferroptim-tune';
import { CONFIG as CHART_CONFIG, SCHEMA } from '../plot/charts.js';
import type { ChartSpec } from '../plot/render.js';
import { studyDistributions } from './space.js';
import { stateName } from './table.js';

/** The charts' shared look, with the legend's default symbols (points, not lines). */
const CONFIG = { ...CHART_CONFIG, legend: { labelFontSize: 12, titleFontSize: 13 } } as const;

const SERIES = ['COMPLETE', 'PRUNED', 'best so far'];
const COLOURS = ['#1f77b4', '#ff7f0e', '#d62728'];

/** Trials with a value (COMPLETE, and PRUNED ones with their last reported value). */
function valued(trials: readonly FrozenTrial[]): FrozenTrial[] {
  return trials.filter((t) => (t.state === TrialState.COMPLETE || t.state === TrialState.PRUNED) && t.values !== null && Number.isFinite(t.values[0]));
}

/** The value as a chart shows it: accuracies (values in [0, 1] of a maximized study) in percent. */
function scale(trials: readonly FrozenTrial[]): { k: number; title: string } {
  const all = valued(trials).map((t) => t.values![0]!);
  return all.every((v) => v >= 0 && v <= 1) ? { k: 100, title: 'Validation accuracy (%)' } : { k: 1, title: 'Objective value' };
}

/**
 * The optimization history: one point per trial (by number), coloured and shaped by state, and
 * the best COMPLETE value so far as a step line.
 */
export function historyChart(trials: readonly FrozenTrial[], options: { title: string; direction: 'minimize' | 'maximize' }): ChartSpec {
  const { k, title } = scale(trials);
  const points = valued(trials).map((t) => ({ number: t.number, value: t.values![0]! * k, series: stateName(t.state), params: Object.entries(t.params).map(([p, v]) => `${p}=${v}`).join(' ') }));
  const best: Array<{ number: number; value: number; series: string }> = [];
  let b: number | null = null;
  for (const t of [...trials].sort((x, y) => x.number - y.number)) {
    if (t.state === TrialState.COMPLETE && t.values !== null) {
      const v = t.values[0]! * k;
      if (b === null || (options.direction === 'maximize' ? v > b : v < b)) b = v;
    }
    if (b !== null) best.push({ number: t.number, value: b, series: 'best so far' });
  }
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: SERIES, range: COLOURS }, legend: { orient: 'bottom', direction: 'horizontal' } };
  const x = { field: 'number', type: 'quantitative', title: 'Trial', axis: { tickMinStep: 1, format: 'd' } };
  const y = { field: 'value', type: 'quantitative', title, scale: { zero: false } };
  const fails = trials.filter((t) => t.state === TrialState.FAIL).length;
  return {
    $schema: SCHEMA,
    title: { text: 'Optimization History', subtitle: `${options.title}: ${points.length} trials with a value${fails ? `, ${fails} failed` : ''}` },
    width: 560,
    height: 340,
    config: CONFIG,
    layer: [
      { data: { values: best }, mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 }, encoding: { x, y, color } },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 70, opacity: 0.9 },
        encoding: { x, y, color, shape: { field: 'series', type: 'nominal', scale: { domain: SERIES, range: ['circle', 'triangle-down', 'stroke'] }, legend: null }, description: { field: 'params' } },
      },
    ],
  } as unknown as ChartSpec;
}

/** Each parameter's distribution (from the first trial that has it), the optimizer first. */
function parameters(trials: readonly FrozenTrial[]): Array<{ name: string; d: Distribution }> {
  return Object.entries(studyDistributions(trials)).map(([name, d]) => ({ name, d })).sort((a, b) => Number(b.d.type === 'categorical') - Number(a.d.type === 'categorical'));
}

/** The powers of ten within [low, high] (at least the two ends when there are fewer than two). */
function decades(low: number, high: number): number[] {
  const out: number[] = [];
  for (let e = Math.ceil(Math.log10(low) - 1e-9); e <= Math.floor(Math.log10(high) + 1e-9); e++) out.push(Number(`1e${e}`));
  return out.length >= 2 ? out : [low, high];
}

/**
 * The value against each parameter, one panel per parameter (two per row): log x axes for
 * log-sampled parameters, categories for categorical ones (the optimizer).
 */
export function paramsChart(trials: readonly FrozenTrial[], options: { title: string }): ChartSpec {
  const { k, title } = scale(trials);
  const rows = valued(trials);
  const color = { field: 'state', type: 'nominal', title: null, scale: { domain: SERIES.slice(0, 2), range: COLOURS.slice(0, 2) }, legend: { orient: 'bottom', direction: 'horizontal' } };
  const panels = parameters(trials).map(({ name, d }) => {
    const values = rows.filter((t) => Object.hasOwn(t.params, name)).map((t) => ({ x: t.params[name], value: t.values![0]! * k, state: stateName(t.state), number: t.number }));
    // The x axis spans the searched range (the categories in the order of their choices).
    const x =
      d.type === 'categorical'
        ? { field: 'x', type: 'nominal', title: name, sort: d.choices, scale: { domain: d.choices }, axis: { labelAngle: 0 } }
        : {
            field: 'x',
            type: 'quantitative',
            title: d.log ? `${name} (log scale)` : name,
            scale: { type: d.log ? 'log' : 'linear', domain: [d.low, d.high], zero: false, nice: false },
            axis: d.log ? { format: '.0e', values: decades(d.low, d.high) } : { tickCount: 6 },
          };
    return {
      width: 260,
      height: 220,
      data: { values },
      mark: d.type === 'categorical' ? { type: 'point', filled: true, size: 60, opacity: 0.8, xOffset: { expr: '((datum.number * 7919) % 21) - 10' } } : { type: 'point', filled: true, size: 60, opacity: 0.8, clip: true },
      encoding: { x, y: { field: 'value', type: 'quantitative', title, scale: { zero: false } }, color },
    };
  });
  return {
    $schema: SCHEMA,
    title: { text: 'Objective Against Each Parameter', subtitle: `${options.title}: ${rows.length} trials with a value` },
    config: CONFIG,
    columns: 2,
    resolve: { scale: { y: 'shared' } },
    concat: panels.length ? panels : [{ width: 260, height: 220, data: { values: [] }, mark: 'point' }],
  } as unknown as ChartSpec;
}
