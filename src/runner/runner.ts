/**
 * The tick runner: one call does a bounded unit of work and returns what it did.
 *
 * 1. maintenance, each one statement (promote due jobs, rescue expired leases, delete old
 *    finalized jobs, enqueue due periodic jobs);
 * 2. the pool (`pool.ts`): slots that refill as they free, a claim (one statement, SKIP LOCKED)
 *    whenever few claimed jobs wait to start, outcomes flushed in small batches (`recorder.ts`,
 *    one fenced statement each); at the deadline, what runs is snoozed and what never started is
 *    handed back;
 * 3. a last flush, and the tick's stats.
 *
 * Slots are the runner's: ticks of one runner that overlap share `concurrency`.
 */

import { type Client, createClient } from '../client.js';
import { Database } from '../driver/database.js';
import { TickError } from '../errors.js';
import type { JobState } from '../job.js';
import { claimJobs } from '../ops/claim-jobs.js';
import { insertNotifyChannel } from '../ops/insert-jobs.js';
import { recordOutcomes } from '../ops/record-outcomes.js';
import type { Attempt } from './attempt.js';
import { abortGraceMs, tickDeadlines } from './deadlines.js';
import { callHook, queueWaitMs } from './hooks.js';
import type { HandOver, RunnerControl } from './long-lived.js';
import { maintain } from './maintain.js';
import { createPeriodicEnqueuer } from './periodic-enqueuer.js';
import { type Claimed, createPool, type Pool, Slots } from './pool.js';
import { createRecorder, type Finished } from './recorder.js';
import {
  maxStatements,
  positive,
  type RunnerOptions,
  resolveRunnerOptions,
} from './runner-options.js';

export type { QueueOptions, RetentionOptions, RunnerOptions } from './runner-options.js';

export interface TickOptions {
  /** What started this tick (a cron expression, `push`, `kick`, …), passed to `hooks.onTick`. */
  source?: string;
  /** Milliseconds this tick may work (soft deadline = now + budgetMs). */
  budgetMs?: number;
  /** Soft deadline: abort and snooze what still runs. Wins over budgetMs. */
  deadline?: Date | number;
  /**
   * When the invocation is killed for certain (the platform's wall-time limit). The lease is
   * this plus `leaseMarginMs`. Default: the soft deadline + 30 s.
   */
  hardDeadline?: Date | number;
  /**
   * Stops the tick early (e.g. on SIGTERM): no more claims or starts; running jobs get
   * `gracefulStopMs` to finish, then are aborted and snoozed; unstarted ones are handed back.
   */
  signal?: AbortSignal;
  /** Default 0: abort running jobs as soon as `signal` fires. */
  gracefulStopMs?: number;
  /** Jobs this tick claims at most. Default unlimited. */
  maxJobs?: number;
  /**
   * Statements this tick sends at most (maintenance, claims, flushes); wins over the runner's
   * `maxStatements`. At least 8.
   */
  maxStatements?: number;
  /** Run maintenance (default true). */
  maintenance?: boolean;
  /**
   * A long-lived process that ticks again at once (`eddy/node` does), with one
   * `createHandOver(runner)` for all its ticks: jobs still running at the deadline are handed
   * to the next tick instead of being snoozed, their leases kept alive meanwhile, and a worker
   * that ignores its abort keeps its job (stuck, see `hooks.onJobStuck`) instead of letting it
   * run elsewhere.
   */
  handOver?: HandOver;
  /**
   * While jobs run and the queues came back empty, claim again this often (a long-lived loop
   * without LISTEN). Default: not at all; the tick ends once its queues are empty and its jobs
   * done.
   */
  pollIntervalMs?: number;
}

export interface TickStats {
  claimed: number;
  completed: number;
  retried: number;
  snoozed: number;
  cancelled: number;
  discarded: number;
  /** Claimed jobs handed back unstarted at the deadline. */
  released: number;
  /**
   * Results not applied: their job was rescued (and perhaps claimed again) meanwhile. Also counts
   * results whose first recording committed but lost its reply: the retry finds them applied.
   */
  stale: number;
  rescued: number;
  promoted: number;
  deleted: number;
  periodicEnqueued: number;
  /** Claim statements sent. */
  claims: number;
  /** Flush statements sent (outcomes recorded). */
  flushes: number;
  /** Jobs still running at the deadline, handed to the next tick (`handOver`). */
  handedOver: number;
  /** Workers that ignored their abort and are still awaited (`handOver`, see `onJobStuck`). */
  stuck: number;
  /** Statements sent to the database by this tick. */
  statements: number;
  durationMs: number;
  /** Maintenance steps that failed (the tick went on without them). */
  errors: string[];
}

