/**
 * The REST API end to end over node-postgres and Neon HTTP (the unmodified driver, through the
 * local endpoint), against the real PostgreSQL: inserts, claims and every answer about an
 * attempt, fenced by its token; auth and scopes; problem details naming the field. Every outcome
 * is read back from the rows.
 */

import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createHttpApi, type HttpApi } from '../src/http/api.js';
import { defineJobKind } from '../src/job-kind.js';
import { migrate } from '../src/migrate.js';
import { createRunner } from '../src/runner/runner.js';
import { driverSetups, type OpenDriver } from './support/drivers.js';
import { createDatabase } from './support/postgres.js';

const INSERT_KEY = 'insert-key-0123456789abcdef0123456789';
const WORK_KEY = 'work-key-0123456789abcdef0123456789ab';
const OLD_KEY = 'old-admin-key-0123456789abcdef012345';
const NEW_KEY = 'new-admin-key-0123456789abcdef012345';

const signup = defineJobKind({
  kind: 'signup_email',
  args: z.object({ email: z.email() }),
});

let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;

beforeAll(async () => {
  database = await createDatabase('eddy_api');
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  const { nodePostgres } = await import('../adapters/node-postgres/index.js');
  await migrate(nodePostgres(pool));
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
    `SELECT state::text AS state, attempt, max_attempts, errors, metadata, attempted_by,
       scheduled_at, queue, priority, tags, unique_key IS NOT NULL AS unique
     FROM river_job WHERE id = $1`,
    [id],
  );
  return rows[0];
}

const setups = driverSetups.filter((s) => ['node-postgres (Pool)', 'neon-http'].includes(s.name));

