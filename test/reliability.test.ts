/**
 * Reliability of the tick runner against the real PostgreSQL: many tickers at once, tickers
 * killed mid-batch, overlapping periodic enqueues, connections cut mid-statement, and workers
 * that misbehave. Every test asserts what ended up in the database.
 */

import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createClient } from '../src/client.js';
import { definePeriodicJob } from '../src/runner/periodic.js';
import { createRunner, TickError, type TickStats } from '../src/runner/runner.js';
import { JobClaimBatch } from '../src/sql/job-claim.js';
import * as recordStatements from '../src/sql/job-complete.js';
import { schemaPrefix } from '../src/sql/schema.js';
import { defineWorker, type WorkerContext } from '../src/worker.js';
import { DATABASE_URL } from './support/postgres.js';
import { type RiverSchema, riverSchema } from './support/river.js';
import { startTcpProxy } from './support/tcp-proxy.js';
import {
  buildTickerBundle,
  type ChildRun,
  executionsTable,
  type KillPoint,
  runTickerChild,
  startTickerChild,
} from './support/ticker-child.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The lease end (epoch ms) carried in an Eddy claim token `eddy:<lease>:<nonce>:<runner>`. */
const leaseOf = (token: string) => Number(token.split(':')[1]);
const runnerOf = (token: string) => token.split(':').slice(3).join(':');
const lastOf = <T>(list: readonly T[]) => list[list.length - 1] as T;

/** A pg Pool of its own, as a separate deployment would have; commits need not wait for fsync. */
function deploymentPool(max: number, url = DATABASE_URL): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, options: '-c synchronous_commit=off' });
  pool.on('error', () => undefined); // idle connections cut by a test
  return pool;
}

