/**
 * Counting jobs by state, queue and kind so that the count costs the same on a table of a
 * thousand jobs and of a hundred million: every count is exact up to a cap ($1), read through an
 * index that stops at the cap (as River UI's JobCountByAllStatesCapped does), and beyond it is an
 * estimate from a sample of about `SAMPLE_PAGES` pages of the table (`TABLESAMPLE SYSTEM`, the
 * same pages each time, `REPEATABLE`, so a dashboard's figures do not jump between refreshes).
 * The sample is read only when some count passed its cap.
 *
 * Every statement returns cells `(state, grp, n, exact, sampled, pct)`: `n` the count (exact, or
 * how many were seen before the cap), `sampled` how many sampled rows fell in the cell, `pct` the
 * percentage of pages sampled; the estimate is `sampled × 100 / pct`, never below `n`.
 *
 * Where the index leads: `river_job_prioritized_fetching_index` (state, queue, priority,
 * scheduled_at, id) counts a state, or a state in one queue, from the index alone;
 * `river_job_state_and_finalized_at_index` counts a finalized state since a time. Kinds (and
 * queues since a time) have no index beside the state: up to $1 rows of each state are read and
 * grouped, exact when the state has no more than that.
 *
 * Measured (bench/admin.ts, 1,000,000 jobs of which 90 % completed, PostgreSQL 15, the default
 * cap of 5,000): by state ~19 ms, queues with counts ~42 ms, by kind ~69 ms of server time after
 * VACUUM; ~65, ~80 and ~84 ms with no page all-visible (every index-only read then visits the
 * heap). Each
 * statement's planned cost stays under PostgreSQL's default `jit_above_cost` (100,000): a JIT
 * compilation costs ~200 ms per execution on this machine, more than the whole count. That is why
 * the queue walk below steps through (state, queue) pairs one at a time (a chain the planner
 * estimates at ~100 rows) rather than per state (which it estimates at ~800).
 */

/** Pages the estimates sample, whatever the table's size (about 70,000 of River's rows). */
export const SAMPLE_PAGES = 2048;

export const STATES = [
  'available',
  'cancelled',
  'completed',
  'discarded',
  'pending',
  'retryable',
  'running',
  'scheduled',
] as const;
const FINALIZED: readonly string[] = ['cancelled', 'completed', 'discarded'];

/** The share of pages to sample, in percent: SAMPLE_PAGES of the table's pages, at most all. */
const sampleRate = (p: string) =>
  `least(100, 100.0 * ${SAMPLE_PAGES} / greatest(1, pg_relation_size('${p}river_job'::regclass) / current_setting('block_size')::int))::float8`;

/** Only jobs a window counts: unfinalized ones, and finalized ones since $2. */
const inWindow = (alias: string) =>
  `(${alias}state NOT IN ('cancelled', 'completed', 'discarded') OR ${alias}finalized_at >= $2::timestamptz)`;

/**
 * The estimates' sample and the result: the sample is read only if a cell is not exact.
 * `grp` is the grouping column (`NULL::text` for none).
 */
const sampleAndResult = (p: string, grp: string, since: boolean) => `,
rate AS (SELECT ${sampleRate(p)} AS pct),
sampled AS (
  SELECT state::text AS state, ${grp} AS grp, count(*) AS n
  FROM ${p}river_job TABLESAMPLE SYSTEM ((SELECT pct FROM rate)) REPEATABLE (0)
  WHERE (SELECT NOT bool_and(exact) FROM cells)${since ? ` AND ${inWindow('')}` : ''}
  GROUP BY 1, 2
)
SELECT c.state, c.grp, c.n, c.exact, coalesce(s.n, 0) AS sampled, (SELECT pct FROM rate) AS pct
FROM cells c LEFT JOIN sampled s ON s.state = c.state AND s.grp IS NOT DISTINCT FROM c.grp
UNION ALL
-- Cells only the sample saw (a group first seen past a capped scan).
SELECT s.state, s.grp, 0, false, s.n, (SELECT pct FROM rate)
FROM sampled s
WHERE NOT EXISTS (
  SELECT 1 FROM cells c WHERE c.state = s.state AND c.grp IS NOT DISTINCT FROM s.grp
)`;

