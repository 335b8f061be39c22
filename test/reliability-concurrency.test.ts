/**
 * Reliability against the real PostgreSQL under concurrency: many tickers working one large
 * backlog at once, and concurrent inserts of the same unique jobs. Every test asserts what ended
 * up in the database.
 */

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createClient } from '../src/client.js';
import { createRunner, type TickStats } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { DATABASE_URL } from './support/postgres.js';
import { deploymentPool, lastOf, sleep, useReliabilitySchema } from './support/reliability.js';
import type { RiverSchema } from './support/river.js';

describe('tick runner reliability', () => {
  let river: RiverSchema;
  let schema: string;

  useReliabilitySchema('concurrency', (created) => {
    river = created;
    schema = created.schema;
  });

  it('8 tickers working 20,000 jobs at once execute every job exactly once', async () => {
    const total = 20_000;
    await river.pool.query(
      `CREATE TABLE ${schema}.executions (job_id bigint NOT NULL, runner text NOT NULL, token text NOT NULL)`,
    );
    const client = createClient({ driver: river.driver, schema });
    for (let from = 0; from < total; from += 5000) {
      await client.insertMany(
        Array.from({ length: 5000 }, (_, i) => ({ kind: 'once', args: { n: from + i } })),
      );
    }
    const tickers = Array.from({ length: 8 }, (_, i) => {
      const pool = deploymentPool(4);
      const id = `ticker-${i}`;
      const runner = createRunner({
        driver: nodePostgres(pool),
        schema,
        id,
        concurrency: 8,
        batchSize: 50,
        workers: [
          defineWorker('once', async (job) => {
            await pool.query(
              `INSERT INTO ${schema}.executions (job_id, runner, token) VALUES ($1, $2, $3)`,
              [String(job.id), id, lastOf(job.attemptedBy)],
            );
          }),
        ],
      });
      return { pool, runner, ticks: [] as TickStats[] };
    });
    const started = Date.now();
    try {
      await Promise.all(
        tickers.map(async ({ runner, ticks }) => {
          for (let round = 0; round < 5000 && Date.now() - started < 100_000; round++) {
            const stats = await runner.tick({ budgetMs: 10_000, maxJobs: 300 });
            ticks.push(stats);
            if (stats.claimed > 0) continue;
            const { rows } = await river.pool.query(
              `SELECT count(*)::int AS n FROM ${schema}.river_job WHERE state = 'available'`,
            );
            if (rows[0].n === 0) break;
          }
        }),
      );
    } finally {
      await Promise.all(tickers.map(({ pool }) => pool.end()));
    }

    const states = await river.pool.query(
      `SELECT state::text AS state, count(*)::int AS n FROM ${schema}.river_job GROUP BY 1`,
    );
    expect(states.rows).toEqual([{ state: 'completed', n: total }]);
    const executions = await river.pool.query(
      `SELECT count(*)::int AS runs, count(DISTINCT job_id)::int AS jobs,
         count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM ${schema}.river_job j
           WHERE j.id = e.job_id AND j.attempted_by = ARRAY[e.token]
             AND split_part(e.token, ':', 4) = e.runner))::int AS foreign
       FROM ${schema}.executions e`,
    );
    // Each job ran once, by the runner whose claim token the job carries, on its first attempt.
    expect(executions.rows[0]).toEqual({ runs: total, jobs: total, foreign: 0 });
    const attempts = await river.pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.river_job WHERE attempt <> 1 OR errors IS NOT NULL`,
    );
    expect(attempts.rows[0].n).toBe(0);

    const all = tickers.flatMap(({ ticks }) => ticks);
    expect(all.flatMap((s) => s.errors)).toEqual([]);
    const sum = (key: 'claimed' | 'completed' | 'stale') => all.reduce((n, s) => n + s[key], 0);
    expect({ claimed: sum('claimed'), completed: sum('completed'), stale: sum('stale') }).toEqual({
      claimed: total,
      completed: total,
      stale: 0,
    });
    // Every ticker took part.
    for (const { ticks } of tickers) expect(ticks.some((s) => s.completed > 0)).toBe(true);
    console.info(`20,000 jobs over 8 tickers in ${Date.now() - started} ms, ${all.length} ticks`);
  }, 120_000);

  it('concurrent inserts of the same unique jobs in different orders do not deadlock', async () => {
    // The interleaving that deadlocked when rows went in input order: the first insert holds `a`
    // and waits for `c` (held by an open transaction); the second holds `b` and waits for `a`;
    // once `c` is released the first would wait for `b`.
    const app = `eddy-insert-order-${process.pid}`;
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2, application_name: app });
    const client = createClient({ driver: nodePostgres(pool), schema });
    const job = (name: string) => ({
      kind: 'uniq',
      args: { name },
      options: { unique: { byArgs: true } },
    });
    const waiting = async (n: number) => {
      for (let i = 0; i < 300; i++) {
        const { rows } = await river.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [app],
        );
        if (rows[0].n >= n) return;
        await sleep(10);
      }
    };
    const holder = await river.pool.connect();
    try {
      await holder.query('BEGIN');
      await client.with(nodePostgres(holder, { inTransaction: true })).insertMany([job('c')]);
      const first = client.insertMany([job('a'), job('c'), job('b')]);
      await waiting(1);
      const second = client.insertMany([job('b'), job('a')]);
      await sleep(100);
      await holder.query('COMMIT');
      const [one, two] = await Promise.all([first, second]);
      const names = (results: typeof one) =>
        results.map((r) => (r.job.args as { name: string }).name);
      expect(names(one)).toEqual(['a', 'c', 'b']);
      expect(names(two)).toEqual(['b', 'a']);
      const rows = await river.jobs(`kind = 'uniq'`);
      expect(rows.map((r) => r.args.name).sort()).toEqual(['a', 'b', 'c']);
      const idOf = new Map(rows.map((r) => [r.args.name, String(r.id)]));
      for (const r of [...one, ...two]) {
        expect(String(r.job.id)).toBe(idOf.get((r.job.args as { name: string }).name));
      }
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
      await pool.end();
    }
  });
});
