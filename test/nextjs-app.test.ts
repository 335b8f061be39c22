/**
 * The example Next.js app (examples/nextjs) as a user runs it: the real `next build` (Turbopack)
 * with no database and no tick secrets in the environment, then `next start` on a free loopback
 * port against a fresh database behind the local Neon endpoint, and its routes over HTTP:
 *
 * - POST /api/orders (Edge runtime, Neon HTTP): the order and its job in one transaction;
 * - POST /api/orders-pool (Node runtime, Neon WebSocket Pool): the same, interactively;
 * - GET and POST /api/eddy/tick (`createTickRoute`): 401 and no tick without the secret, a tick
 *   that works the jobs with it, and a signed kick from `createKick`;
 * - /admin (`createDashboard` in an optional catch-all route): 401 and the login form without the
 *   token, signing in, the jobs page, a cancel checked in the row.
 *
 * One build per run (about a minute on two cores); nothing reaches the network.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createKick } from '../src/http/kick.js';
import { migrate } from '../src/migrate.js';
import { ADMIN_TOKEN, csrfOf, DashboardClient, textOf } from './support/dashboard-client.js';
import { type StartedNeonLocal, startNeonLocal } from './support/neon-local.js';
import {
  copyApp,
  ensureEddyBuilt,
  nextBuild,
  nextEnv,
  nextStart,
  type Run,
  type StartedNext,
} from './support/next-app.js';
import { createDatabase } from './support/postgres.js';

const CRON_SECRET = 'cron-secret-for-the-nextjs-example-0123456789';
const SIGNING_SECRET = 'signing-secret-for-the-nextjs-example-0123456789';

describe('the example Next.js app under next build and next start', () => {
  let app: ReturnType<typeof copyApp>;
  let build: Run;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let endpoint: StartedNeonLocal;
  let pool: pg.Pool;
  let server: StartedNext | undefined;

  const jobs = async () =>
    (
      await pool.query(
        `SELECT id::text AS id, kind, queue, state::text AS state, args, attempt, xmin::text AS xmin
           FROM river_job ORDER BY id`,
      )
    ).rows;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server?.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    // The build first, with none of the app's variables: no DATABASE_URL, no secrets.
    await ensureEddyBuilt();
    app = copyApp();
    build = await nextBuild(app.dir, nextEnv());
    if (build.code !== 0) return;

    database = await createDatabase('eddy_next');
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    await migrate(nodePostgres(pool));
    await pool.query(readFileSync(join(app.dir, 'schema.sql'), 'utf8'));
    endpoint = await startNeonLocal({ databaseUrl: database.url });
    server = await nextStart(
      app.dir,
      nextEnv({
        DATABASE_URL: endpoint.neonUrl(),
        NEON_CONFIG: JSON.stringify(endpoint.local.neonConfig),
        CRON_SECRET,
        EDDY_SIGNING_SECRET: SIGNING_SECRET,
        EDDY_ADMIN_TOKEN: ADMIN_TOKEN,
      }),
    );
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    await pool?.end();
    await endpoint?.close();
    await database?.drop();
    app?.remove();
  }, 30_000);

  it('builds with no database and no tick secrets set, the orders route on the Edge runtime', () => {
    expect(build.code, build.output).toBe(0);
    for (const route of ['/api/orders', '/api/orders-pool', '/api/eddy/tick']) {
      expect(build.output).toMatch(new RegExp(`ƒ ${route}\\n`));
    }
    expect(build.output).toContain('ƒ /admin/[[...path]]\n');
    const manifest = JSON.parse(
      readFileSync(join(app.dir, '.next', 'server', 'middleware-manifest.json'), 'utf8'),
    );
    expect(Object.keys(manifest.functions)).toEqual(['/api/orders/route']);
  });

  it('POST /api/orders (Edge, Neon HTTP) commits the order and its job in one transaction', async () => {
    const response = await post('/api/orders', { email: 'ada@example.com', total: 12.5 });
    expect(response.status, server?.output()).toBe(201);
    const { orderId, jobId } = await response.json();
    expect(orderId).toMatch(/^[0-9a-f-]{36}$/);
    const order = await pool.query(
      'SELECT email, total::float8 AS total, xmin::text FROM orders WHERE id = $1',
      [orderId],
    );
    expect(order.rows).toEqual([
      { email: 'ada@example.com', total: 12.5, xmin: expect.any(String) },
    ]);
    const [job] = (await jobs()).filter((j) => j.id === jobId);
    expect(job).toMatchObject({
      kind: 'send_order_confirmation',
      queue: 'email',
      state: 'available',
      args: { orderId, email: 'ada@example.com' },
    });
    // The same transaction wrote both rows.
    expect(job?.xmin).toBe(order.rows[0].xmin);
  });

  it('POST /api/orders refuses bad input with 400 and writes nothing', async () => {
    const before = await jobs();
    const response = await post('/api/orders', { email: 'not an address', total: -1 });
    expect(response.status).toBe(400);
    expect(await jobs()).toEqual(before);
  });

  it('POST /api/orders-pool (Node, Neon WebSocket Pool) commits the order and its job together', async () => {
    const response = await post('/api/orders-pool', { email: 'grace@example.com', total: 3 });
    expect(response.status, server?.output()).toBe(201);
    const { orderId, jobId } = await response.json();
    const order = await pool.query('SELECT xmin::text FROM orders WHERE id = $1', [orderId]);
    const [job] = (await jobs()).filter((j) => j.id === jobId);
    expect(job).toMatchObject({
      state: 'available',
      args: { orderId, email: 'grace@example.com' },
    });
    expect(job?.xmin).toBe(order.rows[0]?.xmin);
  });

  it.each([
    ['GET with no credentials', 'GET', {}],
    [
      'GET with a wrong secret',
      'GET',
      { authorization: 'Bearer not-the-cron-secret-0123456789abcdef' },
    ],
    ['POST with no credentials', 'POST', {}],
  ])('/api/eddy/tick answers 401 and runs no tick: %s', async (_, method, headers) => {
    const before = await jobs();
    expect(before.length).toBeGreaterThan(0);
    const response = await fetch(`${server?.url}/api/eddy/tick`, { method, headers });
    expect(response.status).toBe(401);
    const after = await jobs();
    expect(after).toEqual(before);
    expect(after.every((j) => j.state === 'available' && j.attempt === 0)).toBe(true);
  });

  it('GET /api/eddy/tick with the cron secret works the jobs and answers with the stats', async () => {
    const response = await fetch(`${server?.url}/api/eddy/tick`, {
      headers: { authorization: `Bearer ${CRON_SECRET}` },
    });
    expect(response.status, server?.output()).toBe(200);
    const stats = await response.json();
    expect(stats).toMatchObject({ claimed: 2, completed: 2, errors: [] });
    expect((await jobs()).map((j) => j.state)).toEqual(['completed', 'completed']);
    expect(server?.output()).toMatch(/confirmation sent to ada@example\.com/);
  });

  it('a signed kick from createKick starts a tick that works a new order’s job', async () => {
    const response = await post('/api/orders', { email: 'linus@example.com', total: 7 });
    expect(response.status).toBe(201);
    const { jobId } = await response.json();
    const kick = createKick({ url: `${server?.url}/api/eddy/tick`, secret: SIGNING_SECRET });
    await kick();
    const deadline = Date.now() + 20_000;
    let state: string | undefined;
    while (Date.now() < deadline) {
      state = (await jobs()).find((j) => j.id === jobId)?.state;
      if (state === 'completed') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(state, server?.output()).toBe('completed');
  });

  it('serves the dashboard at /admin: the login form, then the jobs, and a cancel checked in the row', async () => {
    const response = await post('/api/orders', { email: 'dash@example.com', total: 1 });
    const { jobId } = await response.json();
    const origin = server?.url ?? '';
    const client = new DashboardClient((request) => fetch(request.url, request), origin);
    const login = await client.get('/admin');
    expect(login.status, server?.output()).toBe(401);
    expect(login.text).toContain('Admin token');
    expect((await client.signIn('/admin')).status).toBe(303);
    const list = await client.get('/admin/jobs?state=available');
    expect(list.status).toBe(200);
    expect(textOf(list.text)).toContain('send_order_confirmation');
    const cancelled = await client.post(`/admin/jobs/${jobId}/cancel`, {
      _csrf: csrfOf(list.text),
      confirm: 'yes',
    });
    expect(cancelled.status).toBe(303);
    expect((await jobs()).find((j) => j.id === jobId)?.state).toBe('cancelled');
  });
});
