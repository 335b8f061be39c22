/**
 * The REST API's reading and managing routes end to end over node-postgres and Neon HTTP (the
 * unmodified driver, through the local endpoint), against the real PostgreSQL: listing with
 * every filter and the cursor, reading one job, cancel, retry and delete (one job and by
 * filter), pausing and resuming queues; scopes, and refusals naming the parameter or field.
 * Every change is read back from the rows. Then a job a Node loop runs is cancelled through
 * the API and ends cancelled.
 */

import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLoop } from '../adapters/node/index.js';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createHttpApi, type HttpApi } from '../src/http/api.js';
import { migrate } from '../src/migrate.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { driverSetups, type OpenDriver, unreachableDriver } from './support/drivers.js';
import { createDatabase } from './support/postgres.js';

const INSERT_KEY = 'insert-key-0123456789abcdef0123456789';
const WORK_KEY = 'work-key-0123456789abcdef0123456789ab';
const READ_KEY = 'read-key-0123456789abcdef0123456789ab';
const ADMIN_KEY = 'admin-key-0123456789abcdef0123456789a';

// The Node loop's test names its schema, as River's clients and the API then do theirs: with
// none, Eddy's statements notify on `<current_schema>.river_*` (as River does) while the loop
// LISTENs on the unqualified channels, so it would hear neither the insert nor the cancel.
const LOOP_SCHEMA = 'loop_jobs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;

beforeAll(async () => {
  database = await createDatabase('eddy_api_manage');
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await migrate(nodePostgres(pool));
  await pool.query(`CREATE SCHEMA ${LOOP_SCHEMA}`);
  await migrate(nodePostgres(pool), { schema: LOOP_SCHEMA });
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE river_job, river_queue');
});

async function row(id: string) {
  const { rows } = await pool.query(
    `SELECT state::text AS state, attempt, max_attempts, metadata, finalized_at, scheduled_at
     FROM river_job WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** Moves a job into a state by hand, as a runner would have left it. */
async function setState(id: string, state: string) {
  const finalized = ['cancelled', 'completed', 'discarded'].includes(state);
  await pool.query(
    `UPDATE river_job SET state = $2::river_job_state, attempt = max_attempts,
       finalized_at = CASE WHEN $3 THEN now() END WHERE id = $1`,
    [id, state, finalized],
  );
}

function keysFor() {
  return [
    { key: INSERT_KEY, scopes: ['insert' as const], name: 'producer' },
    { key: WORK_KEY, scopes: ['work' as const], name: 'worker' },
    { key: READ_KEY, scopes: ['read' as const], name: 'reader' },
    { key: ADMIN_KEY, scopes: ['admin' as const], name: 'operator' },
  ];
}

/** Calls an API as an HTTP client would; the body as JSON (problem details included). */
async function callApi(
  api: HttpApi,
  method: string,
  path: string,
  { key, body }: { key?: string; body?: unknown } = {},
) {
  const response = await api.fetch(
    new Request(`http://eddy.test${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text,
    body: text === '' ? undefined : JSON.parse(text),
  };
}

const pointers = (body: { errors?: { pointer: string }[] }) =>
  (body.errors ?? []).map((e) => e.pointer);

const setups = driverSetups.filter((s) => ['node-postgres (Pool)', 'neon-http'].includes(s.name));

