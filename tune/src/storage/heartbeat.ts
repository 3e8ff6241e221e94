/**
 * Stale-trial detection shared by the storages that keep workers' heartbeats as system
 * attributes of the trial (the journal file; the format has no heartbeat of its own, so the
 * records are ordinary system attributes that Optuna reads and shows as such).
 *
 * A worker that makes a trial RUNNING records `ferroptim:worker` (`{ host, pid }`), then
 * `ferroptim:heartbeat` (Unix seconds) every heartbeat interval. A RUNNING trial is stale when
 * its worker ran on this machine and that process is gone, or when its last sign of life (the
 * later of its last heartbeat and its start) is older than the grace period.
 * @module
 */
import { hostname } from 'node:os';
import { describe } from '../distributions.js';
import type { FrozenTrial, JsonValue } from '../types.js';

/**
 * System attribute naming the worker that runs a trial: `{ host: os.hostname(), pid }`.
 * @internal
 */
export const WORKER_ATTR = 'ferroptim:worker';

/**
 * System attribute holding the time (Unix seconds) of a trial's last heartbeat.
 * @internal
 */
export const HEARTBEAT_ATTR = 'ferroptim:heartbeat';

/**
 * System attribute explaining why a trial failed (the key Optuna uses for the same purpose).
 * @internal
 */
export const FAIL_REASON_ATTR = 'fail_reason';

/** A worker process, as recorded in {@link WORKER_ATTR}. */
interface WorkerInfo {
  /** `os.hostname()` of the machine it runs on. */
  readonly host: string;
  /** Its process id on that machine. */
  readonly pid: number;
}

/**
 * The record of this process, as {@link WORKER_ATTR} stores it.
 * @internal
 */
export function thisWorker(): { host: string; pid: number } {
  return { host: hostname(), pid: process.pid };
}

/**
 * Reads a {@link WORKER_ATTR} value (untrusted: it comes from a storage); null unless it is an
 * object with a string `host` and a positive integer `pid`.
 */
function parseWorker(v: JsonValue | undefined): WorkerInfo | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const { host, pid } = v as { host?: unknown; pid?: unknown };
  if (typeof host !== 'string' || typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return null;
  return { host, pid };
}

/**
 * Whether process `pid` exists on this machine (`kill(pid, 0)`: ESRCH means gone; EPERM means it
 * exists but belongs to another user).
 * @internal
 */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Why a RUNNING trial is stale, or null if it is not.
 *
 * Only trials that a ferroptim worker made RUNNING (they carry {@link WORKER_ATTR} or
 * {@link HEARTBEAT_ATTR}) are judged: Optuna's own workers on a journal file record no
 * heartbeat, and failing their trials after the grace period would kill every long Optuna
 * trial of a study shared with Python.
 * @param trial A RUNNING trial.
 * @param nowSeconds The current time, Unix seconds.
 * @param gracePeriod Seconds without a sign of life after which the trial is stale.
 * @param host This machine's `os.hostname()`.
 * @param alive Checks a process id on this machine (default {@link isProcessAlive}).
 * @internal
 */
export function staleReason(trial: FrozenTrial, nowSeconds: number, gracePeriod: number, host: string = hostname(), alive: (pid: number) => boolean = isProcessAlive): string | null {
  const sys = trial.systemAttrs;
  const hasWorker = Object.hasOwn(sys, WORKER_ATTR);
  const hasBeat = Object.hasOwn(sys, HEARTBEAT_ATTR);
  if (!hasWorker && !hasBeat) return null;
  const worker = parseWorker(sys[WORKER_ATTR]);
  if (worker !== null && worker.host === host && !alive(worker.pid)) {
    return `Its worker, process ${worker.pid} on ${worker.host}, is no longer running (found by process ${process.pid}).`;
  }
  const beat = sys[HEARTBEAT_ATTR];
  const beatSeconds = typeof beat === 'number' && Number.isFinite(beat) ? beat : -Infinity;
  const startSeconds = trial.datetimeStart === null ? -Infinity : trial.datetimeStart.getTime() / 1000;
  const last = Math.max(beatSeconds, startSeconds);
  if (last === -Infinity) return `It has no heartbeat and no start time (grace period ${gracePeriod} s).`;
  const silent = nowSeconds - last;
  if (silent > gracePeriod) {
    const who = worker === null ? 'its worker' : `its worker, process ${worker.pid} on ${worker.host},`;
    const what = beatSeconds >= startSeconds ? 'sent no heartbeat' : 'sent no heartbeat since the trial started';
    return `${who[0]!.toUpperCase()}${who.slice(1)} ${what} for ${silent.toFixed(1)} s, more than the grace period of ${gracePeriod} s.`;
  }
  return null;
}

/**
 * Validated heartbeat options.
 * @internal
 */
export interface HeartbeatOptions {
  /** Seconds between heartbeats. */
  readonly heartbeatInterval: number;
  /** Seconds of silence after which a RUNNING trial is stale. */
  readonly gracePeriod: number;
}

/**
 * Checks `heartbeatInterval` and `gracePeriod` (positive finite numbers of seconds; the interval
 * defaults to 10 s, the grace period to `graceIntervals` intervals).
 * @param where The caller, for messages.
 * @throws TypeError or RangeError naming the option and the value received.
 * @internal
 */
export function checkHeartbeatOptions(where: string, heartbeatInterval: unknown, gracePeriod: unknown, graceIntervals = 3): HeartbeatOptions {
  const interval = heartbeatInterval === undefined ? 10 : positiveSeconds(where, 'heartbeatInterval', heartbeatInterval);
  const grace = gracePeriod === undefined ? graceIntervals * interval : positiveSeconds(where, 'gracePeriod', gracePeriod);
  return { heartbeatInterval: interval, gracePeriod: grace };
}

/**
 * Checks an option holding a positive, finite number of seconds.
 * @throws TypeError or RangeError naming the option and the value received.
 * @internal
 */
export function positiveSeconds(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${where}: expected ${name} to be a number of seconds, received ${describe(v)}`);
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${where}: expected ${name} to be a positive, finite number of seconds, received ${describe(v)}`);
  return v;
}
