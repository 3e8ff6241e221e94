/**
 * Storage resolution: a {@link Storage} object, a PostgreSQL URL, a journal file path, or memory.
 * @module
 */
import { describe } from '../distributions.js';
import type { Storage } from '../types.js';

/** Whether `s` looks like a {@link Storage}. */
function isStorage(s: unknown): s is Storage {
  return s !== null && typeof s === 'object' && typeof (s as Storage).getAllTrials === 'function' && typeof (s as Storage).createNewTrial === 'function';
}

/**
 * Opens the storage a study option names:
 * - a {@link Storage} object: itself;
 * - `postgresql://...` or `postgres://...`: a PostgreSQL database in Optuna's RDB schema (needs the `pg` package);
 * - `journal:PATH`, or a path ending in `.log` or `.jsonl`: an Optuna journal file (created if missing);
 * - undefined or `':memory:'`: a new in-memory storage.
 * @throws TypeError or RangeError for anything else.
 * @group Storages
 */
export async function openStorage(spec: Storage | string | undefined, where = 'openStorage'): Promise<Storage> {
  if (spec === undefined || spec === ':memory:') {
    const { InMemoryStorage } = await import('./memory.js');
    return new InMemoryStorage();
  }
  if (isStorage(spec)) return spec;
  if (typeof spec !== 'string') throw new TypeError(`${where}: expected storage to be a Storage, a postgresql:// URL or a journal file path, received ${describe(spec)}`);
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const { PostgresStorage } = await import('./postgres.js');
    return PostgresStorage.connect(spec);
  }
  const path = spec.startsWith('journal:') ? spec.slice('journal:'.length) : /\.(log|jsonl)$/.test(spec) ? spec : null;
  if (path === null || path.length === 0) {
    throw new RangeError(`${where}: expected storage to be a postgresql:// URL, 'journal:PATH' or a path ending in .log, received ${describe(spec)}`);
  }
  const { JournalFileStorage } = await import('./journal.js');
  return new JournalFileStorage(path);
}
