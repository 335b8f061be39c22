/**
 * Reliability of the tick runner against the real PostgreSQL: many tickers at once, tickers
 * killed mid-batch, overlapping periodic enqueues, connections cut mid-statement, and workers
 * that misbehave. Every test asserts what ended up in the database.
 */

import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createClient } from '../src/client.js';
import { createRunner, type TickStats } from '../src/runner.js';
import { defineWorker } from '../src/worker.js';
import { DATABASE_URL } from './support/postgres.js';
import { type RiverSchema, riverSchema } from './support/river.js';
import {
  buildTickerBundle,
  type ChildRun,
  executionsTable,
  type KillPoint,
  runTickerChild,
} from './support/ticker-child.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The lease end (epoch ms) carried in an Eddy claim token `eddy:<lease>:<nonce>:<runner>`. */
const leaseOf = (token: string) => Number(token.split(':')[1]);
const runnerOf = (token: string) => token.split(':').slice(3).join(':');
const lastOf = <T>(list: readonly T[]) => list[list.length - 1] as T;

/** A pg Pool of its own, as a separate deployment would have; commits need not wait for fsync. */
function deploymentPool(max: number, url = DATABASE_URL): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, options: '-c synchronous_commit=off' });
  pool.on('error', () => undefined); // idle connections cut by a test
  return pool;
}

