/**
 * Claiming jobs: one statement locks a bounded batch with SKIP LOCKED and marks it running.
 *
 * Each queue is claimed through its own LATERAL subquery so every one walks
 * river_job_prioritized_fetching_index (state, queue, priority, scheduled_at, id) in order; a
 * single `queue = ANY(...)` query would have to sort every available job instead.
 *
 * The lease travels in the attempted_by entry the claim appends (its format is owned by
 * `ops/lease.ts`, which passes the expression that builds it), so a claim writes no column that
 * River does not already write, and no extra index entry.
 *
 * The UPDATE finds the locked rows by `id = ANY(ARRAY(...))`, not by joining `locked`: the
 * planner cannot tell how many rows the LATERAL `LIMIT q.lim` yields, guessed ~10 % of the
 * table, and merge-joined by walking river_job_pkey from its first entry, so every claim read
 * past every job ever claimed. Draining 100k jobs in batches of 1000, a claim grew from 26 ms
 * to 141 ms; with the array it stays at ~20 ms (PostgreSQL 15, EXPLAIN ANALYZE).
 */

import { clock } from './clock.js';

/** The claim time: parameter $7 (see `clock`). */
export const JobClaimAt = clock(7);

/**
 * $1 text[] queue names, $2 int[] per-queue limits, $3 text[] kinds this runner works,
 * $4 text the runner id, $5 text the claim nonce, $6 int8 lease length in ms from the claim
 * time, $7 timestamptz the claim time (NULL: the database's now()), $8 int the most jobs in
 * all (the runner's free slots; with several queues the per-queue subqueries may lock a few
 * more rows, released at once when the statement ends). `token` is the SQL that builds the
 * lease token from those (`ops/lease.ts`).
 *
 * A claimed job's `errors` carry the trace of its latest attempt only: a worker and its retry
 * policy need every error's message and count, not every stack. Each attempt may store up to
 * 10,000 characters (`ops/record-outcomes.ts`), so 25 attempts of 100 claimed jobs would
 * otherwise be 25 MB, past Neon HTTP's 10 MB response limit. The row keeps them all.
 */
export const JobClaimBatch = (p: string, token: string) => `
WITH token AS (
  SELECT ${token} AS value
),
locked AS (
  SELECT picked.id
  FROM unnest($1::text[], $2::int[]) AS q(name, lim)
  CROSS JOIN LATERAL (
    SELECT j.id, j.priority, j.scheduled_at
    FROM ${p}river_job j
    WHERE j.state = 'available'
      AND j.queue = q.name
      AND j.scheduled_at <= ${JobClaimAt}
      AND j.kind = ANY($3::text[])
      AND NOT EXISTS (
        SELECT 1 FROM ${p}river_queue rq
        WHERE rq.paused_at IS NOT NULL AND (rq.name = q.name OR rq.name = '*')
      )
    ORDER BY j.priority, j.scheduled_at, j.id
    LIMIT q.lim
    FOR UPDATE SKIP LOCKED
  ) picked
  ORDER BY picked.priority, picked.scheduled_at, picked.id
  LIMIT $8::int
)
UPDATE ${p}river_job j
SET state = 'running',
    attempt = j.attempt + 1,
    attempted_at = ${JobClaimAt},
    -- River keeps at most 100 entries in attempted_by.
    attempted_by = CASE
      WHEN cardinality(j.attempted_by) >= 100
        THEN j.attempted_by[cardinality(j.attempted_by) - 98:] || (SELECT value FROM token)
      ELSE array_append(j.attempted_by, (SELECT value FROM token))
    END
WHERE j.id = ANY (ARRAY(SELECT id FROM locked))
RETURNING j.id, j.kind, j.args, j.queue, j.state::text AS state, j.priority, j.attempt, j.max_attempts,
  j.attempted_at, j.attempted_by, j.created_at, j.finalized_at, j.scheduled_at,
  CASE WHEN cardinality(j.errors) > 1 THEN ARRAY(
      SELECT CASE WHEN e.n < cardinality(j.errors) THEN e.error || '{"trace": ""}' ELSE e.error END
      FROM unnest(j.errors) WITH ORDINALITY AS e(error, n) ORDER BY e.n)
    ELSE j.errors END AS errors,
  j.metadata, j.tags`;

/**
 * Extends leases this runner holds (a heartbeat), fenced like outcomes: the current entry's
 * expiry moves to the claim time plus the lease length, never earlier than it was. `held` tests
 * the fence against `u.lease`, `extended` builds the entry with expiry `new_expiry`.
 * $1 int8[] id · $2 text[] lease identity · $3 int8 lease length in ms · $4 timestamptz now.
 */
export const JobExtendLeases = (p: string, held: string, expiry: string, extended: string) => `
UPDATE ${p}river_job j
SET attempted_by[cardinality(j.attempted_by)] = (
  SELECT ${extended}
  FROM (SELECT greatest(${expiry}, (extract(epoch FROM ${clock(4)}) * 1000)::int8 + $3::int8) AS new_expiry) x
)
FROM unnest($1::int8[], $2::text[]) AS u(id, lease)
WHERE j.id = u.id AND j.state = 'running' AND ${held}
RETURNING j.id`;
