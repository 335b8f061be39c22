/**
 * Remote workers (the REST API's claims): reading a job against the lease a remote worker says
 * it holds. The claim, the outcomes and the lease extension are the runner's own statements
 * (`job-claim.ts`, `job-complete.ts`); this read only tells a caller whose fenced write changed
 * nothing why (no such job, or its lease was rescued or finalized meanwhile), and gives a failed
 * attempt the job's errors so far for River's backoff.
 */

/**
 * One job and whether the attempt holding `$2` still holds it. `held` tests the fence for
 * `j.attempted_by[cardinality(j.attempted_by)]` against `$2::text`; `expiry` reads the current
 * entry's lease expiry (epoch ms) when `isLease` says it is an Eddy lease.
 * $1 int8 id · $2 text lease identity.
 */
export const JobGetWithLease = (
  p: string,
  lease: { held: string; isLease: string; expiry: string },
) => `
SELECT j.id, j.kind, j.args, j.queue, j.state::text AS state, j.priority, j.attempt,
  j.max_attempts, j.attempted_at, j.attempted_by, j.created_at, j.finalized_at, j.scheduled_at,
  j.errors, j.metadata, j.tags,
  (j.state = 'running' AND ${lease.held}) AS held,
  CASE WHEN ${lease.isLease} THEN ${lease.expiry} END AS lease_expiry_ms,
  j.metadata ? 'cancel_attempted_at' AS cancel_requested
FROM ${p}river_job j
WHERE j.id = $1::int8`;
