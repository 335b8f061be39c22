/**
 * Heavy-tail drain, part of `npm run bench:drain` (BENCH_WORKLOAD=heavy runs it alone): how close
 * each contender comes to keeping 20 slots busy when a few jobs are slow.
 *
 * The workload: BENCH_HEAVY_JOBS (default 2,000) jobs whose args carry their index `i`; the job
 * with `i % 20 === 0` sleeps 500 ms, every other one 2 ms (`await setTimeout(ms)`), so every
 * contender gets the identical set, seeded in one statement in `i` order, which is the order each
 * library fetches in (River's and graphile-worker's ids; pg-boss orders by created_on, equal for
 * one statement, and then walks its index in insertion order). Every contender runs at
 * concurrency 20: at most 20 handlers at once.
 *
 * - ideal: the work divided over 20 slots, (100 × 500 + 1,900 × 2) ms / 20 = 2.69 s, 743 jobs/s
 *   (computed from the nominal sleeps, not measured; a timer of 2 ms really sleeps 2–3 ms).
 * - Eddy Node loop: `startLoop(createRunner({ driver: nodePostgres(pool), workers, concurrency:
 *   20 }), { pollIntervalMs: 50, handleSignals: false })`, every other setting default (batchSize
 *   100); and the same with `batchSize: 20`.
 * - Eddy serverless ticks: one runner (concurrency 20, batchSize default) and repeated
 *   `tick({ budgetMs: 10_000 })`, one after another as cron or kicked invocations would, until a
 *   tick claims nothing. Statements per tick counts the ticks that claimed jobs (the last, empty
 *   one costs 4 statements and only says the queue is drained).
 * - graphile-worker 0.18 `run()` at `concurrency: 20`: with defaults (no local queue, completion
 *   per job, pollInterval 2 s), and tuned with the batching its performance page uses for
 *   throughput (https://worker.graphile.org/docs/performance: `localQueue`,
 *   `completeJobBatchDelay: 0`, `failJobBatchDelay: 0`). Local queue size
 *   BENCH_GW_HEAVY_LOCAL_QUEUE, default 100: that page's 500, the release notes' `concurrency + 1`
 *   (21) and 100 measured within 5 % of each other here, 100 the steadiest. Pool of 22.
 * - pg-boss 12 `work()` (`supervise`, `schedule` and `registerInstance` off, as in the no-op
 *   drain): with defaults but `localConcurrency: 20` (so `batchSize: 1` and
 *   `pollingIntervalSeconds: 2`: each worker waits out the interval after every job, "1 job every
 *   2 seconds" per worker, as its docs say), and tuned: `localConcurrency: 20, batchSize:
 *   BENCH_PGBOSS_HEAVY_BATCH (default 10), burstWhenBatchFull: true`, each worker running its
 *   batch one job after the other, so 20 at once. (`burstWhenBatchFull`, in 12.38's types.d.ts:
 *   while fetches come back full, fetch again at once; ignored at batchSize 1.) Measured slower:
 *   batchSize 2 (~8 %) or 20; batchSize 1 with the minimum `pollingIntervalSeconds: 0.5` (~40
 *   jobs/s: the wait follows every fast job); 10 workers × batchSize 2 run in parallel (~340: each
 *   pair waits for its slower job); one worker × batchSize 20 (~37). `burstWhenReadyExceeds`
 *   reads the supervisor's cached queue stats (refreshed every 60 s by default) and is left out.
 *   Pool `max: 10` (its default).
 * - Eddy's pools: `max: 10`, pg's and pg-boss's default.
 *
 * Insert-to-start latency: each round seeds its contender's own fresh schema in one statement,
 * ANALYZEs and CHECKPOINTs (as the no-op drain does), then takes t0 = Date.now() and starts the
 * contender; each handler notes Date.now() - t0 when it starts. So latency counts from the moment
 * the (already committed) jobs are handed over, the same for every contender, and includes the
 * contender's own start-up. p50 and p99 are nearest-rank over all jobs.
 *
 * The clock runs from t0 until the database shows every job completed (polled every 5 ms once the
 * last handler has returned), then the contender is stopped (not timed) and every job is known
 * to have started once (a second start is reported as a rerun). A round that has not drained
 * BENCH_HEAVY_CAP_S (default 6 s, 2.2× the ideal) after t0 is cut there and marked capped: its
 * rate is the jobs whose handler had returned by then over the time (the database's completed
 * count is printed beside it); a percentile that falls on a job that had not started is printed
 * as "> cap" (null in the JSON). Polling and round-based contenders drain at a steady rate, so
 * their capped rate is their rate, to within one batch for a round-based one (either count moves
 * in steps of a batch: about ±8 % at 100 a batch and ~190 jobs/s); a capped tick's statements
 * are those of a cut tick. The cap keeps the run short when a contender is several times slower than the ideal (pg-boss's
 * defaults need about 200 s for 2,000 jobs).
 *
 * Rounds: BENCH_HEAVY_ROUNDS (default 2, or BENCH_ROUNDS when only that is set), interleaved
 * across contenders; the best round by throughput counts, with that round's latencies: other
 * load on the machine only ever slows a round down, so the best round is the least disturbed.
 * BENCH_BASELINE=<checkout> adds that checkout's Node loop and ticks, interleaved.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { run, runMigrations } from 'graphile-worker';
import pg from 'pg';
import { PgBoss, type WorkOptions } from 'pg-boss';
import { startLoop } from '../adapters/node/index.js';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createClient, createRunner, defineWorker, migrate } from '../src/index.js';
import {
  admin,
  DATABASE_URL,
  type EddyApi,
  fmt,
  freshSchema,
  ignoreIdleErrors,
  percentile,
  quietGraphileLogger,
  round,
  type StartLoop,
} from './support.js';

export const HEAVY_JOBS = Number(process.env.BENCH_HEAVY_JOBS ?? 2000);
const CONCURRENCY = 20;
const SLOW_EVERY = 20;
const SLOW_MS = 500;
const FAST_MS = 2;
const CAP_MS = Number(process.env.BENCH_HEAVY_CAP_S ?? 6) * 1000;
const ROUNDS = Number(process.env.BENCH_HEAVY_ROUNDS ?? process.env.BENCH_ROUNDS ?? 2);
const TICK_BUDGET_MS = 10_000;
const POLL_MS = 50;
const EDDY_POOL = 10;
const GW_LOCAL_QUEUE = Number(process.env.BENCH_GW_HEAVY_LOCAL_QUEUE ?? 100);
const PGBOSS_BATCH = Number(process.env.BENCH_PGBOSS_HEAVY_BATCH ?? 10);
const KIND = 'bench_heavy';

const isSlow = (i: number) => i % SLOW_EVERY === 0;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The nominal work of the whole set, in milliseconds of handler time. */
export const HEAVY_WORK_MS = Array.from({ length: HEAVY_JOBS }, (_, i) =>
  isSlow(i) ? SLOW_MS : FAST_MS,
).reduce((a, b) => a + b, 0);
/** Every slot busy all the time: the work over the slots. */
export const HEAVY_IDEAL_PER_S = HEAVY_JOBS / (HEAVY_WORK_MS / CONCURRENCY / 1000);

