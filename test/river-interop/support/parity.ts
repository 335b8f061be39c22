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
import type { InsertManyItem } from '../../../src/client.js';
import type { JobState } from '../../../src/job.js';
import { JobCancel, JobSnooze } from '../../../src/job-outcome.js';
import type { Runner } from '../../../src/runner/runner.js';
import { defineWorker } from '../../../src/worker.js';
import type { GoJob } from './go.js';
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

/** An ISO time `s` seconds from now. */
export const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** One of each thing Go River's client can insert, in one Insert call each or one InsertMany. */
export function goJobs(): { one: GoJob[]; many: GoJob[] } {
  const byState = ['available', 'pending', 'running', 'scheduled'];
  return {
    one: [
      { kind: 'parity', args: { n: 1 } },
      { kind: 'parity', args: { n: 10 }, unique: { by_args: true } },
      { kind: 'parity', args: { n: 10 }, unique: { by_args: true } },
      { kind: 'parity', args: { n: 11 }, unique: { by_period_ms: 3_600_000 } },
      { kind: 'parity', args: { n: 11 }, unique: { by_period_ms: 3_600_000 } },
      {
        kind: 'parity',
        args: { n: 12 },
        queue: 'other',
        unique: { by_queue: true, by_args: true },
      },
      {
        kind: 'parity',
        args: { n: 12 },
        queue: 'other',
        unique: { by_queue: true, by_args: true },
      },
      { kind: 'parity', args: { n: 13 }, unique: { by_args: true, by_state: byState } },
      { kind: 'parity', args: { n: 13 }, unique: { by_args: true, by_state: byState } },
      { kind: 'parity', args: { n: 20 }, scheduled_at: inSeconds(2) },
      { kind: 'parity', args: { n: 21 }, scheduled_at: inSeconds(3600) },
      { kind: 'parity', args: { n: 30 }, pending: true },
      { kind: 'parity_fail', args: { n: 40 }, max_attempts: 3 },
      { kind: 'parity_snooze', args: { n: 50 } },
      { kind: 'parity_cancel', args: { n: 60 } },
    ],
    many: [1, 2, 3, 4].map((priority) => ({
      kind: 'parity',
      args: { n: 100 + priority },
      priority,
      queue: priority % 2 ? 'default' : 'other',
      tags: [`prio${priority}`, 'from-go'],
      metadata: { source: 'go', nested: { priority } },
    })),
  };
}

/** The same job as Eddy's client inserts it. */
export function asEddyItem(job: GoJob): InsertManyItem<[]> {
  const unique = job.unique
    ? {
        ...(job.unique.by_args ? { byArgs: true } : {}),
        ...(job.unique.by_period_ms ? { byPeriodMs: job.unique.by_period_ms } : {}),
        ...(job.unique.by_queue ? { byQueue: true } : {}),
        ...(job.unique.by_state ? { byState: job.unique.by_state as JobState[] } : {}),
        ...(job.unique.exclude_kind ? { excludeKind: true } : {}),
      }
    : undefined;
  return {
    kind: job.kind,
    args: job.args ?? {},
    options: {
      ...(job.queue ? { queue: job.queue } : {}),
      ...(job.priority ? { priority: job.priority } : {}),
      ...(job.max_attempts ? { maxAttempts: job.max_attempts } : {}),
      ...(job.tags ? { tags: job.tags } : {}),
      ...(job.metadata ? { metadata: job.metadata as Record<string, unknown> } : {}),
      ...(job.scheduled_at ? { scheduledAt: new Date(job.scheduled_at) } : {}),
      ...(job.pending ? { pending: true } : {}),
      ...(unique ? { unique } : {}),
    },
  };
}
