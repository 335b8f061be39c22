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
import type { Driver } from '../driver/driver.js';
import { schemaPrefix } from '../driver/schema-name.js';
import { invalid, TickError, ValidationError } from '../errors.js';
import type { Job } from '../job.js';
import { claimJobs } from '../ops/claim-jobs.js';
import { insertNotifyChannel } from '../ops/insert-jobs.js';
import { newNonce } from '../ops/lease.js';
import type { Worker } from '../worker.js';
import { executeBatch } from './batch.js';
import { abortGraceMs, DEFAULT_LEASE_MARGIN_MS, tickDeadlines } from './deadlines.js';
import { maintain } from './maintain.js';
import type { PeriodicJob } from './periodic.js';
import { createPeriodicEnqueuer } from './periodic-enqueuer.js';
import { recordBatch } from './record-batch.js';

export interface QueueOptions {
  /** Jobs of this queue running at once. Default: the runner's `concurrency`. */
  concurrency?: number;
}

export interface RetentionOptions {
  /** Milliseconds to keep finalized jobs; `null` keeps them forever. */
  completedMs?: number | null;
  cancelledMs?: number | null;
  discardedMs?: number | null;
}

export interface RunnerOptions {
  driver: Driver;
  /** Postgres schema with River's tables. Default: the search_path. */
  schema?: string;
  workers: readonly Worker[];
  /** Queues to work and their limits. Default `{ default: {} }`. */
  queues?: Record<string, QueueOptions>;
  /** Identifies this runner in `attempted_by`. Default `eddy-<random>`. */
  id?: string;
  /** Jobs running at once over all queues. Default 10. */
  concurrency?: number;
  /** Jobs claimed per statement (per queue). Default 100. */
  batchSize?: number;
  periodic?: readonly PeriodicJob[];
  retention?: RetentionOptions;
  /** Budget of a tick when the call gives none. Default 25 s. */
  budgetMs?: number;
  /**
   * Added to the hard deadline to form the lease: covers clock skew between this runtime and the
   * database, and the time to record results. Default 15 s.
   */
  leaseMarginMs?: number;
  /** Time kept back at the end of the budget to record outcomes. Default min(2 s, 10 % budget). */
  finishReserveMs?: number;
  /** Per-attempt timeout for workers that set none. Default 60 s. */
  defaultTimeoutMs?: number;
  /** Rows each maintenance statement touches at most per tick. Default 1000. */
  maintenanceBatchSize?: number;
  /** `pg_notify` Go River listeners when jobs are inserted (periodic, follow-ups). Default false. */
  notify?: boolean;
  /**
   * The clock (tests): what time it is for the database — claims, recorded outcomes,
   * maintenance, periodic slots — instead of the database's `now()`. Timeouts and deadlines
   * still run on real time.
   */
  now?: () => Date;
}

export interface TickOptions {
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

function positive(
  path: string,
  value: number | undefined,
  fallback: number,
  where = 'createRunner',
): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    invalid(path, `must be a positive number (got ${String(v)})`, where);
  return v;
}

function nonNegative(path: string, value: number | undefined): number | undefined {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0))
    invalid(path, `must be a number ≥ 0 (got ${String(value)})`, 'createRunner');
  return value;
}