describe('tick runner reliability', () => {
  let river: RiverSchema;
  let schema: string;

  beforeAll(async () => {
    river = await riverSchema('rel');
    schema = river.schema;
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(
      `DELETE FROM ${schema}.river_job; DELETE FROM ${schema}.river_queue;
       DROP TABLE IF EXISTS ${schema}.executions`,
    );
  });

  it('8 tickers working 20,000 jobs at once execute every job exactly once', async () => {
    const total = 20_000;
    await river.pool.query(
      `CREATE TABLE ${schema}.executions (job_id bigint NOT NULL, runner text NOT NULL, token text NOT NULL)`,
    );
    const client = createClient({ driver: river.driver, schema });
    for (let from = 0; from < total; from += 5000) {
      await client.insertMany(
        Array.from({ length: 5000 }, (_, i) => ({ kind: 'once', args: { n: from + i } })),
      );
    }
    const tickers = Array.from({ length: 8 }, (_, i) => {
      const pool = deploymentPool(4);
      const id = `ticker-${i}`;
      const runner = createRunner({
        driver: nodePostgres(pool),
        schema,
        id,
        concurrency: 8,
        batchSize: 50,
        workers: [
          defineWorker('once', async (job) => {
            await pool.query(
              `INSERT INTO ${schema}.executions (job_id, runner, token) VALUES ($1, $2, $3)`,
              [String(job.id), id, lastOf(job.attemptedBy)],
            );
          }),
        ],
      });
      return { pool, runner, ticks: [] as TickStats[] };
    });
    const started = Date.now();
    try {
      await Promise.all(
        tickers.map(async ({ runner, ticks }) => {
          for (let round = 0; round < 5000 && Date.now() - started < 100_000; round++) {
            const stats = await runner.tick({ budgetMs: 10_000, maxJobs: 300 });
            ticks.push(stats);
            if (stats.claimed > 0) continue;
            const { rows } = await river.pool.query(
              `SELECT count(*)::int AS n FROM ${schema}.river_job WHERE state = 'available'`,
            );
            if (rows[0].n === 0) break;
          }
        }),
      );
    } finally {
      await Promise.all(tickers.map(({ pool }) => pool.end()));
    }

    const states = await river.pool.query(
      `SELECT state::text AS state, count(*)::int AS n FROM ${schema}.river_job GROUP BY 1`,
    );
    expect(states.rows).toEqual([{ state: 'completed', n: total }]);
    const executions = await river.pool.query(
      `SELECT count(*)::int AS runs, count(DISTINCT job_id)::int AS jobs,
         count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM ${schema}.river_job j
           WHERE j.id = e.job_id AND j.attempted_by = ARRAY[e.token]
             AND split_part(e.token, ':', 4) = e.runner))::int AS foreign
       FROM ${schema}.executions e`,
    );
    // Each job ran once, by the runner whose claim token the job carries, on its first attempt.
    expect(executions.rows[0]).toEqual({ runs: total, jobs: total, foreign: 0 });
    const attempts = await river.pool.query(
      `SELECT count(*)::int AS n FROM ${schema}.river_job WHERE attempt <> 1 OR errors IS NOT NULL`,
    );
    expect(attempts.rows[0].n).toBe(0);

    const all = tickers.flatMap(({ ticks }) => ticks);
    expect(all.flatMap((s) => s.errors)).toEqual([]);
    const sum = (key: 'claimed' | 'completed' | 'stale') => all.reduce((n, s) => n + s[key], 0);
    expect({ claimed: sum('claimed'), completed: sum('completed'), stale: sum('stale') }).toEqual({
      claimed: total,
      completed: total,
      stale: 0,
    });
    // Every ticker took part.
    for (const { ticks } of tickers) expect(ticks.some((s) => s.completed > 0)).toBe(true);
    console.info(`20,000 jobs over 8 tickers in ${Date.now() - started} ms, ${all.length} ticks`);
  }, 120_000);

  it('loses nothing and applies no stale result when tickers are killed (SIGKILL) mid-batch, 50 trials', async () => {
    await river.pool.query(executionsTable(schema));
    const bundle = await buildTickerBundle();
    const client = createClient({ driver: river.driver, schema });
    // Each trial aims at one step of the tick, plus a random delay.
    const aims: KillPoint[] = [
      { step: 'ready', jitterMs: 150 },
      { step: 'claim', jitterMs: 3 },
      { step: 'claimed', jitterMs: 3 },
      { step: 'started', jitterMs: 30 },
      { step: 'executed', jitterMs: 10 },
      { step: 'record', jitterMs: 3 },
      { step: 'recorded', jitterMs: 3 },
    ];
    const trials = 50;
    const runs: { aim: KillPoint; run: ChildRun }[] = [];
    const started = Date.now();
    try {
      for (let trial = 0; trial < trials; trial++) {
        await client.insertMany(
          Array.from({ length: 5 }, () => ({
            kind: 'kill_trial',
            args: { ms: 5 + Math.round(Math.random() * 35) },
          })),
        );
        const aim = aims[trial % aims.length] as KillPoint;
        const run = await runTickerChild(
          bundle,
          {
            url: DATABASE_URL,
            schema,
            runnerId: `killed-${trial}`,
            softMs: 500,
            hardMs: 700,
            leaseMarginMs: 200,
            concurrency: 3,
            maxJobs: 8,
          },
          aim,
        );
        expect(run.stderr).toBe('');
        runs.push({ aim, run });
      }
    } finally {
      await bundle.remove();
    }
    const trialsMs = Date.now() - started;

    // After the last lease has passed, ticks in this process finish everything. Retry backoff is
    // skipped by moving retryable jobs' scheduled_at to now (as if the time had passed).
    const recovery = createRunner({
      driver: river.driver,
      schema,
      id: 'recovery',
      workers: [
        defineWorker('kill_trial', async (job) => {
          const token = lastOf(job.attemptedBy);
          await river.pool.query(
            `INSERT INTO ${schema}.executions (job_id, token) VALUES ($1, $2)`,
            [String(job.id), token],
          );
          await sleep(Number((job.args as { ms: number }).ms));
          await river.pool.query(
            `UPDATE ${schema}.executions SET finished_at = clock_timestamp() WHERE job_id = $1 AND token = $2`,
            [String(job.id), token],
          );
        }),
      ],
      concurrency: 20,
    });
    for (let round = 0; round < 50; round++) {
      const { rows } = await river.pool.query(
        `SELECT count(*)::int AS left,
           max(split_part(attempted_by[cardinality(attempted_by)], ':', 2)::int8)
             FILTER (WHERE state = 'running') AS lease
         FROM ${schema}.river_job WHERE state <> 'completed'`,
      );
      if (rows[0].left === 0) break;
      const wait = Number(rows[0].lease ?? 0) - Date.now();
      if (wait > 0) await sleep(wait + 20);
      await river.pool.query(
        `UPDATE ${schema}.river_job SET scheduled_at = now() WHERE state = 'retryable'`,
      );
      const stats = await recovery.tick({ budgetMs: 10_000 });
      expect(stats.errors).toEqual([]);
    }

    const jobs = await river.jobs();
    expect(jobs).toHaveLength(trials * 5);
    const { rows: executions } = await river.pool.query(
      `SELECT job_id::text AS job_id, token, started_at, finished_at FROM ${schema}.executions
       ORDER BY started_at`,
    );
    let rescued = 0;
    let staleSideEffects = 0;
    for (const job of jobs) {
      const where = `job ${job.id} (${JSON.stringify(job.attempted_by)})`;
      expect(job.state, where).toBe('completed');
      // No snooze or release happened, so attempt n is the n-th claim token.
      expect(job.attempted_by, where).toHaveLength(job.attempt);
      const errors = (job.errors ?? []) as { attempt: number; error: string }[];
      // Every attempt but the last was rescued after its lease, naming its runner.
      expect(errors, where).toHaveLength(job.attempt - 1);
      errors.forEach((error, i) => {
        expect(error.attempt).toBe(i + 1);
        expect(error.error).toBe(
          `lease expired: the invocation running this attempt (${runnerOf(job.attempted_by[i])}) ended without recording a result; rescued`,
        );
      });
      if (job.attempt > 1) rescued++;
      const runsOfJob = executions.filter((e) => e.job_id === String(job.id));
      const last = lastOf(job.attempted_by as string[]);
      // The attempt that completed the job ran to its end.
      expect(
        runsOfJob.some((e) => e.token === last && e.finished_at !== null),
        where,
      ).toBe(true);
      runsOfJob.forEach((run, i) => {
        expect(job.attempted_by, where).toContain(run.token);
        // A run ends within its own lease, and the next starts only after that lease.
        if (run.finished_at) expect(run.finished_at.getTime()).toBeLessThan(leaseOf(run.token));
        const next = runsOfJob[i + 1];
        if (next) expect(next.started_at.getTime()).toBeGreaterThanOrEqual(leaseOf(run.token));
        // A killed run that did its work but never recorded it: the later attempt completed it.
        if (run.token !== last && run.finished_at) staleSideEffects++;
      });
    }
    const killedAt = (step: string) =>
      runs.filter(({ aim, run }) => aim.step === step && run.signalled).length;
    const summary = Object.fromEntries(aims.map((a) => [a.step, killedAt(a.step)]));
    console.info(
      `kill trials in ${trialsMs} ms; killed per aimed step ${JSON.stringify(summary)}; ${rescued} jobs rescued, ${staleSideEffects} finished runs never recorded`,
    );
    expect(runs.filter(({ run }) => run.signalled).length).toBeGreaterThan(trials / 2);
    expect(rescued).toBeGreaterThan(0);
  }, 120_000);

  it('a ticker frozen (SIGSTOP) past its lease applies nothing when it wakes', async () => {
    await river.pool.query(executionsTable(schema));
    const bundle = await buildTickerBundle();
    const client = createClient({ driver: river.driver, schema });
    let gate: Promise<void> = Promise.resolve();
    let entered = 0;
    const successor = createRunner({
      driver: river.driver,
      schema,
      id: 'successor',
      workers: [
        defineWorker('kill_trial', async () => {
          entered++;
          await gate;
        }),
      ],
    });
    const rescueAndRetryNow = async () => {
      const stats = await successor.tick({ budgetMs: 5000 });
      await river.pool.query(
        `UPDATE ${schema}.river_job SET scheduled_at = now() WHERE state = 'retryable'`,
      );
      return stats;
    };
    try {
      // Where the successor is when the frozen ticker wakes and tries to record its outcomes.
      for (const phase of ['rescued', 'claimed again', 'completed again'] as const) {
        await river.pool.query(`DELETE FROM ${schema}.river_job`);
        await client.insertMany(
          Array.from({ length: 3 }, () => ({ kind: 'kill_trial', args: { ms: 300 } })),
        );
        const child = startTickerChild(
          bundle,
          {
            url: DATABASE_URL,
            schema,
            runnerId: 'frozen',
            softMs: 600,
            hardMs: 700,
            leaseMarginMs: 100,
            concurrency: 3,
            maxJobs: 3,
          },
          { step: 'started', count: 3, jitterMs: 0, signal: 'SIGSTOP' },
        );
        await Promise.race([
          child.signalled,
          child.exited.then((run) => {
            throw new Error(`the ticker ended before it was frozen: ${run.stderr || run.steps}`);
          }),
        ]);
        const [first] = await river.jobs();
        expect(first?.state).toBe('running');
        await sleep(leaseOf(lastOf(first?.attempted_by as string[])) - Date.now() + 20);

        expect((await rescueAndRetryNow()).rescued).toBe(3);
        let successorTick: Promise<TickStats> | undefined;
        let release: () => void = () => undefined;
        if (phase === 'claimed again') {
          gate = new Promise((resolve) => {
            release = resolve;
          });
          entered = 0;
          successorTick = successor.tick({ budgetMs: 10_000 });
          for (let i = 0; i < 200 && entered < 3; i++) await sleep(10);
          expect(entered).toBe(3);
        } else if (phase === 'completed again') {
          expect((await successor.tick({ budgetMs: 5000 })).completed).toBe(3);
        }
        const before = await river.jobs();

        child.resume();
        const run = await child.exited;
        expect(run.stderr).toBe('');
        expect(run.stats, phase).toMatchObject({ claimed: 3, stale: 3, completed: 0 });
        // The woken ticker changed nothing.
        expect(await river.jobs(), phase).toEqual(before);

        release();
        if (successorTick) expect((await successorTick).completed).toBe(3);
        if (phase === 'rescued')
          expect((await successor.tick({ budgetMs: 5000 })).completed).toBe(3);
        for (const job of await river.jobs()) {
          expect(job).toMatchObject({ state: 'completed', attempt: 2 });
          expect(runnerOf(job.attempted_by[0])).toBe('frozen');
          expect(runnerOf(job.attempted_by[1])).toBe('successor');
          expect(job.errors).toHaveLength(1);
          expect(job.errors[0].error).toMatch(/^lease expired: .*\(frozen\)/);
        }
      }
    } finally {
      await bundle.remove();
    }
  });

  it('overlapping and repeated ticks of several deployments enqueue each periodic slot once', async () => {
    const minutely = definePeriodicJob({
      name: 'minutely',
      kind: 'minutely',
      schedule: '* * * * *',
      catchUp: 'all',
      catchUpWindowMs: 10 * 60_000,
    });
    const everySecond = definePeriodicJob({
      name: 'every-second',
      kind: 'every_second',
      schedule: { everyMs: 1000 },
      catchUp: 'all',
      catchUpWindowMs: 5000,
    });
    const latestOnly = definePeriodicJob({
      name: 'every-2s-latest',
      kind: 'every_second',
      schedule: { everyMs: 2000 },
      catchUp: 'latest',
    });
    const definitions = [minutely, everySecond, latestOnly];
    // Two deployments (own pool, own runner ids), three overlapping runners each; the second
    // lists its schedules in another order.
    const deployments = ['blue', 'green'].map((name, d) => {
      const pool = deploymentPool(3);
      const runners = Array.from({ length: 3 }, (_, i) =>
        createRunner({
          driver: nodePostgres(pool),
          schema,
          id: `${name}-${i}`,
          periodic: d === 0 ? definitions : [...definitions].reverse(),
          workers: [
            defineWorker('minutely', async () => {}),
            defineWorker('every_second', async () => {}),
          ],
        }),
      );
      return { pool, runners };
    });
    const ticks: TickStats[] = [];
    const started = Date.now();
    try {
      await Promise.all(
        deployments.flatMap(({ runners }) =>
          runners.map(async (runner) => {
            for (let round = 0; round < 500 && Date.now() - started < 3500; round++) {
              ticks.push(await runner.tick({ budgetMs: 2000 }));
              await sleep(Math.random() * 30);
            }
          }),
        ),
      );
    } finally {
      await Promise.all(deployments.map(({ pool }) => pool.end()));
    }
    const ended = Date.now();

    expect(ticks.flatMap((s) => s.errors)).toEqual([]);
    const { rows } = await river.pool.query(
      `SELECT metadata->>'periodic' AS name, (metadata->>'periodic_slot')::timestamptz AS slot,
         count(*)::int AS n
       FROM ${schema}.river_job GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    const slotsOf = (name: string) =>
      rows.filter((r) => r.name === name).map((r) => (r.slot as Date).getTime());
    const contiguous = (slots: number[], step: number) =>
      slots.every((slot, i) => i === 0 || slot - (slots[i - 1] as number) === step);
    // Every slot from the window before the first tick to the last tick, none missing.
    const seconds = slotsOf('every-second');
    expect(contiguous(seconds, 1000)).toBe(true);
    // (The first tick starts a little after `started`.)
    expect(seconds[0]).toBeLessThanOrEqual(started + 500 - 4000);
    expect(lastOf(seconds)).toBeGreaterThanOrEqual(Math.floor(ended / 1000) * 1000 - 1000);
    const minutes = slotsOf('minutely');
    expect(contiguous(minutes, 60_000)).toBe(true);
    expect(minutes.length).toBeGreaterThanOrEqual(10);
    const latest = slotsOf('every-2s-latest');
    expect(contiguous(latest, 2000)).toBe(true);
    expect(latest.length).toBeGreaterThanOrEqual(2);
    // Ticks counted each enqueued slot once: the others saw it skipped as a duplicate.
    expect(ticks.reduce((n, s) => n + s.periodicEnqueued, 0)).toBe(
      rows.reduce((n, r) => n + r.n, 0),
    );
    expect(await river.jobs(`state <> 'completed'`)).toEqual([]);
  });

  it('concurrent inserts of the same unique jobs in different orders do not deadlock', async () => {
    // The interleaving that deadlocked when rows went in input order: the first insert holds `a`
    // and waits for `c` (held by an open transaction); the second holds `b` and waits for `a`;
    // once `c` is released the first would wait for `b`.
    const app = `eddy-insert-order-${process.pid}`;
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2, application_name: app });
    const client = createClient({ driver: nodePostgres(pool), schema });
    const job = (name: string) => ({
      kind: 'uniq',
      args: { name },
      options: { unique: { byArgs: true } },
    });
    const waiting = async (n: number) => {
      for (let i = 0; i < 300; i++) {
        const { rows } = await river.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [app],
        );
        if (rows[0].n >= n) return;
        await sleep(10);
      }
    };
    const holder = await river.pool.connect();
    try {
      await holder.query('BEGIN');
      await client.insertManyTx(nodePostgres(holder, { inTransaction: true }), [job('c')]);
      const first = client.insertMany([job('a'), job('c'), job('b')]);
      await waiting(1);
      const second = client.insertMany([job('b'), job('a')]);
      await sleep(100);
      await holder.query('COMMIT');
      const [one, two] = await Promise.all([first, second]);
      const names = (results: typeof one) =>
        results.map((r) => (r.job.args as { name: string }).name);
      expect(names(one)).toEqual(['a', 'c', 'b']);
      expect(names(two)).toEqual(['b', 'a']);
      const rows = await river.jobs(`kind = 'uniq'`);
      expect(rows.map((r) => r.args.name).sort()).toEqual(['a', 'b', 'c']);
      const idOf = new Map(rows.map((r) => [r.args.name, String(r.id)]));
      for (const r of [...one, ...two]) {
        expect(String(r.job.id)).toBe(idOf.get((r.job.args as { name: string }).name));
      }
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
      await pool.end();
    }
  });

  it('a periodic job unique by state without `completed` keeps exactly one live instance (River’s persistent worker)', async () => {
    const live = ['available', 'pending', 'retryable', 'running', 'scheduled'] as const;
    const definitions = [
      // Runs forever, snoozing itself: never a second row.
      definePeriodicJob({
        kind: 'forever',
        schedule: { everyMs: 1000 },
        catchUp: 'all',
        catchUpWindowMs: 5000,
        options: { unique: { byState: [...live] } },
      }),
      // Finishes each run: enqueued again by a later tick, but never while one is live.
      definePeriodicJob({
        kind: 'relay',
        schedule: { everyMs: 1000 },
        options: { unique: { byState: [...live] } },
      }),
    ];
    const deployments = ['blue', 'green'].map((name) => {
      const pool = deploymentPool(3);
      const runners = Array.from({ length: 2 }, (_, i) =>
        createRunner({
          driver: nodePostgres(pool),
          schema,
          id: `${name}-${i}`,
          periodic: definitions,
          workers: [
            defineWorker('forever', async (_job, ctx) => {
              await sleep(10);
              ctx.snooze(50);
            }),
            defineWorker('relay', async () => sleep(30)),
          ],
        }),
      );
      return { pool, runners };
    });
    const ticks: TickStats[] = [];
    const samples: { kind: string; n: number }[] = [];
    const started = Date.now();
    let ticking = true;
    const sampler = (async () => {
      while (ticking) {
        const { rows } = await river.pool.query(
          `SELECT kind, count(*)::int AS n FROM ${schema}.river_job
           WHERE state::text = ANY($1) GROUP BY kind`,
          [live],
        );
        samples.push(...rows);
        await sleep(5);
      }
    })();
    try {
      await Promise.all(
        deployments.flatMap(({ runners }) =>
          runners.map(async (runner) => {
            for (let round = 0; round < 500 && Date.now() - started < 2500; round++) {
              ticks.push(await runner.tick({ budgetMs: 2000 }));
              await sleep(Math.random() * 20);
            }
          }),
        ),
      );
    } finally {
      ticking = false;
      await sampler;
      await Promise.all(deployments.map(({ pool }) => pool.end()));
    }

    expect(ticks.flatMap((s) => s.errors)).toEqual([]);
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.filter((s) => s.n > 1)).toEqual([]);
    const forever = await river.jobs(`kind = 'forever'`);
    expect(forever).toHaveLength(1);
    expect(live).toContain(forever[0]?.state);
    expect(forever[0]?.metadata.snoozes).toBeGreaterThanOrEqual(3);
    const relay = await river.jobs(`kind = 'relay'`);
    expect(relay.length).toBeGreaterThanOrEqual(3);
    expect(relay.slice(0, -1).every((r) => r.state === 'completed')).toBe(true);
  });

  it('records every misbehaving worker of a crowded batch as a failed attempt with a useful message, and ends by the deadline', async () => {
    const hang = () => new Promise<never>(() => {});
    const rejectOnAbort = (signal: AbortSignal, value: () => unknown) =>
      new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => reject(value()), { once: true });
      });
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    interface Case {
      work: (job: unknown, ctx: WorkerContext) => unknown;
      timeoutMs?: number;
      /** The job's state after the tick, and the error recorded (null: none). */
      state: string;
      error: string | null;
    }
    const throwing =
      (value: unknown): Case['work'] =>
      async () => {
        throw value;
      };
    const retry = (work: Case['work'], error: string, timeoutMs?: number): Case => ({
      work,
      timeoutMs,
      state: 'retryable',
      error,
    });
    const honourAbort: Case['work'] = (_job, ctx) =>
      rejectOnAbort(ctx.signal, () => ctx.signal.reason);
    const nonError = 'non-Error value thrown:';
    const cases: Record<string, Case> = {
      throw_null: retry(throwing(null), `${nonError} null`),
      throw_undefined: retry(throwing(undefined), `${nonError} undefined`),
      throw_number: retry(throwing(42), `${nonError} 42`),
      throw_symbol: retry(throwing(Symbol('boom')), `${nonError} Symbol(boom)`),
      throw_bigint: retry(throwing(10n), `${nonError} 10n`),
      throw_circular: retry(throwing(circular), `${nonError} {"name":"loop","self":"[Circular]"}`),
      // Neither JSON.stringify nor String() can render it.
      throw_null_prototype: retry(
        throwing(Object.assign(Object.create(null), { limit: 1n })),
        `${nonError} {"limit":"1n"}`,
      ),
      throw_empty_error: retry(throwing(new Error()), 'Error'),
      throw_sync: retry(() => {
        throw new RangeError('thrown before any await');
      }, 'RangeError: thrown before any await'),
      reject_with_string: retry(() => Promise.reject('plain rejection'), 'plain rejection'),
      timeout_then_string: retry(
        (_job, ctx) => rejectOnAbort(ctx.signal, () => 'stopping'),
        'job timed out after 200 ms (stopping)',
        200,
      ),
      timeout_then_reason: retry(
        honourAbort,
        'job timed out after 200 ms (AttemptTimedOut: job timed out after 200 ms)',
        200,
      ),
      timeout_ignoring_signal: retry(
        hang,
        'job timed out after 200 ms and did not stop when aborted (it ignores ctx.signal)',
        200,
      ),
      // At the deadline: snoozed, no attempt or error counted.
      deadline_ignoring_signal: { work: hang, state: 'scheduled', error: null },
      deadline_honouring_signal: { work: honourAbort, state: 'available', error: null },
    };
    const perKind = 4;
    const client = createClient({ driver: river.driver, schema });
    await client.insertMany(
      Object.keys(cases).flatMap((kind) =>
        Array.from({ length: perKind }, () => ({ kind, args: {}, options: { maxAttempts: 5 } })),
      ),
    );
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    const runner = createRunner({
      driver: river.driver,
      schema,
      concurrency: 100,
      finishReserveMs: 300,
      leaseMarginMs: 500,
      workers: Object.entries(cases).map(([kind, { work, timeoutMs }]) =>
        defineWorker(kind, work, timeoutMs === undefined ? {} : { timeoutMs }),
      ),
    });
    const started = Date.now();
    const deadline = started + 1500;
    const hardDeadline = started + 2000;
    let stats: TickStats;
    try {
      stats = await runner.tick({ deadline, hardDeadline });
    } finally {
      process.off('warning', onWarning);
    }
    const ended = Date.now();
    // Aborted at deadline − reserve, abandoned half the reserve later, recorded well before it.
    expect(ended).toBeLessThanOrEqual(deadline + 150);
    const total = Object.keys(cases).length * perKind;
    expect(stats).toMatchObject({ claimed: total, stale: 0, errors: [] });
    expect(warnings).toEqual([]);

    const leaseUntil = hardDeadline + 500;
    for (const [kind, { state, error }] of Object.entries(cases)) {
      const rows = await river.jobs('kind = $1', [kind]);
      expect(rows).toHaveLength(perKind);
      for (const row of rows) {
        expect({ kind, state: row.state }).toEqual({ kind, state });
        if (error === null) {
          expect({ kind, attempt: row.attempt, errors: row.errors }).toEqual({
            kind,
            attempt: 0,
            errors: null,
          });
          continue;
        }
        expect(row.attempt, kind).toBe(1);
        expect(row.errors, kind).toHaveLength(1);
        expect(row.errors[0]).toMatchObject({ attempt: 1, error });
      }
      // A worker still running in this invocation must not run anywhere else before the lease ends.
      if (kind.endsWith('ignoring_signal')) {
        for (const row of rows) {
          expect(row.scheduled_at.getTime(), kind).toBeGreaterThanOrEqual(leaseUntil - 50);
        }
      }
    }
  });

  describe('a connection cut mid-statement', () => {
    const leaseMarginMs = 200;
    /** A tick whose lease ends 1.2 s from now. */
    const shortLease = () => ({ budgetMs: 800, hardDeadline: Date.now() + 1000 });
    const rejection = (promise: Promise<unknown>) =>
      promise.then(
        () => expect.unreachable('the tick should have failed'),
        (error: unknown) => error as TickError,
      );
    const claimMarker = () => JobClaimBatch(schemaPrefix(schema));
    /** Every statement that records outcomes (the runner picks one per batch). */
    const recordMarker = () =>
      Object.values(recordStatements)
        .filter((statement) => typeof statement === 'function')
        .map((statement) => statement(schemaPrefix(schema)));
    const claimMessage =
      /^tick: claiming jobs failed \(node-postgres: .+\); any jobs it may have claimed stay running until their lease passes at (\S+Z) and the next tick rescues them$/;
    const recordMessage =
      /^tick: recording the outcomes of 3 jobs failed \(node-postgres: .+\); they stay running until their lease passes at (\S+Z) and the next tick rescues them$/;

    /** The armed cut happened (it does before the tick settles, or never). */
    const cutDone = async (cut: Promise<void>) =>
      expect(await Promise.race([cut.then(() => true), sleep(2000).then(() => false)])).toBe(true);

    /** A runner on its own pool; its worker counts executions per job. */
    function cutRunner(url: string, id: string, applicationName?: string) {
      const pool = new pg.Pool({
        connectionString: url,
        max: 4,
        ...(applicationName ? { application_name: applicationName } : {}),
      });
      pool.on('error', () => undefined);
      const runs = new Map<string, number>();
      let during: (job: { id: bigint }) => Promise<void> = async () => {};
      const runner = createRunner({
        driver: nodePostgres(pool),
        schema,
        id,
        leaseMarginMs,
        workers: [
          defineWorker('cut', async (job) => {
            runs.set(String(job.id), (runs.get(String(job.id)) ?? 0) + 1);
            await during(job);
          }),
        ],
      });
      return {
        pool,
        runner,
        runs,
        /** Runs inside every execution. */
        during(fn: (job: { id: bigint }) => Promise<void>) {
          during = fn;
        },
      };
    }

    const insertCut = async (n: number) =>
      (
        await createClient({ driver: river.driver, schema }).insertMany(
          Array.from({ length: n }, () => ({ kind: 'cut', args: {} })),
        )
      ).map((r) => String(r.job.id));

    /** After the running jobs' lease: rescue them, then (backoff skipped) finish them. */
    async function rescueAndFinish(runner: ReturnType<typeof createRunner>, ids: string[]) {
      const running = await river.jobs(`state = 'running'`);
      const lease = Math.max(...running.map((r) => leaseOf(lastOf(r.attempted_by))));
      await sleep(lease - Date.now() + 20);
      const rescue = await runner.tick({ budgetMs: 2000 });
      expect(rescue.rescued).toBe(ids.length);
      await river.pool.query(
        `UPDATE ${schema}.river_job SET scheduled_at = now() WHERE state = 'retryable'`,
      );
      const finish = await runner.tick({ budgetMs: 2000 });
      expect(finish).toMatchObject({ completed: ids.length, errors: [] });
      for (const row of await river.jobs('id = ANY($1::int8[])', [ids])) {
        expect(row).toMatchObject({ state: 'completed', attempt: 2 });
        expect(row.errors).toHaveLength(1);
        expect(row.errors[0].error).toMatch(/^lease expired: .*; rescued$/);
      }
    }

    it('claim lost on the way to the server: nothing claimed, the next tick carries on', async () => {
      const proxy = await startTcpProxy(DATABASE_URL);
      const { pool, runner, runs } = cutRunner(proxy.url, 'cut-claim-before');
      try {
        await insertCut(3);
        const cut = proxy.cutOn({ marker: claimMarker(), when: 'before', refuseAfter: true });
        const error = await rejection(runner.tick(shortLease()));
        await cutDone(cut);
        expect(error).toBeInstanceOf(TickError);
        expect(error.message).toMatch(claimMessage);
        expect(error.stats.claimed).toBe(0);
        const rows = await river.jobs();
        expect(rows.map((r) => [r.state, r.attempt])).toEqual([
          ['available', 0],
          ['available', 0],
          ['available', 0],
        ]);
        proxy.restore();
        expect(await runner.tick(shortLease())).toMatchObject({ completed: 3, errors: [] });
        expect([...runs.values()]).toEqual([1, 1, 1]);
      } finally {
        await pool.end();
        await proxy.close();
      }
    });

    it('claim committed but its reply lost: the jobs wait out their lease, then are rescued and finished', async () => {
      const proxy = await startTcpProxy(DATABASE_URL);
      const { pool, runner, runs } = cutRunner(proxy.url, 'cut-claim-after');
      try {
        const ids = await insertCut(3);
        const cut = proxy.cutOn({ marker: claimMarker(), when: 'after' });
        const error = await rejection(runner.tick(shortLease()));
        await cutDone(cut);
        expect(error.message).toMatch(claimMessage);
        const rescueAt = Date.parse(claimMessage.exec(error.message)?.[1] as string);
        const rows = await river.jobs();
        expect(rows.map((r) => r.state)).toEqual(['running', 'running', 'running']);
        for (const row of rows) {
          expect(runnerOf(lastOf(row.attempted_by))).toBe('cut-claim-after');
          expect(Math.abs(leaseOf(lastOf(row.attempted_by)) - rescueAt)).toBeLessThan(200);
        }
        // The next tick carries on with other work and leaves the leased jobs alone.
        const [other] = await insertCut(1);
        expect(await runner.tick(shortLease())).toMatchObject({
          claimed: 1,
          completed: 1,
          rescued: 0,
          errors: [],
        });
        expect(runs.get(other as string)).toBe(1);
        expect(Date.now()).toBeLessThan(rescueAt);
        await rescueAndFinish(runner, ids);
        // Claimed twice, run once: the lost claim never ran them.
        expect(ids.map((id) => runs.get(id))).toEqual([1, 1, 1]);
      } finally {
        await pool.end();
        await proxy.close();
      }
    });

    it('outcomes lost on the way to the server: TickError saying when they are rescued', async () => {
      const proxy = await startTcpProxy(DATABASE_URL);
      const { pool, runner, runs } = cutRunner(proxy.url, 'cut-record-before');
      try {
        const ids = await insertCut(3);
        const cut = proxy.cutOn({ marker: recordMarker(), when: 'before', refuseAfter: true });
        const error = await rejection(runner.tick(shortLease()));
        await cutDone(cut);
        expect(error).toBeInstanceOf(TickError);
        expect(error.message).toMatch(recordMessage);
        expect(error.stats).toMatchObject({ claimed: 3, completed: 0 });
        const rescueAt = Date.parse(recordMessage.exec(error.message)?.[1] as string);
        const rows = await river.jobs();
        expect(rows.map((r) => r.state)).toEqual(['running', 'running', 'running']);
        for (const row of rows) {
          expect(Math.abs(leaseOf(lastOf(row.attempted_by)) - rescueAt)).toBeLessThan(200);
        }
        proxy.restore();
        // Within the lease nothing runs them again.
        expect(await runner.tick(shortLease())).toMatchObject({ claimed: 0, rescued: 0 });
        await rescueAndFinish(runner, ids);
        // The first run's result was lost, so it ran again after its lease.
        expect(ids.map((id) => runs.get(id))).toEqual([2, 2, 2]);
      } finally {
        await pool.end();
        await proxy.close();
      }
    });

    it('outcomes applied but the reply lost: the retry changes nothing and the jobs stay completed', async () => {
      const proxy = await startTcpProxy(DATABASE_URL);
      const { pool, runner, runs } = cutRunner(proxy.url, 'cut-record-after');
      try {
        await insertCut(3);
        const cut = proxy.cutOn({ marker: recordMarker(), when: 'after' });
        const stats = await runner.tick(shortLease());
        await cutDone(cut);
        expect(stats.claimed).toBe(3);
        // The retry cannot tell its own first try from a rescue: applied results count as stale.
        expect(stats.completed + stats.stale).toBe(3);
        const rows = await river.jobs();
        expect(rows.map((r) => [r.state, r.attempt, r.errors])).toEqual([
          ['completed', 1, null],
          ['completed', 1, null],
          ['completed', 1, null],
        ]);
        expect([...runs.values()]).toEqual([1, 1, 1]);
      } finally {
        await pool.end();
        await proxy.close();
      }
    });

    /**
     * Terminates `times` backends of `applicationName`, each once it waits on a lock. A backend
     * being terminated may still be listed: each pid counts once.
     */
    async function terminateWhenBlocked(applicationName: string, times: number) {
      const terminated = new Set<number>();
      for (let i = 0; terminated.size < times && i < 500; i++) {
        const { rows } = await river.pool.query(
          `SELECT pid FROM pg_stat_activity
           WHERE application_name = $1 AND wait_event_type = 'Lock' AND NOT pid = ANY($2::int[])`,
          [applicationName, [...terminated]],
        );
        for (const { pid } of rows) {
          await river.pool.query('SELECT pg_terminate_backend($1)', [pid]);
          terminated.add(pid);
        }
        if (rows.length === 0) await sleep(10);
      }
      expect(terminated.size, 'blocked backends terminated').toBe(times);
    }

    it('pg_terminate_backend on the claiming connection: TickError, then the next tick works', async () => {
      const app = `eddy-cut-claim-${process.pid}`;
      const { pool, runner, runs } = cutRunner(DATABASE_URL, 'terminated-claim', app);
      const blocker = await river.pool.connect();
      try {
        await runner.tick({ budgetMs: 500 }); // registers the queue
        await insertCut(3);
        // The claim reads river_queue (paused queues): it waits for this lock until terminated.
        await blocker.query(`BEGIN; LOCK TABLE ${schema}.river_queue IN ACCESS EXCLUSIVE MODE`);
        const failed = rejection(runner.tick(shortLease()));
        await terminateWhenBlocked(app, 1).finally(() => blocker.query('ROLLBACK'));
        const error = await failed;
        expect(error.message).toMatch(claimMessage);
        expect(error.message).toMatch(/terminating connection due to administrator command/);
        expect((await river.jobs()).map((r) => r.state)).toEqual([
          'available',
          'available',
          'available',
        ]);
        expect(await runner.tick(shortLease())).toMatchObject({ completed: 3, errors: [] });
        expect([...runs.values()]).toEqual([1, 1, 1]);
      } finally {
        blocker.release();
        await pool.end();
      }
    });

    it('pg_terminate_backend on the recording connection, twice: TickError, rescue after the lease', async () => {
      const app = `eddy-cut-record-${process.pid}`;
      const { pool, runner, runs, during } = cutRunner(DATABASE_URL, 'terminated-record', app);
      const blocker = await river.pool.connect();
      try {
        const ids = await insertCut(3);
        // While the batch runs, another transaction locks one job's row, so recording waits.
        let locked = false;
        during(async (job) => {
          if (locked) return;
          locked = true;
          await blocker.query('BEGIN');
          await blocker.query(`SELECT 1 FROM ${schema}.river_job WHERE id = $1 FOR UPDATE`, [
            String(job.id),
          ]);
        });
        const failed = rejection(runner.tick(shortLease()));
        // The first try and its retry.
        await terminateWhenBlocked(app, 2).finally(() => blocker.query('ROLLBACK'));
        const error = await failed;
        expect(error.message).toMatch(recordMessage);
        expect(error.message).toMatch(/terminating connection due to administrator command/);
        during(async () => {});
        expect((await river.jobs()).map((r) => r.state)).toEqual(['running', 'running', 'running']);
        const [other] = await insertCut(1);
        expect(await runner.tick(shortLease())).toMatchObject({
          claimed: 1,
          completed: 1,
          errors: [],
        });
        expect(runs.get(other as string)).toBe(1);
        await rescueAndFinish(runner, ids);
        expect(ids.map((id) => runs.get(id))).toEqual([2, 2, 2]);
      } finally {
        blocker.release();
        await pool.end();
      }
    });
  });
});
