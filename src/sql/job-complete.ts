/**
 * Recording the outcomes of a batch: one statement however many jobs.
 *
 * Fenced: a row changes only while it is still `running` under the exact claim token that
 * started this attempt. A result from an attempt that was rescued (and perhaps claimed again)
 * finds another token, or another state, and changes nothing.
 *
 * Parameters, one array element per job:
 * $1 int8[] id · $2 text[] claim token · $3 text[] new state · $4 int8[] delay in ms from now for
 * scheduled_at (NULL keeps it) · $5 jsonb[] AttemptError to append (NULL for none) ·
 * $6 bool[] snooze (attempt given back, metadata.snoozes + 1) · $7 bool[] release (attempt
 * given back, not counted as a snooze).
 *
 * Like River, a retry or snooze of a job whose cancellation was requested meanwhile
 * (metadata.cancel_attempted_at, set by River's JobCancel) cancels it instead.
 */
export const JobSetStateIfRunningMany = (p: string) => `
WITH input AS (
  SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::jsonb[], $6::bool[], $7::bool[])
    AS u(id, token, state, delay_ms, error, snooze, release)
),
target AS (
  SELECT j.id, i.token, i.delay_ms, i.error, i.snooze, i.release,
    CASE
      WHEN i.state IN ('retryable', 'scheduled', 'available') AND NOT i.release
        AND j.metadata ? 'cancel_attempted_at' THEN 'cancelled'
      ELSE i.state
    END AS state
  FROM input i
  JOIN ${p}river_job j ON j.id = i.id
  WHERE j.state = 'running' AND j.attempted_by[cardinality(j.attempted_by)] = i.token
  FOR UPDATE OF j
)
UPDATE ${p}river_job j
SET state = t.state::${p}river_job_state,
    attempt = CASE WHEN (t.snooze OR t.release) AND t.state <> 'cancelled' THEN greatest(j.attempt - 1, 0) ELSE j.attempt END,
    finalized_at = CASE WHEN t.state IN ('completed', 'cancelled', 'discarded') THEN now() ELSE NULL END,
    scheduled_at = CASE WHEN t.delay_ms IS NULL OR t.state = 'cancelled' THEN j.scheduled_at
      ELSE now() + t.delay_ms * interval '1 millisecond' END,
    errors = CASE WHEN t.error IS NULL THEN j.errors ELSE array_append(j.errors, t.error) END,
    metadata = CASE WHEN t.snooze AND t.state <> 'cancelled'
      THEN j.metadata || jsonb_build_object('snoozes', coalesce((j.metadata->>'snoozes')::int, 0) + 1)
      ELSE j.metadata END
FROM target t
WHERE j.id = t.id
RETURNING j.id, j.state::text AS state`;
