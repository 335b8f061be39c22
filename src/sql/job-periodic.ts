/**
 * The latest jobs of each periodic schedule, for the dashboard's periodic page. A periodic job
 * names its schedule in `metadata['river:periodic_job_id']`, as River's enqueuer writes it (and
 * Eddy's, beside its own `periodic`).
 *
 * One bitmap scan of River's GIN index on metadata (`river_job_metadata_index` serves `?`) finds
 * every periodic job, so every schedule shows, Go River's included; a window keeps each one's
 * newest. It costs what the periodic jobs the table retains cost (completed ones are deleted
 * after a day by default): a schedule every minute keeps about 1,440, one every second 86,400.
 *
 * Measured on 1,000,000 jobs (`seedManyJobs`, 90 % completed) after VACUUM ANALYZE, PostgreSQL 15
 * on the 2-core development machine: with 1,441 periodic jobs (a schedule every minute for a
 * day, and a daily one whose only job is among the oldest) 1.4 ms; with 90,000 more (a schedule
 * every second) 150 ms, the sort of its rows, still under `jit_above_cost`. Per schedule instead
 * (a LATERAL per name, `@>` ordered by id), the planner walked the primary key backwards
 * checking each row (it cannot estimate a fragment built from the name), half the table for the
 * daily schedule: 600 ms and a JIT compilation. Ranking only ids and joining back for the rows
 * cost more (255 ms on the larger set).
 */

/**
 * $1 int jobs per schedule. Rows: `eddy_schedule` and the job's columns, schedules in name
 * order, newest first within each.
 */
export const JobListPeriodicLatest = (p: string) => `
SELECT ranked.* FROM (
  SELECT j.metadata ->> 'river:periodic_job_id' AS eddy_schedule, j.*,
    row_number() OVER (
      PARTITION BY j.metadata ->> 'river:periodic_job_id' ORDER BY j.id DESC
    ) AS eddy_rank
  FROM ${p}river_job j
  WHERE j.metadata ? 'river:periodic_job_id'
) ranked
WHERE ranked.eddy_rank <= $1::int
ORDER BY ranked.eddy_schedule, ranked.id DESC`;