function retentionMs(value: number | null | undefined, fallback: number): number | null {
  return value === undefined ? fallback : value;
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
  const where = 'createRunner';
  if (!options || typeof options !== 'object')
    throw new ValidationError('createRunner: pass { driver, workers, queues?, ... }');
  const { driver, schema } = options;
  if (!driver || typeof driver.query !== 'function')
    invalid(
      'driver',
      'must be an Eddy driver, e.g. neonHttp(neon(url)) from eddy/neon-http',
      where,
    );
  const prefix = schemaPrefix(schema);
  const id = options.id ?? `eddy-${newNonce()}`;
  if (typeof id !== 'string' || id.length === 0 || id.length > 100)
    invalid('id', 'must be 1–100 characters', where);
  if (!Array.isArray(options.workers))
    invalid('workers', 'must be an array of defineWorker(...)', where);
  const workers = new Map<string, Worker>();
  options.workers.forEach((worker, i) => {
    if (!worker || typeof worker.work !== 'function' || typeof worker.kind !== 'string')
      invalid(`workers[${i}]`, 'must be made by defineWorker(...)', where);
    if (workers.has(worker.kind))
      invalid(`workers[${i}]`, `is a second worker for kind '${worker.kind}'`, where);
    workers.set(worker.kind, worker);
  });
  const queues = options.queues ?? { default: {} };
  const queueNames = Object.keys(queues);
  if (queueNames.length === 0) invalid('queues', 'must name at least one queue', where);
  const concurrency = positive('concurrency', options.concurrency, 10);
  const queueConcurrency = new Map<string, number>();
  for (const [name, q] of Object.entries(queues)) {
    if (name.length === 0 || name.length > 127)
      invalid(`queues['${name}']`, 'must be a queue name of 1–127 characters', where);
    if (q?.concurrency !== undefined)
      queueConcurrency.set(name, positive(`queues.${name}.concurrency`, q.concurrency, 1));
  }
  const batchSize = positive('batchSize', options.batchSize, 100);
  const budgetMs = positive('budgetMs', options.budgetMs, 25_000);
  const leaseMarginMs =
    nonNegative('leaseMarginMs', options.leaseMarginMs) ?? DEFAULT_LEASE_MARGIN_MS;
  const finishReserveMs = nonNegative('finishReserveMs', options.finishReserveMs);
  const defaultTimeoutMs = positive('defaultTimeoutMs', options.defaultTimeoutMs, 60_000);
  const names = new Set<string>();
  (options.periodic ?? []).forEach((p, i) => {
    if (names.has(p.name))
      invalid(
        `periodic[${i}]`,
        `is a second periodic job named '${p.name}'; give one a name`,
        where,
      );
    names.add(p.name);
  });
  if (options.now !== undefined && typeof options.now !== 'function')
    invalid('now', 'must be a function returning a Date', where);
  const clock = options.now;
  const client: Client = createClient({ driver, schema, notify: options.notify, now: clock });
  const maintenance = {
    prefix,
    max: positive('maintenanceBatchSize', options.maintenanceBatchSize, 1000),
    retention: {
      completedMs: retentionMs(options.retention?.completedMs, 24 * 3600_000),
      cancelledMs: retentionMs(options.retention?.cancelledMs, 24 * 3600_000),
      discardedMs: retentionMs(options.retention?.discardedMs, 7 * 24 * 3600_000),
    },
    periodic: createPeriodicEnqueuer(options.periodic ?? [], {
      prefix,
      notifyChannel: options.notify ? insertNotifyChannel(schema) : undefined,
      clock: clock !== undefined,
    }),
    queueNames,
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
      budgetMs: positive('budgetMs', tickOptions.budgetMs, budgetMs, 'tick'),
      hardDeadline: epoch(tickOptions.hardDeadline),
      finishReserveMs,
      leaseMarginMs,
    });
    const { soft, stopAt, leaseUntil } = deadlines;
    const maxJobs = tickOptions.maxJobs ?? Number.POSITIVE_INFINITY;
    const signal = tickOptions.signal;
    const finish = () => {
      stats.statements = db.statementCount;
      stats.durationMs = Date.now() - startedAt;
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
      const limit = Math.min(batchSize, maxJobs - stats.claimed);
      let jobs: Job[];
      try {
        jobs = await claimJobs(db, {
          prefix,
          queues: queueNames.map((name) => ({ name, limit })),
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
      const outcomes = await executeBatch(jobs, {
        workers,
        concurrency,
        queueConcurrency,
        stopAt,
        leaseUntil,
        abortGraceMs: abortGraceMs(deadlines, Date.now()),
        softDeadline: soft,
        defaultTimeoutMs,
        client,
        signal,
        gracefulStopMs: tickOptions.gracefulStopMs,
        clock,
      });
      try {
        await recordBatch(db, prefix, jobs, tokens, outcomes, stats, clock?.());
      } catch (error) {
        throw new TickError(
          `tick: recording the outcomes of ${jobs.length} jobs failed (${describe(error)}); they stay running until their lease passes at ${rescuedAt} and the next tick rescues them`,
          finish(),
          { cause: error },
        );
      }
      // A short batch means the queues are drained (or the rest is locked by another tick).
      if (jobs.length < limit) break;
    }
    return finish();
  }

  return { id, tick };
}
