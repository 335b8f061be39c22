/**
 * Workers: the code that runs a job kind.
 */

import type { Client } from './client.js';
import type { Driver, RawResult } from './driver/driver.js';
import { invalid, refuseUnknownKeys } from './errors.js';
import type { StandardSchemaV1 } from './insert/standard-schema.js';
import type { Job } from './job.js';
import type { AnyJobKind, ArgsOf } from './job-kind.js';
import type { RetryPolicy } from './runner/retry-policy.js';

export interface WorkerContext {
  /** Aborted when the job's timeout or the tick's deadline arrives. Pass it to fetch() etc. */
  readonly signal: AbortSignal;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Milliseconds left before the tick's soft deadline. */
  remainingMs(): number;
  /** Ends the attempt and runs the job again after `delayMs`, counting no attempt or error. */
  snooze(delayMs: number): never;
  /** Ends the attempt and cancels the job for good. */
  cancel(reason?: string): never;
  /** Inserts follow-up jobs through the runner's database. */
  readonly client: Client;
  /**
   * Stores `value` (JSON) as the job's output when the attempt completes, where River keeps it
   * (`metadata.output`, shown by River UI). Wins over the worker's return value, which is stored
   * the same way when it is not `undefined`. At most 1 MiB of JSON; more fails the attempt.
   */
  recordOutput(value: unknown): void;
  /**
   * Completes this job inside your own transaction, as River's `JobCompleteTx`: pass an Eddy
   * driver over it (`nodePostgres(client, { inTransaction: true })`, `pglite(tx, { inTransaction:
   * true })`, …). Fenced by this attempt's claim: when the attempt no longer holds the job (its
   * lease was rescued, or it was finalized meanwhile) it throws, and your transaction cannot
   * commit work another attempt may be doing. `output` is stored as the job's output. The runner
   * then leaves the job alone: its own completion after the worker returns changes nothing.
   */
  completeWith(tx: Driver, output?: unknown): Promise<void>;
  /**
   * The same completion as a statement for a batch you send yourself: over Neon HTTP, put
   * `neonComplete(sql, ctx.prepareComplete())` (from `eddy/neon-http`) in your
   * `sql.transaction([...])`. The statement fails, and the batch with it, when the attempt no
   * longer holds the job.
   */
  prepareComplete(output?: unknown): PreparedCompletion;
}

/** A job's completion built but not sent (see `WorkerContext.prepareComplete`). */
export interface PreparedCompletion {
  readonly text: string;
  readonly params: (string | null)[];
  /** Reads the statement's result: true once the job is completed by it. */
  read(result: RawResult): boolean;
}

export type WorkFunction<Args> = (job: Job<Args>, ctx: WorkerContext) => unknown;

export interface WorkerOptions {
  /** Longest one attempt may run before it is aborted and counted as failed. Default 60 s. */
  timeoutMs?: number;
  /**
   * How long a run usually takes. A tick stops claiming this kind once less budget than this
   * remains, so jobs are not started only to be snoozed. Default 0.
   */
  expectedRunMs?: number;
  /** Milliseconds until the next attempt after a failure. Default River's (errors+1)^4 s ±10 %. */
  retryPolicy?: RetryPolicy;
}

const WORKER_KEYS = { timeoutMs: 1, expectedRunMs: 1, retryPolicy: 1 } satisfies Record<
  keyof WorkerOptions,
  1
>;

export interface Worker {
  readonly kind: string;
  /**
   * The queue the kind's jobs go to unless an insert names another (its `queue`, else
   * `default`); absent for workers registered by name. `createRunner` refuses a worker whose
   * queue it does not work.
   */
  readonly queue?: string;
  /** Validates args again when a job is claimed; absent for workers registered by name. */
  readonly schema: StandardSchemaV1 | undefined;
  readonly work: WorkFunction<unknown>;
  readonly options: Readonly<WorkerOptions>;
}

/**
 * Registers the code for a job kind.
 *
 * @example
 * ```ts
 * const sendEmailWorker = defineWorker(sendEmail, async (job, ctx) => {
 *   await mailer.send(job.args.to, job.args.subject, { signal: ctx.signal });
 * }, { timeoutMs: 10_000 });
 * ```
 */
export function defineWorker<K extends AnyJobKind>(
  kind: K,
  work: WorkFunction<ArgsOf<K>>,
  options?: WorkerOptions,
): Worker;
export function defineWorker(
  kind: string,
  work: WorkFunction<Record<string, unknown>>,
  options?: WorkerOptions,
): Worker;
export function defineWorker(
  kind: string | AnyJobKind,
  work: WorkFunction<never>,
  options: WorkerOptions = {},
): Worker {
  const name = typeof kind === 'string' ? kind : kind?.kind;
  const where = `defineWorker(${typeof name === 'string' ? name : '?'})`;
  if (typeof name !== 'string' || name.length === 0)
    invalid('kind', 'must be a kind name or a kind from defineJobKind()', where);
  if (typeof work !== 'function') invalid('work', 'must be a function (job, ctx) => ...', where);
  if (!options || typeof options !== 'object') invalid('options', 'must be an object', where);
  refuseUnknownKeys(options, WORKER_KEYS, 'options', where);
  for (const key of ['timeoutMs', 'expectedRunMs'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
      invalid(`options.${key}`, 'must be a non-negative number of milliseconds', where);
    }
  }
  if (options.retryPolicy !== undefined && typeof options.retryPolicy !== 'function')
    invalid('options.retryPolicy', 'must be a function (job) => delay in ms', where);
  return Object.freeze({
    kind: name,
    ...(typeof kind === 'string' ? {} : { queue: kind.defaults?.queue ?? 'default' }),
    schema: typeof kind === 'string' ? undefined : kind.args,
    work: work as WorkFunction<unknown>,
    options: Object.freeze({ ...options }),
  });
}
