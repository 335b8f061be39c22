/**
 * The tick runner: one call does a bounded unit of work and returns what it did.
 *
 * 1. maintenance, each one statement (promote due jobs, rescue expired leases, delete old
 *    finalized jobs, enqueue due periodic jobs);
 * 2. claim a bounded batch (one statement, SKIP LOCKED);
 * 3. run it within the time budget; at the deadline abort and snooze what runs and hand back
 *    what has not started;
 * 4. record every outcome of the batch in one fenced statement;
 * and again from 2 while budget, jobs and `maxJobs` last.
 */

import { type Client, createClient } from '../client.js';
import { Database } from '../driver/database.js';
import { TickError } from '../errors.js';
import type { Job, JobState } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import { claimJobs } from '../ops/claim-jobs.js';
import { insertNotifyChannel } from '../ops/insert-jobs.js';
import { executeBatch } from './batch.js';
import { abortGraceMs, tickDeadlines } from './deadlines.js';
import { callHook, queueWaitMs } from './hooks.js';
import { maintain } from './maintain.js';
import { createPeriodicEnqueuer } from './periodic-enqueuer.js';
import { recordBatch } from './record-batch.js';
import { positive, type RunnerOptions, resolveRunnerOptions } from './runner-options.js';

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
   * Claim-and-run rounds at most. Each round costs two statements, so this bounds a tick's
   * statements (Cloudflare counts each HTTP statement as a subrequest). Default unlimited.
   */
  maxBatches?: number;
  /** Run maintenance (default true). */
  maintenance?: boolean;
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
  batches: number;
  /** Statements sent to the database by this tick. */
  statements: number;
  durationMs: number;
  /** Maintenance steps that failed (the tick went on without them). */
  errors: string[];
}

export interface Runner {
  readonly id: string;
  tick(options?: TickOptions): Promise<TickStats>;
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
    batches: 0,
    statements: 0,
    durationMs: 0,
    errors: [],
  };
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

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
  let ticks = 0;

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
    const { soft, stopAt, leaseUntil } = deadlines;
    const maxJobs = tickOptions.maxJobs ?? Number.POSITIVE_INFINITY;
    const signal = tickOptions.signal;
    const finish = () => {
      stats.statements = db.statementCount;
      stats.durationMs = Date.now() - startedAt;
      callHook('onTick', hooks.onTick, stats, stats, { source: tickOptions.source });
      return stats;
    };
    const rescuedAt = new Date(leaseUntil).toISOString();

    if (tickOptions.maintenance !== false) await maintain(db, maintenance, stats, firstTick);

    const maxBatches = tickOptions.maxBatches ?? Number.POSITIVE_INFINITY;
    while (!signal?.aborted && stats.claimed < maxJobs && stats.batches < maxBatches) {
      const now = Date.now();
      const remaining = stopAt - now;
      if (remaining <= 0) break;
      const kinds = [...workers.values()]
        .filter((w) => (w.options.expectedRunMs ?? 0) <= remaining)
        .map((w) => w.kind);
      if (kinds.length === 0) break;
      const limit = Math.min(config.batchSize, maxJobs - stats.claimed);
      let jobs: Job[];
      try {
        jobs = await claimJobs(db, {
          prefix,
          queues: config.queueNames.map((name) => ({ name, limit })),
          kinds,
          runnerId: id,
          leaseMs: leaseUntil - now,
          now: clock?.(),
        });
      } catch (error) {
        throw new TickError(
          `tick: claiming jobs failed (${describe(error)}); any jobs it may have claimed stay running until their lease passes at ${rescuedAt} and the next tick rescues them`,
          finish(),
          { cause: error },
        );
      }
      if (jobs.length === 0) break;
      stats.batches++;
      stats.claimed += jobs.length;
      const tokens = jobs.map((job) => job.attemptedBy[job.attemptedBy.length - 1] as string);
      const runStarted = new Float64Array(jobs.length);
      const runEnded = new Float64Array(jobs.length);
      const onStart = (index: number) => {
        const job = jobs[index] as Job;
        runStarted[index] = performance.now();
        if (hooks.onJobStart && workers.has(job.kind))
          callHook('onJobStart', hooks.onJobStart, stats, { job, queueWaitMs: queueWaitMs(job) });
      };
      const outcomes = await executeBatch(jobs, {
        onStart,
        onEnd: (index) => {
          runEnded[index] = performance.now();
        },
        workers,
        concurrency: config.concurrency,
        queueConcurrency: config.queueConcurrency,
        stopAt,
        leaseUntil,
        abortGraceMs: abortGraceMs(deadlines, Date.now()),
        softDeadline: soft,
        defaultTimeoutMs: config.defaultTimeoutMs,
        client,
        signal,
        gracefulStopMs: tickOptions.gracefulStopMs,
        clock,
      });
      let applied: Map<string, JobState>;
      try {
        applied = await recordBatch(db, prefix, jobs, tokens, outcomes, stats, clock?.());
      } catch (error) {
        throw new TickError(
          `tick: recording the outcomes of ${jobs.length} jobs failed (${describe(error)}); they stay running until their lease passes at ${rescuedAt} and the next tick rescues them`,
          finish(),
          { cause: error },
        );
      }
      if (hooks.onJobEnd) {
        jobs.forEach((job, i) => {
          const outcome = outcomes[i] as Outcome;
          callHook('onJobEnd', hooks.onJobEnd, stats, {
            job,
            kind: job.kind,
            queue: job.queue,
            outcome: outcome.type,
            state: applied.get(String(job.id)) ?? 'stale',
            runMs: runEnded[i]
              ? Math.max(0, (runEnded[i] as number) - (runStarted[i] as number))
              : 0,
            queueWaitMs: queueWaitMs(job),
            error: 'error' in outcome ? outcome.error : undefined,
          });
        });
      }
      // A short batch means the queues are drained (or the rest is locked by another tick).
      if (jobs.length < limit) break;
    }
    return finish();
  }

  return { id, tick };
}
