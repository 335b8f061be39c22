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
import type { Listener } from '../driver/driver.js';
import { TickError, UnsupportedError } from '../errors.js';
import type { JobState } from '../job.js';
import { claimJobs, extendLeases } from '../ops/claim-jobs.js';
import { insertNotifyChannel } from '../ops/insert-jobs.js';
import { recordOutcomes } from '../ops/record-outcomes.js';
import { type Attempt, CancelRequested } from './attempt.js';
import { abortGraceMs, tickDeadlines } from './deadlines.js';
import { callHook, queueWaitMs } from './hooks.js';
import { maintain } from './maintain.js';
import { parseRiverNotification, riverChannels } from './notifications.js';
import { createPeriodicEnqueuer } from './periodic-enqueuer.js';
import { type Claimed, createPool, type Owner, type Pool, type Running, Slots } from './pool.js';
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
   * A long-lived process that ticks again at once (`eddy/node` does): jobs still running at the
   * deadline are handed to the next tick instead of being snoozed, the runner keeps their
   * leases alive meanwhile, and a worker that ignores its abort keeps its job (stuck, see
   * `hooks.onJobStuck`) instead of letting it run elsewhere. Call `tick` again within the
   * runner's `leaseMarginMs`. Default false.
   */
  handOver?: boolean;
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

export interface ListenOptions {
  /**
   * Jobs became available in `queue` (a notification, or the listener connected again and
   * notifications may have been missed: then `queue` is `*`). A loop sleeping between ticks
   * wakes here.
   */
  onWake?(queue: string): void;
  /** The listener lost its session (it reconnects by itself). */
  onError?(error: unknown): void;
}

export interface Runner {
  readonly id: string;
  tick(options?: TickOptions): Promise<TickStats>;
  /** Whether the driver keeps a session this runner can LISTEN on (`listen()`). */
  readonly canListen?: boolean;
  /**
   * LISTENs on River's `<schema>.river_insert` and `<schema>.river_control` (long-lived
   * processes; `eddy/node` does it for you): jobs inserted by Eddy or Go River start at once in
   * a running tick, a cancel of a job this runner runs fires its `AbortSignal` (the outcome is
   * `cancelled`), and a pause stops claims from that queue and hands back its jobs not yet
   * started. Needs a driver that keeps a session (pg, Neon WebSocket, postgres.js, PGlite);
   * otherwise it throws `UnsupportedError` and ticks poll as before. Without a listener, a cancel
   * of a running job is seen at the tick's next flush.
   */
  listen?(options?: ListenOptions): Promise<Listener>;
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
 * How often a long-lived runner renews the leases of jobs that outlive the tick that claimed
 * them (handed over, or stuck).
 */
export const HEARTBEAT_MS = 5_000;

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
  /** Pools of long-lived ticks (`handOver`), whose attempts the heartbeat covers. */
  const longLived = new Set<Pool>();
  let ticks = 0;

  // Attempts a long-lived tick handed over, until the next tick adopts them; and the outcomes of
  // those that ended meanwhile. The runner owns them in between.
  const carried = new Set<Running>();
  const carriedFinished: Finished[] = [];
  const carrier: Owner = {
    settle(running, outcome) {
      if (!carried.delete(running)) return;
      slots.give(running.job.queue);
      carriedFinished.push({
        job: running.job,
        token: running.token,
        outcome,
        runMs: Math.max(0, performance.now() - running.startedAt),
      });
    },
  };

