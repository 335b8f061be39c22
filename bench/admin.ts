/**
 * The management API on a big table: the dashboard's overview and filtered job-list pages on
 * 1,000,000 jobs (90 % completed; BENCH_ADMIN_JOBS to change), in server time.
 *
 * The table is seeded in one server-side statement (generate_series), then VACUUM ANALYZE, as
 * autovacuum leaves a table (BENCH_ADMIN_VACUUM=0: ANALYZE only, no page all-visible). Each figure is the statement the management API sends (captured
 * from a real call through node-postgres), run under EXPLAIN (ANALYZE, TIMING OFF): planning
 * plus execution time, the median of BENCH_ADMIN_RUNS (default 7) after a warm-up run; the
 * round trip through the API is printed beside it. Statements that write run inside a
 * transaction that is rolled back. Targets: the overview ≤ 250 ms, a filtered page ≤ 100 ms.
 * The ratios compare each with the exact, unbounded SQL a dashboard would otherwise send (River
 * UI's JobCountByAllStates, a GROUP BY queue and state; a page by OFFSET).
 *
 * Run: npm run bench:admin
 */

import pg from 'pg';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createAdmin } from '../src/admin/admin.js';
import { encodeCursor } from '../src/admin/cursor.js';
import type { Driver } from '../src/driver/driver.js';
import { migrate } from '../src/migrate.js';
import { seedManyJobs } from '../test/support/admin-fixtures.js';
import { DATABASE_URL, dropCreated, fmt, freshSchema, printTable, round } from './support.js';

const JOBS = Number(process.env.BENCH_ADMIN_JOBS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_ADMIN_RUNS ?? 7);
const OVERVIEW_TARGET_MS = 250;
const PAGE_TARGET_MS = 100;

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
const schema = await freshSchema('admin');
const t = `${schema}.river_job`;

interface Captured {
  text: string;
  params: readonly (string | null)[];
}
let captured: Captured[] = [];
const base = nodePostgres(pool);
// The API's statements, captured as they are sent.
const driver: Driver = {
  ...base,
  query: (text, params = [], options) => {
    captured.push({ text, params });
    return base.query(text, params, options);
  },
};
const admin = createAdmin({ driver, schema });

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/** Server time (planning + execution) of one statement, in ms. */
async function serverMs(
  statement: Captured,
  writes: boolean,
): Promise<{ ms: number; jit: boolean }> {
  const client = await pool.connect();
  try {
    if (writes) await client.query('BEGIN');
    const { rows } = await client.query(
      `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${statement.text}`,
      statement.params as string[],
    );
    if (writes) await client.query('ROLLBACK');
    const plan = rows[0]['QUERY PLAN'][0];
    return { ms: plan['Planning Time'] + plan['Execution Time'], jit: plan.JIT !== undefined };
  } finally {
    client.release();
  }
}

interface Figure {
  name: string;
  serverMs: number;
  apiMs: number;
  jit: boolean;
}

/** Runs `call` once to capture its statement, then times it RUNS times on the server. */
async function measure(
  name: string,
  call: () => Promise<unknown>,
  writes = false,
): Promise<Figure> {
  captured = [];
  const started = performance.now();
  await call();
  const apiMs = performance.now() - started;
  if (captured.length !== 1) throw new Error(`${name}: sent ${captured.length} statements, not 1`);
  const statement = captured[0] as Captured;
  await serverMs(statement, writes); // warm-up
  const runs: number[] = [];
  let jit = false;
  for (let i = 0; i < RUNS; i++) {
    const run = await serverMs(statement, writes);
    runs.push(run.ms);
    jit ||= run.jit;
  }
  return { name, serverMs: median(runs), apiMs, jit };
}

/** The same for plain SQL, the unbounded baseline. */
async function measureSql(text: string, params: string[] = []): Promise<number> {
  const statement = { text, params };
  await serverMs(statement, false);
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push((await serverMs(statement, false)).ms);
  return median(runs);
}

