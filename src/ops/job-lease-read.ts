/**
 * Reading a job against a lease (`sql/job-remote.ts`): for remote workers, whose fenced writes
 * (`recordOutcomes`, `extendLeases`) change nothing once their attempt has lost its job, and
 * must be told why.
 */

import type { Database } from '../driver/database.js';
import { type Job, rowToJob } from '../job.js';
import { JobGetWithLease } from '../sql/job-remote.js';
import { isLeaseSql, leaseExpirySql, leaseHeldSql, leaseIdentity } from './lease.js';
import { PREPARED } from './prepared.js';

const ENTRY = 'j.attempted_by[cardinality(j.attempted_by)]';
const LEASE = {
  held: leaseHeldSql(ENTRY, '$2::text'),
  isLease: isLeaseSql(ENTRY),
  expiry: leaseExpirySql(ENTRY),
};

/** A job as a remote worker's token sees it. */
export interface JobWithLease {
  readonly job: Job;
  /** The job is running under the attempt that `token` names. */
  readonly held: boolean;
  /** The current attempted_by entry's lease expiry (epoch ms), when it is an Eddy lease. */
  readonly leaseExpiresAt: number | undefined;
  /** River's JobCancel (or Eddy's) asked for this job to be cancelled. */
  readonly cancelRequested: boolean;
}

/** Reads job `id` and whether `token`'s attempt still holds it; `undefined` for no such job. */
export async function readJobWithLease(
  db: Database,
  prefix: string,
  id: bigint,
  token: string,
): Promise<JobWithLease | undefined> {
  const { rows } = await db.query(
    JobGetWithLease(prefix, LEASE),
    [id, leaseIdentity(token) ?? ''],
    PREPARED,
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    job: rowToJob(row),
    held: row.held === true,
    leaseExpiresAt: row.lease_expiry_ms == null ? undefined : Number(row.lease_expiry_ms),
    cancelRequested: row.cancel_requested === true,
  };
}
