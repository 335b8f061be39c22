/**
 * The parity kinds: workers that do the same in Go (go/work.go) and in Eddy (here), so that the
 * rows Go River leaves and the rows Eddy leaves can be compared field by field.
 *
 * - `parity`: completes with output `{ n }`;
 * - `parity_fail`: fails its first attempt ("parity failed attempt 1"), then completes;
 * - `parity_snooze`: snoozes once for 1 s, then completes;
 * - `parity_cancel`: cancels itself ("parity cancelled").
 */

import type pg from 'pg';
import { JobCancel, JobSnooze } from '../../../src/job-outcome.js';
import type { Runner } from '../../../src/runner/runner.js';
import { defineWorker } from '../../../src/worker.js';
import { sleep } from './interop.js';

type ParityArgs = { n: number };

export const parityWorkers = [
  defineWorker('parity', async (job) => ({ n: (job.args as ParityArgs).n })),
  defineWorker('parity_fail', async (job) => {
    if (job.attempt === 1) throw new Error('parity failed attempt 1');
    return { n: (job.args as ParityArgs).n };
  }),
  defineWorker('parity_snooze', async (job) => {
    if (job.metadata.snoozes === undefined) throw new JobSnooze(1000);
    return { n: (job.args as ParityArgs).n };
  }),
  defineWorker('parity_cancel', async () => {
    throw new JobCancel('parity cancelled');
  }),
];

/** Jobs still to be worked: anything due (or due within 10 minutes) and not finalized. */
export async function unsettled(pool: pg.Pool, schema: string): Promise<number> {
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n FROM ${schema}.river_job
     WHERE state IN ('available', 'running', 'retryable')
        OR (state = 'scheduled' AND scheduled_at < now() + interval '10 minutes')`,
  );
  return rows[0].n;
}

/** Ticks until nothing due is left unsettled (30 s at most). */
export async function tickUntilSettled(runner: Runner, pool: pg.Pool, schema: string) {
  const deadline = Date.now() + 30_000;
  while ((await unsettled(pool, schema)) > 0) {
    if (Date.now() > deadline) throw new Error(`jobs in ${schema} did not settle within 30 s`);
    const stats = await runner.tick({ budgetMs: 3000 });
    if (stats.claimed === 0) await sleep(200);
  }
}

/** A row as both languages should leave it: ids, times and client names left out. */
export interface SettledRow {
  kind: string;
  args: unknown;
  queue: string;
  priority: number;
  tags: string[];
  state: string;
  attempt: number;
  max_attempts: number;
  metadata: unknown;
  errors: { attempt: number; error: string }[] | null;
  finalized: boolean;
  attempts_recorded: number;
  unique_key: string | null;
  unique_states: string | null;
  scheduled_in_future: boolean;
}

/** The settled rows of `schema`, ordered by kind and args, without what differs by nature. */
export async function settledRows(pool: pg.Pool, schema: string): Promise<SettledRow[]> {
  const { rows } = await pool.query(
    `SELECT kind, args, queue, priority, tags, state::text AS state, attempt, max_attempts,
       metadata, (SELECT jsonb_agg(jsonb_build_object('attempt', e->'attempt', 'error', e->'error'))
                  FROM unnest(errors) AS e) AS errors,
       finalized_at IS NOT NULL AS finalized, coalesce(cardinality(attempted_by), 0) AS attempts_recorded,
       encode(unique_key, 'hex') AS unique_key, unique_states::text AS unique_states,
       scheduled_at > now() AS scheduled_in_future
     FROM ${schema}.river_job ORDER BY kind, args::text, queue, id`,
  );
  return rows;
}
