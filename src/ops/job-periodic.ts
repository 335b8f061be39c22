/**
 * The latest jobs of each periodic schedule (`sql/job-periodic.ts`), in one statement.
 */

import type { Database } from '../driver/database.js';
import { type Job, rowToJob } from '../job.js';
import { JobListPeriodicLatest } from '../sql/job-periodic.js';

export interface PeriodicLatestQuery {
  /** Schedules shown even when none of their jobs is among the newest walked. */
  names: readonly string[];
  /** Newest jobs walked to find other schedules. */
  walk: number;
  /** Jobs per schedule, newest first. */
  perSchedule: number;
}

/** Each schedule's newest jobs, schedules in name order; a schedule with no job is absent. */
export async function listPeriodicLatest(
  db: Database,
  prefix: string,
  query: PeriodicLatestQuery,
): Promise<Map<string, Job[]>> {
  const { rows } = await db.query(JobListPeriodicLatest(prefix), [
    query.names,
    query.walk,
    query.perSchedule,
  ]);
  const bySchedule = new Map<string, Job[]>();
  for (const row of rows) {
    const name = row.eddy_schedule as string;
    const jobs = bySchedule.get(name) ?? [];
    jobs.push(rowToJob(row));
    bySchedule.set(name, jobs);
  }
  return bySchedule;
}
