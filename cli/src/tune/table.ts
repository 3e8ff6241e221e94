/**
 * The results of a study as text: the table of the best trials with the counts of each state,
 * and `trials.csv` in the columns of Optuna's `study.trials_dataframe()`.
 * @module
 */
import { TRIAL_STATE_NAMES, TrialState, type FrozenTrial, type JsonValue } from 'ferroptim-tune';

/** A trial state's name (`COMPLETE`), or its number when it has none. */
export const stateName = (state: number): string => TRIAL_STATE_NAMES[state] ?? String(state);

/** A parameter value for tables and progress lines: 4 significant digits. */
export function short(v: unknown): string {
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e5) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3).replace(/\.?0+e/, 'e') : String(Number(v.toPrecision(4)));
}

/** `optimizer=adamw lr=0.00123 weight_decay=0.0004`. */
export function paramsText(params: Readonly<Record<string, unknown>>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${short(v)}`)
    .join(' ');
}

/** A fraction as a percentage with two decimals. */
export function pct(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '-';
}

/** Seconds with two decimals below 10, one above. */
export function secondsText(s: number): string {
  return s.toFixed(s < 10 ? 2 : 1);
}

/** A trial's duration in seconds (its `seconds` attribute, else its start and end times). */
export function trialSeconds(t: FrozenTrial): number | null {
  const s = t.userAttrs.seconds;
  if (typeof s === 'number') return s;
  if (t.datetimeStart && t.datetimeComplete) return (t.datetimeComplete.getTime() - t.datetimeStart.getTime()) / 1000;
  return null;
}

/** Counts of each state: `{ COMPLETE: 40, PRUNED: 8, FAIL: 2 }` (states with trials only). */
export function stateCounts(trials: readonly FrozenTrial[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of trials) {
    const name = stateName(t.state);
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

/** `40 COMPLETE, 8 PRUNED, 2 FAIL` in the order of the states. */
export function countsText(trials: readonly FrozenTrial[]): string {
  const c = stateCounts(trials);
  const order = ['COMPLETE', 'PRUNED', 'FAIL', 'RUNNING', 'WAITING'];
  const parts = order.filter((s) => ['COMPLETE', 'PRUNED', 'FAIL'].includes(s) || c[s]).map((s) => `${c[s] ?? 0} ${s}`);
  return parts.join(', ');
}

/**
 * The table of the best trials: COMPLETE trials by value (best first), then PRUNED ones by their
 * last value, at most `top` rows; columns number, state, value, seconds, params.
 */
export function resultsTable(trials: readonly FrozenTrial[], direction: 'minimize' | 'maximize', top = 10): string {
  const sign = direction === 'maximize' ? -1 : 1;
  const ranked = (state: number) =>
    trials.filter((t) => t.state === state && t.values !== null).sort((a, b) => sign * (a.values![0]! - b.values![0]!) || a.number - b.number);
  const rows = [...ranked(TrialState.COMPLETE), ...ranked(TrialState.PRUNED)].slice(0, top);
  const header = ['#', 'state', 'value', 'seconds', 'params'];
  const body = rows.map((t) => {
    const s = trialSeconds(t);
    return [String(t.number), stateName(t.state), pct(t.values?.[0]), s === null ? '-' : secondsText(s), paramsText(t.params)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const right = [true, false, true, true, false];
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...body.map(line)].join('\n');
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The trials as CSV, one row per trial in order of number, in the columns of Optuna's
 * `trials_dataframe()`: number, value, datetime_start, datetime_complete, duration (seconds),
 * params_*, user_attrs_* (lists as JSON), state.
 */
export function trialsCsv(trials: readonly FrozenTrial[]): string {
  const params = [...new Set(trials.flatMap((t) => Object.keys(t.params)))].sort();
  const attrs = [...new Set(trials.flatMap((t) => Object.keys(t.userAttrs)))].sort();
  const header = ['number', 'value', 'datetime_start', 'datetime_complete', 'duration', ...params.map((p) => `params_${p}`), ...attrs.map((a) => `user_attrs_${a}`), 'state'];
  const rows = [...trials]
    .sort((a, b) => a.number - b.number)
    .map((t) => {
      const duration = t.datetimeStart && t.datetimeComplete ? (t.datetimeComplete.getTime() - t.datetimeStart.getTime()) / 1000 : null;
      return [
        t.number,
        t.values?.[0] ?? null,
        t.datetimeStart?.toISOString() ?? null,
        t.datetimeComplete?.toISOString() ?? null,
        duration,
        ...params.map((p) => t.params[p] ?? null),
        ...attrs.map((a) => (t.userAttrs[a] as JsonValue | undefined) ?? null),
        stateName(t.state),
      ]
        .map(csvCell)
        .join(',');
    });
  return `${[header.join(','), ...rows].join('\n')}\n`;
}