const payloadSql = `jsonb_build_object('i', i, 'email', 'user-' || i || '@example.com', 'template', 'welcome')`;

export interface HeavyResult {
  key: string;
  name: string;
  /** Jobs completed in the timed window (all of them unless capped). */
  jobs: number;
  seconds: number;
  perSecond: number;
  capped: boolean;
  p50Ms: number | null;
  p99Ms: number | null;
  reruns: number;
  /** Ticks that claimed jobs, and their statements (Eddy only). */
  ticks?: number;
  statements?: number;
  note: string;
}

function pool(max: number): pg.Pool {
  return new pg.Pool({ connectionString: DATABASE_URL, max });
}

/** Records when each job's handler first started, and settles when every job has finished. */
class Tracker {
  readonly started = new Float64Array(HEAVY_JOBS).fill(Number.NaN);
  private readonly finished = new Uint8Array(HEAVY_JOBS);
  finishedCount = 0;
  reruns = 0;
  t0 = 0;
  private resolveAll!: () => void;
  readonly allFinished = new Promise<void>((resolve) => {
    this.resolveAll = resolve;
  });

  /** The handler every contender calls with the job's `i`. */
  readonly work = async (i: number): Promise<void> => {
    const at = Date.now() - this.t0;
    if (!Number.isInteger(i) || i < 0 || i >= HEAVY_JOBS) throw new Error(`bad job index ${i}`);
    if (Number.isNaN(this.started[i] as number)) this.started[i] = at;
    else this.reruns++;
    await sleep(isSlow(i) ? SLOW_MS : FAST_MS);
    if (this.finished[i] === 0) {
      this.finished[i] = 1;
      if (++this.finishedCount === HEAVY_JOBS) this.resolveAll();
    }
  };
}

interface Started {
  /** Stops the contender (after the clock has stopped). */
  stop(): Promise<void>;
  /** Read after `stop`. */
  stats?(): { ticks?: number; statements?: number; note?: string };
}