describe('tick runner reliability', () => {
  let river: RiverSchema;
  let schema: string;

  beforeAll(async () => {
    river = await riverSchema('rel');
    schema = river.schema;
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(
      `DELETE FROM ${schema}.river_job; DELETE FROM ${schema}.river_queue;
       DROP TABLE IF EXISTS ${schema}.executions`,
    );
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
    const sum = (key: 'claimed' | 'completed' | 'stale') =>
      all.reduce((n, s) => n + s[key], 0);
    expect({ claimed: sum('claimed'), completed: sum('completed'), stale: sum('stale') }).toEqual({
      claimed: total,
      completed: total,
      stale: 0,
    });
    // Every ticker took part.
    for (const { ticks } of tickers) expect(ticks.some((s) => s.completed > 0)).toBe(true);
    console.info(`20,000 jobs over 8 tickers in ${Date.now() - started} ms, ${all.length} ticks`);
  });

  it('loses nothing and applies no stale result when tickers are killed (SIGKILL) mid-batch, 50 trials', async () => {
    await river.pool.query(executionsTable(schema));
    const bundle = await buildTickerBundle();
    const client = createClient({ driver: river.driver, schema });
    // Each trial aims at one step of the tick, plus a random delay.
    const aims: KillPoint[] = [
      { step: 'ready', jitterMs: 150 },
      { step: 'claim', jitterMs: 3 },
      { step: 'claimed', jitterMs: 3 },
      { step: 'started', jitterMs: 30 },
      { step: 'executed', jitterMs: 10 },
      { step: 'record', jitterMs: 3 },
      { step: 'recorded', jitterMs: 3 },
    ];
    const trials = 50;
    const runs: { aim: KillPoint; run: ChildRun }[] = [];
    const started = Date.now();
    try {
      for (let trial = 0; trial < trials; trial++) {
        await client.insertMany(
          Array.from({ length: 5 }, () => ({
            kind: 'kill_trial',
            args: { ms: 5 + Math.round(Math.random() * 35) },
          })),
        );
        const aim = aims[trial % aims.length] as KillPoint;
        const run = await runTickerChild(
          bundle,
          {
            url: DATABASE_URL,
            schema,
            runnerId: `killed-${trial}`,
            softMs: 500,
            hardMs: 700,
            leaseMarginMs: 200,
            concurrency: 3,
            maxJobs: 8,
          },
          aim,
        );
        expect(run.stderr).toBe('');
        runs.push({ aim, run });
      }
    } finally {
      await bundle.remove();
    }
    const trialsMs = Date.now() - started;

    // After the last lease has passed, ticks in this process finish everything. Retry backoff is
    // skipped by moving retryable jobs' scheduled_at to now (as if the time had passed).
    const recovery = createRunner({
      driver: river.driver,
      schema,
      id: 'recovery',
      workers: [
        defineWorker('kill_trial', async (job) => {
          const token = lastOf(job.attemptedBy);
          await river.pool.query(
            `INSERT INTO ${schema}.executions (job_id, token) VALUES ($1, $2)`,
            [String(job.id), token],
          );
          await sleep(Number((job.args as { ms: number }).ms));
          await river.pool.query(
            `UPDATE ${schema}.executions SET finished_at = clock_timestamp() WHERE job_id = $1 AND token = $2`,
            [String(job.id), token],
          );
        }),
      ],
      concurrency: 20,
    });
    for (let round = 0; round < 50; round++) {
      const { rows } = await river.pool.query(
        `SELECT count(*)::int AS left,
           max(split_part(attempted_by[cardinality(attempted_by)], ':', 2)::int8)
             FILTER (WHERE state = 'running') AS lease
         FROM ${schema}.river_job WHERE state <> 'completed'`,
      );
      if (rows[0].left === 0) break;
      const wait = Number(rows[0].lease ?? 0) - Date.now();
      if (wait > 0) await sleep(wait + 20);
      await river.pool.query(
        `UPDATE ${schema}.river_job SET scheduled_at = now() WHERE state = 'retryable'`,
      );
      const stats = await recovery.tick({ budgetMs: 10_000 });
      expect(stats.errors).toEqual([]);
    }

    const jobs = await river.jobs();
    expect(jobs).toHaveLength(trials * 5);
    const { rows: executions } = await river.pool.query(
      `SELECT job_id::text AS job_id, token, started_at, finished_at FROM ${schema}.executions
       ORDER BY started_at`,
    );
    let rescued = 0;
    let staleSideEffects = 0;
    for (const job of jobs) {
      const where = `job ${job.id} (${JSON.stringify(job.attempted_by)})`;
      expect(job.state, where).toBe('completed');
      // No snooze or release happened, so attempt n is the n-th claim token.
      expect(job.attempted_by, where).toHaveLength(job.attempt);
      const errors = (job.errors ?? []) as { attempt: number; error: string }[];
      // Every attempt but the last was rescued after its lease, naming its runner.
      expect(errors, where).toHaveLength(job.attempt - 1);
      errors.forEach((error, i) => {
        expect(error.attempt).toBe(i + 1);
        expect(error.error).toBe(
          `lease expired: the invocation running this attempt (${runnerOf(job.attempted_by[i])}) ended without recording a result; rescued`,
        );
      });
      if (job.attempt > 1) rescued++;
      const runsOfJob = executions.filter((e) => e.job_id === String(job.id));
      const last = lastOf(job.attempted_by as string[]);
      // The attempt that completed the job ran to its end.
      expect(
        runsOfJob.some((e) => e.token === last && e.finished_at !== null),
        where,
      ).toBe(true);
      runsOfJob.forEach((run, i) => {
        expect(job.attempted_by, where).toContain(run.token);
        // A run ends within its own lease, and the next starts only after that lease.
        if (run.finished_at) expect(run.finished_at.getTime()).toBeLessThan(leaseOf(run.token));
        const next = runsOfJob[i + 1];
        if (next) expect(next.started_at.getTime()).toBeGreaterThanOrEqual(leaseOf(run.token));
        // A killed run that did its work but never recorded it: the later attempt completed it.
        if (run.token !== last && run.finished_at) staleSideEffects++;
      });
    }
    const killedAt = (step: string) =>
      runs.filter(({ aim, run }) => aim.step === step && run.killed).length;
    const summary = Object.fromEntries(aims.map((a) => [a.step, killedAt(a.step)]));
    console.info(
      `kill trials in ${trialsMs} ms; killed per aimed step ${JSON.stringify(summary)}; ${rescued} jobs rescued, ${staleSideEffects} finished runs never recorded`,
    );
    expect(runs.filter(({ run }) => run.killed).length).toBeGreaterThan(trials / 2);
    expect(rescued).toBeGreaterThan(0);
  });
});

