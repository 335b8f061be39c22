/**
 * Insert throughput: Eddy vs bare SQL vs pg-boss vs graphile-worker, on the same PostgreSQL.
 *
 *   npm run bench:insert
 *
 * Four measurements, each for every contender:
 *
 * - bulk, sequential: one loop awaiting one 1,000-job call at a time (one connection busy);
 * - bulk, 8 in flight: BENCH_BULK_PARALLEL (default 8) such loops;
 * - single, sequential: one loop awaiting one `insert` at a time;
 * - single, 8 in flight: BENCH_SINGLE_PARALLEL (default 8) such loops.
 *
 * Every contender gets its own fresh schema (dropped at the end), its own pg Pool of 8, the same
 * job payloads and the same concurrency. A measurement is one mode for every contender: the
 * tables are truncated and a CHECKPOINT taken, each contender warms up (BENCH_WARMUP_SECONDS,
 * 1 s), then they take turns of BENCH_SLICE_SECONDS (0.5 s) until each has run BENCH_SECONDS
 * (4 s; see `measureInTurns`), so a slow spell of the shared machine falls on all of them
 * alike. BENCH_ROUNDS rounds (default 3) of the four modes follow one another; a rate is a
 * contender's median round, a ratio the median of the rounds' ratios (paired: both contenders
 * ran through the same seconds). Only ratios within one run mean anything on a shared machine.
 *
 * Contenders and their settings (each library's documented fast path, defaults otherwise):
 * - Eddy: `createClient({ driver: nodePostgres(pool), schema })`, `insert` / `insertMany`
 *   (one statement per call, validated, returning each inserted job, as users get it; these
 *   jobs have no unique key, so Eddy sends its plain INSERT without ON CONFLICT).
 * - bare SQL on River's schema (the floor): the same rows into the same `river_job` table, with
 *   the same indexes, by a hand-written prepared statement naming every column Eddy writes
 *   (args and kind per job; attempts, metadata, priority, queue, state, tags, scheduled_at and
 *   created_at as the literal values Eddy stores for these jobs). Bulk: one JSON array of the
 *   args through `jsonb_array_elements` beside `unnest` of the kinds (the faster of the two
 *   obvious shapes: `unnest($1::jsonb[])` took the server 5–10 % longer, and escaping each
 *   document into an array literal costs JavaScript time). No RETURNING, no validation, no
 *   library in between.
 * - pg-boss 12: `send(name, data)` / `insert(name, jobs)` on a created queue; `supervise: false`,
 *   `schedule: false` and `registerInstance: false` so no maintenance, cron polling or instance
 *   heartbeat competes with the inserts.
 * - graphile-worker 0.18: WorkerUtils over the same kind of pool, `addJob` / `addJobs` (its
 *   bulk `add_jobs` SQL function, as documented for batch enqueueing).
 *
 * BENCH_BASELINE=<checkout> adds that checkout's Eddy (`eddy@baseline`) to the same run, and
 * BENCH_BARE_RETURNING=1 the bare statements with `RETURNING id, created_at` (`bare + RETURNING`):
 * what returning the inserted job costs the database by itself.
 * The last line printed is one JSON object with every rate and the ratios to bare SQL.
 */

import { makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createClient, createRunner, defineWorker, migrate } from '../src/index.js';
import {
  admin,
  DATABASE_URL,
  dropCreated,
  type EddyApi,
  fmt,
  freshSchema,
  ignoreIdleErrors,
  loadBaseline,
  type Measurement,
  measureInTurns,
  median,
  printTable,
  quietGraphileLogger,
  round,
  SECONDS,
  SLICE_SECONDS,
  WARMUP_SECONDS,
} from './support.js';