/**
 * One timed round: t0, start the contender with the tracker's handler, wait until every handler
 * has returned and the database shows every job completed, or until the cap.
 */
async function drive(
  key: string,
  name: string,
  start: (work: (i: number) => Promise<void>) => Promise<Started>,
  left: () => Promise<number>,
): Promise<HeavyResult> {
  const tracker = new Tracker();
  tracker.t0 = Date.now();
  const began = performance.now();
  const capAt = began + CAP_MS;
  const started = await start(tracker.work);
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<'cap'>((resolve) => {
    timer = setTimeout(() => resolve('cap'), Math.max(0, capAt - performance.now()));
  });
  let outcome = await Promise.race([tracker.allFinished.then(() => 'done' as const), cap]);
  let remaining: number;
  for (;;) {
    remaining = await left();
    if (remaining === 0 || outcome === 'cap') break;
    if (performance.now() >= capAt) outcome = 'cap';
    else await sleep(5);
  }
  clearTimeout(timer);
  const seconds = (performance.now() - began) / 1000;
  const starts = Float64Array.from(tracker.started);
  const reruns = tracker.reruns;
  const finished = tracker.finishedCount;
  await started.stop();
  const extra = started.stats?.() ?? {};
  const recorded = HEAVY_JOBS - remaining;
  const capped = remaining > 0;
  const unstarted = starts.filter(Number.isNaN).length;
  if (!capped && unstarted > 0)
    throw new Error(`${name}: the database shows all completed, but ${unstarted} never started`);
  // Cut short: the handlers that had returned (the database's count lags by the batches in flight).
  const jobs = capped ? finished : recorded;
  const notes = [
    capped
      ? `capped at ${CAP_MS / 1000} s: ${fmt(finished)} finished, ${fmt(recorded)} recorded`
      : '',
    extra.note ?? '',
  ];
  if (reruns > 0) notes.push(`${reruns} reruns`);
  return {
    key,
    name,
    jobs,
    seconds,
    perSecond: jobs / seconds,
    capped,
    p50Ms: percentile(starts, 50),
    p99Ms: percentile(starts, 99),
    reruns,
    ticks: extra.ticks,
    statements: extra.statements,
    note: notes.filter(Boolean).join('; '),
  };
}

async function settle(): Promise<void> {
  await admin('CHECKPOINT');
}

interface HeavyContender {
  readonly key: string;
  readonly name: string;
  round(): Promise<HeavyResult>;
  close(): Promise<void>;
}

/** A fresh River schema migrated by `api`, and a small pool to seed and count it. */
async function riverSchema(api: EddyApi, label: string) {
  const schema = await freshSchema(label);
  const db = pool(2);
  await api.migrate(api.nodePostgres(db), { schema });
  return {
    schema,
    db,
    async seed() {
      await db.query(`TRUNCATE ${schema}.river_job`);
      await db.query(
        `INSERT INTO ${schema}.river_job (args, kind, max_attempts)
         SELECT ${payloadSql}, '${KIND}', 25 FROM generate_series(0, $1::int - 1) i ORDER BY i`,
        [HEAVY_JOBS],
      );
      await db.query(`ANALYZE ${schema}.river_job`);
      await settle();
    },
    async left() {
      const { rows } = await db.query(
        `SELECT count(*) FILTER (WHERE state <> 'completed')::int AS n FROM ${schema}.river_job`,
      );
      return rows[0].n as number;
    },
  };
}

function heavyWorker(api: EddyApi, work: (i: number) => Promise<void>) {
  return api.defineWorker(KIND, (job) => work(Number(job.args.i)));
}

function eddyLoop(
  api: EddyApi,
  loop: StartLoop,
  key: string,
  name: string,
  batchSize?: number,
): () => Promise<HeavyContender> {
  return async () => {
    const river = await riverSchema(api, key.replaceAll('-', '_'));
    return {
      key,
      name,
      async round() {
        await river.seed();
        return drive(
          key,
          name,
          async (work) => {
            const p = pool(EDDY_POOL);
            let ticks = 0;
            let statements = 0;
            const runner = api.createRunner({
              driver: api.nodePostgres(p),
              schema: river.schema,
              workers: [heavyWorker(api, work)],
              concurrency: CONCURRENCY,
              ...(batchSize === undefined ? {} : { batchSize }),
              // The runner's hooks (the Node loop's own onTick option is gone).
              hooks: {
                onTick: (stats) => {
                  if (stats.claimed > 0) {
                    ticks++;
                    statements += stats.statements;
                  }
                },
              },
            });
            const errors: string[] = [];
            const running = loop(runner, {
              pollIntervalMs: POLL_MS,
              handleSignals: false,
              onError: (error) => errors.push(String(error)),
              logger: { warn: (m) => errors.push(m), error: (m) => errors.push(m) },
            });
            return {
              async stop() {
                await running.stop();
                await p.end();
                if (errors.length > 0) console.error(`${name}: ${errors.join('; ')}`);
              },
              stats: () => ({
                ticks,
                statements,
                note: `${plural(ticks, 'tick')} with jobs, ${fmt(statements)} statements`,
              }),
            };
          },
          river.left,
        );
      },
      close: () => river.db.end(),
    };
  };
}

