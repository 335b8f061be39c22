/**
 * The REST API inside workerd (Miniflare), mounted in a Worker bundled as for a deploy, over the
 * unmodified Neon HTTP driver against the real PostgreSQL behind the local Neon endpoint: keys
 * from the Worker's env, a job inserted, claimed, failed, claimed again once due and completed,
 * a late answer refused, the job read back and listed, the gauges and the OpenAPI document served. Rows are read directly.
 */

import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { migrate } from '../src/migrate.js';
import { createDatabase, DATABASE_URL } from './support/postgres.js';

const PRODUCER_KEY = 'worker-producer-key-0123456789abcdef0123';
const WORKER_KEY = 'worker-worker-key-0123456789abcdef012345';

let local: NeonLocal;
let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;
let mf: Miniflare;

beforeAll(async () => {
  local = await createNeonLocal({ databaseUrl: DATABASE_URL });
  database = await createDatabase('eddy_apimf');
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  await migrate(nodePostgres(pool));
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./fixtures/http-api-worker.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  mf = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]?.text ?? '',
    compatibilityDate: '2025-10-01',
    bindings: {
      DATABASE_URL: local.connectionString(new URL(database.url).pathname.slice(1)),
      NEON_CONFIG: { ...local.neonConfig },
      PRODUCER_KEY,
      WORKER_KEY,
    },
  });
});

afterAll(async () => {
  await mf?.dispose();
  await local?.close();
  await pool?.end();
  await database?.drop();
});

async function call(path: string, key: string, body?: unknown, method = 'POST') {
  const response = await mf.dispatchFetch(`http://worker.local${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: (text.startsWith('{') ? JSON.parse(text) : text) as any,
  };
}

describe('the REST API in a Worker (workerd, Neon HTTP)', () => {
  it('inserts, claims, fails, retries and completes a job, fenced by its token', async () => {
    const inserted = await call('/v1/jobs', PRODUCER_KEY, {
      kind: 'thumbnail',
      args: { big: 12345678901234567890n.toString(), n: 1 },
    });
    expect(inserted.status).toBe(201);
    const id = inserted.body.jobs[0].id as string;

    expect((await call('/v1/claims', PRODUCER_KEY, { kinds: ['thumbnail'] })).status).toBe(403);
    const first = await call('/v1/claims', WORKER_KEY, { kinds: ['thumbnail'], leaseMs: 30_000 });
    expect(first.body.jobs).toHaveLength(1);
    const claimed = first.body.jobs[0];
    expect(claimed).toMatchObject({ id, attempt: 1 });
    const failed = await call(`/v1/jobs/${id}/fail`, WORKER_KEY, {
      token: claimed.token,
      error: 'out of memory',
      retryAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect(failed.body).toMatchObject({ id, state: 'available' });

    const second = await call('/v1/claims', WORKER_KEY, { kinds: ['thumbnail'] });
    const again = second.body.jobs[0];
    expect(again).toMatchObject({ id, attempt: 2 });
    expect(again.errors).toEqual([expect.objectContaining({ attempt: 1, error: 'out of memory' })]);
    // The first attempt's token no longer fences anything.
    const late = await call(`/v1/jobs/${id}/complete`, WORKER_KEY, { token: claimed.token });
    expect(late.status).toBe(409);
    expect(late.type).toMatch(/^application\/problem\+json/);
    expect(late.body.state).toBe('running');
    const done = await call(`/v1/jobs/${id}/complete`, WORKER_KEY, {
      token: again.token,
      output: { pages: 3 },
    });
    expect(done.body.state).toBe('completed');

    const { rows } = await pool.query(
      'SELECT state::text AS state, attempt, metadata, errors FROM river_job WHERE id = $1',
      [id],
    );
    expect(rows[0]).toMatchObject({
      state: 'completed',
      attempt: 2,
      metadata: { output: { pages: 3 } },
    });
    expect(rows[0].errors).toHaveLength(1);
    // Read back through the API (the management API's routes, in workerd too).
    const read = await call(`/v1/jobs/${id}`, WORKER_KEY, undefined, 'GET');
    expect(read.body).toMatchObject({ id, state: 'completed', attempt: 2 });
    const listed = await call(
      '/v1/jobs?state=completed&kind=thumbnail&limit=10',
      WORKER_KEY,
      undefined,
      'GET',
    );
    expect(listed.body).toMatchObject({ jobs: [{ id }], nextCursor: null, truncated: false });

    const metrics = await call('/metrics', WORKER_KEY, undefined, 'GET');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^eddy_jobs\{queue="default",state="completed"\} 1$/m);
    expect((await call('/readyz', WORKER_KEY, undefined, 'GET')).body).toMatchObject({
      status: 'ready',
    });
  });

  it('serves its OpenAPI 3.1 document', async () => {
    const { status, body } = await call('/v1/openapi.json', '', undefined, 'GET');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/jobs',
        '/v1/claims',
        '/v1/jobs/{id}/complete',
        '/v1/jobs/{id}/lease',
      ]),
    );
  });
});
