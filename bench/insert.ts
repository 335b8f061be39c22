/**
 * Insert throughput: Eddy vs pg-boss vs graphile-worker vs bare SQL, on the same PostgreSQL.
 *
 *   npm run bench:insert
 *
 * Every contender gets its own fresh schema (dropped at the end), its own pg Pool of the same
 * size, the same job payloads, and the same concurrency:
 *
 * - single: BENCH_SINGLE_PARALLEL (default 8) loops, each awaiting one insert at a time;
 * - bulk: BENCH_BULK_PARALLEL (default 2) loops, each awaiting one 1000-job call at a time.
 *
 * Each measurement warms up (BENCH_WARMUP_SECONDS, 1 s), then runs BENCH_SECONDS (4 s). The
 * table is truncated and a CHECKPOINT taken before each one so no contender pays for another's
 * writes. Contenders are interleaved over BENCH_ROUNDS rounds (default 3); the best round
 * counts, for everyone alike.
 *
 * Contenders and their settings (each library's documented fast path, defaults otherwise):
 * - Eddy: `createClient({ driver: nodePostgres(pool), schema })`, `insert` / `insertMany`
 *   (one statement per call, validated, returning each inserted job, as users get it; these
 *   jobs have no unique key, so Eddy sends its plain INSERT without ON CONFLICT).
 * - pg-boss 12: `send(name, data)` / `insert(name, jobs)` on a created queue; `supervise: false`,
 *   `schedule: false` and `registerInstance: false` so no maintenance, cron polling or instance
 *   heartbeat competes with the inserts.
 * - graphile-worker 0.18: WorkerUtils over the same kind of pool, `addJob` / `addJobs` (its
 *   bulk `add_jobs` SQL function, as documented for batch enqueueing).
 * - bare SQL into the same River `river_job` table: a plain parameterised
 *   `INSERT ... VALUES ($1, $2, $3)` for single, `INSERT ... SELECT FROM unnest($1, $2)` for
 *   bulk, no RETURNING, no library in between: the floor for this table.
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
  measure,
  printTable,
  quietGraphileLogger,
  round,
  SECONDS,
  WARMUP_SECONDS,
} from './support.js';

const SINGLE_PARALLEL = Number(process.env.BENCH_SINGLE_PARALLEL ?? 8);
const BULK_PARALLEL = Number(process.env.BENCH_BULK_PARALLEL ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BULK_SIZE = 1000;
/** BENCH_ONLY=eddy,bare narrows the contenders (for profiling; the JSON then lacks peers). */
const ONLY = process.env.BENCH_ONLY?.split(',');
const POOL_SIZE = Math.max(SINGLE_PARALLEL, BULK_PARALLEL);
const KIND = 'bench_noop';

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

