/**
 * Claiming: one statement locks a bounded batch with SKIP LOCKED, marks it running and gives
 * each job a lease token (see `lease.ts`).
 */

import type { Database } from '../driver/database.js';
import { type Job, rowToJob } from '../job.js';
import { JobClaimAt, JobClaimBatch, JobExtendLeases } from '../sql/job-claim.js';
import {
  leaseExpirySql,
  leaseExtendedSql,
  leaseHeldSql,
  leaseIdentity,
  leaseTokenSql,
  newNonce,
} from './lease.js';
import { PREPARED } from './prepared.js';

export interface ClaimJobsParams {
  /** Schema prefix from `schemaPrefix()`. */
  prefix: string;
  /** Queues to claim from, each with the most jobs to take from it. */
  queues: readonly { readonly name: string; readonly limit: number }[];
  /** The most jobs to take in all. Default: the sum of the queues' limits. */
  total?: number | undefined;
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
      params.total ?? params.queues.reduce((sum, q) => sum + q.limit, 0),
    ],
    PREPARED,
  );
  return rows.map((row) => rowToJob(row));
}

/** The claim's SQL text, for tools that recognise statements on the wire (fault-injection tests). */
export function claimJobsText(prefix: string): string {
  return JobClaimBatch(prefix, TOKEN);
}

const ENTRY = 'j.attempted_by[cardinality(j.attempted_by)]';
const EXTEND = [
  leaseHeldSql(ENTRY, 'u.lease'),
  leaseExpirySql(ENTRY),
  leaseExtendedSql(ENTRY, 'x.new_expiry'),
] as const;

/** A job this runner holds: its id and the token its claim wrote. */
export interface HeldJob {
  readonly id: bigint;
  readonly token: string;
}

/**
 * Extends the leases of jobs this runner still runs to `leaseMs` from now (never shortening
 * one); returns the ids whose lease it extended. A job missing from the result is no longer
 * held by its attempt (rescued, or finalized by someone else).
 */
export async function extendLeases(
  db: Database,
  prefix: string,
  jobs: readonly HeldJob[],
  leaseMs: number,
  now?: Date,
): Promise<Set<string>> {
  if (jobs.length === 0) return new Set();
  const { rows } = await db.query(
    JobExtendLeases(prefix, ...EXTEND),
    [
      jobs.map((j) => j.id),
      jobs.map((j) => leaseIdentity(j.token) ?? ''),
      Math.max(0, Math.round(leaseMs)),
      now ?? null,
    ],
    PREPARED,
  );
  return new Set(rows.map((r) => String(r.id)));
}
