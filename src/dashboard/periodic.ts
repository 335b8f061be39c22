/**
 * The periodic page's data: each schedule's latest slots and how they ended (one statement,
 * `ops/job-periodic.ts`), and, for the schedules the runner's definitions describe, the next
 * slot.
 */

import type { Database } from '../driver/database.js';
import type { Job } from '../job.js';
import { listPeriodicLatest } from '../ops/job-periodic.js';
import { parseSchedule } from '../runner/cron-schedule.js';
import type { PeriodicJob } from '../runner/periodic.js';

export const SLOTS_PER_SCHEDULE = 10;

export interface ScheduleView {
  name: string;
  /** The runner's definition, when it was passed to the dashboard. */
  definition: PeriodicJob['definition'] | undefined;
  /** The schedule's next slot after now, when its definition is known. */
  next: Date | undefined;
  /** Its latest jobs, newest first. */
  jobs: Job[];
}

/** The slot a job of a schedule was enqueued for: Eddy's `periodic_slot`, else its due time. */
export function slotOf(job: Job): Date {
  const slot = job.metadata.periodic_slot;
  const time = typeof slot === 'string' ? new Date(slot) : undefined;
  return time && !Number.isNaN(time.getTime()) ? time : job.scheduledAt;
}

/** The first slot of a definition after `now`. */
export function nextSlot(definition: PeriodicJob['definition'], now: Date): Date | undefined {
  const { schedule } = definition;
  if (typeof schedule === 'string')
    return parseSchedule(schedule, { timezone: definition.timezone }).next(now);
  const every = schedule.everyMs;
  return new Date((Math.floor(now.getTime() / every) + 1) * every);
}

export async function periodicSchedules(
  db: Database,
  prefix: string,
  periodic: readonly PeriodicJob[],
  now: Date,
): Promise<ScheduleView[]> {
  const defined = new Map(periodic.map((job) => [job.name, job.definition]));
  const latest = await listPeriodicLatest(db, prefix, SLOTS_PER_SCHEDULE);
  const names = [...new Set([...defined.keys(), ...latest.keys()])].sort();
  return names.map((name) => {
    const definition = defined.get(name);
    return {
      name,
      definition,
      next: definition ? nextSlot(definition, now) : undefined,
      jobs: latest.get(name) ?? [],
    };
  });
}
