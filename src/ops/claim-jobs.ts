/**
 * Claiming: one statement locks a bounded batch with SKIP LOCKED, marks it running and gives
 * each job a lease token (see `lease.ts`).
 */

import type { Database } from '../driver/database.js';
import { type Job, rowToJob } from '../job.js';
import { JobClaimAt, JobClaimBatch } from '../sql/job-claim.js';
import { leaseTokenSql, newNonce } from './lease.js';
import { PREPARED } from './prepared.js';

export interface ClaimJobsParams {
  /** Schema prefix from `schemaPrefix()`. */
  prefix: string;
  /** Queues to claim from, each with the most jobs to take from it. */
  queues: readonly { readonly name: string; readonly limit: number }[];
  /** Kinds this runner works. */
  kinds: readonly string[];
  /** The runner's id, recorded in the token. */
  runnerId: string;
  /** Lease length from the claim time. */
  leaseMs: number;
  /** The claim time; absent: the database's now(). */
  now?: Date | undefined;
}

// Built once: the token expression is the same for every claim.
const TOKEN = leaseTokenSql(JobClaimAt, '$6::int8', '$5::text', '$4::text');

/** Claims up to each queue's limit of available jobs and returns them, now `running`. */
export async function claimJobs(db: Database, params: ClaimJobsParams): Promise<Job[]> {
  const { rows } = await db.query(
    JobClaimBatch(params.prefix, TOKEN),
    [
      params.queues.map((q) => q.name),
      params.queues.map((q) => q.limit),
      params.kinds,
      params.runnerId,
      newNonce(),
      Math.max(0, Math.round(params.leaseMs)),
      params.now ?? null,
    ],
    PREPARED,
  );
  return rows.map((row) => rowToJob(row));
}

/** The claim's SQL text, for tools that recognise statements on the wire (fault-injection tests). */
export function claimJobsText(prefix: string): string {
  return JobClaimBatch(prefix, TOKEN);
}
