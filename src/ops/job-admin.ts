/**
 * Managing jobs by id (`sql/job-admin.ts`), one statement each: get, cancel, retry and delete as
 * River does them, and the reads the test helpers and the dashboard's filters need.
 */

import type { Database } from '../driver/database.js';
import { type Job, rowToJob } from '../job.js';
import {
  JobCancelByIDMany,
  JobDeleteByIDMany,
  JobGetByID,
  JobGetByKindMany,
  JobKindList,
  JobRetryByIDMany,
} from '../sql/job-admin.js';

/** A row a statement returned, and whether the statement changed it. */
export interface ActedRow {
  job: Job;
  changed: boolean;
}

/** Where the statements act: `schemaPrefix(schema)`, and the schema named by the caller. */
export interface AdminTarget {
  prefix: string;
  /** The control channel's qualifier (NULL in SQL: the session's current schema). */
  schema: string | undefined;
  now?: Date | undefined;
}

/** The job with id `id`, or undefined. */
export async function getJob(db: Database, prefix: string, id: bigint): Promise<Job | undefined> {
  const { rows } = await db.query(JobGetByID(prefix), [id]);
  return rows[0] ? rowToJob(rows[0]) : undefined;
}

/** Every job of the kinds, in id order (River's JobGetByKindMany). */
export async function getJobsByKinds(
  db: Database,
  prefix: string,
  kinds: readonly string[],
): Promise<Job[]> {
  const { rows } = await db.query(JobGetByKindMany(prefix), [kinds]);
  return rows.map((row) => rowToJob(row));
}

/** Up to `max` distinct kinds after `after` ('' for the first), in order. */
export async function listJobKinds(
  db: Database,
  prefix: string,
  after: string,
  max: number,
): Promise<string[]> {
  const { rows } = await db.query(JobKindList(prefix), [after, max]);
  return rows.map((row) => row.kind as string);
}

function acted(rows: readonly Record<string, unknown>[]): ActedRow[] {
  return rows.map((row) => ({ job: rowToJob(row), changed: row.eddy_changed === true }));
}

/** River's JobCancel for each id; rows of the ids that exist. */
export async function cancelJobs(
  db: Database,
  target: AdminTarget,
  ids: readonly bigint[],
): Promise<ActedRow[]> {
  const { rows } = await db.query(JobCancelByIDMany(target.prefix), [
    ids,
    target.schema ?? null,
    target.now ?? null,
  ]);
  return acted(rows);
}

/** River's JobRetry for each id; rows of the ids that exist. */
export async function retryJobs(
  db: Database,
  target: AdminTarget,
  ids: readonly bigint[],
): Promise<ActedRow[]> {
  const { rows } = await db.query(JobRetryByIDMany(target.prefix), [ids, target.now ?? null]);
  return acted(rows);
}

/** River's JobDelete for each id; rows of the ids that exist (deleted ones as they were). */
export async function deleteJobs(
  db: Database,
  target: AdminTarget,
  ids: readonly bigint[],
): Promise<ActedRow[]> {
  const { rows } = await db.query(JobDeleteByIDMany(target.prefix), [ids]);
  return acted(rows);
}
