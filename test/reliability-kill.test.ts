/**
 * Reliability of the tick runner against the real PostgreSQL when tickers in their own processes
 * are killed (SIGKILL) at chosen steps of a batch. Every test asserts what ended up in the
 * database.
 */

import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { DATABASE_URL } from './support/postgres.js';
import { lastOf, leaseOf, runnerOf, sleep, useReliabilitySchema } from './support/reliability.js';
import type { RiverSchema } from './support/river.js';
import {
  buildTickerBundle,
  type ChildRun,
  executionsTable,
  type KillPoint,
  runTickerChild,
} from './support/ticker-child.js';

describe('tick runner reliability', () => {
  let river: RiverSchema;
  let schema: string;

  useReliabilitySchema('kill', (created) => {
    river = created;
    schema = created.schema;
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
      runs.filter(({ aim, run }) => aim.step === step && run.signalled).length;
    const summary = Object.fromEntries(aims.map((a) => [a.step, killedAt(a.step)]));
    console.info(
      `kill trials in ${trialsMs} ms; killed per aimed step ${JSON.stringify(summary)}; ${rescued} jobs rescued, ${staleSideEffects} finished runs never recorded`,
    );
    expect(runs.filter(({ run }) => run.signalled).length).toBeGreaterThan(trials / 2);
    expect(rescued).toBeGreaterThan(0);
  }, 120_000);
});
