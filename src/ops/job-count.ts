/**
 * Counting jobs by state, queue or kind, and listing queues with their counts
 * (`sql/job-count.ts`), one statement each: exact up to a cap, estimated from a sample beyond.
 */

import type { Database, Row } from '../driver/database.js';
import type { JobState } from '../job.js';
import {
  JobCountByKindAndState,
  JobCountByQueueAndState,
  JobCountByState,
  QueueGetWithCounts,
  QueueListWithCounts,
} from '../sql/job-count.js';

/** One count as the statement found it. */
export interface CountCell {
  state: JobState;
  /** The queue or kind (null when counting by state alone). */
  group: string | null;
  /** Exact when `exact`; otherwise the jobs seen before the cap (a lower bound). */
  seen: number;
  exact: boolean;
  /** Rows of the cell in the sample, and the share of pages sampled (percent). */
  sampled: number;
  samplePercent: number;
}

export type CountGrouping = 'state' | 'queue' | 'kind';

export interface CountQuery {
  by: CountGrouping;
  cap: number;
  /** Finalized states count only the jobs finalized since then. */
  finalizedSince?: Date | undefined;
}

function cellOf(row: Row): CountCell {
  return {
    state: row.state as JobState,
    group: (row.grp as string | null) ?? null,
    seen: Number(row.n),
    exact: row.exact === true,
    sampled: Number(row.sampled),
    samplePercent: Number(row.pct),
  };
}

/** Jobs counted by state, or by state and queue or kind. */
export async function countJobs(
  db: Database,
  prefix: string,
  query: CountQuery,
): Promise<CountCell[]> {
  const since = query.finalizedSince !== undefined;
  const statement =
    query.by === 'queue'
      ? JobCountByQueueAndState
      : query.by === 'kind'
        ? JobCountByKindAndState
        : JobCountByState;
  const params = since ? [query.cap, query.finalizedSince ?? null] : [query.cap];
  const { rows } = await db.query(statement(prefix, since), params);
  return rows.map(cellOf);
}

/** A queue's row (when it has one) and its counts. */
export interface QueueRow {
  name: string;
  registered: boolean;
  createdAt: Date | null;
  updatedAt: Date | null;
  pausedAt: Date | null;
  metadata: Record<string, unknown>;
  oldestAvailableAt: Date | null;
  cells: CountCell[];
}

function queueRowOf(row: Row): QueueRow {
  const samplePercent = Number(row.pct);
  const counts = (row.counts as [string, number | bigint, boolean, number | bigint][] | null) ?? [];
  return {
    name: row.name as string,
    registered: row.registered === true,
    createdAt: (row.created_at as Date | null) ?? null,
    updatedAt: (row.updated_at as Date | null) ?? null,
    pausedAt: (row.paused_at as Date | null) ?? null,
    metadata: (row.metadata as Record<string, unknown> | null) ?? {},
    oldestAvailableAt: (row.oldest_available_at as Date | null) ?? null,
    cells: counts.map(([state, n, exact, sampled]) => ({
      state: state as JobState,
      group: row.name as string,
      seen: Number(n),
      exact,
      sampled: Number(sampled),
      samplePercent,
    })),
  };
}

/** Every queue River knows or jobs name, in name order, with its counts. */
export async function listQueues(db: Database, prefix: string, cap: number): Promise<QueueRow[]> {
  const { rows } = await db.query(QueueListWithCounts(prefix), [cap]);
  return rows.map(queueRowOf);
}

/** The queue `name` with its counts, or undefined when it has neither a row nor jobs. */
export async function getQueue(
  db: Database,
  prefix: string,
  cap: number,
  name: string,
): Promise<QueueRow | undefined> {
  const { rows } = await db.query(QueueGetWithCounts(prefix), [cap, name]);
  return rows[0] ? queueRowOf(rows[0]) : undefined;
}