describe.each(setups)('reading and managing through the REST API over $name', (setup) => {
  let open: OpenDriver;
  let api: HttpApi;
  const call = (method: string, path: string, options?: { key?: string; body?: unknown }) =>
    callApi(api, method, path, options);
  const read = (path: string, key = READ_KEY) => call('GET', path, { key });
  const act = (path: string, body?: unknown, key = ADMIN_KEY) => call('POST', path, { key, body });

  /** Inserts jobs through the API; their ids. */
  async function insert(...jobs: Record<string, unknown>[]): Promise<string[]> {
    const { status, body } = await call('POST', '/v1/jobs', { key: INSERT_KEY, body: { jobs } });
    expect(status).toBe(201);
    return body.jobs.map((j: { id: string }) => j.id);
  }

  beforeAll(async () => {
    open = await setup.open(database.url);
    api = createHttpApi({
      driver: open.driver,
      keys: keysFor(),
      notify: true,
      onError: () => undefined,
    });
  });

  afterAll(async () => {
    await open?.close();
  });

  it('reads one job, the id and times as strings, args exact', async () => {
    const inserted = await call('POST', '/v1/jobs', {
      key: INSERT_KEY,
      body: '{"kind":"ledger","args":{"amount":12345678901234567890,"n":1},"queue":"money","priority":2,"tags":["a"],"metadata":{"from":"shop"}}',
    });
    const id = inserted.body.jobs[0].id;
    const got = await read(`/v1/jobs/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id,
      kind: 'ledger',
      queue: 'money',
      state: 'available',
      priority: 2,
      attempt: 0,
      maxAttempts: 25,
      attemptedAt: null,
      attemptedBy: [],
      finalizedAt: null,
      errors: [],
      metadata: { from: 'shop' },
      tags: ['a'],
    });
    expect(Date.parse(got.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(got.body.scheduledAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    // jsonb orders keys shortest first.
    expect(got.text).toContain('"args":{"n":1,"amount":12345678901234567890}');
    // An admin key reads too.
    expect((await read(`/v1/jobs/${id}`, ADMIN_KEY)).status).toBe(200);

    const missing = await read('/v1/jobs/999999999');
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe('urn:eddy:problem:not-found');
  });

  it('answers 401 without a known key and 403 without the scope, naming it', async () => {
    const [id] = await insert({ kind: 'scoped', args: {} });
    expect((await call('GET', `/v1/jobs/${id}`)).status).toBe(401);
    expect((await call('GET', '/v1/jobs')).status).toBe(401);
    for (const key of [INSERT_KEY, WORK_KEY]) {
      const refused = await read('/v1/jobs', key);
      expect(refused.status).toBe(403);
      expect(refused.body.detail).toMatch(/lacks the 'read' scope/);
    }
    for (const [method, path, body] of [
      ['POST', `/v1/jobs/${id}/cancel`, undefined],
      ['POST', `/v1/jobs/${id}/retry`, undefined],
      ['DELETE', `/v1/jobs/${id}`, undefined],
      ['POST', '/v1/jobs/cancel', { filter: { kind: 'scoped' } }],
      ['POST', '/v1/jobs/retry', { filter: { kind: 'scoped' } }],
      ['POST', '/v1/jobs/delete', { filter: { kind: 'scoped' } }],
      ['POST', '/v1/queues/default/pause', undefined],
      ['POST', '/v1/queues/default/resume', undefined],
    ] as const) {
      expect((await call(method, path, { body })).status, path).toBe(401);
      const refused = await call(method, path, { key: READ_KEY, body });
      expect(refused.status, path).toBe(403);
      expect(refused.body.detail).toMatch(/'reader' lacks the 'admin' scope/);
    }
    // Nothing changed.
    expect(await row(id as string)).toMatchObject({ state: 'available' });
  });

  it('refuses bad ids and parameters with 400 naming them, before the database', async () => {
    const offline = createHttpApi({ driver: unreachableDriver, keys: keysFor() });
    for (const bad of ['-1', '0', 'abc', '1.5', '9223372036854775808', '99999999999999999999']) {
      for (const [method, path] of [
        ['GET', `/v1/jobs/${bad}`],
        ['DELETE', `/v1/jobs/${bad}`],
        ['POST', `/v1/jobs/${bad}/cancel`],
        ['POST', `/v1/jobs/${bad}/retry`],
      ] as const) {
        const refused = await callApi(offline, method, path, { key: ADMIN_KEY });
        expect(refused.status, `${method} ${path}`).toBe(400);
        expect(refused.type).toMatch(/^application\/problem\+json/);
        expect(refused.body).toMatchObject({ type: 'urn:eddy:problem:validation', status: 400 });
        expect(pointers(refused.body)).toEqual(['#/id']);
      }
    }
    const list = (query: string) => callApi(offline, 'GET', `/v1/jobs?${query}`, { key: READ_KEY });
    const cases: [string, string[]][] = [
      ['state=available&state=bogus', ['#/state/1']],
      ['priority=5', ['#/priority/0']],
      ['priority=x', ['#/priority/0']],
      ['limit=1001', ['#/limit']],
      ['limit=-1', ['#/limit']],
      ['limit=1&limit=2', ['#/limit']],
      ['id=12&id=-3', ['#/id/1']],
      ['args=not-json', ['#/args']],
      ['args=42', ['#/args']],
      [`metadata=${encodeURIComponent('{"a":"\\u0000"}')}`, ['#/metadata/a']],
      ['createdFrom=yesterday', ['#/createdFrom']],
      ['createdFrom=2026-01-02T00:00:00Z&createdTo=2026-01-01T00:00:00Z', ['#/createdTo']],
      ['finalizedFrom=0001-01-01T00:00:00Z&finalizedTo=10000-01-01T00:00:00Z', ['#/finalizedTo']],
      ['orderBy=time', ['#/orderBy']],
      ['order=up', ['#/order']],
      ['colour=red', ['#/colour']],
      ['kind=a%00b', ['#/kind/0']],
      ['cursor=not-a-cursor', ['#/cursor']],
      ['orderBy=scheduledAt', ['#/state']],
      ['orderBy=finalizedAt&state=running', ['#/state']],
    ];
    for (const [query, expected] of cases) {
      const refused = await list(query);
      expect(refused.status, query).toBe(400);
      expect(pointers(refused.body), query).toEqual(expected);
    }
    const queue = await callApi(offline, 'POST', '/v1/queues/Not%20A%20Queue/pause', {
      key: ADMIN_KEY,
    });
    expect(queue.status).toBe(400);
    expect(pointers(queue.body)).toEqual(['#/name']);
  });

  it('lists jobs with every filter, newest first, and pages by cursor without repeats', async () => {
    const ids = await insert(
      { kind: 'email', args: { user: { id: 1 } }, queue: 'mail', priority: 1, tags: ['vip'] },
      { kind: 'email', args: { user: { id: 2 } }, queue: 'mail', priority: 2 },
      {
        kind: 'report',
        args: { day: '2026-01-01' },
        metadata: { team: 'ops' },
        tags: ['vip', 'x'],
      },
      { kind: 'report', args: { day: '2026-01-02' }, performIn: 3_600_000 },
    );
    // An integer beyond 2^53 in args, as JSON text (JSON.stringify would round it).
    const big = await call('POST', '/v1/jobs', {
      key: INSERT_KEY,
      body: '{"kind":"resize","args":{"n":12345678901234567890},"queue":"images"}',
    });
    ids.push(big.body.jobs[0].id);
    await setState(ids[1] as string, 'discarded');
    const list = async (query: string) => {
      const { status, body } = await read(`/v1/jobs?${query}`);
      expect(status, query).toBe(200);
      return body as { jobs: { id: string }[]; nextCursor: string | null; truncated: boolean };
    };
    const idsOf = async (query: string) => (await list(query)).jobs.map((j) => j.id);

    const all = await list('');
    expect(all.jobs.map((j) => j.id)).toEqual([...ids].reverse());
    expect(all).toMatchObject({ nextCursor: null, truncated: false });
    expect(await idsOf('order=asc')).toEqual(ids);
    expect(await idsOf('kind=email')).toEqual([ids[1], ids[0]]);
    expect(await idsOf('kind=email&kind=resize')).toEqual([ids[4], ids[1], ids[0]]);
    expect(await idsOf('queue=mail&state=available')).toEqual([ids[0]]);
    expect(await idsOf('state=discarded&state=scheduled')).toEqual([ids[3], ids[1]]);
    expect(await idsOf('priority=2')).toEqual([ids[1]]);
    expect(await idsOf('tag=vip')).toEqual([ids[2], ids[0]]);
    expect(await idsOf('tag=vip&tag=x')).toEqual([ids[2]]);
    expect(await idsOf(`id=${ids[0]}&id=${ids[3]}`)).toEqual([ids[3], ids[0]]);
    expect(await idsOf(`args=${encodeURIComponent('{"user":{"id":2}}')}`)).toEqual([ids[1]]);
    // An integer beyond 2^53 in a fragment matches exactly: one digit off matches nothing.
    expect(await idsOf(`args=${encodeURIComponent('{"n":12345678901234567890}')}`)).toEqual([
      ids[4],
    ]);
    expect(await idsOf(`args=${encodeURIComponent('{"n":12345678901234567891}')}`)).toEqual([]);
    expect(await idsOf(`metadata=${encodeURIComponent('{"team":"ops"}')}`)).toEqual([ids[2]]);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(await idsOf(`scheduledFrom=${future}`)).toEqual([ids[3]]);
    expect(await idsOf(`createdTo=${encodeURIComponent('2000-01-01T00:00:00+01:00')}`)).toEqual([]);
    expect(await idsOf(`finalizedFrom=${new Date(Date.now() - 60_000).toISOString()}`)).toEqual([
      ids[1],
    ]);
    expect(await idsOf('orderBy=finalizedAt')).toEqual([ids[1]]);
    expect(await idsOf('orderBy=scheduledAt&state=scheduled&state=available&order=asc')).toEqual([
      ids[0],
      ids[2],
      ids[4],
      ids[3],
    ]);
    const resize = await read('/v1/jobs?kind=resize');
    expect(resize.text).toContain('"args":{"n":12345678901234567890}');

    // Two at a time: every job once, in order, and the last page says there is no more.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(`limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
    // A cursor belongs to its order.
    const first = await list('limit=2');
    const other = await read(`/v1/jobs?order=asc&cursor=${first.nextCursor}`);
    expect(other.status).toBe(400);
    expect(pointers(other.body)).toEqual(['#/cursor']);
  });

  it("cancels one job with River's outcomes: at once, requested while running, finalized left alone", async () => {
    const [available, finished, running] = await insert(
      { kind: 'c_wait', args: {} },
      { kind: 'c_done', args: {} },
      { kind: 'c_run', args: {} },
    );
    await setState(finished as string, 'completed');
    const claimed = await call('POST', '/v1/claims', { key: WORK_KEY, body: { kinds: ['c_run'] } });
    const [job] = claimed.body.jobs;

    const cancelled = await act(`/v1/jobs/${available}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      id: available,
      outcome: 'cancelled',
      job: { id: available, state: 'cancelled' },
    });
    expect(await row(available as string)).toMatchObject({ state: 'cancelled' });
    expect((await row(available as string)).metadata.cancel_attempted_at).toEqual(
      expect.any(String),
    );

    const requested = await act(`/v1/jobs/${running}/cancel`);
    expect(requested.body).toMatchObject({ outcome: 'cancelRequested', job: { state: 'running' } });
    // The claim's nonce is its fence: shown to readers, any caller could answer for the attempt.
    const shown = requested.body.job.attemptedBy.at(-1) as string;
    expect(shown).toMatch(/^eddy:\d+:…:/);
    expect(job.token.startsWith(shown.split(':…:')[0])).toBe(true);
    expect(shown).not.toContain(job.token.split(':')[2]);
    // The worker hears of it at its next heartbeat.
    const lease = await call('POST', `/v1/jobs/${running}/lease`, {
      key: WORK_KEY,
      body: { token: job.token, extendMs: 10_000 },
    });
    expect(lease.body).toMatchObject({ state: 'running', cancelRequested: true });

    const left = await act(`/v1/jobs/${finished}/cancel`);
    expect(left.body).toMatchObject({ outcome: 'alreadyFinalized', job: { state: 'completed' } });
    expect(await row(finished as string)).toMatchObject({ state: 'completed' });

    const missing = await act('/v1/jobs/999999999/cancel');
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe('urn:eddy:problem:not-found');
  });

  it('retries one job: a discarded one with an attempt more; running and due ones left alone', async () => {
    const [discarded, due, running] = await insert(
      { kind: 'r_dead', args: {}, maxAttempts: 3 },
      { kind: 'r_due', args: {} },
      { kind: 'r_run', args: {} },
    );
    await setState(discarded as string, 'discarded');
    await call('POST', '/v1/claims', { key: WORK_KEY, body: { kinds: ['r_run'] } });

    const retried = await act(`/v1/jobs/${discarded}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({
      id: discarded,
      outcome: 'retried',
      job: { state: 'available', maxAttempts: 4, finalizedAt: null },
    });
    expect(await row(discarded as string)).toMatchObject({
      state: 'available',
      max_attempts: 4,
      finalized_at: null,
    });
    expect((await act(`/v1/jobs/${running}/retry`)).body).toMatchObject({
      outcome: 'running',
      job: { state: 'running' },
    });
    expect((await act(`/v1/jobs/${due}/retry`)).body).toMatchObject({
      outcome: 'alreadyAvailable',
    });
    expect((await act('/v1/jobs/999999999/retry')).status).toBe(404);
  });

  it('deletes one job, and refuses a running one with 409 and its state', async () => {
    const [waiting, running] = await insert(
      { kind: 'd_wait', args: {} },
      { kind: 'd_run', args: {} },
    );
    await call('POST', '/v1/claims', { key: WORK_KEY, body: { kinds: ['d_run'] } });

    const deleted = await call('DELETE', `/v1/jobs/${waiting}`, { key: ADMIN_KEY });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({
      id: waiting,
      outcome: 'deleted',
      job: { id: waiting, kind: 'd_wait', state: 'available' },
    });
    expect(await row(waiting as string)).toBeUndefined();
    expect((await read(`/v1/jobs/${waiting}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/jobs/${waiting}`, { key: ADMIN_KEY })).status).toBe(404);

    const refused = await call('DELETE', `/v1/jobs/${running}`, { key: ADMIN_KEY });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ type: 'urn:eddy:problem:job-running', state: 'running' });
    expect(await row(running as string)).toMatchObject({ state: 'running' });
  });

  it('cancels, retries and deletes the jobs a filter matches, up to max, saying when more match', async () => {
    const ids = await insert(
      ...Array.from({ length: 5 }, (_, i) => ({ kind: 'bulk', args: { i }, queue: 'bulkq' })),
      { kind: 'bulk_other', args: {}, queue: 'bulkq' },
    );
    await call('POST', '/v1/claims', {
      key: WORK_KEY,
      body: { kinds: ['bulk'], queues: ['bulkq'], limit: 1 },
    });
    const filter = { kind: 'bulk', queue: ['bulkq'] };

    const first = await act('/v1/jobs/cancel', { filter, max: 3 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      count: 3,
      byOutcome: { cancelled: 2, cancelRequested: 1 },
      ids: ids.slice(0, 3),
      hasMore: true,
      busy: 0,
    });
    // The running job was asked already (it awaits its runner): the next call goes past it.
    const rest = await act('/v1/jobs/cancel', { filter });
    expect(rest.body).toMatchObject({
      count: 2,
      byOutcome: { cancelled: 2 },
      ids: [ids[3], ids[4]],
      hasMore: false,
    });
    expect((await row(ids[5] as string)).state).toBe('available');

    const retried = await act('/v1/jobs/retry', {
      filter: { ...filter, state: ['cancelled'], args: { i: 4 } },
    });
    expect(retried.body).toMatchObject({ count: 1, byOutcome: { retried: 1 }, ids: [ids[4]] });
    expect((await row(ids[4] as string)).state).toBe('available');

    const deleted = await act('/v1/jobs/delete', { filter: { queue: 'bulkq' } });
    // Not the running one.
    expect(deleted.body).toMatchObject({ count: 5, byOutcome: { deleted: 5 }, hasMore: false });
    const { rows } = await pool.query('SELECT id::text, state::text FROM river_job');
    expect(rows).toEqual([{ id: ids[0], state: 'running' }]);

    const empty = await act('/v1/jobs/delete', { filter: {} });
    expect(empty.status).toBe(422);
    expect(pointers(empty.body)).toEqual(['#/filter']);
    const bad = await act('/v1/jobs/cancel', {
      filter: { state: ['available', 'bogus'], createdAt: { from: 'soon' }, colour: 'red' },
      max: 10_001,
    });
    expect(bad.status).toBe(422);
    expect(pointers(bad.body).sort()).toEqual([
      '#/filter/colour',
      '#/filter/createdAt/from',
      '#/filter/state/1',
      '#/max',
    ]);
    const range = await act('/v1/jobs/cancel', {
      filter: { createdAt: { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' } },
    });
    expect(range.status).toBe(422);
    expect(pointers(range.body)).toEqual(['#/filter/createdAt']);
    expect((await call('POST', '/v1/jobs/cancel', { key: ADMIN_KEY })).status).toBe(415);
  });

  it("pauses and resumes a queue as River does (claims skip it), '*' for every queue; 404 for an unknown one", async () => {
    const [id] = await insert({ kind: 'q_job', args: {}, queue: 'email' });
    await pool.query(
      "INSERT INTO river_queue (name, updated_at) VALUES ('email', now()), ('sms', now())",
    );
    const claim = () =>
      call('POST', '/v1/claims', { key: WORK_KEY, body: { kinds: ['q_job'], queues: ['email'] } });

    const paused = await act('/v1/queues/email/pause');
    expect(paused).toMatchObject({ status: 200, body: { name: 'email', paused: true } });
    const { rows } = await pool.query(
      'SELECT name, paused_at IS NOT NULL AS paused FROM river_queue ORDER BY name',
    );
    expect(rows).toEqual([
      { name: 'email', paused: true },
      { name: 'sms', paused: false },
    ]);
    expect((await claim()).body.jobs).toEqual([]);

    expect((await act('/v1/queues/email/resume')).body).toEqual({ name: 'email', paused: false });
    expect((await claim()).body.jobs.map((j: { id: string }) => j.id)).toEqual([id]);

    expect((await act('/v1/queues/*/pause')).body).toEqual({ name: '*', paused: true });
    const all = await pool.query(
      'SELECT count(*)::int AS n FROM river_queue WHERE paused_at IS NULL',
    );
    expect(all.rows[0].n).toBe(0);
    await act('/v1/queues/%2A/resume');
    const none = await pool.query(
      'SELECT count(*)::int AS n FROM river_queue WHERE paused_at IS NOT NULL',
    );
    expect(none.rows[0].n).toBe(0);

    for (const action of ['pause', 'resume']) {
      const unknown = await act(`/v1/queues/nowhere/${action}`);
      expect(unknown.status).toBe(404);
      expect(unknown.body.type).toBe('urn:eddy:problem:not-found');
    }
  });

  it('cancels a job a Node loop is running: the loop hears it at once and the job ends cancelled', async () => {
    const started = new Set<string>();
    const aborted = new Set<string>();
    const held = defineWorker(
      'held_rest',
      (job, ctx) =>
        new Promise<void>((_resolve, reject) => {
          started.add(String(job.id));
          ctx.signal.addEventListener('abort', () => {
            aborted.add(String(job.id));
            reject(ctx.signal.reason);
          });
        }),
    );
    // Over node-postgres, which listens; polling slowed to 30 s, so only the notifications
    // (the insert's and the cancel's) can explain how soon it acts.
    const runner = createRunner({
      driver: nodePostgres(pool),
      schema: LOOP_SCHEMA,
      workers: [held],
    });
    const loop = startLoop(runner, { pollIntervalMs: 30_000, handleSignals: false });
    const scoped = createHttpApi({
      driver: open.driver,
      schema: LOOP_SCHEMA,
      keys: keysFor(),
      notify: true,
      onError: () => undefined,
    });
    const state = async (id: string) =>
      (await pool.query(`SELECT state::text FROM ${LOOP_SCHEMA}.river_job WHERE id = $1`, [id]))
        .rows[0]?.state;
    const waitFor = async (what: string, check: () => boolean | Promise<boolean>) => {
      const from = performance.now();
      while (!(await check())) {
        if (performance.now() - from > 10_000) throw new Error(`timed out waiting for ${what}`);
        await sleep(10);
      }
      return performance.now() - from;
    };
    try {
      await sleep(1_000); // the first, empty tick is over and LISTEN is in effect
      const inserted = await callApi(scoped, 'POST', '/v1/jobs', {
        key: INSERT_KEY,
        body: { kind: 'held_rest', args: {} },
      });
      const id: string = inserted.body.jobs[0].id;
      await waitFor('the job to start', () => started.has(id));
      const get = () => callApi(scoped, 'GET', `/v1/jobs/${id}`, { key: READ_KEY });
      expect((await get()).body.state).toBe('running');

      const cancel = await callApi(scoped, 'POST', `/v1/jobs/${id}/cancel`, { key: ADMIN_KEY });
      expect(cancel.body).toMatchObject({ outcome: 'cancelRequested', job: { state: 'running' } });
      expect(await waitFor('the abort', () => aborted.has(id))).toBeLessThan(2_000);
      await waitFor('the cancelled row', async () => (await state(id)) === 'cancelled');
      const job = (await get()).body;
      expect(job).toMatchObject({ state: 'cancelled', attempt: 1 });
      expect(job.finalizedAt).toEqual(expect.any(String));
      expect(job.metadata.cancel_attempted_at).toEqual(expect.any(String));
      expect(job.errors.at(-1)).toMatchObject({
        attempt: 1,
        error: 'JobCancelError: job cancelled remotely',
      });
    } finally {
      await loop.stop();
    }
  });
});

describe('the OpenAPI document of the reading and managing routes', () => {
  const api = createHttpApi({ driver: unreachableDriver, keys: keysFor() });

  it('has their paths, scopes and parameters, generated from the schemas that check them', async () => {
    const doc = api.openApi() as Record<string, any>;
    const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(
      ([path, item]) =>
        Object.entries(item).map(([method, op]) => ({
          route: `${method.toUpperCase()} ${path}`,
          id: op.operationId,
          scopes: op.security[0].apiKey,
          responses: Object.keys(op.responses),
          op,
        })),
    );
    const byRoute = Object.fromEntries(operations.map((o) => [o.route, o]));
    const expected: [string, string, string[]][] = [
      ['GET /v1/jobs', 'read', ['200', '400', '401', '403']],
      ['GET /v1/jobs/{id}', 'read', ['200', '400', '401', '403', '404']],
      ['DELETE /v1/jobs/{id}', 'admin', ['200', '400', '401', '403', '404', '409']],
      ['POST /v1/jobs/{id}/cancel', 'admin', ['200', '400', '401', '403', '404']],
      ['POST /v1/jobs/{id}/retry', 'admin', ['200', '400', '401', '403', '404']],
      ['POST /v1/jobs/cancel', 'admin', ['200', '401', '403', '413', '415', '422']],
      ['POST /v1/jobs/retry', 'admin', ['200', '401', '403', '413', '415', '422']],
      ['POST /v1/jobs/delete', 'admin', ['200', '401', '403', '413', '415', '422']],
      ['POST /v1/queues/{name}/pause', 'admin', ['200', '400', '401', '403', '404']],
      ['POST /v1/queues/{name}/resume', 'admin', ['200', '400', '401', '403', '404']],
    ];
    for (const [route, scope, responses] of expected) {
      const op = byRoute[route];
      expect(op, route).toBeDefined();
      expect(op?.scopes, route).toEqual([scope]);
      expect(op?.responses.sort(), route).toEqual(responses);
    }
    // The list's query parameters are the query schema's properties, limits and all.
    const parameters = byRoute['GET /v1/jobs']?.op.parameters as Record<string, any>[];
    const named = Object.fromEntries(parameters.map((p) => [p.name, p]));
    expect(Object.keys(named).sort()).toEqual(
      Object.keys(doc.components.schemas.JobListQuery.properties).sort(),
    );
    expect(named.limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
    expect(named.state).toMatchObject({ in: 'query', style: 'form', explode: true });
    expect(named.state.schema.items.enum).toContain('discarded');
    expect(named.args.schema).toMatchObject({
      type: 'string',
      contentMediaType: 'application/json',
    });
    expect(named.createdFrom.schema.format).toBe('date-time');
    expect(doc.components.schemas.JobId.pattern).toBe('^[1-9][0-9]{0,18}$');
    expect(doc.components.schemas.BulkRequest.required).toEqual(['filter']);
    expect(doc.components.schemas.CancelResult.properties.outcome.enum).toEqual([
      'cancelled',
      'cancelRequested',
      'alreadyFinalized',
    ]);
  });
});
