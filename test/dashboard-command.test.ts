/**
 * `eddy dashboard` as a user runs it (the CLI bundled as the published `dist/` loads it): refusing
 * to start without EDDY_ADMIN_TOKEN, serving PostgreSQL at --database-url behind the login form
 * and the bearer token, read-only, and unauthenticated only with --insecure-no-auth (then only
 * to loopback names); stopped by SIGTERM. And `eddy serve`'s /dashboard/ mount.
 */

import { request } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { migrate } from '../src/migrate.js';
import { ADMIN_TOKEN, csrfOf, DashboardClient, textOf } from './support/dashboard-client.js';
import { createDatabase } from './support/postgres.js';
import { bundleCli, runCli, type Served, startServe } from './support/serve-process.js';

let cli: { entry: string; remove: () => void };
let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;
const servers: Served[] = [];

beforeAll(async () => {
  cli = await bundleCli();
  database = await createDatabase('eddy_dash_cli');
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  await migrate(nodePostgres(pool));
});

afterAll(async () => {
  for (const served of servers) await served.stop();
  await pool?.end();
  await database?.drop();
  cli?.remove();
});

async function dashboard(args: string[], env: Record<string, string | undefined> = {}) {
  const served = await startServe(cli.entry, ['--database-url', database.url, ...args], {
    command: 'dashboard',
    env: { EDDY_ADMIN_TOKEN: ADMIN_TOKEN, DATABASE_URL: undefined, ...env },
  });
  servers.push(served);
  return served;
}

const over = (url: string) => (request: Request) => {
  const target = new URL(request.url);
  return fetch(`${url}${target.pathname}${target.search}`, request);
};

describe('eddy dashboard', () => {
  it('refuses to start without EDDY_ADMIN_TOKEN, or with a short one, saying what to set', async () => {
    const none = await runCli(cli.entry, ['dashboard', '--database-url', database.url], {
      env: { EDDY_ADMIN_TOKEN: undefined },
    });
    expect(none.code).toBe(1);
    expect(none.output).toMatch(
      /no admin token: set EDDY_ADMIN_TOKEN .* or pass --insecure-no-auth/,
    );
    const short = await runCli(cli.entry, ['dashboard', '--database-url', database.url], {
      env: { EDDY_ADMIN_TOKEN: 'short' },
    });
    expect(short.code).toBe(1);
    expect(short.output).toMatch(/EDDY_ADMIN_TOKEN must be at least 32 characters/);
    const noDatabase = await runCli(cli.entry, ['dashboard'], {
      env: { EDDY_ADMIN_TOKEN: ADMIN_TOKEN, DATABASE_URL: undefined },
    });
    expect(noDatabase.code).toBe(1);
    expect(noDatabase.output).toMatch(/pass --database-url URL or set DATABASE_URL/);
  });

  it('serves the database behind the login form and the bearer token, and retries a job', async () => {
    const { rows } = await pool.query(
      `INSERT INTO river_job (kind, args, state, attempt, max_attempts, finalized_at)
       VALUES ('cli_job', '{}', 'discarded', 3, 3, now()) RETURNING id`,
    );
    const id = rows[0].id as string;
    const served = await dashboard([]);
    expect(served.output()).toMatch(
      /serving PostgreSQL at \S+ on http:\/\/127\.0\.0\.1:\d+\n {2}dashboard {2}http:\/\/127\.0\.0\.1:\d+\/\n/,
    );
    const client = new DashboardClient(over(served.url), served.url);
    expect((await client.get('/jobs')).status).toBe(401);
    const bearer = await client.get(`/jobs/${id}`, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(bearer.status).toBe(200);
    expect(textOf(bearer.text)).toContain('cli_job');
    expect((await client.signIn('')).status).toBe(303);
    const page = await client.get(`/jobs/${id}`);
    const retried = await client.post(`/jobs/${id}/retry`, {
      _csrf: csrfOf(page.text),
      confirm: 'yes',
    });
    expect(retried.status).toBe(303);
    const row = await pool.query('SELECT state::text AS state FROM river_job WHERE id = $1', [id]);
    expect(row.rows[0].state).toBe('available');
    expect(await served.stop()).toBe(0);
    expect(served.output()).toMatch(/SIGTERM, stopping[\s\S]*stopped/);
  });

  it('with --read-only shows no action; with --insecure-no-auth asks for no login, says so, and answers only loopback names', async () => {
    const reader = await dashboard(['--read-only', '--base-path', '/ops']);
    const client = new DashboardClient(over(reader.url), reader.url);
    const page = await client.get('/ops/queues', { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(textOf(page.text)).toContain('Read-only');

    const open = await dashboard(['--insecure-no-auth'], { EDDY_ADMIN_TOKEN: undefined });
    expect(open.output()).toMatch(/WARNING {4}--insecure-no-auth: no authentication/);
    const anyone = new DashboardClient(over(open.url), open.url);
    const overview = await anyone.get('/');
    expect(overview.status).toBe(200);
    expect(textOf(overview.text)).toContain('No authentication (insecureNoAuth)');
    const port = new URL(open.url).port;
    // As a page on evil.example whose name now resolves to 127.0.0.1 would ask (fetch cannot
    // set Host; node:http can).
    const rebound = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/', headers: { host: `evil.example:${port}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(rebound).toBe(421);
    const both = await runCli(
      cli.entry,
      ['dashboard', '--database-url', database.url, '--insecure-no-auth'],
      {
        env: { EDDY_ADMIN_TOKEN: ADMIN_TOKEN },
      },
    );
    expect(both.code).toBe(1);
  });
});

describe('eddy serve, /dashboard/', () => {
  it('serves the dashboard at /dashboard/ with EDDY_ADMIN_TOKEN, and answers 404 without it', async () => {
    const withToken = await startServe(cli.entry, ['--database-url', database.url], {
      env: { EDDY_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    servers.push(withToken);
    expect(withToken.output()).toMatch(/dashboard {2}http:\/\/127\.0\.0\.1:\d+\/dashboard\//);
    const client = new DashboardClient(over(withToken.url), withToken.url);
    const login = await client.get('/dashboard/');
    expect(login.status).toBe(401);
    expect(login.text).toContain('Admin token');
    expect((await client.signIn('/dashboard')).status).toBe(303);
    expect((await client.get('/dashboard/queues')).status).toBe(200);

    const without = await startServe(cli.entry, ['--database-url', database.url], {
      env: { EDDY_ADMIN_TOKEN: undefined },
    });
    servers.push(without);
    const off = await fetch(`${without.url}/dashboard/`);
    expect(off.status).toBe(404);
    expect(await off.json()).toMatchObject({ title: 'The dashboard is off' });
  });
});
