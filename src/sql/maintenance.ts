/**
 * Maintenance, each one statement, safe to run from any number of overlapping ticks (no leader):
 * row locks with SKIP LOCKED split the work, and every statement is bounded by $max rows. Each
 * takes the time it runs at as its last parameter (NULL: the database's now(); see `clock`).
 */

import { clock } from './clock.js';

/**
 * Makes due scheduled and retryable jobs available. As River's scheduler does, a unique job
 * whose key another live job already holds is discarded instead of colliding with it.
 * $1 int max rows, $2 timestamptz now.
 */
export const JobScheduleDue = (p: string) => `
WITH due AS (
  SELECT id, unique_key, unique_states, priority, scheduled_at
  FROM ${p}river_job
  WHERE state IN ('retryable', 'scheduled') AND scheduled_at <= ${clock(2)}
  ORDER BY priority, scheduled_at, id
  LIMIT $1::int
  FOR UPDATE SKIP LOCKED
),
ranked AS (
  SELECT due.*,
    CASE WHEN unique_key IS NOT NULL AND unique_states IS NOT NULL
      THEN row_number() OVER (PARTITION BY unique_key ORDER BY priority, scheduled_at, id) END AS rn
  FROM due
),
conflicts AS (
  SELECT DISTINCT j.unique_key
  FROM ${p}river_job j
  JOIN ranked r ON j.unique_key = r.unique_key AND j.id <> r.id
  WHERE j.unique_key IS NOT NULL AND j.unique_states IS NOT NULL
    AND ${p}river_job_state_in_bitmask(j.unique_states, j.state)
    AND j.id NOT IN (SELECT id FROM due)
),
decided AS (
  SELECT r.id, (r.rn IS NOT NULL AND (r.rn > 1 OR c.unique_key IS NOT NULL)) AS discard
  FROM ranked r LEFT JOIN conflicts c ON c.unique_key = r.unique_key
)
UPDATE ${p}river_job j
SET state = CASE WHEN d.discard THEN 'discarded'::${p}river_job_state ELSE 'available'::${p}river_job_state END,
    finalized_at = CASE WHEN d.discard THEN ${clock(2)} ELSE j.finalized_at END,
    metadata = CASE WHEN d.discard THEN j.metadata || '{"unique_key_conflict": "scheduler_discarded"}'::jsonb
      ELSE j.metadata END
FROM decided d
WHERE j.id = d.id
RETURNING d.discard`;

/**
 * Rescues jobs claimed by an Eddy runner whose lease has passed: the claiming invocation is
 * certainly dead, so the attempt failed, and `river:rescue_count` grows by one as River's
 * rescuer counts it. Retryable with River's backoff, or discarded at
 * max_attempts, or cancelled when River's JobCancel asked for it. Jobs run by Go River carry no
 * Eddy token and are left to River's own rescuer. `lease` holds the SQL that reads a token
 * (`ops/lease.ts`): `isLease` (a well-formed Eddy token, so a foreign entry that merely starts
 * with "eddy:" is neither rescued nor breaks the cast), `expiry` (epoch ms) and `runner`, each
 * over the current entry, written unqualified: `attempted_by[cardinality(attempted_by)]`.
 * $1 int max rows, $2 timestamptz now.
 */
export const JobRescueExpired = (
  p: string,
  lease: { isLease: string; expiry: string; runner: string },
) => `
WITH expired AS (
  SELECT id
  FROM ${p}river_job
  WHERE state = 'running'
    AND ${lease.isLease}
    AND ${lease.expiry} < (extract(epoch FROM ${clock(2)}) * 1000)::int8
  ORDER BY id
  LIMIT $1::int
  FOR UPDATE SKIP LOCKED
)
UPDATE ${p}river_job j
SET state = CASE
      WHEN j.metadata ? 'cancel_attempted_at' THEN 'cancelled'::${p}river_job_state
      WHEN j.attempt >= j.max_attempts THEN 'discarded'::${p}river_job_state
      ELSE 'retryable'::${p}river_job_state END,
    finalized_at = CASE WHEN j.metadata ? 'cancel_attempted_at' OR j.attempt >= j.max_attempts THEN ${clock(2)} END,
    scheduled_at = CASE WHEN j.metadata ? 'cancel_attempted_at' OR j.attempt >= j.max_attempts THEN j.scheduled_at
      ELSE ${clock(2)} + (power(coalesce(cardinality(j.errors), 0) + 1, 4) * (0.9 + random() * 0.2)) * interval '1 second' END,
    -- River's rescuer counts rescues here too (its JobRescueMany), so River UI shows them.
    metadata = j.metadata || jsonb_build_object('river:rescue_count',
      coalesce(CASE WHEN jsonb_typeof(j.metadata->'river:rescue_count') = 'number'
        THEN trunc((j.metadata->>'river:rescue_count')::numeric) END, 0) + 1),
    errors = array_append(j.errors, jsonb_build_object(
      'at', to_char(${clock(2)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'attempt', j.attempt,
      'error', 'lease expired: the invocation running this attempt (' ||
        ${lease.runner} ||
        ') ended without recording a result; rescued',
      'trace', ''))
FROM expired
WHERE j.id = expired.id
RETURNING j.id, j.state::text AS state`;

/**
 * Deletes finalized jobs past retention (River's defaults: completed and cancelled 24 h,
 * discarded 7 days). $1/$2/$3 int8 retention in ms for completed/cancelled/discarded
 * (NULL keeps forever), $4 int max rows, $5 timestamptz now.
 */
export const JobDeleteFinalized = (p: string) => `
WITH doomed AS (
  SELECT id FROM ${p}river_job
  WHERE (state = 'completed' AND finalized_at < ${clock(5)} - $1::int8 * interval '1 millisecond')
     OR (state = 'cancelled' AND finalized_at < ${clock(5)} - $2::int8 * interval '1 millisecond')
     OR (state = 'discarded' AND finalized_at < ${clock(5)} - $3::int8 * interval '1 millisecond')
  ORDER BY id
  LIMIT $4::int
  FOR UPDATE SKIP LOCKED
)
DELETE FROM ${p}river_job j USING doomed WHERE j.id = doomed.id`;

/**
 * Lets River UI and Go clients see the queues this runner works. $1 text[] names, $2
 * timestamptz now.
 */
export const QueueTouchMany = (p: string) => `
INSERT INTO ${p}river_queue (name, created_at, metadata, updated_at)
SELECT name, ${clock(2)}, '{}', ${clock(2)} FROM unnest($1::text[]) AS name
ON CONFLICT (name) DO UPDATE SET updated_at = ${clock(2)}`;