try {
  await migrate(base, { schema });
  console.log(`seeding ${fmt(JOBS)} jobs in ${schema} …`);
  const seedStarted = performance.now();
  await seedManyJobs(pool, schema, JOBS);
  await pool.query(
    `INSERT INTO ${schema}.river_queue (name, created_at, metadata, updated_at)
     SELECT 'queue_' || i, now(), '{}', now() FROM generate_series(0, 7) AS i`,
  );
  // VACUUM marks pages all-visible (index-only scans then skip the heap) only when no older
  // transaction is open; on a shared server it may take a few tries. BENCH_ADMIN_VACUUM=0 only
  // analyzes: every page stays not all-visible, the worst case for the counts.
  const vacuum = process.env.BENCH_ADMIN_VACUUM !== '0';
  let visible = 0;
  for (let i = 0; i < (vacuum ? 5 : 1); i++) {
    await pool.query(vacuum ? `VACUUM ANALYZE ${t}` : `ANALYZE ${t}`);
    const { rows } = await pool.query(
      `SELECT relallvisible::float8 / greatest(relpages, 1) AS visible FROM pg_class WHERE oid = '${t}'::regclass`,
    );
    visible = rows[0].visible;
    if (!vacuum || visible >= 0.95) break;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  const { rows: size } = await pool.query(
    `SELECT pg_size_pretty(pg_total_relation_size('${t}')) AS size`,
  );
  console.log(
    `seeded in ${((performance.now() - seedStarted) / 1000) | 0} s (${size[0].size}, ${round(100 * visible, 0)} % of pages all-visible)\n`,
  );

  const now = Date.now();
  const hourAgo = new Date(now - 3600_000);
  const dayAgo = new Date(now - 24 * 3600_000);

  // The overview: every queue with its counts by state, pause state and oldest available job,
  // and per queue the jobs finished in the last hour and the last day.
  const overview = [
    await measure('queues.list()', () => admin.queues.list()),
    await measure('counts by queue, finished last hour', () =>
      admin.counts({ by: 'queue', finalizedSince: hourAgo }),
    ),
    await measure('counts by queue, finished last day', () =>
      admin.counts({ by: 'queue', finalizedSince: dayAgo }),
    ),
  ];
  const others = [
    await measure('counts()', () => admin.counts()),
    await measure('counts by kind', () => admin.counts({ by: 'kind' })),
    await measure('jobs.kinds()', () => admin.jobs.kinds()),
  ];
  const second = await admin.jobs.list({ limit: 50 });
  // A cursor 50,000 completed jobs deep: where page 1,001 starts.
  const { rows: at } = await pool.query(
    `SELECT id, to_char(finalized_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
     FROM ${t} WHERE state = 'completed' ORDER BY finalized_at DESC, id DESC OFFSET 49999 LIMIT 1`,
  );
  const deep = encodeCursor('finalized_at', 'desc', { id: BigInt(at[0].id), time: at[0].t });
  const pages = [
    await measure('newest 50', () => admin.jobs.list({ limit: 50 })),
    await measure('newest 50, page 2', () =>
      admin.jobs.list({ limit: 50, cursor: second.nextCursor as string }),
    ),
    await measure('state discarded', () => admin.jobs.list({ state: 'discarded', limit: 50 })),
    await measure('state running', () => admin.jobs.list({ state: 'running', limit: 50 })),
    await measure('state available, queue_3', () =>
      admin.jobs.list({ state: 'available', queue: 'queue_3', limit: 50 }),
    ),
    await measure('queue_5 (every state)', () => admin.jobs.list({ queue: 'queue_5', limit: 50 })),
    await measure('kind_7', () => admin.jobs.list({ kind: 'kind_7', limit: 50 })),
    await measure('kind_7, discarded', () =>
      admin.jobs.list({ kind: 'kind_7', state: 'discarded', limit: 50 }),
    ),
    await measure('args { user_id: 42 }', () =>
      admin.jobs.list({ args: { user_id: 42 }, limit: 50 }),
    ),
    await measure('metadata {} (every job)', () => admin.jobs.list({ metadata: {}, limit: 50 })),
    await measure('tag vip (bounded walk)', () => admin.jobs.list({ tag: 'vip', limit: 50 })),
    await measure('tag missing (walk to the bound)', () =>
      admin.jobs.list({ tag: 'missing', limit: 50 }),
    ),
    await measure('priority 2, available', () =>
      admin.jobs.list({ priority: 2, state: 'available', limit: 50 }),
    ),
    await measure('created in the last hour', () =>
      admin.jobs.list({ createdAt: { from: hourAgo }, limit: 50 }),
    ),
    await measure('finalized, newest first', () =>
      admin.jobs.list({ orderBy: 'finalizedAt', limit: 50 }),
    ),
    await measure('discarded, finalized in the last hour', () =>
      admin.jobs.list({
        state: 'discarded',
        finalizedAt: { from: hourAgo },
        orderBy: 'finalizedAt',
        limit: 50,
      }),
    ),
    await measure('finalized, page 1,001 by cursor', () =>
      admin.jobs.list({ orderBy: 'finalizedAt', state: 'completed', limit: 50, cursor: deep }),
    ),
    await measure('scheduled, soonest first', () =>
      admin.jobs.list({ state: 'scheduled', orderBy: 'scheduledAt', order: 'asc', limit: 50 }),
    ),
  ];
  const bulk = [
    await measure(
      'retryMany 1,000 discarded (rolled back)',
      () => admin.jobs.retryMany({ state: 'discarded' }, { max: 1000 }),
      true,
    ),
  ];

  // What a dashboard would send without bounds.
  const naiveStates = await measureSql(`SELECT state, count(*) FROM ${t} GROUP BY state`);
  const naiveQueues = await measureSql(
    `SELECT queue, state, count(*) FROM ${t} GROUP BY queue, state`,
  );
  const naiveFinished = await measureSql(
    `SELECT queue, state, count(*) FROM ${t} WHERE finalized_at >= $1 GROUP BY queue, state`,
    [dayAgo.toISOString()],
  );
  const naiveTag = await measureSql(
    `SELECT * FROM ${t} WHERE tags @> '{missing}' ORDER BY id DESC LIMIT 51`,
  );
  const naiveOffset = await measureSql(
    `SELECT * FROM ${t} WHERE state = 'completed' ORDER BY finalized_at DESC, id DESC OFFSET 50000 LIMIT 51`,
  );

  const ms = (value: number) => value.toFixed(1);
  const row = (f: Figure, target?: number) => [
    f.name,
    ms(f.serverMs),
    ms(f.apiMs),
    f.jit ? 'yes' : 'no',
    target === undefined ? '' : `${round(f.serverMs / target, 2)}x`,
  ];
  const overviewMs = overview.reduce((sum, f) => sum + f.serverMs, 0);
  const worstPage = pages.reduce((a, b) => (b.serverMs > a.serverMs ? b : a));
  console.log(`Overview (${fmt(JOBS)} jobs, median of ${RUNS}):`);
  printTable(
    ['statement', 'server ms', 'api ms', 'JIT', 'of target'],
    [
      ...overview.map((f) => row(f)),
      [
        'overview, total',
        round(overviewMs, 1),
        '',
        '',
        `${round(overviewMs / OVERVIEW_TARGET_MS, 2)}x`,
      ],
    ],
  );
  console.log('\nOther counts:');
  printTable(
    ['statement', 'server ms', 'api ms', 'JIT', ''],
    others.map((f) => row(f)),
  );
  console.log(`\nJob-list pages of 50 (target ${PAGE_TARGET_MS} ms each):`);
  printTable(
    ['page', 'server ms', 'api ms', 'JIT', 'of target'],
    pages.map((f) => row(f, PAGE_TARGET_MS)),
  );
  console.log('\nBulk:');
  printTable(
    ['statement', 'server ms', 'api ms', 'JIT', ''],
    bulk.map((f) => row(f)),
  );
  const named = (name: string) => {
    const figure = [...overview, ...others, ...pages].find((f) => f.name === name);
    if (!figure) throw new Error(`no figure ${name}`);
    return figure.serverMs;
  };
  const against = [
    ['GROUP BY state (River UI)', naiveStates, named('counts()')],
    ['GROUP BY queue, state', naiveQueues, named('queues.list()')],
    ['finished last day by queue', naiveFinished, named('counts by queue, finished last day')],
    ['tag filter, no bound', naiveTag, named('tag missing (walk to the bound)')],
    ['page 1,001 by OFFSET', naiveOffset, named('finalized, page 1,001 by cursor')],
  ] as const;
  console.log('\nAgainst the unbounded SQL a dashboard would otherwise send (server ms):');
  printTable(
    ['query', 'unbounded', 'Eddy', 'ratio'],
    against.map(([name, unbounded, eddy]) => [
      name,
      ms(unbounded),
      ms(eddy),
      `${round(eddy / unbounded, 3)}x`,
    ]),
  );
  // How close the estimates come (the seed's exact figures are known).
  const counts = await admin.counts();
  const truth = { completed: JOBS * 0.9, available: JOBS * 0.04 };
  const errors = Object.entries(truth).map(([state, exact]) => {
    const count = counts.states[state as 'completed'];
    return [
      state,
      fmt(exact),
      fmt(count.count),
      count.exact ? 'exact' : 'estimate',
      `${round((100 * (count.count - exact)) / exact, 1)} %`,
    ];
  });
  console.log('\nEstimates past the cap (counts().states):');
  printTable(['state', 'jobs', 'counted', '', 'error'], errors);
  const ok = overviewMs <= OVERVIEW_TARGET_MS && worstPage.serverMs <= PAGE_TARGET_MS;
  console.log(
    `\noverview ${round(overviewMs, 1)} ms (target ${OVERVIEW_TARGET_MS}), slowest page ${round(worstPage.serverMs, 1)} ms: ${worstPage.name} (target ${PAGE_TARGET_MS}) — ${ok ? 'within target' : 'OVER TARGET'}`,
  );
  console.log(
    JSON.stringify({
      bench: 'admin',
      jobs: JOBS,
      runs: RUNS,
      allVisiblePct: round(100 * visible, 0),
      overviewServerMs: round(overviewMs, 1),
      overviewTargetMs: OVERVIEW_TARGET_MS,
      slowestPageServerMs: round(worstPage.serverMs, 1),
      slowestPage: worstPage.name,
      pageTargetMs: PAGE_TARGET_MS,
      withinTarget: ok,
      jit: [...overview, ...others, ...pages].some((f) => f.jit),
      overview: Object.fromEntries(overview.map((f) => [f.name, round(f.serverMs, 1)])),
      counts: Object.fromEntries(others.map((f) => [f.name, round(f.serverMs, 1)])),
      pages: Object.fromEntries(pages.map((f) => [f.name, round(f.serverMs, 1)])),
      bulk: Object.fromEntries(bulk.map((f) => [f.name, round(f.serverMs, 1)])),
      estimateErrorPct: Object.fromEntries(
        errors.map((e) => [e[0], Number.parseFloat(String(e[4]))]),
      ),
      unbounded: {
        groupByState: round(naiveStates, 1),
        groupByQueueState: round(naiveQueues, 1),
        finishedLastDayByQueue: round(naiveFinished, 1),
        tagNoBound: round(naiveTag, 1),
        offsetPage: round(naiveOffset, 1),
      },
    }),
  );
} finally {
  if (process.env.BENCH_ADMIN_KEEP) console.log(`kept ${schema}`);
  else await dropCreated();
  await pool.end();
}
