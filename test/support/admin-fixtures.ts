/**
 * Shared pieces of the management API's tests: jobs seeded in any state in one statement, and
 * River's control notifications captured from another session (a pg client on the real
 * PostgreSQL; PGlite's own listener for its in-process database).
 */

import pg from 'pg';
import { Database } from '../../src/driver/database.js';
import type { Driver } from '../../src/driver/driver.js';
import { DATABASE_URL } from './postgres.js';

export interface SeedJob {
  state?: string;
  kind?: string;
  queue?: string;
  priority?: number;
  attempt?: number;
  max_attempts?: number;
  args?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  tags?: string[];
  created_at?: string;
  scheduled_at?: string;
  finalized_at?: string;
  errors?: unknown[];
}

const FINALIZED = ['cancelled', 'completed', 'discarded'];

/** Inserts the jobs in one statement; returns their ids in input order. */
export async function seedJobs(db: Database, schema: string, jobs: SeedJob[]): Promise<bigint[]> {
  const rows = jobs.map((job) => ({
    ...job,
    finalized_at:
      job.finalized_at ??
      (FINALIZED.includes(job.state ?? 'available') ? new Date().toISOString() : null),
    attempted_at: ['running', 'retryable', ...FINALIZED].includes(job.state ?? '')
      ? new Date().toISOString()
      : null,
    errors: job.errors?.map((e) => JSON.stringify(e)) ?? null,
  }));
  const { rows: inserted } = await db.query(
    `INSERT INTO ${schema}.river_job (state, kind, queue, priority, attempt, max_attempts, args,
       metadata, tags, created_at, scheduled_at, finalized_at, attempted_at, errors)
     SELECT coalesce(r.state, 'available')::${schema}.river_job_state, coalesce(r.kind, 'seeded'),
       coalesce(r.queue, 'default'), coalesce(r.priority, 1), coalesce(r.attempt, 0),
       coalesce(r.max_attempts, 25), coalesce(r.args, '{}'), coalesce(r.metadata, '{}'),
       coalesce(r.tags, '{}'), coalesce(r.created_at, now()), coalesce(r.scheduled_at, now()),
       r.finalized_at, r.attempted_at,
       (SELECT array_agg(e::jsonb) FROM unnest(r.errors) AS e)
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, ord),
       LATERAL jsonb_to_record(e.doc) AS r(state text, kind text, queue text, priority int,
         attempt int, max_attempts int, args jsonb, metadata jsonb, tags varchar[],
         created_at timestamptz, scheduled_at timestamptz, finalized_at timestamptz,
         attempted_at timestamptz, errors text[])
     ORDER BY e.ord
     RETURNING id`,
    [
      // Integers beyond 2^53 as their digits, as JSON has them.
      JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? `\u0000big:${v}` : v)).replace(
        /"\\u0000big:(-?\d+)"/g,
        '$1',
      ),
    ],
  );
  return inserted.map((row) => row.id as bigint).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Notifications on one channel, as another session receives them. */
export interface Captured {
  payloads: string[];
  /** Resolves once `count` have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<string[]>;
  /** Waits a moment, then returns what arrived (for asserting that nothing did). */
  settle(ms?: number): Promise<string[]>;
  close(): Promise<void>;
}

export async function captureNotifications(
  channel: string,
  pgliteDriver?: Driver,
): Promise<Captured> {
  const payloads: string[] = [];
  let close: () => Promise<void>;
  if (pgliteDriver?.listen) {
    const listener = await pgliteDriver.listen([channel], {
      onNotification: (n) => void payloads.push(n.payload),
    });
    close = () => listener.close();
  } else {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    client.on('notification', (n) => {
      if (n.channel === channel) payloads.push(n.payload ?? '');
    });
    await client.query(`LISTEN "${channel}"`);
    close = () => client.end();
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  return {
    payloads,
    async waitFor(count, timeoutMs = 5_000) {
      const until = Date.now() + timeoutMs;
      while (payloads.length < count) {
        if (Date.now() > until)
          throw new Error(`expected ${count} notifications on ${channel}, got ${payloads.length}`);
        await sleep(10);
      }
      return [...payloads];
    },
    async settle(ms = 300) {
      await sleep(ms);
      return [...payloads];
    },
    close: () => close(),
  };
}

/** What PostgreSQL's json_build_object prints for River's cancel notification. */
export async function riverCancelPayload(db: Database, id: bigint, queue: string) {
  const { rows } = await db.query(
    `SELECT json_build_object('action', 'cancel', 'job_id', $1::int8, 'queue', $2::text)::text AS p`,
    [id, queue],
  );
  return rows[0]?.p as string;
}

/**
 * Seeds `count` jobs in one server-side statement, shaped like a busy table: 90 % completed over
 * the last 24 hours (completed jobs live 24 h by default), the rest spread over the other states
 * (4 % available, 2 % scheduled, 1 % retryable, 1 % discarded, 1 % cancelled, 0.5 % running,
 * 0.5 % pending); 8 queues, 20 kinds, 1 % tagged `vip`, args with a user id.
 */
export async function seedManyJobs(pool: pg.Pool, schema: string, count: number): Promise<void> {
  await pool.query(
    `INSERT INTO ${schema}.river_job (state, attempt, max_attempts, attempted_at, created_at, finalized_at,
       scheduled_at, priority, args, attempted_by, kind, metadata, queue, tags)
     SELECT st, CASE WHEN st IN ('available', 'scheduled', 'pending') THEN 0 ELSE 1 END, 25,
       CASE WHEN st IN ('available', 'scheduled', 'pending') THEN NULL ELSE created + interval '1 second' END,
       created,
       CASE WHEN st IN ('completed', 'cancelled', 'discarded') THEN created + interval '2 seconds' END,
       CASE WHEN st = 'scheduled' THEN now() + (i % 3600) * interval '1 second' ELSE created END,
       1 + (i % 4),
       jsonb_build_object('user_id', i % 50000, 'email', 'user' || (i % 50000) || '@example.com'),
       CASE WHEN st IN ('available', 'scheduled', 'pending') THEN NULL ELSE ARRAY['host-1'] END,
       'kind_' || (i % 20), '{}'::jsonb, 'queue_' || (i % 8),
       CASE WHEN i % 100 = 0 THEN ARRAY['vip'] ELSE ARRAY['std'] END::varchar(255)[]
     FROM (
       SELECT i, now() - interval '24 hours' + i * (interval '24 hours' / $1::int) AS created,
         (CASE WHEN i % 1000 < 900 THEN 'completed' WHEN i % 1000 < 940 THEN 'available'
           WHEN i % 1000 < 960 THEN 'scheduled' WHEN i % 1000 < 970 THEN 'retryable'
           WHEN i % 1000 < 975 THEN 'running' WHEN i % 1000 < 985 THEN 'discarded'
           WHEN i % 1000 < 995 THEN 'cancelled' ELSE 'pending' END)::${schema}.river_job_state AS st
       FROM generate_series(1, $1::int) AS i
     ) s`,
    [count],
  );
}

export { Database };
