/**
 * The latest jobs of each periodic schedule (`sql/job-periodic.ts`), in one statement.
 */

import type { Database } from '../driver/database.js';
import { type Job, rowToJob } from '../job.js';
import { JobListPeriodicLatest } from '../sql/job-periodic.js';

/** Each schedule's newest `perSchedule` jobs, schedules in name order, newest first. */
export async function listPeriodicLatest(
  db: Database,
  prefix: string,
  perSchedule: number,
): Promise<Map<string, Job[]>> {
  const { rows } = await db.query(JobListPeriodicLatest(prefix), [perSchedule]);
  const bySchedule = new Map<string, Job[]>();
  for (const row of rows) {
    const name = row.eddy_schedule as string;
    const jobs = bySchedule.get(name) ?? [];
    jobs.push(rowToJob(row));
    bySchedule.set(name, jobs);
  }
  return bySchedule;
}
