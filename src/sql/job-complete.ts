/**
 * Recording outcomes: one statement for any number of jobs, and the completion a worker makes
 * inside its own transaction.
 *
 * Fenced: a row changes only while it is still `running` under the lease that started this
 * attempt (its identity, `<nonce>:<runner>`: a heartbeat may move the lease's expiry, see
 * `ops/lease.ts`). A result from an attempt that was rescued (and perhaps claimed again) finds
 * another lease, or another state, and changes nothing. `held` is the SQL that tests the fence
 * for `j.attempted_by[cardinality(j.attempted_by)]` against `u.lease`.
 *
 * Each recording also reports which of the jobs the runner still runs have had a cancel
 * requested (`metadata.cancel_attempted_at`, set by River's JobCancel or Eddy's), so a runner
 * without a LISTEN connection learns of a cancel at its next flush, at no extra statement.
 *
 * Like River, a retry or snooze of a job whose cancellation was requested meanwhile cancels it
 * instead.
 *
 * One plain `UPDATE … FROM unnest(…)`: the fence and the cancel check are evaluated on the row
 * being updated, so a concurrent change (a rescue, River's JobCancel) is seen through Postgres'
 * recheck of the updated row under READ COMMITTED. A separate `SELECT … FOR UPDATE` step (an
 * earlier form) wrote an extra WAL record per row and cost ~12 % more server time per batch
 * (EXPLAIN ANALYZE of 1000 completions on PostgreSQL 15, best of 7: 15.0 → 12.3 ms).
 */

import { clock } from './clock.js';
import { metadataCount, nextSnoozeCount } from './snooze-count.js';

/** The outcome asks to retry or snooze, and a cancel was requested meanwhile. */
const cancelRequested = `(u.state IN ('retryable', 'scheduled', 'available') AND NOT u.release
      AND j.metadata ? 'cancel_attempted_at')`;
/** The state the row ends in. */
const finalState = `CASE WHEN ${cancelRequested} THEN 'cancelled' ELSE u.state END`;

/** Which of `ids` (int8[]) are still running with a cancel requested. */
const cancelCheck = (p: string, ids: string) => `
SELECT id, NULL::text AS state, true AS cancel
FROM ${p}river_job
WHERE id = ANY (${ids}) AND state = 'running' AND metadata ? 'cancel_attempted_at'`;

/**
 * Records every outcome of a batch. One array element per job:
 * $1 int8[] id · $2 text[] lease identity · $3 text[] new state · $4 int8[] delay in ms from
 * now for scheduled_at (NULL keeps it) · $5 jsonb[] AttemptError to append (NULL for none) ·
 * $6 bool[] snooze (attempt given back, metadata.snoozes + 1) · $7 bool[] release (attempt
 * given back, not counted as a snooze) · $8 timestamptz the time of recording (NULL: now()) ·
 * $9 bool[] the snooze is the tick's deadline cutting the run short (metadata
 * `eddy:deadline_snoozes` + 1, which bounds a job that never fits a tick) · $10 jsonb[] the
 * output of a completed attempt, stored as `metadata.output` where River keeps it (NULL: none)
 * · $11 int8[] jobs the runner still runs, checked for a requested cancel.
 * Rows: `(id, state, false)` per applied outcome, `(id, NULL, true)` per cancel requested.
 */