function eddyTicks(api: EddyApi, key: string, name: string): () => Promise<HeavyContender> {
  return async () => {
    const river = await riverSchema(api, key.replaceAll('-', '_'));
    return {
      key,
      name,
      async round() {
        await river.seed();
        return drive(
          key,
          name,
          async (work) => {
            const p = pool(EDDY_POOL);
            // One runner, as a warm serverless instance keeps at module scope.
            const runner = api.createRunner({
              driver: api.nodePostgres(p),
              schema: river.schema,
              workers: [heavyWorker(api, work)],
              concurrency: CONCURRENCY,
            });
            const stopping = new AbortController();
            let ticks = 0;
            let statements = 0;
            let maxStatements = 0;
            const errors: string[] = [];
            const ticking = (async () => {
              while (!stopping.signal.aborted) {
                try {
                  const stats = await runner.tick({
                    budgetMs: TICK_BUDGET_MS,
                    signal: stopping.signal,
                  });
                  errors.push(...stats.errors);
                  if (stats.claimed === 0) return;
                  ticks++;
                  statements += stats.statements;
                  maxStatements = Math.max(maxStatements, stats.statements);
                } catch (error) {
                  errors.push(String(error));
                  return;
                }
              }
            })();
            return {
              async stop() {
                stopping.abort();
                await ticking;
                await p.end();
                if (errors.length > 0) console.error(`${name}: ${errors.join('; ')}`);
              },
              stats: () => ({
                ticks,
                statements,
                note: `${plural(ticks, 'tick')} with jobs, ${round(statements / ticks, 1)} statements each (max ${maxStatements})`,
              }),
            };
          },
          river.left,
        );
      },
      close: () => river.db.end(),
    };
  };
}

