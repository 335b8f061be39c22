/**
 * Maintenance, one statement each, safe under any number of overlapping ticks (no leader).
 * Each touches at most `max` rows; `now` injects the clock (absent: the database's now()).
 */

import type { Database } from '../driver/database.js';
import {
  JobDeleteFinalized,
  JobRescueExpired,
  JobScheduleDue,
  QueueTouchMany,
} from '../sql/maintenance.js';
import { isLeaseSql, leaseExpirySql, leaseRunnerSql } from './lease.js';
import { PREPARED } from './prepared.js';

/** Makes due scheduled and retryable jobs available; unique conflicts are discarded, as River does. */
export async function promoteDue(
  db: Database,
  prefix: string,
  max: number,
  now?: Date,
): Promise<{ promoted: number; discarded: number }> {
  const { rows } = await db.query(JobScheduleDue(prefix), [max, now ?? null], PREPARED);
  const discarded = rows.filter((r) => r.discard).length;
  return { promoted: rows.length - discarded, discarded };
}

const ENTRY = 'attempted_by[cardinality(attempted_by)]';
const LEASE = {
  isLease: isLeaseSql(ENTRY),
  expiry: leaseExpirySql(ENTRY),
  runner: leaseRunnerSql(ENTRY),
};

/** Fails (or cancels) the attempts whose Eddy lease has passed; returns how many. */
export async function rescueExpired(
  db: Database,
  prefix: string,
  max: number,
  now?: Date,
): Promise<number> {
  return (await db.query(JobRescueExpired(prefix, LEASE), [max, now ?? null], PREPARED)).rowCount;
}

/** How long to keep finalized jobs, in ms; `null` keeps them forever. */
export interface Retention {
  completedMs: number | null;
  cancelledMs: number | null;
  discardedMs: number | null;
}

/** Deletes finalized jobs past their retention; returns how many. */
export async function deleteFinalized(
  db: Database,
  prefix: string,
  retention: Retention,
  max: number,
  now?: Date,
): Promise<number> {
  const { completedMs, cancelledMs, discardedMs } = retention;
  return (
    await db.query(
      JobDeleteFinalized(prefix),
      [completedMs, cancelledMs, discardedMs, max, now ?? null],
      PREPARED,
    )
  ).rowCount;
}

/** Registers queues in `river_queue` (or refreshes their updated_at) so River UI lists them. */
export async function touchQueues(
  db: Database,
  prefix: string,
  names: readonly string[],
  now?: Date,
): Promise<void> {
  await db.query(QueueTouchMany(prefix), [names, now ?? null]);
}
