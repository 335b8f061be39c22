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
 * time, $7 timestamptz the claim time (NULL: the database's now()). `token` is the SQL that
 * builds the lease token from those (`ops/lease.ts`).
 */
export const JobClaimBatch = (p: string, token: string) => `
WITH token AS (
  SELECT ${token} AS value
),
locked AS (
  SELECT picked.id
  FROM unnest($1::text[], $2::int[]) AS q(name, lim)
  CROSS JOIN LATERAL (
    SELECT j.id
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
  j.attempted_at, j.attempted_by, j.created_at, j.finalized_at, j.scheduled_at, j.errors, j.metadata, j.tags`;
