/**
 * The gauges `/metrics` reports, in one statement: jobs by queue and state, the age of the
 * oldest available job per queue, running jobs whose Eddy lease has passed (waiting for the next
 * rescue), and which queues are paused.
 *
 * Each part reads what an index already orders: the counts group
 * river_job_prioritized_fetching_index (state, queue, …), which covers every row, so PostgreSQL
 * can count it with an index-only scan; the oldest available job and the expired leases read
 * only the `available` and `running` ranges of that index. A table of finalized jobs past
 * retention is what makes the counts cost: River's own maintenance deletes them.
 */

import { clock } from './clock.js';

/**
 * Rows `(gauge, queue, state, value)`: `jobs` (state set, value a count), `oldest_available`
 * (value seconds since the oldest available job came due), `lease_expired` (a count), `paused`
 * (1 per paused queue; queue `*` pauses every queue). `lease` holds the SQL reading the current
 * attempted_by entry, unqualified (`ops/lease.ts`). $1 timestamptz now.
 */
export const JobGauges = (p: string, lease: { isLease: string; expiry: string }) => `
SELECT 'jobs' AS gauge, queue, state::text AS state, count(*)::float8 AS value
FROM ${p}river_job
GROUP BY queue, state
UNION ALL
SELECT 'oldest_available', queue, NULL,
  greatest(0, extract(epoch FROM ${clock(1)} - min(scheduled_at)))::float8
FROM ${p}river_job
WHERE state = 'available'
GROUP BY queue
UNION ALL
SELECT 'lease_expired', queue, NULL, count(*)::float8
FROM ${p}river_job
WHERE state = 'running'
  AND ${lease.isLease}
  AND ${lease.expiry} < (extract(epoch FROM ${clock(1)}) * 1000)::int8
GROUP BY queue
UNION ALL
SELECT 'paused', name, NULL, 1::float8
FROM ${p}river_queue
WHERE paused_at IS NOT NULL`;