async function bare(): Promise<Contender> {
  const schema = await freshSchema('bare');
  const pool = newPool();
  await migrate(nodePostgres(pool), { schema });
  const singleSql = `INSERT INTO ${schema}.river_job (args, kind, max_attempts) VALUES ($1, $2, $3)`;
  const bulkSql = `INSERT INTO ${schema}.river_job (args, kind, max_attempts)
    SELECT a, k, 25 FROM unnest($1::jsonb[], $2::text[]) AS t(a, k)`;
  const kinds = payloads.map(() => KIND);
  return {
    name: 'bare SQL',
    single: async () => {
      await pool.query(singleSql, [JSON.stringify(onePayload()), KIND, 25]);
      return 1;
    },
    bulk: async () => {
      const { rowCount } = await pool.query(bulkSql, [
        payloads.map((p) => JSON.stringify(p)),
        kinds,
      ]);
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
    `insert benchmark: ${SECONDS}s per measurement after ${WARMUP_SECONDS}s warm-up, best of ${ROUNDS} rounds; ` +
      `single ${SINGLE_PARALLEL} in flight, bulk ${BULK_PARALLEL} × ${BULK_SIZE} in flight; pool size ${POOL_SIZE}`,
  );
  const contenders: Contender[] = [];
  try {
    for (const make of [eddy, pgBoss, graphile, bare]) {
      if (ONLY && !ONLY.includes(make.name)) continue;
      contenders.push(await make());
    }
    const baseline = await loadBaseline();
    if (baseline) contenders.splice(1, 0, await eddy(baseline, 'eddy@baseline'));
    const best = new Map<string, number>();
    const key = (c: Contender, mode: string) => `${c.name}/${mode}`;
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of ['single', 'bulk'] as const) {
        for (const c of contenders) {
          await c.reset();
          await admin('CHECKPOINT');
          const m = await measure(mode === 'single' ? c.single : c.bulk, {
            parallel: mode === 'single' ? SINGLE_PARALLEL : BULK_PARALLEL,
          });
          console.log(
            `  round ${r + 1} ${mode.padEnd(6)} ${c.name.padEnd(16)} ${fmt(m.perSecond)} jobs/s`,
          );
          best.set(key(c, mode), Math.max(best.get(key(c, mode)) ?? 0, m.perSecond));
        }
      }
    }
    for (const c of contenders) await c.reset();

    const rate = (name: string, mode: string) => best.get(`${name}/${mode}`) ?? 0;
    const bareSingle = rate('bare SQL', 'single');
    const bareBulk = rate('bare SQL', 'bulk');
    console.log('');
    printTable(
      ['contender', 'single jobs/s', 'vs bare', 'bulk jobs/s', 'vs bare'],
      contenders.map((c) => [
        c.name,
        rate(c.name, 'single'),
        `${round(rate(c.name, 'single') / bareSingle)}x`,
        rate(c.name, 'bulk'),
        `${round(rate(c.name, 'bulk') / bareBulk)}x`,
      ]),
    );
    const peers = ['pg-boss', 'graphile-worker'];
    const bestPeerBulk = Math.max(...peers.map((p) => rate(p, 'bulk')));
    const bestPeerSingle = Math.max(...peers.map((p) => rate(p, 'single')));
    const eddyBulk = rate('eddy', 'bulk');
    const eddySingle = rate('eddy', 'single');
    const baseBulk = rate('eddy@baseline', 'bulk');
    const baseSingle = rate('eddy@baseline', 'single');
    console.log('');
    if (baseline) {
      console.log(
        `this tree vs baseline: bulk ${round(eddyBulk / baseBulk)}x, single ${round(eddySingle / baseSingle)}x`,
      );
    }
    console.log(
      `targets: bulk ≥ 3x best peer: ${round(eddyBulk / bestPeerBulk)}x; single ≥ 0.8x bare: ${round(eddySingle / bareSingle)}x`,
    );
    console.log(
      JSON.stringify({
        eddy_bulk_jobs_per_s: Math.round(eddyBulk),
        best_peer_bulk_jobs_per_s: Math.round(bestPeerBulk),
        bare_bulk_jobs_per_s: Math.round(bareBulk),
        eddy_single_jobs_per_s: Math.round(eddySingle),
        best_peer_single_jobs_per_s: Math.round(bestPeerSingle),
        bare_single_jobs_per_s: Math.round(bareSingle),
        pgboss_bulk_jobs_per_s: Math.round(rate('pg-boss', 'bulk')),
        graphile_bulk_jobs_per_s: Math.round(rate('graphile-worker', 'bulk')),
        pgboss_single_jobs_per_s: Math.round(rate('pg-boss', 'single')),
        graphile_single_jobs_per_s: Math.round(rate('graphile-worker', 'single')),
        bulk_ratio_vs_best_peer: round(eddyBulk / bestPeerBulk),
        bulk_ratio_vs_bare: round(eddyBulk / bareBulk),
        single_ratio_vs_bare: round(eddySingle / bareSingle),
        ...(baseline
          ? {
              baseline_bulk_jobs_per_s: Math.round(baseBulk),
              baseline_single_jobs_per_s: Math.round(baseSingle),
              bulk_ratio_vs_baseline: round(eddyBulk / baseBulk),
              single_ratio_vs_baseline: round(eddySingle / baseSingle),
            }
          : {}),
        single_parallel: SINGLE_PARALLEL,
        bulk_parallel: BULK_PARALLEL,
        bulk_size: BULK_SIZE,
      }),
    );
  } finally {
    for (const c of contenders) await c.close().catch(() => undefined);
    await dropCreated();
  }
}

await main();
