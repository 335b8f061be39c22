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

import { type Client, createClient, ifAbsentInserter } from '../client.js';
import { Database, decodeResult, encodeQuery } from '../driver/database.js';
import type { Driver, RawResult } from '../driver/driver.js';
import { EddyError, ValidationError } from '../errors.js';
import { type Job, rowToJob } from '../job.js';
import { JobClaimBatch } from '../sql/job-claim.js';
import { JobSetCompletedIfRunningMany, JobSetStateIfRunningMany } from '../sql/job-complete.js';
import {
  JobDeleteFinalized,
  JobRescueExpired,
  JobScheduleDue,
  QueueTouchMany,
} from '../sql/maintenance.js';
import { schemaPrefix } from '../sql/schema.js';
import type { Worker } from '../worker.js';
import { executeBatch, type Outcome } from './batch.js';
import { type PeriodicJob, periodicInserts } from './periodic.js';

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

/** The tick could not record outcomes; the jobs will be rescued when their lease passes. */
export class TickError extends EddyError {
  override name = 'TickError';
  constructor(
    message: string,
    readonly stats: TickStats,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Runner {
  readonly id: string;
  tick(options?: TickOptions): Promise<TickStats>;
}

const DEFAULT_HARD_MARGIN_MS = 30_000;
/** The runner's statements recur every tick: worth preparing where the driver can. */
const PREPARED = { prepare: true } as const;

function epoch(value: Date | number): number {
  return value instanceof Date ? value.getTime() : value;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0)
    throw new ValidationError(`createRunner: ${name} must be a positive number`);
  return v;
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
  const { driver, schema } = options;
  const prefix = schemaPrefix(schema);
  const id = options.id ?? `eddy-${randomId()}`;
  if (id.length === 0 || id.length > 100)
    throw new ValidationError('createRunner: id must be 1–100 characters');
  const workers = new Map<string, Worker>();
  for (const worker of options.workers ?? []) {
    if (workers.has(worker.kind))
      throw new ValidationError(`createRunner: two workers for kind '${worker.kind}'`);
    workers.set(worker.kind, worker);
  }
  const queues = options.queues ?? { default: {} };
  const queueNames = Object.keys(queues);
  if (queueNames.length === 0)
    throw new ValidationError('createRunner: queues must name at least one queue');
  const concurrency = positive('concurrency', options.concurrency, 10);
  const queueConcurrency = new Map<string, number>();
  for (const [name, q] of Object.entries(queues)) {
    if (name.length === 0 || name.length > 127)
      throw new ValidationError(`createRunner: queue name '${name}' must be 1–127 characters`);
    if (q.concurrency !== undefined)
      queueConcurrency.set(name, positive(`queues.${name}.concurrency`, q.concurrency, 1));
  }
  const batchSize = positive('batchSize', options.batchSize, 100);
  const budgetMs = positive('budgetMs', options.budgetMs, 25_000);
  const leaseMarginMs = options.leaseMarginMs ?? 15_000;
  const defaultTimeoutMs = positive('defaultTimeoutMs', options.defaultTimeoutMs, 60_000);
  const maintenanceMax = positive('maintenanceBatchSize', options.maintenanceBatchSize, 1000);
  const retention = {
    completedMs:
      options.retention?.completedMs === undefined ? 24 * 3600_000 : options.retention.completedMs,
    cancelledMs:
      options.retention?.cancelledMs === undefined ? 24 * 3600_000 : options.retention.cancelledMs,
    discardedMs:
      options.retention?.discardedMs === undefined
        ? 7 * 24 * 3600_000
        : options.retention.discardedMs,
  };
  const periodic = options.periodic ?? [];
  const names = new Set<string>();
  for (const p of periodic) {
    if (names.has(p.name))
      throw new ValidationError(
        `createRunner: two periodic jobs named '${p.name}'; give one a name`,
      );
    names.add(p.name);
  }
  const client: Client = createClient({ driver, schema, notify: options.notify });
  const insertPeriodic = ifAbsentInserter({ schema, notify: options.notify });
  let ticks = 0;
  /** Periodic slots (by schedule name, epoch ms) known to be stored. */
  const storedSlots = new Map<string, Set<number>>();

  async function maintain(db: Database, stats: TickStats, firstTick: boolean): Promise<void> {
    const step = async (name: string, run: () => Promise<void>) => {
      try {
        await run();
      } catch (error) {
        stats.errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    // Independent statements: over a pool or HTTP they overlap; a single connection queues them.
    await Promise.all([
      step('promote due jobs', async () => {
        const { rows } = await db.query(JobScheduleDue(prefix), [maintenanceMax], PREPARED);
        stats.promoted = rows.filter((r) => !r.discard).length;
      }),
      step('rescue expired leases', async () => {
        stats.rescued = (
          await db.query(JobRescueExpired(prefix), [maintenanceMax], PREPARED)
        ).rowCount;
      }),
      step('delete finalized jobs', async () => {
        stats.deleted = (
          await db.query(
            JobDeleteFinalized(prefix),
            [retention.completedMs, retention.cancelledMs, retention.discardedMs, maintenanceMax],
            PREPARED,
          )
        ).rowCount;
      }),
      step('enqueue periodic jobs', async () => {
        const items = await periodicInserts(
          periodic,
          new Date(),
          firstTick,
          (name, slot) => storedSlots.get(name)?.has(slot.getTime()) === true,
        );
        if (items.length === 0) return;
        // Skips slots already enqueued without locking their rows (see JobInsertMany).
        stats.periodicEnqueued = await insertPeriodic(db, items);
        // Whether inserted now or found stored, these slots need no statement on later ticks of
        // this runner (a warm isolate, a Node process). Other runners still dedupe by key.
        for (const item of items) {
          const metadata = item.options?.metadata as { periodic?: string; periodic_slot?: string };
          if (!metadata?.periodic || !metadata.periodic_slot) continue;
          const slots = storedSlots.get(metadata.periodic) ?? new Set<number>();
          storedSlots.set(metadata.periodic, slots);
          slots.add(Date.parse(metadata.periodic_slot));
          // Only the recent past can come due again; keep the memory small.
          if (slots.size > 2000) slots.delete(slots.values().next().value as number);
        }
      }),
      firstTick
        ? step('register queues', async () => {
            await db.query(QueueTouchMany(prefix), [queueNames]);
          })
        : Promise.resolve(),
    ]);
  }

  async function record(
    db: Database,
    jobs: readonly Job[],
    tokens: readonly string[],
    outcomes: readonly Outcome[],
    stats: TickStats,
  ) {
    const ids: bigint[] = [];
    const states: string[] = [];
    const delays: (number | null)[] = [];
    const errors: (string | null)[] = [];
    const snoozes: boolean[] = [];
    const releases: boolean[] = [];
    outcomes.forEach((outcome, i) => {
      ids.push((jobs[i] as Job).id);
      let state: string;
      let delay: number | null = null;
      let error: string | null = null;
      switch (outcome.type) {
        case 'completed':
          state = 'completed';
          break;
        case 'retry':
          delay = Math.round(outcome.delayMs);
          state = delay <= 0 ? 'available' : 'retryable';
          error = JSON.stringify(outcome.error);
          break;
        case 'discard':
          state = 'discarded';
          error = JSON.stringify(outcome.error);
          break;
        case 'cancel':
          state = 'cancelled';
          error = JSON.stringify(outcome.error);
          break;
        case 'snooze':
          delay = Math.round(outcome.delayMs);
          state = delay <= 0 ? 'available' : 'scheduled';
          break;
        case 'release':
          state = 'available';
          break;
      }
      states.push(state);
      delays.push(delay);
      errors.push(error);
      snoozes.push(outcome.type === 'snooze');
      releases.push(outcome.type === 'release');
    });
    // A batch of only completions (the usual case) takes the lighter statement.
    const allCompleted = states.every((state) => state === 'completed');
    const text = allCompleted
      ? JobSetCompletedIfRunningMany(prefix)
      : JobSetStateIfRunningMany(prefix);
    const params = allCompleted
      ? [ids, tokens as string[]]
      : [ids, tokens as string[], states, delays, errors, snoozes, releases];
    let lastError: unknown;
    // Fenced and idempotent, so one retry after a transient failure is safe.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const { rows } = await db.query(text, params, PREPARED);
        const applied = new Map(
          rows.map((r) => [String(r.id), (r.state as string | undefined) ?? 'completed']),
        );
        outcomes.forEach((outcome, i) => {
          const state = applied.get(String((jobs[i] as Job).id));
          if (state === undefined) {
            stats.stale++;
            return;
          }
          if (state === 'cancelled') stats.cancelled++;
          else if (outcome.type === 'completed') stats.completed++;
          else if (outcome.type === 'retry') stats.retried++;
          else if (outcome.type === 'discard') stats.discarded++;
          else if (outcome.type === 'snooze') stats.snoozed++;
          else if (outcome.type === 'release') stats.released++;
        });
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  async function tick(tickOptions: TickOptions = {}): Promise<TickStats> {
    const startedAt = Date.now();
    const stats = emptyStats();
    const db = new Database(driver);
    const firstTick = ticks++ === 0;
    const soft =
      tickOptions.deadline !== undefined
        ? epoch(tickOptions.deadline)
        : startedAt + positive('budgetMs', tickOptions.budgetMs, budgetMs);
    const hard =
      tickOptions.hardDeadline !== undefined
        ? epoch(tickOptions.hardDeadline)
        : soft + DEFAULT_HARD_MARGIN_MS;
    if (hard < soft) throw new ValidationError('tick: hardDeadline is before the soft deadline');
    const budget = soft - startedAt;
    const reserve = options.finishReserveMs ?? Math.min(2000, Math.max(0, budget) * 0.1);
    const stopAt = soft - reserve;
    const leaseUntil = hard + leaseMarginMs;
    const maxJobs = tickOptions.maxJobs ?? Number.POSITIVE_INFINITY;
    const signal = tickOptions.signal;
    const finish = () => {
      stats.statements = db.statementCount;
      stats.durationMs = Date.now() - startedAt;
      return stats;
    };

    if (tickOptions.maintenance !== false) await maintain(db, stats, firstTick);

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
      const nonce = randomId();
      let claimed: RawResult;
      try {
        claimed = await db.raw({
          prepare: true,
          ...encodeQuery({
            text: JobClaimBatch(prefix),
            params: [
              queueNames,
              queueNames.map(() => limit),
              kinds,
              id,
              nonce,
              Math.max(0, leaseUntil - now),
            ],
          }),
        });
      } catch (error) {
        throw new TickError(
          `tick: claiming jobs failed (${error instanceof Error ? error.message : String(error)}); any jobs it may have claimed stay running until their lease passes at ${new Date(leaseUntil).toISOString()} and the next tick rescues them`,
          finish(),
          { cause: error },
        );
      }
      const jobs = decodeResult(claimed).rows.map((row) => rowToJob(row));
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
        abortGraceMs: Math.max(0, Math.min(reserve / 2, soft - Date.now())),
        softDeadline: soft,
        defaultTimeoutMs,
        client,
        signal,
        gracefulStopMs: tickOptions.gracefulStopMs,
      });
      try {
        await record(db, jobs, tokens, outcomes, stats);
      } catch (error) {
        throw new TickError(
          `tick: recording the outcomes of ${jobs.length} jobs failed (${error instanceof Error ? error.message : String(error)}); they stay running until their lease passes at ${new Date(leaseUntil).toISOString()} and the next tick rescues them`,
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
