// Helpers of postgres.spec.ts: the test cluster's URL, a database per test, the real Optuna
// (tune/scripts/optuna_rdb.py) and child processes.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pyJsonLoads } from '../../src/storage/pyjson.ts';

export const TUNE = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO = join(TUNE, '..');
export const CLUSTER_SCRIPT = join(REPO, 'scripts', 'pg-cluster.sh');
export const OPTUNA_SCRIPT = join(TUNE, 'scripts', 'optuna_rdb.py');

/** The test cluster's URL (FERROPTIM_PG_URL), or null. */
export const PG_URL: string | null = process.env.FERROPTIM_PG_URL || null;

/** `base` with another database name. */
export function withDatabase(base: string, database: string): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

let counter = 0;

/**
 * Creates an empty database for one test (dropped by `teardown`); returns its URL.
 */
export async function freshDatabase(tag: string, teardown?: (fn: () => Promise<void>) => void): Promise<string> {
  if (PG_URL === null) throw new Error('FERROPTIM_PG_URL is not set');
  const name = `ft_${tag.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 30)}_${process.pid}_${++counter}`;
  await admin(PG_URL, `DROP DATABASE IF EXISTS ${name}`);
  await admin(PG_URL, `CREATE DATABASE ${name}`);
  // A server time zone that is not UTC and differs from the Python processes' (see optuna()):
  // naive-UTC datetimes and server-clock heartbeats must not depend on either.
  await admin(PG_URL, `ALTER DATABASE ${name} SET timezone TO 'Asia/Tokyo'`);
  teardown?.(async () => {
    await admin(PG_URL!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  });
  return withDatabase(PG_URL, name);
}

/** Runs SQL on its own connection to `url`. */
export async function admin(url: string, sql: string, params?: unknown[]): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end().catch(() => {});
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command; resolves with its stdout, rejects with its stderr. */
export function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: options.cwd ?? TUNE, env: options.env ?? process.env, timeout: options.timeout ?? 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** scripts/pg-cluster.sh with `args`. */
export function cluster(...args: string[]): Promise<string> {
  return run('bash', [CLUSTER_SCRIPT, ...args]);
}

function pythonHasOptuna(python: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(python, ['-c', 'import optuna, psycopg2'], { timeout: 60_000 }, (err) => resolve(!err));
  });
}

/** A Python with optuna and psycopg2: $FERROPTIM_OPTUNA_PYTHON, <repo>/.venv-optuna, python3; or null. */
export async function findOptunaPython(): Promise<string | null> {
  const candidates = [process.env.FERROPTIM_OPTUNA_PYTHON, join(REPO, '.venv-optuna', 'bin', 'python'), 'python3'].filter((p): p is string => !!p);
  for (const p of candidates) {
    if (p.includes('/') && !existsSync(p)) continue;
    if (await pythonHasOptuna(p)) return p;
  }
  return null;
}

/**
 * Runs tune/scripts/optuna_rdb.py (in the America/New_York time zone); returns its last stdout
 * line parsed as Python's JSON.
 */
export async function optuna(python: string, ...args: string[]): Promise<any> {
  const stdout = await run(python, [OPTUNA_SCRIPT, ...args], { env: { ...process.env, TZ: 'America/New_York' } });
  const last = stdout.trim().split('\n').pop() ?? '';
  return pyJsonLoads(last);
}

/**
 * Runs tune/__test__/helpers/pg-worker.ts in a child Node process (`before` and `after` are Node
 * options around the TypeScript loader's `--import`); returns its JSON output.
 */
export function worker(args: string[], before: string[] = [], after: string[] = []): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...before, '--import', '@oxc-node/core/register', ...after, join(TUNE, '__test__', 'helpers', 'pg-worker.ts'), ...args], {
      cwd: TUNE,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`pg-worker ${args.join(' ')} exited with ${code}: ${err}`));
      else {
        try {
          resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
        } catch (e) {
          reject(new Error(`pg-worker printed ${JSON.stringify(out)}: ${(e as Error).message}; stderr: ${err}`));
        }
      }
    });
  });
}