  // The heartbeat: renews the leases of attempts that outlive their tick, while there are any.
  const heartbeatDb = new Database(driver);
  let heartbeat: ReturnType<typeof setTimeout> | undefined;
  const leaseRenewalMs = config.leaseMarginMs + 3 * HEARTBEAT_MS;
  const renewLeases = async () => {
    heartbeat = undefined;
    const due = Date.now() + leaseRenewalMs / 2;
    const held = [...carried, ...[...longLived].flatMap((pool) => [...pool.running])].filter(
      (running) => running.leaseExpiresAt < due,
    );
    if (held.length > 0) {
      try {
        const extended = await extendLeases(
          heartbeatDb,
          prefix,
          held.map((running) => ({ id: running.job.id, token: running.token })),
          leaseRenewalMs,
          clock?.(),
        );
        const until = Date.now() + leaseRenewalMs;
        for (const running of held)
          if (extended.has(String(running.job.id))) running.leaseExpiresAt = until;
      } catch {
        // The next beat tries again; a lease still has half its renewal left.
      }
    }
    keepBeating();
  };
  const keepBeating = () => {
    if (carried.size === 0 && longLived.size === 0) {
      // Nothing outlives its tick: no timer may keep the process alive.
      clearTimeout(heartbeat);
      heartbeat = undefined;
      return;
    }
    heartbeat ??= setTimeout(renewLeases, HEARTBEAT_MS);
  };

  const channels = riverChannels(schema);
  const worked = new Set(config.queueNames);
  async function listen(listenOptions: ListenOptions = {}): Promise<Listener> {
    if (!driver.listen)
      throw new UnsupportedError(
        `${driver.name} keeps no session to LISTEN on; ticks poll instead (use node-postgres, Neon's WebSocket Pool, postgres.js or PGlite to start jobs the moment they are inserted)`,
      );
    const wake = (queue: string) => {
      for (const pool of pools) pool.wake(queue === '*' ? undefined : queue);
      listenOptions.onWake?.(queue);
    };
    return driver.listen([channels.insert, channels.control], {
      onNotification({ channel, payload }) {
        const event = parseRiverNotification(channel, payload, channels);
        if (!event || (event.queue !== '*' && !worked.has(event.queue))) return;
        if (event.action === 'insert') wake(event.queue);
        else if (event.action === 'cancel') {
          for (const pool of pools) pool.cancel(event.jobId);
          for (const running of carried)
            if (running.job.id === event.jobId)
              running.attempt?.abort(
                new CancelRequested('a cancel was requested while the job ran'),
              );
        } else if (event.action === 'pause') {
          for (const pool of pools) pool.pause(event.queue);
        } else {
          for (const pool of pools) pool.resume(event.queue);
          listenOptions.onWake?.(event.queue);
        }
      },
      // Connected (again): what was sent meanwhile is lost, so look once.
      onListening: () => wake('*'),
      onError: listenOptions.onError,
    });
  }

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
    const handOver = tickOptions.handOver === true;
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
      // An early flush keeps one statement for the last flush, and one for a claim while
      // claims may still come.
      mayFlushEarly: () => statementsLeft() >= 3,
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
    // What ended between ticks is recorded by this one.
    for (const finished of carriedFinished.splice(0)) recorder.add(finished);
    const adopt = [...carried];
    carried.clear();

    pool = createPool({
      workers,
      queues: config.queueNames,
      slots,
      batchSize: config.batchSize,
      lowWater: config.concurrency,
      stopAt,
      leaseUntil,
      abortGraceMs: (now) => abortGraceMs(deadlines, now),
      signal: tickOptions.signal,
      gracefulStopMs: tickOptions.gracefulStopMs,
      maxJobs: tickOptions.maxJobs ?? Number.POSITIVE_INFINITY,
      statementsLeft,
      handOver,
      adopt,
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
        for (const running of handed) {
          running.owner = carrier;
          carried.add(running);
        }
      },
    });
    pools.add(pool);
    if (handOver) {
      longLived.add(pool);
      keepBeating();
    }
    let failure: Awaited<ReturnType<Pool['run']>>;
    try {
      failure = await pool.run();
    } finally {
      pools.delete(pool);
      longLived.delete(pool);
      keepBeating();
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

  return { id, tick, listen, canListen: typeof driver.listen === 'function' };
}