export const JobSetStateIfRunningMany = (p: string, held: string) => `
WITH applied AS (
  UPDATE ${p}river_job j
  SET state = (${finalState})::${p}river_job_state,
      attempt = CASE WHEN (u.snooze OR u.release) AND (${finalState}) <> 'cancelled'
        THEN greatest(j.attempt - 1, 0) ELSE j.attempt END,
      finalized_at = CASE WHEN (${finalState}) IN ('completed', 'cancelled', 'discarded')
        THEN ${clock(8)} ELSE NULL END,
      scheduled_at = CASE WHEN u.delay_ms IS NULL OR (${finalState}) = 'cancelled' THEN j.scheduled_at
        ELSE ${clock(8)} + u.delay_ms * interval '1 millisecond' END,
      errors = CASE WHEN u.error IS NULL THEN j.errors ELSE array_append(j.errors, u.error) END,
      metadata = CASE WHEN u.snooze AND (${finalState}) <> 'cancelled'
        THEN j.metadata || jsonb_build_object('snoozes', ${nextSnoozeCount('j.metadata')})
          || CASE WHEN u.deadline THEN jsonb_build_object('eddy:deadline_snoozes',
               ${metadataCount('j.metadata', 'eddy:deadline_snoozes')} + 1) ELSE '{}'::jsonb END
        WHEN u.output IS NOT NULL AND (${finalState}) = 'completed'
        THEN j.metadata || jsonb_build_object('output', u.output)
        ELSE j.metadata END
  FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::jsonb[], $6::bool[], $7::bool[],
      $9::bool[], $10::jsonb[])
    AS u(id, lease, state, delay_ms, error, snooze, release, deadline, output)
  WHERE j.id = u.id AND j.state = 'running' AND ${held}
  RETURNING j.id, j.state::text AS state
)
SELECT id, state, false AS cancel FROM applied
UNION ALL${cancelCheck(p, '$11::int8[]')}`;

/**
 * The same record when every outcome is `completed` without output, the common case: only ids
 * and leases travel, and no per-row CASE runs. About a third less time than the general
 * statement for 1000 jobs (EXPLAIN ANALYZE, PostgreSQL 15: ~21 → ~15 ms server).
 * $1 int8[] id · $2 text[] lease identity · $3 timestamptz the time of recording (NULL: now())
 * · $4 int8[] jobs the runner still runs, checked for a requested cancel.
 */
export const JobSetCompletedIfRunningMany = (p: string, held: string) => `
WITH applied AS (
  UPDATE ${p}river_job j
  SET state = 'completed', finalized_at = ${clock(3)}
  FROM unnest($1::int8[], $2::text[]) AS u(id, lease)
  WHERE j.id = u.id AND j.state = 'running' AND ${held}
  RETURNING j.id
)
SELECT id, 'completed'::text AS state, false AS cancel FROM applied
UNION ALL${cancelCheck(p, '$4::int8[]')}`;

/**
 * A worker completing its own job inside its own transaction (River's JobCompleteTx), fenced
 * like every outcome. When the job is no longer held by this attempt (its lease was rescued, or
 * it was finalized meanwhile) the statement fails, so the worker's transaction cannot commit
 * work whose job another attempt may be doing: the failure is a cast of the message to int,
 * the one way plain SQL raises an error (it reads `invalid input syntax for type integer:
 * "eddy: …"`).
 * $1 int8 id · $2 text lease identity · $3 jsonb output (NULL: none) · $4 timestamptz now.
 * `held` reads `u.lease`.
 */
export const JobCompleteInTransaction = (p: string, held: string) => `
WITH u AS (SELECT $1::int8 AS id, $2::text AS lease),
completed AS (
  UPDATE ${p}river_job j
  SET state = 'completed', finalized_at = ${clock(4)},
      metadata = CASE WHEN $3::jsonb IS NULL THEN j.metadata
        ELSE j.metadata || jsonb_build_object('output', $3::jsonb) END
  FROM u
  WHERE j.id = u.id AND j.state = 'running' AND ${held}
  RETURNING j.id
)
SELECT CASE WHEN EXISTS (SELECT 1 FROM completed) THEN 1
  -- A subquery, so the planner cannot fold the failing cast before the CASE decides.
  ELSE (SELECT ('eddy: job ' || u.id || ' is no longer held by this attempt (its lease was rescued, or it was finalized meanwhile): this transaction must not commit')::int FROM u)
  END AS completed`;
