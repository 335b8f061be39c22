/**
 * The latest jobs of each periodic schedule, for the dashboard's periodic page. A periodic job
 * names its schedule in `metadata['river:periodic_job_id']`, as River's enqueuer writes it (and
 * Eddy's, beside its own `periodic`).
 *
 * Staying fast on a big table: the schedules are the names given (the runner's definitions)
 * plus those found among the newest `$2` jobs, walked down the primary key (a bounded walk, so a
 * table of millions costs no more than `$2` rows); each schedule's jobs are then found through
 * River's GIN index on metadata (`river_job_metadata_index`, `@>`), newest first.
 */

/**
 * $1 text[] schedule names always shown, $2 int jobs to walk for other names, $3 int jobs per
 * schedule. Rows: `eddy_schedule` and the job's columns, newest first within each schedule.
 */
export const JobListPeriodicLatest = (p: string) => `
WITH walked AS (
  SELECT metadata ->> 'river:periodic_job_id' AS name
  FROM ${p}river_job
  ORDER BY id DESC
  LIMIT $2::int
), names AS (
  SELECT name FROM walked WHERE name IS NOT NULL
  UNION
  SELECT unnest($1::text[])
)
SELECT n.name AS eddy_schedule, j.*
FROM names n
CROSS JOIN LATERAL (
  SELECT * FROM ${p}river_job
  WHERE metadata @> jsonb_build_object('river:periodic_job_id', n.name)
  ORDER BY id DESC
  LIMIT $3::int
) j
ORDER BY n.name, j.id DESC`;
