/**
 * The real Optuna, for round-trip tests: finds the Python that has it, runs
 * `tune/scripts/optuna_journal.py`, and puts a ferroptim storage's view of a study in the shape
 * of that script's dump so that the two can be compared.
 *
 * Python: `FERROPTIM_OPTUNA_PYTHON`, else `<repo>/.venv-optuna/bin/python`. Without it, the
 * tests that need it fail when `CI` is set, and are skipped (with a message) otherwise.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { distributionToJson } from '../../src/distributions.js';
import { parseJournalDate } from '../../src/storage/journal.js';
import { TRIAL_STATE_NAMES, type Storage } from '../../src/types.js';

/** The repository's root. */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The Python helper. */
export const SCRIPT = fileURLToPath(new URL('../../scripts/optuna_journal.py', import.meta.url));
/** The Python interpreter with Optuna. */
export const PYTHON = process.env.FERROPTIM_OPTUNA_PYTHON || `${REPO}.venv-optuna/bin/python`;
/** Whether it exists. */
export const HAVE_OPTUNA = existsSync(PYTHON);
/** Why Optuna tests cannot run, or null. */
export const MISSING_OPTUNA = HAVE_OPTUNA ? null : `no Python with Optuna at ${PYTHON} (set FERROPTIM_OPTUNA_PYTHON, or create .venv-optuna with \`pip install optuna\`)`;

/** Runs the helper script; rejects with its stderr if it fails. */
export function runOptuna(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, [SCRIPT, ...args], { timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`optuna_journal.py ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Starts the helper script, for tests that watch its output as it runs. */
export function spawnOptuna(args: string[]): ChildProcess {
  return spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A study as the dump shows it, datetimes as milliseconds since the epoch. */
export interface StudyDump {
  study_name: string;
  directions: string[];
  user_attrs: unknown;
  system_attrs: unknown;
  trials: TrialDump[];
}

/** A trial as the dump shows it. */
export interface TrialDump {
  trial_id: number;
  number: number;
  state: string;
  values: unknown;
  params: Record<string, unknown>;
  distributions: Record<string, unknown>;
  intermediate_values: Record<string, unknown>;
  user_attrs: unknown;
  system_attrs: unknown;
  datetime_start: number | null;
  datetime_complete: number | null;
}

/** JSON without NaN and infinities (as the Python script writes them: strings). */
export function plain(v: unknown): unknown {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function ms(s: unknown): number | null {
  if (s === null) return null;
  const d = parseJournalDate(s as string);
  if (d === null) throw new Error(`not a date: ${String(s)}`);
  return d.getTime();
}

/** Parses one dump line of the script, without its Python-only fields. */
export function parseDump(line: string): StudyDump & { param_types: Record<string, string>[] } {
  type Raw = Omit<TrialDump, 'datetime_start' | 'datetime_complete'> & { param_types: Record<string, string>; datetime_start: string | null; datetime_complete: string | null };
  const { optuna_version: _, trials, ...study } = JSON.parse(line) as Omit<StudyDump, 'trials'> & { optuna_version: string; trials: Raw[] };
  return {
    ...study,
    trials: trials.map(({ param_types: _t, ...t }) => ({ ...t, datetime_start: ms(t.datetime_start), datetime_complete: ms(t.datetime_complete) })),
    param_types: trials.map((t) => t.param_types),
  };
}

/** Dumps a study with Optuna (`optuna.load_study`). */
export async function optunaDump(path: string, study: string): Promise<StudyDump & { param_types: Record<string, string>[] }> {
  return parseDump((await runOptuna(['dump', path, study])).trim());
}

/** The same dump, from a ferroptim storage. */
export async function ferroptimDump(storage: Storage, study: string): Promise<StudyDump> {
  const id = await storage.getStudyIdFromName(study);
  const s = await storage.getStudy(id);
  const trials = await storage.getAllTrials(id);
  return {
    study_name: s.studyName,
    directions: s.directions.map((d) => d.toUpperCase()),
    user_attrs: plain(s.userAttrs),
    system_attrs: plain(s.systemAttrs),
    trials: trials.map((t) => ({
      trial_id: t.trialId,
      number: t.number,
      state: TRIAL_STATE_NAMES[t.state]!,
      values: plain(t.values),
      params: plain(t.params) as Record<string, unknown>,
      distributions: Object.fromEntries(Object.entries(t.distributions).map(([k, d]) => [k, JSON.parse(distributionToJson(d))])),
      intermediate_values: Object.fromEntries([...t.intermediateValues].map(([k, v]) => [String(k), plain(v)])),
      user_attrs: plain(t.userAttrs),
      system_attrs: plain(t.systemAttrs),
      datetime_start: t.datetimeStart?.getTime() ?? null,
      datetime_complete: t.datetimeComplete?.getTime() ?? null,
    })),
  };
}

/** The dump without the Python-only field, for deepEqual. */
export function comparable(d: StudyDump & { param_types?: unknown }): StudyDump {
  const { param_types: _, ...rest } = d;
  return rest;
}
