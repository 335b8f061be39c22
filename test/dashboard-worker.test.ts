/**
 * The dashboard inside the example Worker (examples/worker/with-dashboard.ts: the example with the
 * dashboard at /admin), bundled as for a deploy and run in workerd through Miniflare, on the
 * unmodified Neon HTTP driver against the real PostgreSQL behind the local Neon endpoint: the
 * token from the Worker's secret, signing in, pages, a retry checked in the row, refusals.
 */

import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNeonLocal, type NeonLocal } from '../adapters/neon-local/index.js';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { bundleWorker } from '../examples/bundle-worker.js';
import { DASHBOARD_ENTRY } from '../examples/size.js';
import { ROOT, readWranglerConfig } from '../examples/wrangler-config.js';
import { migrate } from '../src/migrate.js';
import { ADMIN_TOKEN, csrfOf, DashboardClient, textOf } from './support/dashboard-client.js';
import { createDatabase, DATABASE_URL } from './support/postgres.js';

const config = readWranglerConfig();
let local: NeonLocal;
let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;
let mf: Miniflare;
let script: string;

function start(vars: Record<string, string>) {
  return new Miniflare({
    name: config.name,
    modules: true,
    script,
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    bindings: {
      DATABASE_URL: local.connectionString(new URL(database.url).pathname.slice(1)),
      NEON_FETCH_ENDPOINT: local.fetchEndpoint,
      TICK_SECRET: 'test-tick-secret-of-at-least-32-chars',
      ...vars,
    },
  });
}

/** A browser's request, as workerd receives it. */
const through = (worker: Miniflare) => async (request: Request) =>
  (await worker.dispatchFetch(request.url, {
    method: request.method,
    headers: Object.fromEntries(request.headers),
    body: request.method === 'GET' ? undefined : await request.text(),
    redirect: 'manual',
  })) as unknown as Response;

beforeAll(async () => {
  database = await createDatabase('eddy_dash_mf');
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  await migrate(nodePostgres(pool));
  local = await createNeonLocal({ databaseUrl: DATABASE_URL });
  script = (
    await bundleWorker(join(ROOT, DASHBOARD_ENTRY), {
      compatibilityFlags: config.compatibilityFlags,
    })
  ).code;
  mf = start({ ADMIN_TOKEN });
});

afterAll(async () => {
  await mf?.dispose();
  await local?.close();
  await pool?.end();
  await database?.drop();
});

describe('the dashboard in the example Worker (workerd, Neon HTTP)', () => {
  it('asks for the token, signs in, lists and retries a discarded job, and refuses a forged request', async () => {
    const { rows } = await pool.query(
      `INSERT INTO river_job (kind, args, state, attempt, max_attempts, finalized_at, errors)
       VALUES ('send_welcome_email', '{"email": "ada@example.com"}', 'discarded', 25, 25, now(),
         ARRAY['{"at": "2031-01-01T00:00:00Z", "attempt": 25, "error": "smtp timeout", "trace": "Error: smtp timeout\\n    at send (mail.ts:3)"}'::jsonb])
       RETURNING id`,
    );
    const id = rows[0].id as string;
    const client = new DashboardClient(through(mf));
    const anonymous = await client.get('/admin/jobs');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect((await client.get('/')).status).toBe(200); // the example's own routes are untouched

    expect((await client.signIn('/admin')).status).toBe(303);
    const list = await client.get('/admin/jobs?state=discarded');
    expect(list.status).toBe(200);
    expect(textOf(list.text)).toContain('send_welcome_email');
    const detail = await client.get(`/admin/jobs/${id}`);
    expect(textOf(detail.text)).toContain('at send (mail.ts:3)');

    const forged = await client.post(
      `/admin/jobs/${id}/retry`,
      { _csrf: csrfOf(detail.text), confirm: 'yes' },
      { origin: 'https://evil.example' },
    );
    expect(forged.status).toBe(403);
    const state = async () =>
      (await pool.query('SELECT state::text AS s FROM river_job WHERE id = $1', [id])).rows[0].s;
    expect(await state()).toBe('discarded');

    const retried = await client.post(`/admin/jobs/${id}/retry`, {
      _csrf: csrfOf(detail.text),
      confirm: 'yes',
      return: `/admin/jobs/${id}`,
    });
    expect(retried.status).toBe(303);
    expect(await state()).toBe('available');

    // The runner's schedules, passed to the dashboard: the periodic page knows the next slot.
    const periodic = textOf((await client.get('/admin/periodic')).text);
    expect(periodic).toContain('report_signups');
    expect(periodic).toMatch(/Next slot \d{4}-\d\d-\d\d \d\d:\d\d:00Z/);
  });

  it('answers 500 and shows nothing when ADMIN_TOKEN is not set', async () => {
    const bare = start({});
    try {
      const client = new DashboardClient(through(bare));
      const page = await client.get('/admin/');
      expect(page.status).toBe(500);
      expect(textOf(page.text)).toContain('misconfigured');
      const bearer = await client.get('/admin/jobs', { authorization: 'Bearer undefined' });
      expect(bearer.status).toBe(500);
    } finally {
      await bare.dispose();
    }
  });
});