/** Up to $1 + 1 jobs of one state, in an order an index gives (so the scan stops at the cap). */
function stateScan(p: string, state: string, since: boolean, column: string): string {
  if (since && FINALIZED.includes(state))
    return `SELECT ${column} FROM ${p}river_job WHERE state = '${state}' AND finalized_at >= $2::timestamptz
      ORDER BY finalized_at DESC LIMIT $1::int + 1`;
  return `SELECT ${column} FROM ${p}river_job WHERE state = '${state}'
      ORDER BY queue, priority, scheduled_at, id LIMIT $1::int + 1`;
}

/**
 * Jobs by state. $1 int cap, $2 timestamptz (when `since`): finalized states count only jobs
 * finalized since then.
 */
export const JobCountByState = (p: string, since: boolean) => `
WITH cells AS (
${STATES.map(
  (state) => `  SELECT '${state}'::text AS state, NULL::text AS grp, n, n <= $1::int AS exact
  FROM (SELECT count(*) AS n FROM (${stateScan(p, state, since, '1')}) x) c`,
).join('\n  UNION ALL\n')}
)${sampleAndResult(p, 'NULL::text', since)}`;

/**
 * Jobs by state and a column with no index of its own beside the state (`kind`; `queue` since a
 * time): each state's first $1 + 1 jobs grouped, exact when the state has no more.
 */
const perStateCells = (p: string, column: string, since: boolean) => `
WITH cells AS (
${STATES.map(
  (state) => `  SELECT '${state}'::text AS state, grp, count(*) AS n,
    sum(count(*)) OVER () <= $1::int AS exact
  FROM (${stateScan(p, state, since, `${column} AS grp`)}) x GROUP BY grp`,
).join('\n  UNION ALL\n')}
)`;

/** Jobs by state and kind. $1 int cap, $2 timestamptz (when `since`). */
export const JobCountByKindAndState = (p: string, since: boolean) =>
  `${perStateCells(p, 'kind', since)}${sampleAndResult(p, 'kind', since)}`;

/** The scheduled_at of the oldest available job in `queue`: one index probe per priority. */
const oldestAvailable = (p: string, queue: string) => `(
      SELECT min(o.scheduled_at) FROM unnest('{1,2,3,4}'::int2[]) AS pr(priority), LATERAL (
        SELECT j.scheduled_at FROM ${p}river_job j
        WHERE j.state = 'available' AND j.queue = ${queue} AND j.priority = pr.priority
        ORDER BY j.scheduled_at LIMIT 1
      ) o
    )`;

/** One (state, queue) cell counted from the fetching index, up to the cap. */
const cellCount = (p: string, state: string, queue: string) => `(
      SELECT count(*) FROM (
        SELECT 1 FROM ${p}river_job j WHERE j.state = '${state}' AND j.queue = ${queue}
        ORDER BY j.priority, j.scheduled_at, j.id LIMIT $1::int + 1
      ) x
    )`;

/**
 * Every (state, queue) pair that has jobs, walked through the fetching index one probe per pair
 * (a loose index scan), and each pair counted from the index up to the cap: one branch per
 * state, naming it, so the planner estimates each count with the state's own statistics and
 * walks the index (with a parameter for the state it may pick a bitmap scan and a sort that
 * reads every job of the pair: 6 ms a pair instead of 0.5 on 100,000 jobs).
 * `finalizedStates` false leaves the finalized states out (counted otherwise, since a time).
 */
const queuePairCells = (p: string, finalizedStates = true, oldest = false) => `
WITH RECURSIVE pairs(state, queue) AS (
  (SELECT state, queue FROM ${p}river_job ORDER BY state, queue LIMIT 1)
  UNION ALL
  SELECT n.state, n.queue FROM pairs w, LATERAL (
    SELECT j.state, j.queue FROM ${p}river_job j
    WHERE (j.state, j.queue) > (w.state, w.queue) ORDER BY j.state, j.queue LIMIT 1
  ) n
),
counted_pairs AS (
${STATES.filter((state) => finalizedStates || !FINALIZED.includes(state))
  .map(
    (
      state,
    ) => `  SELECT '${state}'::text AS state, w.queue AS grp, ${cellCount(p, state, 'w.queue')} AS n${
      oldest
        ? `,
    ${state === 'available' ? oldestAvailable(p, 'w.queue') : 'NULL::timestamptz'} AS oldest`
        : ''
    }
  FROM pairs w WHERE w.state = '${state}'`,
  )
  .join('\n  UNION ALL\n')}
)`;