describe.each(setups)('the REST API over $name', (setup) => {
  let open: OpenDriver;
  let api: HttpApi;

  /** Calls the API as an HTTP client would; the body as JSON (problem details included). */
  async function call(
    method: string,
    path: string,
    {
      key,
      body,
      headers = {},
    }: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const response = await api.fetch(
      new Request(`http://eddy.test${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...headers,
        },
        body:
          body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get('content-type') ?? '',
      body: text === '' ? undefined : JSON.parse(text),
    };
  }

  const insert = (body: unknown, key = INSERT_KEY) => call('POST', '/v1/jobs', { key, body });
  const claimJobs = (body: unknown) => call('POST', '/v1/claims', { key: WORK_KEY, body });
  const settle = (id: string, name: string, body: unknown) =>
    call('POST', `/v1/jobs/${id}/${name}`, { key: WORK_KEY, body });

  beforeAll(async () => {
    open = await setup.open(database.url);
    api = createHttpApi({
      driver: open.driver,
      keys: [
        { key: INSERT_KEY, scopes: ['insert'], name: 'producer' },
        { key: WORK_KEY, scopes: ['work'], name: 'worker' },
        { key: OLD_KEY, scopes: ['admin'] },
        { key: NEW_KEY, scopes: ['admin'] },
      ],
      maxBatch: 5,
      maxLeaseMs: 60_000,
      maxBodyBytes: 4096,
      onError: () => undefined,
    });
  });

  afterAll(async () => {
    await open?.close();
  });

  it('inserts one job, answering its id as a string', async () => {
    const { status, body } = await insert({
      kind: 'resize_image',
      args: { url: 'https://example.com/a.png', big: 12345678901234567890n.toString() },
      queue: 'images',
      priority: 2,
      maxAttempts: 3,
      tags: ['media'],
      metadata: { source: 'python' },
    });
    expect(status).toBe(201);
    expect(body.jobs).toHaveLength(1);
    const [job] = body.jobs;
    expect(job).toMatchObject({
      kind: 'resize_image',
      queue: 'images',
      state: 'available',
      duplicate: false,
    });
    expect(job.id).toMatch(/^\d+$/);
    expect(await row(job.id)).toMatchObject({
      state: 'available',
      queue: 'images',
      priority: 2,
      max_attempts: 3,
      tags: ['media'],
      metadata: { source: 'python' },
    });
  });

  it('inserts many in one call and says which were unique duplicates', async () => {
    const unique = { byArgs: true };
    const first = await insert({ jobs: [{ kind: 'report', args: { day: '2026-01-01' }, unique }] });
    expect(first.status).toBe(201);
    const { status, body } = await insert({
      jobs: [
        { kind: 'report', args: { day: '2026-01-01' }, unique },
        { kind: 'report', args: { day: '2026-01-02' }, unique },
        { kind: 'later', args: {}, performIn: 60_000 },
        { kind: 'held', args: {}, pending: true },
      ],
    });
    expect(status).toBe(201);
    expect(body.jobs.map((j: { duplicate: boolean }) => j.duplicate)).toEqual([
      true,
      false,
      false,
      false,
    ]);
    expect(body.jobs[0].id).toBe(first.body.jobs[0].id);
    expect(body.jobs.map((j: { state: string }) => j.state)).toEqual([
      'available',
      'available',
      'scheduled',
      'pending',
    ]);
    const again = await insert({ kind: 'report', args: { day: '2026-01-02' }, unique });
    expect(again.status).toBe(200);
    expect(again.body.jobs[0]).toMatchObject({ id: body.jobs[1].id, duplicate: true });
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM river_job WHERE kind = 'report'",
    );
    expect(rows[0].n).toBe(2);
  });

  it('refuses bad input with problem details naming the field, inserting nothing', async () => {
    const bad = await insert({
      jobs: [
        { kind: 'ok', args: {} },
        { kind: 'ok', args: {}, priority: 9, color: 'red' },
      ],
    });
    expect(bad.status).toBe(422);
    expect(bad.type).toMatch(/^application\/problem\+json/);
    expect(bad.body).toMatchObject({ type: 'urn:eddy:problem:validation', status: 422 });
    expect(bad.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '#/jobs/1/color',
      '#/jobs/1/priority',
    ]);
    // What River constrains beyond the shape, checked by the client, names its field too.
    const tag = await insert({
      jobs: [
        { kind: 'ok', args: {} },
        { kind: 'ok', args: {}, tags: ['a,b'] },
      ],
    });
    expect(tag.status).toBe(422);
    expect(tag.body.errors[0].pointer).toBe('#/jobs/1/tags/0');
    const queue = await insert({ kind: 'ok', args: {}, queue: 'Not A Queue' });
    expect(queue.body.errors[0].pointer).toBe('#/queue');
    const args = await insert({ kind: 'ok', args: [1, 2] });
    expect(args.body.errors[0].pointer).toBe('#/args');
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM river_job');
    expect(rows[0].n).toBe(0);
  });

  it('limits the batch, the body and the media type', async () => {
    const six = Array.from({ length: 6 }, () => ({ kind: 'k', args: {} }));
    const batch = await insert({ jobs: six });
    expect(batch.status).toBe(422);
    expect(batch.body.errors[0].pointer).toBe('#/jobs');
    const big = await insert({ kind: 'k', args: { text: 'x'.repeat(5000) } });
    expect(big.status).toBe(413);
    expect(big.body.type).toBe('urn:eddy:problem:payload-too-large');
    const form = await call('POST', '/v1/jobs', {
      key: INSERT_KEY,
      body: 'kind=k',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const malformed = await call('POST', '/v1/jobs', { key: INSERT_KEY, body: '{"kind":' });
    expect(malformed.status).toBe(400);
  });

  it('answers 401 without a known key and 403 without the scope; rotated keys both work', async () => {
    const none = await call('POST', '/v1/jobs', { body: { kind: 'k', args: {} } });
    expect(none.status).toBe(401);
    expect(none.body.type).toBe('urn:eddy:problem:unauthorized');
    const unknown = await insert({ kind: 'k', args: {} }, 'not-a-key-0123456789abcdef0123456789');
    expect(unknown.status).toBe(401);
    const scope = await call('POST', '/v1/claims', { key: INSERT_KEY, body: { kinds: ['k'] } });
    expect(scope.status).toBe(403);
    expect(scope.body.detail).toMatch(/'producer' lacks the 'work' scope/);
    expect((await insert({ kind: 'k', args: {} }, OLD_KEY)).status).toBe(201);
    expect((await insert({ kind: 'k', args: {} }, NEW_KEY)).status).toBe(201);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM river_job');
    expect(rows[0].n).toBe(2);
  });

  it('claims with a lease and completes with output', async () => {
    const inserted = await insert({ kind: 'resize', args: { n: 1 }, queue: 'images' });
    const id = inserted.body.jobs[0].id;
    const empty = await claimJobs({ kinds: ['other'], queues: ['images'] });
    expect(empty.body.jobs).toEqual([]);
    const claimed = await claimJobs({
      kinds: ['resize'],
      queues: ['images'],
      leaseMs: 30_000,
      worker: 'py-1',
    });
    expect(claimed.status).toBe(200);
    const [job] = claimed.body.jobs;
    expect(job).toMatchObject({ id, kind: 'resize', args: { n: 1 }, attempt: 1, queue: 'images' });
    const lease = Date.parse(job.leaseExpiresAt) - Date.now();
    expect(lease).toBeGreaterThan(20_000);
    expect(lease).toBeLessThan(40_000);
    expect(job.token).toMatch(/^eddy:\d+:[0-9a-f]+:py-1$/);
    expect((await row(id)).state).toBe('running');
    // Claimed once: nobody else gets it while the lease holds.
    expect((await claimJobs({ kinds: ['resize'], queues: ['images'] })).body.jobs).toEqual([]);

    const done = await settle(id, 'complete', { token: job.token, output: { width: 640 } });
    expect(done).toMatchObject({ status: 200, body: { id, state: 'completed' } });
    expect(await row(id)).toMatchObject({
      state: 'completed',
      metadata: { output: { width: 640 } },
    });
    // Answering twice changes nothing and says so.
    const twice = await settle(id, 'complete', { token: job.token });
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ type: 'urn:eddy:problem:lease-lost', state: 'completed' });
  });

  it("fails an attempt into a retry with River's backoff, or at a given time, or discards it", async () => {
    const ids = (
      await insert({
        jobs: [
          { kind: 'flaky', args: { i: 1 } },
          { kind: 'flaky', args: { i: 2 } },
          { kind: 'flaky', args: { i: 3 } },
          { kind: 'flaky', args: { i: 4 }, maxAttempts: 1 },
        ],
      })
    ).body.jobs.map((j: { id: string }) => j.id);
    const { jobs } = (await claimJobs({ kinds: ['flaky'], limit: 4 })).body;
    const token = (id: string) => jobs.find((j: { id: string }) => j.id === id).token;

    const before = Date.now();
    const retried = await settle(ids[0], 'fail', {
      token: token(ids[0]),
      error: 'boom',
      trace: 'at line 1',
    });
    expect(retried.body).toMatchObject({ state: 'retryable' });
    const first = await row(ids[0]);
    expect(first.errors).toEqual([
      { at: expect.any(String), attempt: 1, error: 'boom', trace: 'at line 1' },
    ]);
    // River's backoff for a first error: 1 s ± 10 %.
    const delay = first.scheduled_at.getTime() - before;
    expect(delay).toBeGreaterThan(500);
    expect(delay).toBeLessThan(5_000);

    const at = new Date(Date.now() + 3_600_000);
    await settle(ids[1], 'fail', {
      token: token(ids[1]),
      error: 'later',
      retryAt: at.toISOString(),
    });
    expect(Math.abs((await row(ids[1])).scheduled_at.getTime() - at.getTime())).toBeLessThan(2_000);

    const discarded = await settle(ids[2], 'fail', {
      token: token(ids[2]),
      error: 'bad input',
      discard: true,
    });
    expect(discarded.body.state).toBe('discarded');
    const exhausted = await settle(ids[3], 'fail', { token: token(ids[3]), error: 'last' });
    expect(exhausted.body.state).toBe('discarded');
  });

  it('keeps integers beyond 2^53 in args exactly, both ways', async () => {
    const inserted = await call('POST', '/v1/jobs', {
      key: INSERT_KEY,
      body: '{"kind":"big_numbers","args":{"n":12345678901234567890,"small":1}}',
    });
    const id = inserted.body.jobs[0].id;
    const { rows } = await pool.query('SELECT args::text AS args FROM river_job WHERE id = $1', [
      id,
    ]);
    expect(rows[0].args).toBe('{"n": 12345678901234567890, "small": 1}');
    const response = await api.fetch(
      new Request('http://eddy.test/v1/claims', {
        method: 'POST',
        headers: { authorization: `Bearer ${WORK_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ kinds: ['big_numbers'] }),
      }),
    );
    expect(await response.text()).toContain('"args":{"n":12345678901234567890,"small":1}');
  });

  it('snoozes an attempt, giving it back', async () => {
    const id = (await insert({ kind: 'poll', args: {} })).body.jobs[0].id;
    const [job] = (await claimJobs({ kinds: ['poll'] })).body.jobs;
    const snoozed = await settle(id, 'snooze', { token: job.token, delayMs: 60_000 });
    expect(snoozed.body.state).toBe('scheduled');
    expect(await row(id)).toMatchObject({
      state: 'scheduled',
      attempt: 0,
      metadata: { snoozes: 1 },
    });
  });

  it('extends a lease, and the token stays good for the answer', async () => {
    const id = (await insert({ kind: 'long', args: {} })).body.jobs[0].id;
    const [job] = (await claimJobs({ kinds: ['long'], leaseMs: 5_000 })).body.jobs;
    const extended = await settle(id, 'lease', { token: job.token, extendMs: 50_000 });
    expect(extended.status).toBe(200);
    expect(extended.body).toMatchObject({ id, state: 'running', cancelRequested: false });
    expect(Date.parse(extended.body.leaseExpiresAt) - Date.now()).toBeGreaterThan(40_000);
    const { attempted_by } = await row(id);
    expect(attempted_by.at(-1)).toBe(
      `eddy:${Date.parse(extended.body.leaseExpiresAt)}:${job.token.split(':').slice(2).join(':')}`,
    );
    const tooLong = await settle(id, 'lease', { token: job.token, extendMs: 120_000 });
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.errors[0].pointer).toBe('#/extendMs');
    expect((await settle(id, 'complete', { token: job.token })).body.state).toBe('completed');
  });

  it('refuses a late answer after a rescue (409), changing nothing', async () => {
    const id = (await insert({ kind: 'stuck', args: {} })).body.jobs[0].id;
    const [job] = (await claimJobs({ kinds: ['stuck'], leaseMs: 1_000 })).body.jobs;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const stats = await createRunner({ driver: open.driver, workers: [] }).tick({
      budgetMs: 5_000,
    });
    expect(stats.rescued).toBe(1);
    const rescued = await row(id);
    expect(rescued.state).toBe('retryable');
    for (const [name, body] of [
      ['complete', { token: job.token }],
      ['fail', { token: job.token, error: 'late' }],
      ['snooze', { token: job.token, delayMs: 0 }],
      ['lease', { token: job.token, extendMs: 10_000 }],
    ] as const) {
      const late = await settle(id, name, body);
      expect(late.status, name).toBe(409);
      expect(late.body).toMatchObject({ type: 'urn:eddy:problem:lease-lost', state: 'retryable' });
    }
    expect(await row(id)).toEqual(rescued);
  });

  it('answers 404 for an unknown job and 422 for a token no claim wrote', async () => {
    const token = 'eddy:1767225600000:abcdefabcdef:w';
    expect((await settle('999999999', 'complete', { token })).status).toBe(404);
    expect((await settle('abc', 'complete', { token })).status).toBe(404);
    const bad = await settle('1', 'complete', { token: 'made-up' });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].pointer).toBe('#/token');
    const lease = await claimJobs({ kinds: ['k'], leaseMs: 120_000 });
    expect(lease.status).toBe(422);
    expect(lease.body.errors[0].pointer).toBe('#/leaseMs');
  });

  it('waits for a job when asked, and takes it as soon as one is inserted', async () => {
    const started = Date.now();
    const waiting = claimJobs({ kinds: ['soon'], waitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const id = (await insert({ kind: 'soon', args: {} })).body.jobs[0].id;
    const { body } = await waiting;
    expect(body.jobs.map((j: { id: string }) => j.id)).toEqual([id]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('checks args against the kinds it is given', async () => {
    const typed = createHttpApi({
      driver: open.driver,
      keys: [{ key: INSERT_KEY, scopes: ['insert'] }],
      kinds: [signup],
    });
    const request = (body: unknown) =>
      typed.fetch(
        new Request('http://eddy.test/v1/jobs', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${INSERT_KEY}` },
          body: JSON.stringify(body),
        }),
      );
    const bad = await request({
      jobs: [
        { kind: 'signup_email', args: { email: 'a@example.com' } },
        { kind: 'signup_email', args: { email: 'nope' } },
      ],
    });
    expect(bad.status).toBe(422);
    expect((await bad.json()).errors[0].pointer).toBe('#/jobs/1/args/email');
    const unknown = await request({ kind: 'x', args: {} });
    expect((await unknown.json()).errors[0]).toMatchObject({
      pointer: '#/kind',
      detail: expect.stringMatching(/not a kind this client knows/),
    });
    expect((await request({ kind: 'signup_email', args: { email: 'a@example.com' } })).status).toBe(
      201,
    );
  });
});

describe('the OpenAPI document', () => {
  const api = createHttpApi({
    driver: {
      name: 'unused',
      capabilities: { interactiveTransactions: false, inTransaction: false },
      query: async () => {
        throw new Error('unused');
      },
    },
    keys: [{ key: INSERT_KEY, scopes: ['insert'] }],
    maxLeaseMs: 120_000,
  });

  it('is OpenAPI 3.1, generated from the schemas that validate the requests, every $ref resolving', async () => {
    const response = await api.fetch(new Request('http://eddy.test/v1/openapi.json'));
    expect(response.status).toBe(200);
    const doc = await response.json();
    expect(doc.openapi).toBe('3.1.0');
    const refs = [
      ...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g),
    ].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(doc.components.schemas, ref).toHaveProperty(ref);
    for (const [path, item] of Object.entries(
      doc.paths as Record<string, Record<string, { responses: object; operationId: string }>>,
    ))
      for (const operation of Object.values(item)) {
        expect(operation.operationId, path).toMatch(/^[a-z][A-Za-z]+$/);
        expect(Object.keys(operation.responses), path).toContain('401');
      }
    // The limits the API was built with are the schemas' limits.
    expect(doc.components.schemas.ClaimRequest.properties.leaseMs.maximum).toBe(120_000);
    expect(doc.components.schemas.JobInsert.required).toEqual(['kind', 'args']);
    expect(doc.components.schemas.JobInsert.additionalProperties).toBe(false);
  });
});
