// PostgresStorage: every Storage method on a real PostgreSQL, Optuna's own RDBStorage reading
// and writing the same databases (tune/scripts/optuna_rdb.py), concurrency between processes,
// stale trials, server restarts and COMMITs whose outcome the client never heard.
//
// Needs FERROPTIM_PG_URL (e.g. `export FERROPTIM_PG_URL="$(bash scripts/pg-cluster.sh start)"`);
// without it the tests are skipped, or fail when CI is set. The Optuna tests need a Python with
// optuna and psycopg2 ($FERROPTIM_OPTUNA_PYTHON, <repo>/.venv-optuna or python3). Each test
// works in a database of its own.
import test, { type ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { categoricalDistribution, distributionToJson, floatDistribution, intDistribution, type Distribution } from '../src/distributions.ts';
import { ALEMBIC_HEAD, OPTUNA_VERSION, SCHEMA_VERSION, TABLES } from '../src/storage/optuna-schema.ts';
import { PostgresStorage, isRetryableError, type PostgresStorageOptions } from '../src/storage/postgres.ts';
import { pyJsonDumps, pyJsonLoads } from '../src/storage/pyjson.ts';
import { DuplicatedStudyError, TRIAL_STATE_NAMES, TrialState, UpdateFinishedTrialError, type FrozenTrial } from '../src/types.ts';
import { PG_URL, admin, cluster, findOptunaPython, freePort, freshDatabase, optuna, withDatabase, worker } from './helpers/pg.ts';
import { PgProxy } from './helpers/pg-proxy.ts';

const CI = Boolean(process.env.CI);
const python = PG_URL === null ? null : await findOptunaPython();

const dbTest = PG_URL === null ? test.skip : test;
const pyTest = PG_URL === null || python === null ? test.skip : test;

if (PG_URL === null) {
  const why = 'FERROPTIM_PG_URL is not set; run `export FERROPTIM_PG_URL="$(bash scripts/pg-cluster.sh start)"`';
  if (CI) test('the PostgreSQL storage tests have a database (CI)', (t) => t.fail(why));
  else {
    console.warn(`postgres.spec.ts: skipping the PostgreSQL storage tests: ${why}`);
    test.skip(`PostgreSQL storage tests skipped: ${why}`, () => {});
  }
} else if (python === null) {
  const why = 'no Python with optuna and psycopg2 (set FERROPTIM_OPTUNA_PYTHON or create .venv-optuna)';
  if (CI) test('the Optuna interoperability tests have Optuna (CI)', (t) => t.fail(why));
  else {
    console.warn(`postgres.spec.ts: skipping the Optuna interoperability tests: ${why}`);
    test.skip(`Optuna interoperability tests skipped: ${why}`, () => {});
  }
}

const { RUNNING, COMPLETE, PRUNED, FAIL, WAITING } = TrialState;

async function connect(t: ExecutionContext, url: string, options: PostgresStorageOptions = {}): Promise<PostgresStorage> {
  const s = await PostgresStorage.connect(url, options);
  t.teardown(() => s.close());
  return s;
}

async function db(t: ExecutionContext, tag: string): Promise<string> {
  return freshDatabase(tag, (fn) => t.teardown(fn));
}

function code(e: unknown): unknown {
  return (e as { code?: unknown })?.code;
}

const X = floatDistribution(-10, 10);
const LR = floatDistribution(1e-5, 1e-1, { log: true });
const Q = floatDistribution(0, 1, { step: 0.25 });
const N = intDistribution(1, 64, { log: true });
const K = intDistribution(0, 10, { step: 2 });
const C = categoricalDistribution(['a', null, 1.5, true]);

/** A FrozenTrial's datetime as Optuna's dump gives it, to the millisecond. */
function ms(iso: string | null): number | null {
  return iso === null ? null : Date.parse(iso.replace(/(\.\d{3})\d*/, '$1'));
}

/** Checks that Optuna's view of a trial (optuna_rdb.py dump) is ferroptim's. */
function sameTrial(t: ExecutionContext, f: FrozenTrial, py: any): void {
  const at = `trial ${f.number}`;
  t.is(py.trial_id, f.trialId, at);
  t.is(py.number, f.number, at);
  t.is(py.state, TRIAL_STATE_NAMES[f.state], at);
  t.deepEqual(py.values, f.values, at);
  t.deepEqual(py.params, f.params, at);
  t.deepEqual(py.distributions, Object.fromEntries(Object.entries(f.distributions).map(([k, d]) => [k, JSON.parse(distributionToJson(d))])), at);
  t.deepEqual(
    Object.entries(py.intermediate_values).map(([k, v]) => [Number(k), v]),
    [...f.intermediateValues.entries()].sort((a, b) => a[0] - b[0]),
    at,
  );
  t.deepEqual(py.user_attrs, f.userAttrs, at);
  t.deepEqual(py.system_attrs, f.systemAttrs, at);
  t.is(ms(py.datetime_start), f.datetimeStart?.getTime() ?? null, at);
  t.is(ms(py.datetime_complete), f.datetimeComplete?.getTime() ?? null, at);
}

// ---------------------------------------------------------------------------------------------
// Without a database

test('connect validates the URL and the options, naming them', async (t) => {
  const bad: [unknown, unknown, (new (...a: any[]) => Error), RegExp][] = [
    [42, {}, TypeError, /url.*42/],
    ['mysql://user:secret@host/db', {}, RangeError, /postgresql:\/\//],
    ['postgresql://h/db', { heartbeatInterval: 0 }, RangeError, /heartbeatInterval.*0/],
    ['postgresql://h/db', { heartbeatInterval: '1' }, TypeError, /heartbeatInterval.*"1"/],
    ['postgresql://h/db', { gracePeriod: -1 }, RangeError, /gracePeriod.*-1/],
    ['postgresql://h/db', { heartbeatInterval: null, gracePeriod: 5 }, RangeError, /gracePeriod 5 needs a heartbeatInterval/],
    ['postgresql://h/db', { poolSize: 1.5 }, RangeError, /poolSize.*1\.5/],
    ['postgresql://h/db', { poolSize: 0 }, RangeError, /poolSize.*0/],
    ['postgresql://h/db', { retryTimeout: NaN }, RangeError, /retryTimeout.*NaN/],
    ['postgresql://h/db', { retryTimeout: -1 }, RangeError, /retryTimeout.*-1/],
    ['postgresql://h/db', { pool: 3 }, TypeError, /unknown option "pool"/],
    ['postgresql://h/db', 'fast', TypeError, /options.*"fast"/],
  ];
  for (const [url, options, cls, message] of bad) {
    const e = await t.throwsAsync(PostgresStorage.connect(url as string, options as PostgresStorageOptions), { instanceOf: cls, message });
    t.false(e!.message.includes('secret'), 'the password is not shown');
  }
});

test('without the pg package, connect says to install it', async (t) => {
  // Module hooks that hide `pg`, as if it were not installed; registered after the TypeScript
  // loader's, so they run first.
  const dir = mkdtempSync(join(tmpdir(), 'ferroptim-nopg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `export async function resolve(s, c, next) { if (s === 'pg') { const e = new Error("Cannot find package 'pg'"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(s, c); }\n`,
  );
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, import.meta.url);\n`);
  const out = await worker(['connect', 'postgresql://nobody@127.0.0.1:1/none'], [], ['--import', pathToFileURL(join(dir, 'register.mjs')).href]);
  t.regex(out.error, /need the 'pg' package.*npm install pg/);
});

test('JSON as Python writes and reads it', (t) => {
  t.is(pyJsonDumps({ a: [1, 2.5, null, true], b: 'é"\n', c: {} }), '{"a": [1, 2.5, null, true], "b": "é\\"\\n", "c": {}}');
  t.is(pyJsonDumps([NaN, Infinity, -Infinity]), '[NaN, Infinity, -Infinity]');
  t.deepEqual(pyJsonLoads('{"a": [1, -2.5e3, NaN, Infinity, -Infinity, null, false], "\\u00e9": "x\\ud83d\\ude00"}'), { a: [1, -2500, NaN, Infinity, -Infinity, null, false], é: 'x😀' });
  const proto = pyJsonLoads('{"__proto__": {"polluted": 1}}') as Record<string, unknown>;
  t.true(Object.hasOwn(proto, '__proto__'));
  t.is(({} as Record<string, unknown>).polluted, undefined);
  for (const bad of ['', '{', '[1,]', '{"a" 1}', 'nan', '01', '"\u0001"', '[1] x', '{"a": [1, 2']) t.throws(() => pyJsonLoads(bad), { instanceOf: SyntaxError }, bad);
  t.throws(() => pyJsonLoads('['.repeat(100_000)), { message: /nested deeper/ });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.throws(() => pyJsonDumps(cyclic), { instanceOf: RangeError, message: /deeper/ });
  t.throws(() => pyJsonDumps({ d: new Date(0) }), { instanceOf: TypeError, message: /Date.*\$\.d/ });
  t.throws(() => pyJsonDumps([undefined]), { instanceOf: TypeError });
  t.throws(() => pyJsonDumps(1n), { instanceOf: TypeError });
});

test('which errors are retried', (t) => {
  for (const e of [
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    new Error('Connection terminated unexpectedly'),
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
    Object.assign(new Error('connection failure'), { code: '08006' }),
    Object.assign(new Error('deadlock detected'), { code: '40P01' }),
    new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'all failed'),
  ]) {
    t.true(isRetryableError(e), e.message);
  }
  for (const e of [new Error('syntax error'), Object.assign(new Error('dup'), { code: '23505' }), Object.assign(new Error('no db'), { code: '3D000' }), null, 'ECONNRESET']) {
    t.false(isRetryableError(e), String(e));
  }
});

// ---------------------------------------------------------------------------------------------
// Schema

pyTest("a schema ferroptim creates is Optuna's: RDBStorage accepts it without migration", async (t) => {
  const url = await db(t, 'schema-ferroptim');
  // Several processes' first connections race to create it.
  const storages = await Promise.all([connect(t, url), connect(t, url), connect(t, url)]);
  t.is(storages.length, 3);
  const info = await admin(url, 'SELECT version_info_id, schema_version, library_version FROM version_info');
  t.deepEqual(info.rows, [{ version_info_id: 1, schema_version: SCHEMA_VERSION, library_version: OPTUNA_VERSION }]);
  t.deepEqual((await admin(url, 'SELECT version_num FROM alembic_version')).rows, [{ version_num: ALEMBIC_HEAD }]);
  const tables = (await admin(url, 'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1')).rows.map((r) => r.tablename);
  t.deepEqual(tables, [...TABLES.map((x) => x.name), 'alembic_version'].sort());
  const checked = await optuna(python!, 'schema', url);
  t.deepEqual(checked, { current: ALEMBIC_HEAD, head: ALEMBIC_HEAD, version_info: [SCHEMA_VERSION, OPTUNA_VERSION] });
  // Optuna's create_all found nothing to add: no new tables, no second version row.
  t.is((await admin(url, 'SELECT count(*)::int AS n FROM version_info')).rows[0].n, 1);
  t.is((await admin(url, 'SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = current_schema()')).rows[0].n, TABLES.length + 1);
  // And ferroptim still opens it.
  await (await connect(t, url)).getAllStudies();
});

pyTest('ferroptim opens a schema Optuna created', async (t) => {
  const url = await db(t, 'schema-optuna');
  await optuna(python!, 'schema', url);
  const s = await connect(t, url);
  const id = await s.createNewStudy(['maximize'], 'in-optuna-schema');
  t.is((await s.getStudy(id)).studyName, 'in-optuna-schema');
  t.deepEqual((await admin(url, 'SELECT version_num FROM alembic_version')).rows, [{ version_num: ALEMBIC_HEAD }]);
});

dbTest('ferroptim refuses a schema it does not know, saying why', async (t) => {
  const url = await db(t, 'schema-refuse');
  await (await PostgresStorage.connect(url)).close();
  const refuse = async (sql: string, message: RegExp, undo: string) => {
    await admin(url, sql);
    await t.throwsAsync(PostgresStorage.connect(url, { retryTimeout: 0 }), { message }, sql);
    await admin(url, undo);
  };
  await refuse('UPDATE version_info SET schema_version = 11', /schema_version 11.*knows schema_version 12/, 'UPDATE version_info SET schema_version = 12');
  await refuse("UPDATE alembic_version SET version_num = 'v3.0.0.d'", /older Optuna schema \(revision "v3\.0\.0\.d".*optuna storage upgrade/, `UPDATE alembic_version SET version_num = '${ALEMBIC_HEAD}'`);
  await refuse("UPDATE alembic_version SET version_num = 'v9.9.9.z'", /unknown revision "v9\.9\.9\.z"/, `UPDATE alembic_version SET version_num = '${ALEMBIC_HEAD}'`);
  await refuse('ALTER TABLE trials RENAME COLUMN datetime_complete TO finished', /table trials .* lacks the columns datetime_complete/, 'ALTER TABLE trials RENAME COLUMN finished TO datetime_complete');
  await refuse("ALTER TYPE trialstate RENAME VALUE 'WAITING' TO 'QUEUED'", /trialstate .* lacks the labels WAITING/, "ALTER TYPE trialstate RENAME VALUE 'QUEUED' TO 'WAITING'");
  // A missing table is created, as Optuna's create_all does.
  await admin(url, 'DROP TABLE trial_heartbeats');
  const s = await connect(t, url);
  t.is((await admin(url, "SELECT to_regclass('trial_heartbeats')::text AS t")).rows[0].t, 'trial_heartbeats');
  await s.getAllStudies();
});

// ---------------------------------------------------------------------------------------------
// Studies

dbTest('studies: create, find, attributes, list, delete, and their errors', async (t) => {
  const url = await db(t, 'studies');
  const s = await connect(t, url);
  const a = await s.createNewStudy(['minimize'], 'a');
  const b = await s.createNewStudy(['maximize', 'minimize'], 'b ü 😀');
  await t.throwsAsync(s.createNewStudy(['minimize'], 'a'), { instanceOf: DuplicatedStudyError, message: /"a" already exists/ });
  t.is(await s.getStudyIdFromName('b ü 😀'), b);
  const missing = await t.throwsAsync(s.getStudyIdFromName('nope'), { message: /no study named "nope"/ });
  t.is(code(missing), 'ENOSTUDY');
  t.is(code(await t.throwsAsync(s.getStudyIdFromName('nul\0'))), 'ENOSTUDY');

  await s.setStudyUserAttr(a, 'k', 1);
  await s.setStudyUserAttr(a, 'k', { x: [1, NaN, Infinity, -Infinity], s: 'é😀', n: null });
  await s.setStudySystemAttr(a, '__proto__', { polluted: true });
  await s.setStudySystemAttr(a, 'empty', []);
  t.deepEqual(await s.getStudy(a), {
    studyId: a,
    studyName: 'a',
    directions: ['minimize'],
    userAttrs: { k: { x: [1, NaN, Infinity, -Infinity], s: 'é😀', n: null } },
    systemAttrs: Object.defineProperty({ empty: [] }, '__proto__', { value: { polluted: true }, enumerable: true, writable: true, configurable: true }) as never,
  });
  t.is((await admin(url, "SELECT value_json FROM study_user_attributes WHERE key = 'k'")).rows[0].value_json, '{"x": [1, NaN, Infinity, -Infinity], "s": "é😀", "n": null}');
  const all = await s.getAllStudies();
  t.deepEqual(
    all.map((x) => [x.studyId, x.studyName, x.directions]),
    [
      [a, 'a', ['minimize']],
      [b, 'b ü 😀', ['maximize', 'minimize']],
    ],
  );
  t.deepEqual((await admin(url, 'SELECT direction::text, objective FROM study_directions WHERE study_id = $1 ORDER BY objective', [b])).rows, [
    { direction: 'MAXIMIZE', objective: 0 },
    { direction: 'MINIMIZE', objective: 1 },
  ]);

  // Deleting a study removes its trials and everything hanging from them.
  const tr = await s.createNewTrial(a);
  await s.setTrialParam(tr, 'x', 1, X);
  await s.setTrialIntermediateValue(tr, 0, 1);
  await s.setTrialUserAttr(tr, 'u', 1);
  await s.setTrialSystemAttr(tr, 's', 1);
  await s.recordHeartbeat(tr);
  await s.setTrialStateValues(tr, COMPLETE, [1]);
  const other = await s.createNewTrial(b);
  await s.deleteStudy(a);
  t.is(code(await t.throwsAsync(s.getStudy(a))), 'ENOSTUDY');
  t.is(code(await t.throwsAsync(s.getTrial(tr))), 'ENOTRIAL');
  t.is(code(await t.throwsAsync(s.deleteStudy(a))), 'ENOSTUDY');
  t.is((await s.getTrial(other)).number, 0);
  t.deepEqual((await s.getAllStudies()).map((x) => x.studyId), [b]);

  // Argument errors.
  await t.throwsAsync(s.createNewStudy([], 'x'), { instanceOf: RangeError, message: /1 to 1000 directions/ });
  await t.throwsAsync(s.createNewStudy(['up' as never], 'x'), { instanceOf: TypeError, message: /directions\[0\].*"up"/ });
  await t.throwsAsync(s.createNewStudy(['minimize'], 'x'.repeat(513)), { instanceOf: RangeError, message: /studyName is longer than 512/ });
  await s.createNewStudy(['minimize'], '😀'.repeat(512)); // 512 characters, 1024 UTF-16 units
  await t.throwsAsync(s.createNewStudy(['minimize'], 'a\0b'), { instanceOf: RangeError, message: /NUL/ });
  await t.throwsAsync(s.createNewStudy(['minimize'], '\ud800'), { instanceOf: RangeError, message: /lone surrogate/ });
  await t.throwsAsync(s.createNewStudy(['minimize'], 5 as never), { instanceOf: TypeError, message: /studyName.*5/ });
  await t.throwsAsync(s.getStudy(1.5), { instanceOf: TypeError, message: /studyId.*1\.5/ });
  await t.throwsAsync(s.getStudy(2 ** 40), { instanceOf: RangeError, message: /out of range/ });
  t.is(code(await t.throwsAsync(s.getStudy(999_999))), 'ENOSTUDY');
  t.is(code(await t.throwsAsync(s.setStudyUserAttr(999_999, 'k', 1))), 'ENOSTUDY');
  await t.throwsAsync(s.setStudyUserAttr(b, 'k', undefined as never), { instanceOf: TypeError });
  await t.throwsAsync(s.setStudyUserAttr(b, 'k', (() => 1) as never), { instanceOf: TypeError, message: /a function/ });
  await t.throwsAsync(s.setStudySystemAttr(b, 'k'.repeat(600), 1), { instanceOf: RangeError, message: /key is longer than 512/ });
});

// ---------------------------------------------------------------------------------------------
// Trials

dbTest('trials: create, parameters, reports, attributes, states, reads, and their errors', async (t) => {
  const url = await db(t, 'trials');
  const s = await connect(t, url);
  const sid = await s.createNewStudy(['minimize'], 'trials');
  const before = Date.now();
  const t0 = await s.createNewTrial(sid);
  let f = await s.getTrial(t0);
  t.like(f, { trialId: t0, number: 0, state: RUNNING, values: null, params: {}, distributions: {}, userAttrs: {}, systemAttrs: {}, datetimeComplete: null });
  t.true(f.datetimeStart!.getTime() >= before - 1 && f.datetimeStart!.getTime() <= Date.now());
  // Stored as naive UTC, whatever the server's time zone (the test databases use Asia/Tokyo).
  const raw = (await admin(url, "SELECT to_char(datetime_start, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS d FROM trials WHERE trial_id = $1", [t0])).rows[0].d;
  t.is(`${raw}Z`, f.datetimeStart!.toISOString());

  await s.setTrialParam(t0, 'x', 0.5, X);
  await s.setTrialParam(t0, 'c', 1, C);
  await s.setTrialParam(t0, 'k', 4, K);
  await s.setTrialParam(t0, 'x', 0.7, X); // already set: the first value stays (Optuna's behaviour)
  await s.setTrialIntermediateValue(t0, 0, 1.5);
  await s.setTrialIntermediateValue(t0, 1, NaN);
  await s.setTrialIntermediateValue(t0, 2, Infinity);
  await s.setTrialIntermediateValue(t0, 3, -Infinity);
  await s.setTrialIntermediateValue(t0, -5, 7);
  await s.setTrialIntermediateValue(t0, 0, 2.5); // replaces
  await s.setTrialUserAttr(t0, 'u', [1, 'two', { three: 3 }]);
  await s.setTrialUserAttr(t0, 'u2', 'x');
  await s.setTrialUserAttr(t0, 'u2', 'y');
  await s.setTrialSystemAttr(t0, 'sys', null);
  t.true(await s.setTrialStateValues(t0, COMPLETE, [Infinity]));
  f = await s.getTrial(t0);
  t.like(f, { number: 0, state: COMPLETE, values: [Infinity], params: { x: 0.5, c: null, k: 4 }, userAttrs: { u: [1, 'two', { three: 3 }], u2: 'y' }, systemAttrs: { sys: null } });
  t.deepEqual(f.distributions, { x: X, c: C, k: K });
  t.deepEqual([...f.intermediateValues], [
    [-5, 7],
    [0, 2.5],
    [1, NaN],
    [2, Infinity],
    [3, -Infinity],
  ]);
  t.true(f.datetimeComplete!.getTime() >= f.datetimeStart!.getTime());
  t.deepEqual((await admin(url, 'SELECT value, value_type::text FROM trial_values WHERE trial_id = $1', [t0])).rows, [{ value: null, value_type: 'INF_POS' }]);
  t.deepEqual((await admin(url, 'SELECT step, intermediate_value AS v, intermediate_value_type::text AS ty FROM trial_intermediate_values WHERE trial_id = $1 AND step > 0 ORDER BY step', [t0])).rows, [
    { step: 1, v: null, ty: 'NAN' },
    { step: 2, v: null, ty: 'INF_POS' },
    { step: 3, v: null, ty: 'INF_NEG' },
  ]);

  // A finished trial refuses every write.
  for (const write of [
    () => s.setTrialParam(t0, 'y', 1, X),
    () => s.setTrialIntermediateValue(t0, 9, 1),
    () => s.setTrialUserAttr(t0, 'k', 1),
    () => s.setTrialSystemAttr(t0, 'k', 1),
    () => s.setTrialStateValues(t0, FAIL),
    () => s.setTrialStateValues(t0, RUNNING),
  ]) {
    await t.throwsAsync(write(), { instanceOf: UpdateFinishedTrialError, message: /Trial#0 has already finished/ });
  }

  // Distributions must agree with the study's earlier ones.
  const t1 = await s.createNewTrial(sid);
  await t.throwsAsync(s.setTrialParam(t1, 'x', 1, intDistribution(0, 2)), { instanceOf: RangeError, message: /"x".*float/ });
  await t.throwsAsync(s.setTrialParam(t1, 'c', 0, categoricalDistribution(['a', 'z'])), { instanceOf: RangeError, message: /choices/ });
  await t.throwsAsync(s.setTrialParam(t1, 'd', 4, categoricalDistribution(['a', 'z'])), { instanceOf: RangeError, message: /not an index/ });
  await t.throwsAsync(s.setTrialParam(t1, 'y', NaN, X), { instanceOf: RangeError, message: /finite/ });
  await t.throwsAsync(s.setTrialParam(t1, 'y', 1, { type: 'float', low: 2, high: 1 } as never), { instanceOf: TypeError, message: /not a valid distribution/ });
  await s.setTrialParam(t1, 'x', 20, floatDistribution(0, 30)); // other ranges are fine, as in Optuna
  t.deepEqual((await s.getTrial(t1)).params, { x: 20 });

  // WAITING -> RUNNING is taken once.
  const w = await s.createNewTrial(sid, { state: WAITING });
  t.like(await s.getTrial(w), { number: 2, state: WAITING, datetimeStart: null });
  t.true(await s.setTrialStateValues(w, RUNNING));
  t.false(await s.setTrialStateValues(w, RUNNING));
  t.false(await s.setTrialStateValues(t1, RUNNING));
  t.not((await s.getTrial(w)).datetimeStart, null);
  t.true(await s.setTrialStateValues(w, PRUNED, [3]));
  t.true(await s.setTrialStateValues(t1, FAIL));
  t.like(await s.getTrial(t1), { state: FAIL, values: null });

  const all = await s.getAllTrials(sid);
  t.deepEqual(all.map((x) => [x.number, x.trialId, x.state]), [
    [0, t0, COMPLETE],
    [1, t1, FAIL],
    [2, w, PRUNED],
  ]);
  t.deepEqual((await s.getAllTrials(sid, [COMPLETE, PRUNED])).map((x) => x.number), [0, 2]);
  t.deepEqual(await s.getAllTrials(sid, []), []);
  t.deepEqual(await s.getAllTrials(sid, [RUNNING]), []);

  // Several objectives.
  const multi = await s.createNewStudy(['minimize', 'maximize'], 'multi');
  const m0 = await s.createNewTrial(multi);
  await s.setTrialStateValues(m0, COMPLETE, [1, -Infinity]);
  t.deepEqual((await s.getTrial(m0)).values, [1, -Infinity]);

  // Heartbeats upsert one row.
  const h = await s.createNewTrial(sid);
  await s.recordHeartbeat(h);
  await s.recordHeartbeat(h);
  t.is((await admin(url, 'SELECT count(*)::int AS n FROM trial_heartbeats WHERE trial_id = $1', [h])).rows[0].n, 1);

  // Errors.
  t.is(code(await t.throwsAsync(s.getAllTrials(999_999))), 'ENOSTUDY');
  t.is(code(await t.throwsAsync(s.createNewTrial(999_999))), 'ENOSTUDY');
  for (const call of [
    () => s.getTrial(999_999),
    () => s.setTrialParam(999_999, 'x', 1, X),
    () => s.setTrialStateValues(999_999, COMPLETE, [1]),
    () => s.setTrialIntermediateValue(999_999, 0, 1),
    () => s.setTrialUserAttr(999_999, 'k', 1),
    () => s.setTrialSystemAttr(999_999, 'k', 1),
    () => s.recordHeartbeat(999_999),
  ]) {
    t.is(code(await t.throwsAsync(call(), { message: /no trial with id 999999/ })), 'ENOTRIAL');
  }
  await t.throwsAsync(s.setTrialStateValues(h, COMPLETE, [NaN]), { instanceOf: RangeError, message: /NaN/ });
  await t.throwsAsync(s.setTrialStateValues(h, 7 as never), { instanceOf: TypeError, message: /state.*7/ });
  await t.throwsAsync(s.setTrialStateValues(h, COMPLETE, ['1'] as never), { instanceOf: TypeError, message: /values\[0\]/ });
  await t.throwsAsync(s.setTrialIntermediateValue(h, 1.5, 1), { instanceOf: TypeError, message: /step.*1\.5/ });
  await t.throwsAsync(s.setTrialIntermediateValue(h, 2 ** 31, 1), { instanceOf: RangeError, message: /step/ });
  await t.throwsAsync(s.setTrialIntermediateValue(h, 1, '1' as never), { instanceOf: TypeError, message: /value/ });
  await t.throwsAsync(s.getAllTrials(sid, [9 as never]), { instanceOf: TypeError });
  t.is((await s.getTrial(h)).state, RUNNING, 'a refused call changed nothing');
});

dbTest('trials created from templates, atomically', async (t) => {
  const url = await db(t, 'templates');
  const s = await connect(t, url);
  const sid = await s.createNewStudy(['minimize'], 'templates');
  const start = new Date('2024-03-01T10:00:00.123Z');
  const end = new Date('2024-03-01T10:05:00.456Z');
  const id = await s.createNewTrial(sid, {
    state: COMPLETE,
    values: [2],
    params: { x: { internal: 0.25, distribution: X }, c: { internal: 1, distribution: C }, k: { internal: 6, distribution: K } },
    userAttrs: { u: [1, { v: NaN }] },
    systemAttrs: { fixed_params: { x: 0.25 } },
    intermediateValues: new Map([
      [0, 1],
      [5, NaN],
    ]),
    datetimeStart: start,
    datetimeComplete: end,
  });
  const f = await s.getTrial(id);
  t.deepEqual(f, {
    trialId: id,
    number: 0,
    state: COMPLETE,
    values: [2],
    params: { x: 0.25, c: null, k: 6 },
    distributions: { x: X, c: C, k: K },
    intermediateValues: new Map([
      [0, 1],
      [5, NaN],
    ]),
    userAttrs: { u: [1, { v: NaN }] },
    systemAttrs: { fixed_params: { x: 0.25 } },
    datetimeStart: start,
    datetimeComplete: end,
  });
  const w = await s.createNewTrial(sid, { state: WAITING, params: { x: { internal: 1, distribution: X } } });
  t.like(await s.getTrial(w), { number: 1, state: WAITING, datetimeStart: null, params: { x: 1 } });
  const r = await s.createNewTrial(sid, { state: RUNNING });
  t.true(Date.now() - (await s.getTrial(r)).datetimeStart!.getTime() < 60_000);

  // A template that conflicts with the study creates nothing.
  await t.throwsAsync(s.createNewTrial(sid, { state: WAITING, params: { x: { internal: 1, distribution: intDistribution(0, 3) } } }), { instanceOf: RangeError });
  t.is((await s.getAllTrials(sid)).length, 3);
  await t.throwsAsync(s.createNewTrial(sid, { state: 9 as never }), { instanceOf: TypeError, message: /state/ });
  await t.throwsAsync(s.createNewTrial(sid, null as never), { instanceOf: TypeError, message: /template/ });
  await t.throwsAsync(s.createNewTrial(sid, { state: WAITING, params: [] as never }), { instanceOf: TypeError, message: /params/ });
  await t.throwsAsync(s.createNewTrial(sid, { state: WAITING, intermediateValues: { 0: 1 } as never }), { instanceOf: TypeError, message: /Map/ });
  await t.throwsAsync(s.createNewTrial(sid, { state: WAITING, datetimeStart: 'yesterday' as never }), { instanceOf: TypeError, message: /datetimeStart/ });
  await t.throwsAsync(s.createNewTrial(sid, { state: WAITING, datetimeStart: new Date('x') }), { instanceOf: TypeError, message: /datetimeStart/ });
  await t.throwsAsync(s.createNewTrial(sid, { state: WAITING, userAttrs: { k: Symbol('s') as never } }), { instanceOf: TypeError, message: /userAttrs/ });
  t.is((await s.getAllTrials(sid)).length, 3);
});

dbTest('rows from the shared database are checked as they are read', async (t) => {
  const url = await db(t, 'untrusted');
  const s = await connect(t, url);
  const sid = await s.createNewStudy(['minimize'], 'untrusted');
  const bad = async (sql: (id: number) => string, message: RegExp) => {
    const id = await s.createNewTrial(sid);
    await admin(url, sql(id));
    const e = await t.throwsAsync(s.getTrial(id), { message }, sql(id));
    t.is(code(e), 'EBADROW');
    t.regex(e!.message, /malformed .* in the database/);
    await admin(url, `DELETE FROM trial_params WHERE trial_id = ${id}; DELETE FROM trial_values WHERE trial_id = ${id}; DELETE FROM trial_user_attributes WHERE trial_id = ${id}; DELETE FROM trial_intermediate_values WHERE trial_id = ${id}`);
    t.is((await s.getTrial(id)).trialId, id);
  };
  const param = (json: string, value = 0.5) => (id: number) => `INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (${id}, 'p', ${value}, '${json}')`;
  await bad(param('not json'), /trial_params row of trial \d+ \(param "p"\).*distribution_json is not JSON/);
  await bad(param('{"name": "FloatDistribution", "attributes": {"low": 1.0, "high": 0.0, "log": false, "step": null}}'), /not a distribution.*empty/);
  await bad(param('{"name": "WeirdDistribution", "attributes": {}}'), /unknown distribution/);
  await bad(param('{"name": "CategoricalDistribution", "attributes": {"choices": ["a"]}}', 7), /param_value 7 is not an index/);
  await bad((id) => `INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (${id}, 'p', NULL, '${distributionToJson(X)}')`, /param_value to be a number/);
  await bad((id) => `INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES (${id}, 'k', '{"a": [1, 2')`, /trial_user_attributes row .*"k".*position/);
  await bad((id) => `INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES (${id}, 'k', '${'['.repeat(100_000)}')`, /nested deeper/);
  await bad((id) => `INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (${id}, 0, NULL, 'FINITE')`, /FINITE value must be a number/);
  await bad((id) => `INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (${id}, 0, 1, 'INF_POS')`, /INF_POS value must be NULL/);
  await bad((id) => `INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (${id}, 1, 1, 'FINITE')`, /objectives are not 0, 1/);
  await bad((id) => `INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) VALUES (${id}, 0, 'NaN', 'FINITE')`, /FINITE value must be a number/);
  // getAllTrials reports the bad row too; a NOT_SET direction is refused.
  const id = await s.createNewTrial(sid);
  await admin(url, `INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES (${id}, 'k', 'oops')`);
  t.is(code(await t.throwsAsync(s.getAllTrials(sid))), 'EBADROW');
  await admin(url, `UPDATE study_directions SET direction = 'NOT_SET' WHERE study_id = ${sid}`);
  await t.throwsAsync(s.getStudy(sid), { message: /direction "NOT_SET"/ });
});

// ---------------------------------------------------------------------------------------------
// Concurrency

dbTest('processes creating trials in one study: numbers 0..N-1, each WAITING trial taken once', async (t) => {
  const url = await db(t, 'race');
  const s = await connect(t, url);
  const sid = await s.createNewStudy(['minimize'], 'race');
  const waiting: number[] = [];
  for (let i = 0; i < 30; i++) waiting.push(await s.createNewTrial(sid, { state: WAITING }));
  const outs = await Promise.all([0, 1, 2].map(() => worker(['race', url, String(sid), '15'])));
  const created = outs.flatMap((o) => o.created as number[]);
  const popped = outs.flatMap((o) => o.popped as number[]);
  t.is(created.length, 45);
  t.deepEqual([...popped].sort((a, b) => a - b), waiting, 'every WAITING trial popped by exactly one caller');
  const trials = await s.getAllTrials(sid);
  t.deepEqual(
    trials.map((x) => x.number),
    Array.from({ length: 75 }, (_, i) => i),
  );
  t.is(new Set(trials.map((x) => x.trialId)).size, 75);
  t.true(trials.every((x) => x.state === RUNNING));
});

// ---------------------------------------------------------------------------------------------
// Optuna interoperability

pyTest('a study ferroptim writes reads the same in Optuna', async (t) => {
  const url = await db(t, 'to-optuna');
  const s = await connect(t, url);
  const sid = await s.createNewStudy(['minimize'], 'to-optuna');
  await s.setStudyUserAttr(sid, 'owner', 'ferroptim');
  await s.setStudySystemAttr(sid, 'sys', [1, Infinity]);
  const t0 = await s.createNewTrial(sid);
  for (const [name, internal, d] of [
    ['x', 0.5, X],
    ['lr', 1e-3, LR],
    ['q', 0.75, Q],
    ['n', 8, N],
    ['k', 4, K],
    ['c', 3, C],
  ] as [string, number, Distribution][]) {
    await s.setTrialParam(t0, name, internal, d);
  }
  for (const [step, v] of [
    [0, 1],
    [1, NaN],
    [2, Infinity],
    [3, -Infinity],
  ]) {
    await s.setTrialIntermediateValue(t0, step!, v!);
  }
  await s.setTrialUserAttr(t0, 'nested', { a: [1, 2.5, null], inf: Infinity, s: 'ü😀' });
  await s.setTrialSystemAttr(t0, 'sys', true);
  await s.setTrialStateValues(t0, COMPLETE, [0.25]);
  for (const v of [Infinity, -Infinity]) await s.setTrialStateValues(await s.createNewTrial(sid), COMPLETE, [v]);
  const pruned = await s.createNewTrial(sid);
  await s.setTrialIntermediateValue(pruned, 0, 1.5);
  await s.setTrialStateValues(pruned, PRUNED, [1.5]);
  await s.setTrialStateValues(await s.createNewTrial(sid), FAIL);
  await s.createNewTrial(sid, { state: WAITING, params: { x: { internal: -1, distribution: X } }, systemAttrs: { fixed_params: { x: -1 } } });
  await s.createNewTrial(sid);

  const dump = await optuna(python!, 'dump', url, 'to-optuna');
  t.deepEqual(dump.directions, ['MINIMIZE']);
  t.deepEqual(dump.user_attrs, { owner: 'ferroptim' });
  t.deepEqual(dump.system_attrs, { sys: [1, Infinity] });
  const trials = await s.getAllTrials(sid);
  t.is(dump.trials.length, trials.length);
  trials.forEach((f, i) => sameTrial(t, f, dump.trials[i]));
  t.deepEqual(
    dump.trials.map((x: any) => x.state),
    ['COMPLETE', 'COMPLETE', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING', 'RUNNING'],
  );

  const multi = await s.createNewStudy(['minimize', 'maximize'], 'to-optuna-multi');
  await s.setTrialStateValues(await s.createNewTrial(multi), COMPLETE, [1, -Infinity]);
  const m = await optuna(python!, 'dump', url, 'to-optuna-multi');
  t.deepEqual(m.directions, ['MINIMIZE', 'MAXIMIZE']);
  t.deepEqual(m.trials[0].values, [1, -Infinity]);
});

pyTest('a study Optuna writes (in its own schema) reads the same in ferroptim', async (t) => {
  const url = await db(t, 'from-optuna');
  await optuna(python!, 'write', url, 'from-optuna', '8', '--heartbeat', '1');
  const dump = await optuna(python!, 'dump', url, 'from-optuna');
  const s = await connect(t, url);
  const sid = await s.getStudyIdFromName('from-optuna');
  t.like(await s.getStudy(sid), { studyName: 'from-optuna', directions: ['minimize'] });
  const trials = await s.getAllTrials(sid);
  t.is(trials.length, 8);
  trials.forEach((f, i) => sameTrial(t, f, dump.trials[i]));
  t.deepEqual(
    trials.map((x) => TRIAL_STATE_NAMES[x.state]),
    ['COMPLETE', 'PRUNED', 'FAIL', 'COMPLETE', 'COMPLETE', 'PRUNED', 'FAIL', 'COMPLETE'],
  );
  t.deepEqual(trials[3]!.values, [Infinity]);
  t.true(Number.isNaN(trials[0]!.intermediateValues.get(2)));
  t.is(trials[0]!.intermediateValues.get(1), -Infinity);
  t.deepEqual(trials[0]!.userAttrs.nested, { a: [1, 2.5, null], inf: Infinity, c: trials[0]!.params.c ?? null });
  // Optuna's workers recorded heartbeats; ferroptim sees no stale trial among finished ones.
  t.true((await admin(url, 'SELECT count(*)::int AS n FROM trial_heartbeats')).rows[0].n >= 1);
  t.deepEqual(await s.failStaleTrials(sid), []);
  const multi = await optuna(python!, 'write', url, 'from-optuna-multi', '2', '--directions', 'minimize,maximize');
  t.deepEqual((await s.getStudy(multi.study_id)).directions, ['minimize', 'maximize']);
  t.is((await s.getAllTrials(multi.study_id))[0]!.values!.length, 2);
});

pyTest('Python workers join a ferroptim study: numbers continue, enqueued trials are popped, the dashboard lists it', async (t) => {
  const url = await db(t, 'join');
  const s = await connect(t, url);
  const sid = await s.createNewStudy(['minimize'], 'join');
  for (let i = 0; i < 2; i++) {
    const id = await s.createNewTrial(sid);
    await s.setTrialParam(id, 'x', i, X);
    await s.setTrialStateValues(id, COMPLETE, [i * i]);
  }
  const w = await s.createNewTrial(sid, { state: WAITING, params: { x: { internal: 4, distribution: X } } });
  await optuna(python!, 'write', url, 'join', '3');
  const trials = await s.getAllTrials(sid);
  t.deepEqual(
    trials.map((x) => x.number),
    [0, 1, 2, 3, 4],
  );
  const popped = trials.find((x) => x.trialId === w)!;
  t.is(popped.params.x, 4, 'Optuna ran the enqueued trial with its parameter');
  t.not(popped.state, WAITING);
  // ferroptim's next trial follows Optuna's.
  t.is((await s.getTrial(await s.createNewTrial(sid))).number, 5);
  const dash = await optuna(python!, 'dashboard', url, 'join');
  t.is(dash.study_name, 'join');
  t.is(dash.n_trials, 6);
  t.deepEqual(dash.best_numbers, [0]);
});

// ---------------------------------------------------------------------------------------------
// Stale trials

dbTest('a stale trial is failed once, however many callers look', async (t) => {
  const url = await db(t, 'stale');
  // A long grace period: a slow test machine must not make the fresh heartbeat stale.
  const a = await connect(t, url, { heartbeatInterval: 1, gracePeriod: 60 });
  const b = await connect(t, url, { heartbeatInterval: 1, gracePeriod: 60 });
  const off = await connect(t, url, { heartbeatInterval: null });
  t.is(a.gracePeriod, 60);
  t.is(off.gracePeriod, null);
  t.is((await connect(t, url, { heartbeatInterval: 3 })).gracePeriod, 6);
  const sid = await a.createNewStudy(['minimize'], 'stale');
  // A RUNNING trial gets its first heartbeat when it is created (a worker killed before its first
  // recordHeartbeat must not leave it RUNNING forever): `stale` is never beaten again.
  const stale = await a.createNewTrial(sid);
  const fresh = await a.createNewTrial(sid);
  const silent = await off.createNewTrial(sid); // made without heartbeats, as by an Optuna worker without heartbeat_interval: left alone
  const done = await a.createNewTrial(sid);
  for (const id of [fresh, done]) await a.recordHeartbeat(id);
  await a.setTrialStateValues(done, COMPLETE, [1]);
  await admin(url, `UPDATE trial_heartbeats SET heartbeat = heartbeat - interval '1 hour' WHERE trial_id IN (${stale}, ${done})`);
  t.deepEqual(await off.failStaleTrials(sid), [], 'no heartbeats configured: nothing is stale');
  const results = await Promise.all([a, b, a, b, a, b, a, b].map((s) => s.failStaleTrials(sid)));
  const failed = results.flat();
  t.is(failed.length, 1);
  t.like(failed[0], { trialId: stale, state: FAIL });
  t.regex(failed[0]!.systemAttrs.fail_reason as string, /Trial 0 failed because its heartbeat was not updated for more than 60 seconds/);
  t.like(await a.getTrial(stale), { state: FAIL, systemAttrs: { fail_reason: failed[0]!.systemAttrs.fail_reason } });
  t.not((await a.getTrial(stale)).datetimeComplete, null);
  for (const id of [fresh, silent]) t.is((await a.getTrial(id)).state, RUNNING);
  t.is((await a.getTrial(done)).state, COMPLETE);
  t.deepEqual(await a.failStaleTrials(sid), []);
});

pyTest("Optuna's heartbeats count for ferroptim, and ferroptim's for Optuna", async (t) => {
  const url = await db(t, 'stale-python');
  const patient = await connect(t, url, { heartbeatInterval: 1, gracePeriod: 30 });
  const eager = await connect(t, url, { heartbeatInterval: 1, gracePeriod: 1 });
  const sid = await patient.createNewStudy(['minimize'], 'stale-python');
  // A Python worker that started a trial, sent a heartbeat and died.
  const py = await optuna(python!, 'running', url, 'stale-python');
  t.deepEqual(await patient.failStaleTrials(sid), [], "within the grace period of Optuna's heartbeat");
  // Wait until the server's clock puts that heartbeat more than 1 s in the past.
  for (;;) {
    const age = (await admin(url, 'SELECT extract(epoch FROM LOCALTIMESTAMP - heartbeat)::float8 AS s FROM trial_heartbeats WHERE trial_id = $1', [py.trial_id])).rows[0].s;
    if (age > 1.2) break;
    await sleep(100);
  }
  t.deepEqual(
    (await eager.failStaleTrials(sid)).map((x) => x.trialId),
    [py.trial_id],
  );

  // Optuna fails a ferroptim trial whose ferroptim heartbeat is old, once, racing ferroptim.
  const mine = await patient.createNewTrial(sid);
  await patient.recordHeartbeat(mine);
  await admin(url, `UPDATE trial_heartbeats SET heartbeat = heartbeat - interval '1 hour' WHERE trial_id = ${mine}`);
  const fresh = await patient.createNewTrial(sid);
  await patient.recordHeartbeat(fresh);
  const [pyOut, ...ours] = await Promise.all([optuna(python!, 'fail-stale', url, 'stale-python', '30'), patient.failStaleTrials(sid), patient.failStaleTrials(sid)]);
  const ourIds = ours.flat().map((x) => x.trialId);
  t.deepEqual([...pyOut.failed, ...ourIds], [mine], 'failed by exactly one of Optuna and ferroptim');
  t.is((await patient.getTrial(mine)).state, FAIL);
  t.is((await patient.getTrial(fresh)).state, RUNNING);
});

// ---------------------------------------------------------------------------------------------
// Failures of the server and the network

dbTest('a server restart and outage during a stream of writes: nothing lost, no error', async (t) => {
  const dir = join(tmpdir(), `ferroptim-pg-restart-${process.pid}`);
  const port = String(await freePort());
  let url: string;
  try {
    url = (await cluster('start', dir, port)).trim();
  } catch (e) {
    if (CI) throw e;
    t.log(`cannot start a cluster of our own (${(e as Error).message.split('\n')[0]}); skipped`);
    t.pass();
    return;
  }
  t.teardown(() => cluster('stop', dir, port, '--remove').then(() => undefined));
  const s = await connect(t, url, { retryTimeout: 60, poolSize: 3 });
  const sid = await s.createNewStudy(['minimize'], `restart-${process.pid}`);
  let stop = false;
  const done: { id: number; value: number }[] = [];
  let slowest = 0;
  const stream = async (k: number) => {
    for (let i = 0; !stop; i++) {
      const began = Date.now();
      const id = await s.createNewTrial(sid);
      await s.setTrialParam(id, 'x', i % 10, X);
      await s.setTrialIntermediateValue(id, 0, i);
      await s.recordHeartbeat(id);
      const value = k * 100_000 + i;
      t.true(await s.setTrialStateValues(id, COMPLETE, [value]));
      done.push({ id, value });
      slowest = Math.max(slowest, Date.now() - began);
    }
  };
  const streams = [stream(0), stream(1), stream(2)];
  // Writes under way before the restart: the first ones wait for the fresh cluster's connections,
  // which took more than a fixed 300 ms on a slow VM (0 writes before the restart, then).
  for (const until = Date.now() + 30_000; done.length === 0 && Date.now() < until; ) await sleep(50);
  await sleep(300);
  const beforeRestart = done.length;
  await cluster('restart', dir, port);
  await sleep(300);
  await cluster('stop', dir, port);
  await sleep(1500); // connections refused meanwhile
  await cluster('start', dir, port);
  await sleep(300);
  stop = true;
  await Promise.all(streams);
  t.true(beforeRestart > 0 && done.length > beforeRestart, `${beforeRestart} writes before the restart, ${done.length} in all`);
  t.true(slowest > 1000, `the writes waited out the outage (slowest iteration ${slowest} ms)`);
  const trials = await s.getAllTrials(sid);
  t.deepEqual(
    trials.map((x) => x.number),
    trials.map((_, i) => i),
    'numbers 0..N-1, none twice',
  );
  const byId = new Map(trials.map((x) => [x.trialId, x]));
  for (const { id, value } of done) t.like(byId.get(id), { state: COMPLETE, values: [value] });
  // A write that was in flight when the streams stopped may have created one trial each, never more.
  t.true(trials.length >= done.length && trials.length <= done.length + 3);
});

dbTest('a COMMIT whose reply was lost is looked up, not run twice', async (t) => {
  const url = await db(t, 'lost-commit');
  const target = new URL(url);
  const proxy = await PgProxy.start(Number(target.port || 5432), target.hostname);
  t.teardown(() => proxy.close());
  const via = new URL(url);
  via.port = String(proxy.port);
  via.hostname = '127.0.0.1';
  const s = await connect(t, via.toString(), { retryTimeout: 30 });
  const sid = await s.createNewStudy(['minimize'], 'lost-commit');

  proxy.cuts.push('after'); // committed, the reply never arrives
  const a = await s.createNewTrial(sid);
  proxy.cuts.push('after');
  t.true(await s.setTrialStateValues(a, COMPLETE, [1]), 'not refused as finished by its own re-run');
  const w = await s.createNewTrial(sid, { state: WAITING });
  proxy.cuts.push('after');
  t.true(await s.setTrialStateValues(w, RUNNING), 'the WAITING trial is ours, not "taken by another"');
  proxy.cuts.push('before'); // never committed; its backend holds the study's lock until ended
  const b = await s.createNewTrial(sid);
  t.is(proxy.cutCount, 4);

  const direct = await connect(t, url);
  t.deepEqual(
    (await direct.getAllTrials(sid)).map((x) => [x.trialId, x.number, x.state]),
    [
      [a, 0, COMPLETE],
      [w, 1, RUNNING],
      [b, 2, RUNNING],
    ],
  );
});

dbTest('idle connections the server drops do not crash the process', async (t) => {
  const url = await db(t, 'idle');
  const s = await connect(t, url, { poolSize: 3 });
  await Promise.all([s.getAllStudies(), s.getAllStudies(), s.getAllStudies()]);
  const killed = await admin(url, "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'ferroptim-tune' AND datname = current_database()");
  t.true(killed.rows[0].n >= 1);
  await sleep(200);
  const id = await s.createNewStudy(['minimize'], 'after-kill');
  t.is(await s.getStudyIdFromName('after-kill'), id);
});

test('retryTimeout bounds the wait for an unreachable server', async (t) => {
  const port = await freePort(); // nothing listens there
  const started = Date.now();
  const e = await t.throwsAsync(PostgresStorage.connect(withDatabase(`postgresql://postgres@127.0.0.1:${port}/x`, 'x'), { retryTimeout: 1 }), {
    message: /unreachable for 1 s \(retryTimeout\).*ECONNREFUSED/,
  });
  t.is(code(e), 'ECONNREFUSED');
  const elapsed = Date.now() - started;
  t.true(elapsed >= 900 && elapsed < 10_000, `${elapsed} ms`);
});
