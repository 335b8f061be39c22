/**
 * The example Worker (wrangler.toml, examples/worker/) under the real `wrangler dev --local
 * --test-scheduled`, as a developer runs it: vars in a `.dev.vars` file (NEON_CONFIG as the JSON
 * string `eddy neon-local` gives), the unmodified Neon HTTP driver in workerd, and a fresh
 * database behind the local Neon endpoint. No account and no network: loopback only, metrics
 * and update checks off.
 *
 * `/__scheduled` fires the cron (a tick that enqueues and works the periodic job), `POST /tick`
 * answers 401 without the secret and runs no tick, runs one with it, and `POST /signup` commits
 * the user and their jobs together, then kicks a tick that works them.
 */

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { CREATE_USERS_TABLE } from '../examples/worker/users.js';
import { createClient } from '../src/client.js';
import { migrate } from '../src/migrate.js';
import { type StartedNeonLocal, startNeonLocal } from './support/neon-local.js';
import { createDatabase } from './support/postgres.js';
import { startWranglerDev, type WranglerDev } from './support/wrangler-dev.js';

const TICK_SECRET = 'tick-secret-for-wrangler-dev-0123456789abcdef';

describe('the example Worker under wrangler dev --local', () => {
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let pool: pg.Pool;
  let endpoint: StartedNeonLocal;
  let worker: WranglerDev;

  const jobs = async (where = 'true', params: unknown[] = []) =>
    (
      await pool.query(
        `SELECT id::text AS id, kind, state::text AS state, attempt, args
           FROM river_job WHERE ${where} ORDER BY id`,
        params,
      )
    ).rows;
  /** Waits until `check` holds for the rows of `jobs(where)`, or 20 s have passed. */
  const waitForJobs = async (
    check: (rows: Record<string, any>[]) => boolean,
    where = 'true',
    params: unknown[] = [],
  ) => {
    const deadline = Date.now() + 20_000;
    let rows = await jobs(where, params);
    while (!check(rows) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      rows = await jobs(where, params);
    }
    return rows;
  };
  /** Waits until the Worker has printed something matching `pattern` (logs arrive late). */
  const waitForOutput = async (pattern: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(worker.output()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return worker.output();
  };
  const tick = (headers: Record<string, string> = {}) =>
    fetch(`${worker.url}/tick`, { method: 'POST', headers });

  beforeAll(async () => {
    database = await createDatabase('eddy_wrangler');
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    await migrate(nodePostgres(pool));
    await pool.query(CREATE_USERS_TABLE);
    endpoint = await startNeonLocal({ databaseUrl: database.url });
    worker = await startWranglerDev({
      DATABASE_URL: endpoint.neonUrl(),
      TICK_SECRET,
      // As `eddy neon-local` prints it; .dev.vars makes it a string, which the Worker parses.
      NEON_CONFIG: JSON.stringify(endpoint.local.neonConfig),
    });
  }, 150_000);

  afterAll(async () => {
    await worker?.stop();
    await pool?.end();
    await endpoint?.close();
    await database?.drop();
  }, 30_000);

  it('runs a tick for the cron trigger at /__scheduled: the periodic job is enqueued and worked', async () => {
    const response = await fetch(
      `${worker.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`,
    );
    expect(response.status, worker.output()).toBe(200);
    const rows = await waitForJobs((r) => r[0]?.state === 'completed', 'kind = $1', [
      'report_signups',
    ]);
    expect(
      rows.map((r) => r.state),
      worker.output(),
    ).toEqual(['completed']);
    const cronTick = /"message":"eddy tick","trigger":"\* \* \* \* \*"/;
    expect(await waitForOutput(cronTick)).toMatch(cronTick);
  });

  it('answers POST /tick without the secret, or with a wrong one, with 401 and runs no tick', async () => {
    const eddy = createClient({ driver: nodePostgres(pool) });
    const { job } = await eddy.insert('send_welcome_email', {
      userId: crypto.randomUUID(),
      email: 'waiting@example.com',
    });
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer wrong-secret-0123456789abcdef0123456789' },
    ]) {
      const response = await tick(headers);
      expect(response.status).toBe(401);
    }
    const [row] = await jobs('id = $1', [job.id.toString()]);
    expect(row).toMatchObject({ state: 'available', attempt: 0 });
  });

  it('runs a tick for POST /tick with the secret and answers with its stats', async () => {
    const response = await tick({ authorization: `Bearer ${TICK_SECRET}` });
    expect(response.status, worker.output()).toBe(200);
    // The welcome email, plus the periodic job's next slot if a minute turned since the cron
    // test: every claimed job is completed, and nothing failed.
    const stats = await response.json();
    expect(stats).toMatchObject({ errors: [], retried: 0, discarded: 0 });
    expect(stats.claimed).toBeGreaterThanOrEqual(1);
    expect(stats.completed).toBe(stats.claimed);
    const rows = await jobs('kind = $1', ['send_welcome_email']);
    expect(rows.map((r) => r.state)).toEqual(['completed']);
  });

  it('commits a signup and its jobs together at POST /signup, then a kicked tick works them', async () => {
    const response = await fetch(`${worker.url}/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com' }),
    });
    expect(response.status, worker.output()).toBe(201);
    const { userId } = await response.json();
    const user = await pool.query(
      'SELECT email, created_at::text AS created_at FROM demo_users WHERE id = $1',
      [userId],
    );
    expect(user.rows).toEqual([{ email: 'ada@example.com', created_at: expect.any(String) }]);
    const signupJobs = (
      await pool.query(
        "SELECT kind, created_at::text AS created_at FROM river_job WHERE args->>'userId' = $1 ORDER BY kind",
        [userId],
      )
    ).rows;
    expect(signupJobs.map((r) => r.kind)).toEqual([
      'await_email_verification',
      'send_welcome_email',
      'sync_crm_contact',
    ]);
    // One transaction wrote the user and the jobs: now() is its start time, in every row. (The
    // kicked tick may already have updated the jobs, so their xmin cannot tell.)
    for (const row of signupJobs) expect(row.created_at).toBe(user.rows[0].created_at);

    // The kick ran a tick in the same invocation: the welcome email is sent without a cron.
    const [welcome] = await waitForJobs(
      (r) => r[0]?.state === 'completed',
      "args->>'userId' = $1 AND kind = 'send_welcome_email'",
      [userId],
    );
    expect(welcome?.state, worker.output()).toBe('completed');
    const kickTick = /"message":"eddy tick","trigger":"kick"/;
    expect(await waitForOutput(kickTick)).toMatch(kickTick);
  });
});
