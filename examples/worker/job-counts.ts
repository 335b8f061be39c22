/**
 * `GET /jobs`'s query: job counts by state, bounded. Each state's count walks River's fetch index
 * (state, queue, priority, scheduled_at, id) and stops after COUNT_CAP entries, so a big
 * `river_job` costs no full scan. The ORDER BY follows that index so the planner walks it:
 * without it, it may scan the whole table for a state that has few rows.
 */

/** Counts stop here; a capped count reads "1000+". */
export const COUNT_CAP = 1000;

/** `$1`: COUNT_CAP + 1, so a capped count shows. */
export const JOB_COUNTS_SQL = `SELECT s.state::text AS state,
  (SELECT count(*)::int FROM (
     SELECT 1 FROM river_job j WHERE j.state = s.state
     ORDER BY j.queue, j.priority, j.scheduled_at, j.id LIMIT $1) capped) AS jobs
FROM unnest(enum_range(NULL::river_job_state)) AS s(state)`;
