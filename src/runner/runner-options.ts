/**
 * The runner's options: what they mean, their defaults, and their validation. Bad options fail
 * `createRunner` with a `ValidationError` naming the option, before anything runs.
 */

import type { Driver } from '../driver/driver.js';
import { schemaPrefix } from '../driver/schema-name.js';
import { invalid, refuseUnknownKeys, ValidationError } from '../errors.js';
import { queueNameProblem } from '../insert/job-fields.js';
import { newNonce } from '../ops/lease.js';
import type { Retention } from '../ops/maintenance.js';
import type { Worker } from '../worker.js';
import { DEFAULT_LEASE_MARGIN_MS } from './deadlines.js';
import { HOOK_NAMES, type RunnerHooks } from './hooks.js';
import { checkPeriodicJobs, type PeriodicJob } from './periodic.js';

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
  /**
   * The most jobs one claim takes. A tick claims again whenever fewer than `concurrency` claimed
   * jobs wait to start, so it holds at most about `concurrency` running, as many waiting and one
   * claim's worth more. Default 100.
   */
  batchSize?: number;
  /** Outcomes are flushed (one statement) once this many have gathered. Default 100. */
  flushSize?: number;
  /**
   * …or once the oldest unflushed outcome has waited this long, in ms, so a finished job does
   * not stay `running` for long. Default 100.
   */
  flushDelayMs?: number;
  /**
   * The most statements one tick sends: maintenance, claims, flushes (Cloudflare counts each
   * statement over HTTP as a subrequest). Near it the tick stops claiming, lets what it holds
   * finish, flushes and returns. At least 8. Default: no limit (`eddy/cloudflare` sets 30).
   */
  maxStatements?: number;
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
  /** Called as jobs start and end and as ticks end: the seam for metrics and tracing. */
  hooks?: RunnerHooks;
}

/** The options resolved: defaults applied, every value checked. */
export interface RunnerConfig {
  readonly driver: Driver;
  readonly schema: string | undefined;
  readonly prefix: string;
  readonly id: string;
  readonly workers: ReadonlyMap<string, Worker>;
  readonly queueNames: readonly string[];
  readonly concurrency: number;
  readonly queueConcurrency: ReadonlyMap<string, number>;
  readonly batchSize: number;
  readonly flushSize: number;
  readonly flushDelayMs: number;
  readonly maxStatements: number;
  readonly budgetMs: number;
  readonly leaseMarginMs: number;
  readonly finishReserveMs: number | undefined;
  readonly defaultTimeoutMs: number;
  readonly maintenanceMax: number;
  readonly retention: Retention;
  readonly periodic: readonly PeriodicJob[];
  readonly notify: boolean;
  readonly clock: (() => Date) | undefined;
  readonly hooks: RunnerHooks;
}

/** A positive number, or `fallback` when absent; `where` names the call in the error. */
export function positive(
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

/** The least `maxStatements` that leaves room for maintenance (up to 5), a claim and a flush. */
export const MIN_STATEMENTS = 8;

/** A statement cap: a whole number of at least MIN_STATEMENTS, or no cap (Infinity). */
export function maxStatements(path: string, value: number | undefined, where: string): number {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_STATEMENTS)
    invalid(
      path,
      `must be a whole number of at least ${MIN_STATEMENTS} (maintenance takes up to 5 statements, a claim and its flush 2 more; got ${String(value)})`,
      where,
    );
  return value;
}

function retentionMs(value: number | null | undefined, fallback: number): number | null {
  return value === undefined ? fallback : value;
}

// Every option, so that a key added to an interface and not here fails the typecheck.
const RUNNER_KEYS = {
  driver: 1,
  schema: 1,
  workers: 1,
  queues: 1,
  id: 1,
  concurrency: 1,
  batchSize: 1,
  flushSize: 1,
  flushDelayMs: 1,
  maxStatements: 1,
  periodic: 1,
  retention: 1,
  budgetMs: 1,
  leaseMarginMs: 1,
  finishReserveMs: 1,
  defaultTimeoutMs: 1,
  maintenanceBatchSize: 1,
  notify: 1,
  now: 1,
  hooks: 1,
} satisfies Record<keyof RunnerOptions, 1>;
const HOOK_KEYS = { onJobStart: 1, onJobEnd: 1, onJobStuck: 1, onTick: 1 } satisfies Record<
  keyof RunnerHooks,
  1
>;
const QUEUE_KEYS = { concurrency: 1 } satisfies Record<keyof QueueOptions, 1>;
const RETENTION_KEYS = { completedMs: 1, cancelledMs: 1, discardedMs: 1 } satisfies Record<
  keyof RetentionOptions,
  1
>;

