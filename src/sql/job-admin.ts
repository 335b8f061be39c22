/**
 * Managing jobs by id, each one statement, with River's semantics (riverqueue/river
 * riverdriver/riverpgxv5/internal/dbsqlc/river_job.sql, read at fdf6cdf): River's JobCancel,
 * JobRetry and JobDelete act on one id; these act on many at once and do to each row exactly
 * what River's statement does to it. Rows are locked in id order (`FOR UPDATE`, waiting as
 * River's do) so two of these never deadlock each other.
 *
 * Each returns every requested row that exists: the row as the statement left it (`RETURNING`,
 * or as it was when left alone), with `eddy_changed` saying whether this statement changed it.
 * Ids that match no row return nothing.
 */

import { clock } from './clock.js';

const FINALIZED = `('cancelled', 'completed', 'discarded')`;

/**
 * Go's RFC 3339 time, as River's client writes `cancel_attempted_at` (time.Time's MarshalJSON,
 * RFC3339Nano: trailing zeros of the fraction dropped, no fraction when it is zero), in UTC.
 */
export const goTimeJson = (time: string) =>
  `to_jsonb(regexp_replace(to_char(${time} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\\.?0+$', '') || 'Z')`;

/** River's control channel for a schema: $n text schema, NULL for the session's current one. */
export const controlChannel = (n: number) =>
  `concat(coalesce($${n}::text, current_schema()), '.river_control')`;

/**
 * River's cancel notification, built as River builds it (`json_build_object`, so byte for byte
 * its payload: `{"action" : "cancel", "job_id" : 42, "queue" : "default"}`).
 */
export const cancelPayload = (alias: string) =>
  `json_build_object('action', 'cancel', 'job_id', ${alias}.id, 'queue', ${alias}.queue)::text`;

/** River's JobGetByID. $1 int8 id. */
export const JobGetByID = (p: string) => `
SELECT * FROM ${p}river_job WHERE id = $1::int8 LIMIT 1`;

/** River's JobGetByKindMany, which rivertest's RequireInserted reads. $1 text[] kinds. */
export const JobGetByKindMany = (p: string) => `
SELECT * FROM ${p}river_job WHERE kind = ANY ($1::text[]) ORDER BY id`;

/**
 * River's JobKindList without its match: the distinct kinds in kind order, walked through
 * River's kind index one probe per kind (a loose index scan) rather than read from every row.
 * $1 text kinds after this one ('' for the start), $2 int at most this many.
 */
export const JobKindList = (p: string) => `
WITH RECURSIVE kinds(kind) AS (
  (SELECT kind FROM ${p}river_job WHERE kind > $1::text ORDER BY kind LIMIT 1)
  UNION ALL
  SELECT (SELECT j.kind FROM ${p}river_job j WHERE j.kind > k.kind ORDER BY j.kind LIMIT 1)
  FROM kinds k WHERE k.kind IS NOT NULL
)
SELECT kind FROM kinds WHERE kind IS NOT NULL LIMIT $2::int`;

/** The rows asked for and left alone, after those a statement changed (`touched`). */
const untouched = (p: string, touched: string) => `
SELECT t.*, true AS eddy_changed FROM ${touched} t
UNION ALL
SELECT j.*, false AS eddy_changed FROM ${p}river_job j
WHERE j.id = ANY ($1::int8[]) AND j.id NOT IN (SELECT id FROM ${touched})`;

/**
 * River's JobCancel for each id. A job not yet finalized gets `metadata.cancel_attempted_at`
 * and River's cancel notification on `<schema>.river_control`; unless it is running it is
 * cancelled at once (`finalized_at` now). A running job stays running: the runner working it
 * aborts it (on the notification, or at its next flush) and records it cancelled. Finalized
 * jobs are left alone.
 * $1 int8[] ids, $2 text schema (NULL: the current schema), $3 timestamptz now.
 */
export const JobCancelByIDMany = (p: string) => `
WITH locked AS (
  SELECT id, queue, state, finalized_at FROM ${p}river_job
  WHERE id = ANY ($1::int8[]) ORDER BY id FOR UPDATE
),
notified AS (
  SELECT l.id, pg_notify(${controlChannel(2)}, ${cancelPayload('l')})
  FROM locked l WHERE l.state NOT IN ${FINALIZED} AND l.finalized_at IS NULL
),
updated AS (
  UPDATE ${p}river_job j
  SET state = CASE WHEN j.state = 'running' THEN j.state ELSE 'cancelled' END,
      finalized_at = CASE WHEN j.state = 'running' THEN j.finalized_at ELSE ${clock(3)} END,
      metadata = jsonb_set(j.metadata, '{cancel_attempted_at}', ${goTimeJson(clock(3))}, true)
  FROM notified n WHERE j.id = n.id
  RETURNING j.*
)${untouched(p, 'updated')}`;

/**
 * River's JobRetry for each id: made available now, `finalized_at` cleared, and one more
 * attempt allowed (`max_attempts` + 1) when its attempts are used up (`attempt = max_attempts`);
 * `attempt` and `errors` are kept. A running job is left alone, and so is an available job
 * already due (its place in line is kept).
 * $1 int8[] ids, $2 timestamptz now.
 */
export const JobRetryByIDMany = (p: string) => `
WITH locked AS (
  SELECT id FROM ${p}river_job WHERE id = ANY ($1::int8[]) ORDER BY id FOR UPDATE
),
updated AS (
  UPDATE ${p}river_job j
  SET state = 'available',
      max_attempts = CASE WHEN j.attempt = j.max_attempts THEN j.max_attempts + 1 ELSE j.max_attempts END,
      finalized_at = NULL,
      scheduled_at = ${clock(2)}
  FROM locked l
  WHERE j.id = l.id AND j.state <> 'running'
    AND NOT (j.state = 'available' AND j.scheduled_at < ${clock(2)})
  RETURNING j.*
)${untouched(p, 'updated')}`;

/**
 * River's JobDelete for each id: deleted unless running (River refuses those with
 * ErrJobRunning). $1 int8[] ids.
 */
export const JobDeleteByIDMany = (p: string) => `
WITH locked AS (
  SELECT id FROM ${p}river_job WHERE id = ANY ($1::int8[]) ORDER BY id FOR UPDATE
),
deleted AS (
  DELETE FROM ${p}river_job j USING locked l
  WHERE j.id = l.id AND j.state <> 'running'
  RETURNING j.*
)${untouched(p, 'deleted')}`;
