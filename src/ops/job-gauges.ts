/**
 * The gauges of `/metrics`, one statement (`sql/job-gauges.ts`).
 */

import type { Database } from '../driver/database.js';
import type { JobState } from '../job.js';
import { JobGauges } from '../sql/job-gauges.js';
import { isLeaseSql, leaseExpirySql } from './lease.js';
import { PREPARED } from './prepared.js';

const ENTRY = 'attempted_by[cardinality(attempted_by)]';
const LEASE = { isLease: isLeaseSql(ENTRY), expiry: leaseExpirySql(ENTRY) };

export interface JobGaugeValues {
  /** Jobs by queue and state (only the pairs that have jobs). */
  readonly jobs: readonly { queue: string; state: JobState; count: number }[];
  /** Seconds since the oldest available job of each queue came due. */
  readonly oldestAvailable: readonly { queue: string; seconds: number }[];
  /** Running jobs whose Eddy lease has passed, by queue: the next rescue will retry them. */
  readonly leaseExpired: readonly { queue: string; count: number }[];
  /** Paused queues (`*`: every queue is paused). */
  readonly paused: readonly string[];
}

/** Reads every gauge in one statement. */
export async function readJobGauges(
  db: Database,
  prefix: string,
  now?: Date,
): Promise<JobGaugeValues> {
  const { rows } = await db.query(JobGauges(prefix, LEASE), [now ?? null], PREPARED);
  const jobs: { queue: string; state: JobState; count: number }[] = [];
  const oldestAvailable: { queue: string; seconds: number }[] = [];
  const leaseExpired: { queue: string; count: number }[] = [];
  const paused: string[] = [];
  for (const row of rows) {
    const queue = row.queue as string;
    const value = Number(row.value);
    switch (row.gauge) {
      case 'jobs':
        jobs.push({ queue, state: row.state as JobState, count: value });
        break;
      case 'oldest_available':
        oldestAvailable.push({ queue, seconds: value });
        break;
      case 'lease_expired':
        leaseExpired.push({ queue, count: value });
        break;
      case 'paused':
        paused.push(queue);
        break;
    }
  }
  return { jobs, oldestAvailable, leaseExpired, paused };
}