/** Refuses a worker whose kind's queue this runner does not work: its jobs would wait forever. */
function checkWorkerQueues(
  workerList: readonly Worker[],
  queueNames: readonly string[],
  where: string,
) {
  workerList.forEach((worker, i) => {
    if (worker.queue !== undefined && !queueNames.includes(worker.queue))
      invalid(
        `workers[${i}]`,
        `works kind '${worker.kind}', whose jobs go to queue '${worker.queue}', which is not in queues (${queueNames.join(', ')}): add ${JSON.stringify(worker.queue)}: {} to queues`,
        where,
      );
  });
}

/** Applies defaults to the options and checks every value. */
export function resolveRunnerOptions(options: RunnerOptions): RunnerConfig {
  const where = 'createRunner';
  if (!options || typeof options !== 'object')
    throw new ValidationError('createRunner: pass { driver, workers, queues?, ... }');
  refuseUnknownKeys(options, RUNNER_KEYS, '', where);
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
  // No workers is allowed: such a runner does maintenance only.
  const workerList = options.workers ?? [];
  if (!Array.isArray(workerList))
    invalid('workers', 'must be an array of defineWorker(...)', where);
  const workers = new Map<string, Worker>();
  workerList.forEach((worker, i) => {
    if (!worker || typeof worker.work !== 'function' || typeof worker.kind !== 'string')
      invalid(`workers[${i}]`, 'must be made by defineWorker(...)', where);
    if (workers.has(worker.kind))
      invalid(`workers[${i}]`, `is a second worker for kind '${worker.kind}'`, where);
    workers.set(worker.kind, worker);
  });
  const queues = options.queues ?? { default: {} };
  const queueNames = Object.keys(queues);
  if (queueNames.length === 0) invalid('queues', 'must name at least one queue', where);
  const queueConcurrency = new Map<string, number>();
  for (const [name, q] of Object.entries(queues)) {
    const problem = queueNameProblem(name); // River's rule, as at insert
    if (problem) invalid(`queues[${JSON.stringify(name)}]`, problem, where);
    if (q?.concurrency !== undefined)
      queueConcurrency.set(name, positive(`queues.${name}.concurrency`, q.concurrency, 1));
  }
  const periodic = options.periodic ?? [];
  const names = new Set<string>();
  periodic.forEach((p, i) => {
    if (names.has(p.name))
      invalid(
        `periodic[${i}]`,
        `is a second periodic job named '${p.name}'; give one a name`,
        where,
      );
    names.add(p.name);
  });
  for (const [name, q] of Object.entries(queues))
    if (q && typeof q === 'object') refuseUnknownKeys(q, QUEUE_KEYS, `queues.${name}`, where);
  if (options.retention && typeof options.retention === 'object')
    refuseUnknownKeys(options.retention, RETENTION_KEYS, 'retention', where);
  if (options.hooks !== undefined) {
    if (!options.hooks || typeof options.hooks !== 'object')
      invalid('hooks', 'must be { onJobStart?, onJobEnd?, onJobStuck?, onTick? }', where);
    refuseUnknownKeys(options.hooks, HOOK_KEYS, 'hooks', where);
    for (const name of HOOK_NAMES) {
      const hook = options.hooks[name];
      if (hook !== undefined && typeof hook !== 'function')
        invalid(`hooks.${name}`, 'must be a function', where);
    }
  }
  checkWorkerQueues(workerList, queueNames, where);
  checkPeriodicJobs(periodic, workers, queueNames, where);
  if (options.now !== undefined && typeof options.now !== 'function')
    invalid('now', 'must be a function returning a Date', where);
  return {
    driver,
    schema,
    prefix,
    id,
    workers,
    queueNames,
    concurrency: positive('concurrency', options.concurrency, 10),
    queueConcurrency,
    batchSize: positive('batchSize', options.batchSize, 100),
    flushSize: positive('flushSize', options.flushSize, 100),
    flushDelayMs: nonNegative('flushDelayMs', options.flushDelayMs) ?? 100,
    maxStatements: maxStatements('maxStatements', options.maxStatements, where),
    budgetMs: positive('budgetMs', options.budgetMs, 25_000),
    leaseMarginMs: nonNegative('leaseMarginMs', options.leaseMarginMs) ?? DEFAULT_LEASE_MARGIN_MS,
    finishReserveMs: nonNegative('finishReserveMs', options.finishReserveMs),
    defaultTimeoutMs: positive('defaultTimeoutMs', options.defaultTimeoutMs, 60_000),
    maintenanceMax: positive('maintenanceBatchSize', options.maintenanceBatchSize, 1000),
    retention: {
      completedMs: retentionMs(options.retention?.completedMs, 24 * 3600_000),
      cancelledMs: retentionMs(options.retention?.cancelledMs, 24 * 3600_000),
      discardedMs: retentionMs(options.retention?.discardedMs, 7 * 24 * 3600_000),
    },
    periodic,
    notify: options.notify ?? false,
    clock: options.now,
    hooks: options.hooks ?? {},
  };
}