const SINGLE_PARALLEL = Number(process.env.BENCH_SINGLE_PARALLEL ?? 8);
const BULK_PARALLEL = Number(process.env.BENCH_BULK_PARALLEL ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BULK_SIZE = 1000;
/** BENCH_ONLY=eddy,bare narrows the contenders (for profiling; the JSON then lacks peers). */
const ONLY = process.env.BENCH_ONLY?.split(',');
/** BENCH_MODES=bulk_seq,single_8 narrows the measurements (for profiling). */
const MODES = process.env.BENCH_MODES?.split(',');
const POOL_SIZE = Math.max(SINGLE_PARALLEL, BULK_PARALLEL);
const KIND = 'bench_noop';

/** The four measurements: which call, and how many loops await it side by side. */
const ALL_MODES = [
  { key: 'bulk_seq', label: 'bulk, sequential', call: 'bulk', parallel: 1 },
  {
    key: 'bulk_8',
    label: `bulk, ${BULK_PARALLEL} in flight`,
    call: 'bulk',
    parallel: BULK_PARALLEL,
  },
  { key: 'single', label: 'single, sequential', call: 'single', parallel: 1 },
  {
    key: 'single_8',
    label: `single, ${SINGLE_PARALLEL} in flight`,
    call: 'single',
    parallel: SINGLE_PARALLEL,
  },
] as const;
const modes = ALL_MODES.filter((m) => !MODES || MODES.includes(m.key));

/** The same payloads for everyone: a small JSON object, as typical jobs carry. */
const payloads = Array.from({ length: BULK_SIZE }, (_, i) => ({
  user_id: 100_000 + i,
  email: `user-${i}@example.com`,
  template: 'welcome',
}));
let next = 0;
const onePayload = () => payloads[next++ % BULK_SIZE] as (typeof payloads)[number];

interface Contender {
  readonly name: string;
  single(): Promise<number>;
  bulk(): Promise<number>;
  /** Empties the contender's job table(s). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

function newPool(): pg.Pool {
  return new pg.Pool({ connectionString: DATABASE_URL, max: POOL_SIZE });
}

const current: EddyApi = { createClient, createRunner, defineWorker, migrate, nodePostgres };

async function eddy(api = current, name = 'eddy'): Promise<Contender> {
  const schema = await freshSchema(name === 'eddy' ? 'eddy' : 'eddy_base');
  const pool = newPool();
  const driver = api.nodePostgres(pool);
  await api.migrate(driver, { schema });
  const client = api.createClient({ driver, schema });
  const items = payloads.map((args) => ({ kind: KIND, args }));
  return {
    name,
    single: async () => {
      await client.insert(KIND, onePayload());
      return 1;
    },
    bulk: async () => (await client.insertMany(items)).length,
    reset: () => pool.query(`TRUNCATE ${schema}.river_job`).then(() => undefined),
    close: () => pool.end(),
  };
}

/**
 * `returning`: the same statements with `RETURNING id, created_at`, what an insert that tells
 * its caller the job needs at least (BENCH_BARE_RETURNING=1 adds it as `bare + RETURNING`).
 */
async function bare(returning = false): Promise<Contender> {
  const schema = await freshSchema(returning ? 'bare_ret' : 'bare');
  const pool = newPool();
  await migrate(nodePostgres(pool), { schema });
  // Every column Eddy writes, with the values Eddy stores for these jobs (see the file comment).
  const columns = `(args, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags,
    created_at)`;
  const constants = `25, '{}', 1, 'default', now(), 'available', '{}', now()`;
  const tail = returning ? '\n    RETURNING id, created_at' : '';
  const single = {
    name: 'bare_single',
    text: `INSERT INTO ${schema}.river_job ${columns} VALUES ($1, $2, ${constants})${tail}`,
  };
  const bulk = {
    name: 'bare_bulk',
    text: `INSERT INTO ${schema}.river_job ${columns}
    SELECT a, k, ${constants}
    FROM ROWS FROM (jsonb_array_elements($1::jsonb), unnest($2::text[])) AS t(a, k)${tail}`,
  };
  const kinds = `{${payloads.map(() => KIND).join(',')}}`;
  return {
    name: returning ? 'bare + RETURNING' : 'bare SQL',
    single: async () => {
      await pool.query({ ...single, values: [JSON.stringify(onePayload()), KIND] });
      return 1;
    },
    bulk: async () => {
      const { rowCount } = await pool.query({
        ...bulk,
        values: [JSON.stringify(payloads), kinds],
      });
      return rowCount ?? 0;
    },
    reset: () => pool.query(`TRUNCATE ${schema}.river_job`).then(() => undefined),
    close: () => pool.end(),
  };
}

async function pgBoss(): Promise<Contender> {
  const schema = await freshSchema('pgboss');
  const boss = new PgBoss({
    connectionString: DATABASE_URL,
    schema,
    max: POOL_SIZE,
    supervise: false,
    schedule: false,
    registerInstance: false,
  });
  boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  await boss.createQueue(KIND);
  const jobs = payloads.map((data) => ({ data }));
  const db = boss.getDb();
  return {
    name: 'pg-boss',
    single: async () => {
      await boss.send(KIND, onePayload());
      return 1;
    },
    bulk: async () => {
      await boss.insert(KIND, jobs);
      return jobs.length;
    },
    reset: () => db.executeSql(`TRUNCATE ${schema}.job`, []).then(() => undefined),
    close: () => boss.stop({ graceful: false }),
  };
}

async function graphile(): Promise<Contender> {
  const schema = await freshSchema('graphile');
  const pool = ignoreIdleErrors(newPool());
  const utils: WorkerUtils = await makeWorkerUtils({
    pgPool: pool,
    schema,
    logger: quietGraphileLogger,
  });
  await utils.migrate();
  const specs = payloads.map((payload) => ({ identifier: KIND, payload }));
  return {
    name: 'graphile-worker',
    single: async () => {
      await utils.addJob(KIND, onePayload());
      return 1;
    },
    bulk: async () => (await utils.addJobs(specs)).length,
    reset: () => pool.query(`TRUNCATE ${schema}._private_jobs`).then(() => undefined),
    close: async () => {
      await utils.release();
      await pool.end();
    },
  };
}

async function main() {
  console.log(
    `insert benchmark: ${SECONDS}s per measurement in turns of ${SLICE_SECONDS}s after ${WARMUP_SECONDS}s warm-up, median of ${ROUNDS} rounds; ` +
      `bulk ${BULK_SIZE} per call; pool size ${POOL_SIZE}`,
  );
  const contenders: Contender[] = [];
  try {
    for (const make of [eddy, bare, pgBoss, graphile]) {
      if (ONLY && !ONLY.includes(make.name)) continue;
      contenders.push(await make());
    }
    if (process.env.BENCH_BARE_RETURNING === '1') contenders.push(await bare(true));
    const baseline = await loadBaseline();
    if (baseline) contenders.splice(1, 0, await eddy(baseline, 'eddy@baseline'));
    const rounds = new Map<string, number[]>();
    const key = (name: string, mode: string) => `${name}/${mode}`;
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of modes) {
        for (const c of contenders) await c.reset();
        await admin('CHECKPOINT');
        const measured = await measureInTurns(
          contenders.map((c) => (mode.call === 'single' ? c.single : c.bulk)),
          { parallel: mode.parallel },
        );
        contenders.forEach((c, i) => {
          const m = measured[i] as Measurement;
          console.log(
            `  round ${r + 1} ${mode.label.padEnd(20)} ${c.name.padEnd(16)} ${fmt(m.perSecond)} jobs/s`,
          );
          rounds.set(key(c.name, mode.key), [
            ...(rounds.get(key(c.name, mode.key)) ?? []),
            m.perSecond,
          ]);
        });
      }
    }
    for (const c of contenders) await c.reset();

    const rate = (name: string, mode: string) => median(rounds.get(key(name, mode)) ?? []);
    const spread = (name: string, mode: string) => {
      const all = rounds.get(key(name, mode)) ?? [];
      return `${fmt(Math.min(...all))}–${fmt(Math.max(...all))}`;
    };
    // A ratio pairs the rounds: in each, the two contenders took turns through the same seconds,
    // so the median of the rounds' ratios is steadier than the ratio of the medians.
    const ratio = (name: string, other: string, mode: string) => {
      const mine = rounds.get(key(name, mode)) ?? [];
      const theirs = rounds.get(key(other, mode)) ?? [];
      return round(median(mine.map((r, i) => r / (theirs[i] as number))));
    };
    const vsBare = (name: string, mode: string) => ratio(name, 'bare SQL', mode);
    console.log('');
    printTable(
      ['jobs/s (median round)', ...modes.flatMap((m) => [m.label, 'vs bare'])],
      contenders.map((c) => [
        c.name,
        ...modes.flatMap((m) => [rate(c.name, m.key), `${vsBare(c.name, m.key)}x`]),
      ]),
    );
    console.log('');
    printTable(
      ['rounds (min–max)', ...modes.map((m) => m.label)],
      contenders.map((c) => [c.name, ...modes.map((m) => spread(c.name, m.key))]),
    );
    console.log('');
    if (baseline) {
      console.log(
        `this tree vs baseline: ${modes.map((m) => `${m.key} ${ratio('eddy', 'eddy@baseline', m.key)}x`).join(', ')}`,
      );
    }
    console.log(
      `targets: bulk ≥ 0.8x bare (sequential ${vsBare('eddy', 'bulk_seq')}x, ${BULK_PARALLEL} in flight ${vsBare('eddy', 'bulk_8')}x); ` +
        `single ≥ 0.9x bare (sequential ${vsBare('eddy', 'single')}x, ${SINGLE_PARALLEL} in flight ${vsBare('eddy', 'single_8')}x)`,
    );
    const figures: Record<string, number> = {};
    const labels: [string, string][] = [
      ['eddy', 'eddy'],
      ['bare', 'bare SQL'],
      ['pgboss', 'pg-boss'],
      ['graphile', 'graphile-worker'],
      ['bare_returning', 'bare + RETURNING'],
      ...(baseline ? ([['baseline', 'eddy@baseline']] as [string, string][]) : []),
    ];
    for (const m of modes) {
      figures[`${m.key}_vs_bare`] = vsBare('eddy', m.key);
      if (baseline) {
        figures[`${m.key}_vs_baseline`] = ratio('eddy', 'eddy@baseline', m.key);
      }
      for (const [short, name] of labels) {
        if (!rounds.has(key(name, m.key))) continue;
        figures[`${short}_${m.key}_jobs_per_s`] = Math.round(rate(name, m.key));
        if (short !== 'eddy' && short !== 'bare') {
          figures[`${m.key}_vs_${short}`] = ratio('eddy', name, m.key);
        }
      }
    }
    console.log(
      JSON.stringify({
        ...figures,
        single_parallel: SINGLE_PARALLEL,
        bulk_parallel: BULK_PARALLEL,
        bulk_size: BULK_SIZE,
        rounds: ROUNDS,
      }),
    );
  } finally {
    for (const c of contenders) await c.close().catch(() => undefined);
    await dropCreated();
  }
}

await main();