/**
 * Jobs by state and queue. $1 int cap, $2 timestamptz (when `since`): unfinalized states are
 * counted per queue from the index; finalized ones since $2 through the state-and-finalized
 * index, each state's first $1 + 1 grouped by queue.
 */
export const JobCountByQueueAndState = (p: string, since: boolean) => {
  const exact = `cells AS (
  SELECT state, grp, n, n <= $1::int AS exact FROM counted_pairs${
    since
      ? `
  UNION ALL
${FINALIZED.map(
  (state) => `  SELECT '${state}'::text, grp, count(*), sum(count(*)) OVER () <= $1::int
  FROM (${stateScan(p, state, true, 'queue AS grp')}) x GROUP BY grp`,
).join('\n  UNION ALL\n')}`
      : ''
  }
)`;
  return `${queuePairCells(p, !since)},\n${exact}${sampleAndResult(p, 'queue', since)}`;
};

/** The queues' rows and their counted cells, by name (`named`: the names to list). */
const queueRows = (p: string, named: string) => `
counted AS (
  SELECT c.grp, max(c.oldest) AS oldest,
    jsonb_agg(jsonb_build_array(c.state, c.n, c.exact, coalesce(s.n, 0))) AS counts
  FROM cells c LEFT JOIN sampled s ON s.state = c.state AND s.grp = c.grp
  GROUP BY c.grp
),
names AS (${named})
SELECT q.name, (rq.name IS NOT NULL) AS registered, rq.created_at, rq.updated_at, rq.paused_at,
  rq.metadata, k.oldest AS oldest_available_at, coalesce(k.counts, '[]') AS counts,
  (SELECT pct FROM rate) AS pct
FROM names q
LEFT JOIN ${p}river_queue rq ON rq.name = q.name
LEFT JOIN counted k ON k.grp = q.name
ORDER BY q.name`;

const queueSample = (p: string, where = '') => `
rate AS (SELECT ${sampleRate(p)} AS pct),
sampled AS (
  SELECT state::text AS state, queue AS grp, count(*) AS n
  FROM ${p}river_job TABLESAMPLE SYSTEM ((SELECT pct FROM rate)) REPEATABLE (0)
  WHERE (SELECT NOT bool_and(exact) FROM cells)${where}
  GROUP BY 1, 2
),`;

/**
 * Queues with their jobs counted by state: every queue River knows (`river_queue`) and every
 * queue jobs name without a row there (`registered` false: no client has worked it), each with
 * its row (NULL columns when unregistered), the scheduled_at of its oldest available job, and its
 * counts as a jsonb array of cells `[state, n, exact, sampled]`, with `pct` the sample's rate.
 * $1 int cap.
 */
export const QueueListWithCounts = (p: string) =>
  `${queuePairCells(p, true, true)},
cells AS (SELECT state, grp, n, n <= $1::int AS exact, oldest FROM counted_pairs),${queueSample(p)}${queueRows(
    p,
    `SELECT name FROM ${p}river_queue UNION SELECT grp FROM counted`,
  )}`;

/**
 * One queue as QueueListWithCounts gives it, or no row when it has neither a `river_queue` row
 * nor jobs. $1 int cap, $2 text name.
 */
export const QueueGetWithCounts = (p: string) => `
WITH cells AS (
${STATES.map(
  (state) => `  SELECT '${state}'::text AS state, $2::text AS grp, n, n <= $1::int AS exact,
    ${state === 'available' ? oldestAvailable(p, '$2::text') : 'NULL::timestamptz'} AS oldest
  FROM (SELECT ${cellCount(p, state, '$2::text')} AS n) c WHERE n > 0`,
).join('\n  UNION ALL\n')}
),${queueSample(p, ' AND queue = $2::text')}${queueRows(
  p,
  `SELECT name FROM ${p}river_queue WHERE name = $2::text UNION SELECT grp FROM counted`,
)}`;
