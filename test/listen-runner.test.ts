/**
 * Instant wakeups and control through LISTEN, over every driver that keeps a session: the Node
 * loop (eddy/node) starts a job the moment it is inserted (by Eddy, or as Go River inserts), a
 * cancel from another session aborts the job it runs, a pause and a resume act at once, and
 * after a dropped connection it listens again. Polling is slowed to 30 s so only a notification
 * can explain what happens; the latencies are printed.
 */

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoop } from '../adapters/node/index.js';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createClient } from '../src/client.js';
import { Database } from '../src/driver/database.js';
import { migrate } from '../src/migrate.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type OpenListenDriver, selectedListenSetups } from './support/listen-setups.js';
import { DATABASE_URL, uniqueName } from './support/postgres.js';
import { type RiverSchema, riverSchema } from './support/river.js';

/** Far longer than any bound below: a job started within a bound was woken, not polled. */
const POLL_MS = 30_000;
const BOUND_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - started;
}

for (const setup of selectedListenSetups()) {
  describe(`LISTEN in the Node loop: ${setup.name}`, () => {
    let river: RiverSchema | undefined;
    let open: OpenListenDriver;
    let schema: string;
    const appName = uniqueName('eddy_listen_runner');
    // The database as a second session sees it (a pg pool; for PGlite, the same instance).
    let sql: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
    const started = new Map<string, number>();
    let release: () => void = () => undefined;
    const aborted: string[] = [];
    let warnings: string[] = [];
    let loop: ReturnType<typeof startLoop>;

    beforeAll(async () => {
      open = await setup.open(DATABASE_URL, appName);
      if (setup.session === 'pglite') {
        schema = 'listen_runner';
        await open.driver.query(`CREATE SCHEMA ${schema}`);
        await migrate(open.driver, { schema });
        const db = new Database(open.driver);
        sql = async (text, params = []) => (await db.query(text, params as never[])).rows;
      } else {
        river = await riverSchema('lrun');
        schema = river.schema;
        const pool = river.pool;
        sql = async (text, params = []) => (await pool.query(text, params)).rows;
      }
      const runner = createRunner({
        driver: open.driver,
        schema,
        workers: [
          defineWorker('quick', (job) => void started.set(String(job.id), performance.now())),
          defineWorker('held', (job, ctx) => {
            started.set(String(job.id), performance.now());
            return new Promise<void>((resolve, reject) => {
              release = resolve;
              ctx.signal.addEventListener('abort', () => {
                aborted.push(String(job.id));
                reject(ctx.signal.reason);
              });
            });
          }),
        ],
      });
      loop = startLoop(runner, {
        pollIntervalMs: POLL_MS,
        handleSignals: false,
        logger: { warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
      });
      // The first (empty) tick is over and the loop sleeps; LISTEN is in effect by then.
      await sleep(1_000);
    });
    afterAll(async () => {
      release();
      await loop?.stop();
      await open?.close();
      await river?.close();
    });

    const client = () => createClient({ driver: open.driver, schema, notify: true });
    const startedWithin = async (id: bigint, from: number) => {
      await waitFor(`job ${id} to start`, () => started.has(String(id)), POLL_MS / 2);
      return (started.get(String(id)) as number) - from;
    };

    it('starts a job the moment Eddy inserts it, while the loop sleeps', async () => {
      const at = performance.now();
      const { job } = await client().insert('quick', {});
      const latency = await startedWithin(job.id, at);
      console.log(`${setup.name}: insert to start ${latency.toFixed(1)} ms`);
      expect(latency).toBeLessThan(BOUND_MS);
      await waitFor('completion', async () => {
        const [row] = await sql(
          `SELECT state::text AS state FROM ${schema}.river_job WHERE id = $1`,
          [String(job.id)],
        );
        return row?.state === 'completed';
      });
    });

    it('starts a job Go River inserts (its insert, then its notification payload)', async () => {
      const at = performance.now();
      const [row] = await sql(
        `WITH j AS (
           INSERT INTO ${schema}.river_job (args, kind, max_attempts, queue, state, scheduled_at)
           VALUES ('{}', 'quick', 25, 'default', 'available', now()) RETURNING id)
         SELECT j.id::text AS id, pg_notify('${schema}.river_insert', '{"queue": "default"}') FROM j`,
      );
      const latency = await startedWithin(BigInt(row?.id as string), at);
      console.log(`${setup.name}: Go-style insert to start ${latency.toFixed(1)} ms`);
      expect(latency).toBeLessThan(BOUND_MS);
    });

    it('aborts a running job at once when another session cancels it as River does', async () => {
      const { job } = await client().insert('held', {});
      await startedWithin(job.id, performance.now());
      // River's JobCancel for a running job: mark it, then tell its runner.
      await sql(
        `UPDATE ${schema}.river_job SET metadata = metadata || jsonb_build_object('cancel_attempted_at', now()) WHERE id = $1`,
        [String(job.id)],
      );
      await sql(`SELECT pg_notify($1, $2)`, [
        `${schema}.river_control`,
        JSON.stringify({ action: 'cancel', job_id: Number(job.id), queue: 'default' }),
      ]);
      const latency = await waitFor('the abort', () => aborted.includes(String(job.id)));
      console.log(`${setup.name}: cancel to abort ${latency.toFixed(1)} ms`);
      expect(latency).toBeLessThan(BOUND_MS);
      await waitFor('the cancelled row', async () => {
        const [row] = await sql(
          `SELECT state::text AS state FROM ${schema}.river_job WHERE id = $1`,
          [String(job.id)],
        );
        return row?.state === 'cancelled';
      });
      const [row] = await sql(
        `SELECT errors[cardinality(errors)]->>'error' AS error FROM ${schema}.river_job WHERE id = $1`,
        [String(job.id)],
      );
      expect(row?.error).toBe('JobCancelError: job cancelled remotely');
    });

    it('a pause stops claims at once, a resume starts them at once', async () => {
      // River's QueuePause and its notification.
      await sql(
        `INSERT INTO ${schema}.river_queue (name, created_at, metadata, paused_at, updated_at)
         VALUES ('default', now(), '{}', now(), now())
         ON CONFLICT (name) DO UPDATE SET paused_at = now(), updated_at = now()`,
      );
      await sql(`SELECT pg_notify($1, '{"action": "pause", "queue": "default"}')`, [
        `${schema}.river_control`,
      ]);
      const { job } = await client().insert('quick', {});
      await sleep(BOUND_MS);
      expect(started.has(String(job.id))).toBe(false);
      const at = performance.now();
      await sql(
        `UPDATE ${schema}.river_queue SET paused_at = NULL, updated_at = now() WHERE name = 'default'`,
      );
      await sql(`SELECT pg_notify($1, '{"action": "resume", "queue": "default"}')`, [
        `${schema}.river_control`,
      ]);
      const latency = await startedWithin(job.id, at);
      console.log(`${setup.name}: resume to start ${latency.toFixed(1)} ms`);
      expect(latency).toBeLessThan(BOUND_MS);
    });

    if (setup.session === 'pool' || setup.session === 'postgres-js') {
      it('listens again after its connection is dropped', async () => {
        warnings = [];
        const killed = await sql(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
           WHERE application_name = $1 AND query ILIKE 'LISTEN%'`,
          [appName],
        );
        expect(killed.length).toBeGreaterThan(0);
        // Reconnects within ~100 ms; give it room on a busy machine.
        await sleep(2_000);
        const at = performance.now();
        const { job } = await client().insert('quick', {});
        const latency = await startedWithin(job.id, at);
        console.log(`${setup.name}: insert to start after a reconnect ${latency.toFixed(1)} ms`);
        expect(latency).toBeLessThan(BOUND_MS);
        expect(warnings.some((w) => /LISTEN connection lost/.test(w))).toBe(true);
      });
    }
  });
}

describe('LISTEN in the Node loop without a schema', () => {
  it("listens where River and Eddy's inserts notify: the session's current schema", async () => {
    // A runner and a client that name no schema, on connections whose search path is one.
    const river = await riverSchema('lnos');
    const pool = new pg.Pool({
      connectionString: DATABASE_URL,
      options: `-c search_path=${river.schema}`,
      max: 4,
    });
    const started = new Map<string, number>();
    const driver = nodePostgres(pool);
    const runner = createRunner({
      driver,
      workers: [
        defineWorker('quick', (job) => void started.set(String(job.id), performance.now())),
      ],
    });
    const loop = startLoop(runner, { pollIntervalMs: POLL_MS, handleSignals: false });
    try {
      await sleep(1_000);
      const at = performance.now();
      const { job } = await createClient({ driver, notify: true }).insert('quick', {});
      await waitFor('the job to start', () => started.has(String(job.id)), POLL_MS / 2);
      const latency = (started.get(String(job.id)) as number) - at;
      console.log(`no schema: insert to start ${latency.toFixed(1)} ms`);
      expect(latency).toBeLessThan(BOUND_MS);
    } finally {
      await loop.stop();
      await pool.end();
      await river.close();
    }
  });
});