function graphile(tuned: boolean): () => Promise<HeavyContender> {
  const key = tuned ? 'graphile-tuned' : 'graphile';
  const name = tuned ? `graphile run() localQueue ${GW_LOCAL_QUEUE}` : 'graphile run() defaults';
  return async () => {
    const schema = await freshSchema(key.replaceAll('-', '_'));
    const db = ignoreIdleErrors(pool(2));
    await runMigrations({ pgPool: db, schema, logger: quietGraphileLogger });
    const left = async () => {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${schema}._private_jobs`);
      return rows[0].n as number;
    };
    return {
      key,
      name,
      async round() {
        await db.query(`TRUNCATE ${schema}._private_jobs`);
        await db.query(
          `SELECT count(*) FROM ${schema}.add_jobs(array(
             SELECT ('${KIND}', ${payloadSql}::json, NULL, NULL, NULL, NULL, NULL, NULL)::${schema}.job_spec
             FROM generate_series(0, $1::int - 1) i ORDER BY i))`,
          [HEAVY_JOBS],
        );
        await db.query(`ANALYZE ${schema}._private_jobs`);
        await settle();
        return drive(
          key,
          name,
          async (work) => {
            const p = ignoreIdleErrors(pool(CONCURRENCY + 2));
            const runner = await run({
              pgPool: p,
              schema,
              concurrency: CONCURRENCY,
              noHandleSignals: true,
              logger: quietGraphileLogger,
              taskList: { [KIND]: (payload) => work(Number((payload as { i: number }).i)) },
              ...(tuned
                ? {
                    preset: {
                      worker: {
                        localQueue: { size: GW_LOCAL_QUEUE },
                        completeJobBatchDelay: 0,
                        failJobBatchDelay: 0,
                      },
                    },
                  }
                : {}),
            });
            return {
              async stop() {
                await runner.stop();
                await p.end();
              },
            };
          },
          left,
        );
      },
      close: () => db.end(),
    };
  };
}

function pgBoss(tuned: boolean): () => Promise<HeavyContender> {
  const key = tuned ? 'pgboss-tuned' : 'pgboss';
  const name = tuned ? `pg-boss work() batch ${PGBOSS_BATCH}, burst` : 'pg-boss work() defaults';
  const options: WorkOptions = tuned
    ? { localConcurrency: CONCURRENCY, batchSize: PGBOSS_BATCH, burstWhenBatchFull: true }
    : { localConcurrency: CONCURRENCY };
  return async () => {
    const schema = await freshSchema(key.replaceAll('-', '_'));
    const boss = new PgBoss({
      connectionString: DATABASE_URL,
      schema,
      max: 10,
      supervise: false,
      schedule: false,
      registerInstance: false,
    });
    boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
    await boss.start();
    await boss.createQueue(KIND);
    const db = boss.getDb();
    const left = async () => {
      const { rows } = await db.executeSql(
        `SELECT count(*) FILTER (WHERE state <> 'completed')::int AS n FROM ${schema}.job`,
        [],
      );
      return rows[0].n as number;
    };
    return {
      key,
      name,
      async round() {
        await db.executeSql(`TRUNCATE ${schema}.job`, []);
        await boss.insert(
          KIND,
          Array.from({ length: HEAVY_JOBS }, (_, i) => ({
            data: { i, email: `user-${i}@example.com`, template: 'welcome' },
          })),
        );
        await db.executeSql(`ANALYZE ${schema}.job`, []);
        await settle();
        return drive(
          key,
          name,
          async (work) => {
            await boss.work<{ i: number }>(KIND, options, async (jobs) => {
              // One after the other: the worker's jobs are its share of the 20 slots.
              for (const job of jobs) await work(Number(job.data.i));
            });
            return { stop: () => boss.offWork(KIND) };
          },
          left,
        );
      },
      close: () => boss.stop({ graceful: false }),
    };
  };
}

const current: EddyApi = { createClient, createRunner, defineWorker, migrate, nodePostgres };

export interface HeavyReport {
  results: Map<string, HeavyResult>;
  idealPerSecond: number;
}

/** BENCH_HEAVY_ONLY=loop,ticks narrows the contenders (the report then lacks the rest). */
const ONLY = process.env.BENCH_HEAVY_ONLY?.split(',');

export async function runHeavyTail(baseline?: {
  api: EddyApi;
  startLoop: StartLoop;
}): Promise<HeavyReport> {
  console.log(
    `heavy-tail drain: ${fmt(HEAVY_JOBS)} jobs, 1 in ${SLOW_EVERY} sleeps ${SLOW_MS} ms and the rest ${FAST_MS} ms, concurrency ${CONCURRENCY}, ideal ${fmt(HEAVY_IDEAL_PER_S)} jobs/s, cap ${CAP_MS / 1000} s, best of ${ROUNDS} rounds`,
  );
  const makers: [string, () => Promise<HeavyContender>][] = [
    ['loop', eddyLoop(current, startLoop, 'loop', 'eddy Node loop')],
    ['loop-b20', eddyLoop(current, startLoop, 'loop-b20', 'eddy Node loop batch 20', 20)],
    ['ticks', eddyTicks(current, 'ticks', 'eddy ticks 10 s')],
    ['graphile', graphile(false)],
    ['graphile-tuned', graphile(true)],
    ['pgboss', pgBoss(false)],
    ['pgboss-tuned', pgBoss(true)],
  ];
  if (baseline) {
    makers.push(
      ['base-loop', eddyLoop(baseline.api, baseline.startLoop, 'base-loop', 'eddy@baseline loop')],
      ['base-ticks', eddyTicks(baseline.api, 'base-ticks', 'eddy@baseline ticks')],
    );
  }
  const contenders: HeavyContender[] = [];
  const results = new Map<string, HeavyResult>();
  try {
    for (const [key, make] of makers)
      if (!ONLY || ONLY.includes(key)) contenders.push(await make());
    for (let r = 0; r < ROUNDS; r++) {
      for (const contender of contenders) {
        const result = await contender.round();
        const latency = `p50 ${ms(result.p50Ms)} p99 ${ms(result.p99Ms)}`;
        console.log(
          `  round ${r + 1} ${contender.name.padEnd(30)} ${fmt(result.perSecond).padStart(5)} jobs/s  ${latency}${result.note ? ` (${result.note})` : ''}`,
        );
        const best = results.get(contender.key);
        if (!best || result.perSecond > best.perSecond) results.set(contender.key, result);
      }
    }
  } finally {
    for (const contender of contenders) await contender.close().catch(() => undefined);
  }
  return { results, idealPerSecond: HEAVY_IDEAL_PER_S };
}

/** A latency for people; `null` is a percentile that fell on a job the cap left unstarted. */
export function ms(value: number | null): string {
  return value === null ? `> ${CAP_MS / 1000} s` : `${fmt(value)} ms`;
}