export interface Runner {
  readonly id: string;
  tick(options?: TickOptions): Promise<TickStats>;
  /**
   * What a long-lived process acts on (`createHandOver`, `listenForRiver`; `eddy/node` uses
   * both). Unstable, like `eddy/driver`.
   */
  readonly control?: RunnerControl;
}

function epoch(value: Date | number | undefined): number | undefined {
  return value instanceof Date ? value.getTime() : value;
}

function emptyStats(): TickStats {
  return {
    claimed: 0,
    completed: 0,
    retried: 0,
    snoozed: 0,
    cancelled: 0,
    discarded: 0,
    released: 0,
    stale: 0,
    rescued: 0,
    promoted: 0,
    deleted: 0,
    periodicEnqueued: 0,
    claims: 0,
    flushes: 0,
    handedOver: 0,
    stuck: 0,
    statements: 0,
    durationMs: 0,
    errors: [],
  };
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Counts a recorded outcome in the tick's stats. */
function count(stats: TickStats, finished: Finished, state: JobState | 'stale'): void {
  const { outcome } = finished;
  if (state === 'stale') stats.stale++;
  else if (state === 'cancelled') stats.cancelled++;
  else if (outcome.type === 'completed') stats.completed++;
  else if (outcome.type === 'retry') stats.retried++;
  else if (outcome.type === 'discard') stats.discarded++;
  else if (outcome.type === 'snooze') stats.snoozed++;
  else if (outcome.type === 'release') stats.released++;
}

/**
 * Creates a tick runner. The same runner serves a Cloudflare cron trigger, a Vercel cron route
 * or a Node loop; each calls `tick()` with its own budget.
 *
 * @example
 * ```ts
 * const runner = createRunner({ driver, workers: [sendEmailWorker], queues: { email: { concurrency: 5 } } });
 * const stats = await runner.tick({ budgetMs: 20_000 });
 * ```
 */
export function createRunner(options: RunnerOptions): Runner {
  const config = resolveRunnerOptions(options);
  const { driver, schema, prefix, id, workers, clock, hooks } = config;
  const client: Client = createClient({ driver, schema, notify: config.notify, now: clock });
  const maintenance = {
    prefix,
    max: config.maintenanceMax,
    retention: config.retention,
    periodic: createPeriodicEnqueuer(config.periodic, {
      prefix,
      notifyChannel: config.notify ? insertNotifyChannel(schema) : undefined,
      clock: clock !== undefined,
    }),
    queueNames: config.queueNames,
    clock,
  };
  const slots = new Slots(config.concurrency, config.queueConcurrency);
  /** Pools of the ticks running now. */
  const pools = new Set<Pool>();
  let ticks = 0;

  // What long-lived processes (`long-lived.ts`) and River's notifications act on.
  const control: RunnerControl = {
    driver,
    schema,
    prefix,
    queues: config.queueNames,
    leaseMarginMs: config.leaseMarginMs,
    clock,
    slots,
    wake(queue) {
      for (const pool of pools) pool.wake(queue);
    },
    cancel(jobId) {
      for (const pool of pools) pool.cancel(jobId);
    },
    pause(queue) {
      for (const pool of pools) pool.pause(queue);
    },
    resume(queue) {
      for (const pool of pools) pool.resume(queue);
    },
  };

  async function tick(tickOptions: TickOptions = {}): Promise<TickStats> {
    const startedAt = Date.now();
    const stats = emptyStats();
    const db = new Database(driver);
    const firstTick = ticks++ === 0;
    const deadlines = tickDeadlines({
      startedAt,
      deadline: epoch(tickOptions.deadline),
      budgetMs: positive('budgetMs', tickOptions.budgetMs, config.budgetMs, 'tick'),
      hardDeadline: epoch(tickOptions.hardDeadline),
      finishReserveMs: config.finishReserveMs,
      leaseMarginMs: config.leaseMarginMs,
    });
    const { stopAt, leaseUntil } = deadlines;
    const cap =
      tickOptions.maxStatements === undefined
        ? config.maxStatements
        : maxStatements('maxStatements', tickOptions.maxStatements, 'tick');
    const finish = () => {
      stats.statements = db.statementCount;
      stats.durationMs = Date.now() - startedAt;
      callHook('onTick', hooks.onTick, stats, stats, { source: tickOptions.source });
      return stats;
    };
    const rescuedAt = new Date(leaseUntil).toISOString();

    if (tickOptions.maintenance !== false) await maintain(db, maintenance, stats, firstTick);

    // Statements left for this tick; a refused outcome split in halves may exceed it (rare).
    const statementsLeft = () => cap - db.statementCount;
    let pool: Pool | undefined;
    const recorder = createRecorder({
      record: (records, running) => recordOutcomes(db, prefix, records, clock?.(), running),
      flushSize: config.flushSize,
      flushDelayMs: config.flushDelayMs,
      // An early flush keeps one statement for the last flush and one for a claim; under a cap,
      // early flushes also may not outnumber claims, so time-driven flushes cannot spend the
      // budget claims need (each claim earns one).
      mayFlushEarly: () =>
        statementsLeft() >= 3 &&
        (cap === Number.POSITIVE_INFINITY || stats.flushes <= stats.claims),
      running: () => (pool ? [...pool.running].map((r) => r.job.id) : []),
      onCancelRequested: (ids) => {
        for (const jobId of ids) pool?.cancel(jobId);
      },
      onRecorded: (finished, state) => {
        count(stats, finished, state);
        if (hooks.onJobEnd) {
          const { job, outcome } = finished;
          callHook('onJobEnd', hooks.onJobEnd, stats, {
            job,
            kind: job.kind,
            queue: job.queue,
            outcome: outcome.type,
            state,
            runMs: finished.runMs,
            queueWaitMs: queueWaitMs(job),
            error: 'error' in outcome ? outcome.error : undefined,
          });
        }
      },
      onFlush: () => {
        stats.flushes++;
      },
    });
    // What an earlier tick handed over: still running (adopted), or ended meanwhile (recorded).
    const handOver = tickOptions.handOver;
    const adopted = handOver?.adopt();
    for (const finished of adopted?.finished ?? []) recorder.add(finished);

    pool = createPool({
      workers,
      queues: config.queueNames,
      slots,
      batchSize: config.batchSize,
      // Claim again once fewer than `concurrency` claimed jobs wait: measured on the heavy tail
      // against 2× concurrency and batchSize, all within noise (0.90–0.92× the ideal); this one
      // holds the fewest jobs claimed ahead, which other runners could take instead.
      lowWater: config.concurrency,
      stopAt,
      leaseUntil,
      abortGraceMs: (now) => abortGraceMs(deadlines, now),
      signal: tickOptions.signal,
      gracefulStopMs: tickOptions.gracefulStopMs,
      maxJobs: tickOptions.maxJobs ?? Number.POSITIVE_INFINITY,
      statementsLeft,
      handOver: handOver !== undefined,
      adopt: adopted?.running ?? [],
      repollMs: tickOptions.pollIntervalMs,
      recorder,
      claim: async (request) => {
        stats.claims++;
        const jobs = await claimJobs(db, {
          prefix,
          queues: request.queues,
          total: request.total,
          kinds: request.kinds,
          runnerId: id,
          leaseMs: leaseUntil - Date.now(),
          now: clock?.(),
        });
        stats.claimed += jobs.length;
        return jobs.map(
          (job): Claimed => ({ job, token: job.attemptedBy[job.attemptedBy.length - 1] as string }),
        );
      },
      attempt: {
        prefix,
        softDeadline: deadlines.soft,
        defaultTimeoutMs: config.defaultTimeoutMs,
        client,
        clock,
      },
      onStart: (running) => {
        if (hooks.onJobStart)
          callHook('onJobStart', hooks.onJobStart, stats, {
            job: running.job,
            queueWaitMs: queueWaitMs(running.job),
          });
      },
      onStuck: (running) => {
        stats.stuck++;
        const attempt = running.attempt as Attempt;
        callHook('onJobStuck', hooks.onJobStuck, stats, {
          job: running.job,
          runMs: Math.max(0, performance.now() - running.startedAt),
          reason: describe(attempt.reason),
        });
      },
      onHandOver: (handed) => {
        stats.handedOver += handed.length;
        handOver?.hold(handed);
      },
    });
    pools.add(pool);
    handOver?.enter(pool);
    let failure: Awaited<ReturnType<Pool['run']>>;
    try {
      failure = await pool.run();
    } finally {
      pools.delete(pool);
      handOver?.leave(pool);
    }
    if (failure.record !== undefined) {
      throw new TickError(
        `tick: recording the outcomes of ${recorder.size} jobs failed (${describe(failure.record)}); they stay running until their lease passes at ${rescuedAt} and the next tick rescues them`,
        finish(),
        { cause: failure.record },
      );
    }
    if (failure.claim !== undefined) {
      throw new TickError(
        `tick: claiming jobs failed (${describe(failure.claim)}); any jobs it may have claimed stay running until their lease passes at ${rescuedAt} and the next tick rescues them`,
        finish(),
        { cause: failure.claim },
      );
    }
    return finish();
  }

  return { id, tick, control };
}
