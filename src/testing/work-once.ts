/**
 * `workOnce`: one job through its worker, in-process, with no database — River's
 * rivertest.Worker for Eddy. The args go through the insert's validation and JSON (so the worker
 * sees what it would see after a real insert and claim), the attempt through the runner's own
 * `runOne` (`runner/attempt.ts`): the same context, timeout, retry policy, snooze, cancel and
 * output rules, so the outcome is the one a runner would record.
 */

import type { Client } from '../client.js';
import { parseJson } from '../driver/json.js';
import { invalid, refuseUnknownKeys } from '../errors.js';
import { planInsert } from '../insert/plan-insert.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../insert/prepare-job.js';
import type { AttemptError, Job } from '../job.js';
import type { AnyJobKind } from '../job-kind.js';
import { MAX_DELAY_MS } from '../job-outcome.js';
import type { InsertedJob } from '../ops/insert-jobs.js';
import { type AttemptHost, runOne } from '../runner/attempt.js';
import type { Worker } from '../worker.js';
import { createRecordingClient } from './recording-client.js';

/** The job as a runner would have claimed it; anything left out is what an insert gives. */
export type WorkOnceJob = Partial<
  Pick<
    Job,
    | 'id'
    | 'attempt'
    | 'maxAttempts'
    | 'queue'
    | 'priority'
    | 'tags'
    | 'metadata'
    | 'errors'
    | 'createdAt'
    | 'scheduledAt'
  >
>;

export interface WorkOnceOptions {
  /** The claimed job's fields: `attempt` (default 1), `maxAttempts` (default 25), `errors`, … */
  job?: WorkOnceJob;
  /** The clock: the attempt's time, errors' `at`, when a retry or snooze runs again. */
  now?: () => Date;
  /** `ctx.client`; default a recording client, whose inserts the result lists. */
  client?: Client<readonly AnyJobKind[]>;
  /** The attempt's timeout when the worker sets none. Default 60 s, as a runner's. */
  timeoutMs?: number;
}

/** How the attempt ended, as a runner would record it. */
export type WorkResult<Args = unknown> = {
  /** The job the worker was given. */
  job: Job<Args>;
  /** Jobs the worker inserted through `ctx.client` (with the default recording client). */
  inserted: readonly InsertedJob[];
} & (
  | { outcome: 'completed'; output: unknown }
  /** Failed; runs again after `delayMs` (the worker's retry policy, or River's backoff). */
  | { outcome: 'retry'; error: AttemptError; delayMs: number; retryAt: Date }
  /** Failed for the last time (`attempt` reached `maxAttempts`), or its args fail validation. */
  | { outcome: 'discard'; error: AttemptError }
  | { outcome: 'cancel'; error: AttemptError }
  /** Snoozed: runs again after `delayMs`, the attempt given back. */
  | { outcome: 'snooze'; delayMs: number; retryAt: Date }
);

const KEYS = { job: 1, now: 1, client: 1, timeoutMs: 1 } satisfies Record<keyof WorkOnceOptions, 1>;
const JOB_KEYS = {
  id: 1,
  attempt: 1,
  maxAttempts: 1,
  queue: 1,
  priority: 1,
  tags: 1,
  metadata: 1,
  errors: 1,
  createdAt: 1,
  scheduledAt: 1,
} satisfies Record<keyof WorkOnceJob, 1>;

/** The worker's kind, for the insert's validation: its schema and queue, no other defaults. */
function kindOf(worker: Worker): string | AnyJobKind {
  if (!worker.schema) return worker.kind;
  return { kind: worker.kind, args: worker.schema, defaults: { queue: worker.queue } };
}

/**
 * Runs one job of the worker's kind with these args, as a runner would, and returns how it
 * ended. Args are validated as an insert validates them (a `ValidationError` if they fail).
 *
 * @example
 * ```ts
 * const result = await workOnce(sendEmailWorker, { to: 'ada@example.com', subject: 'Hi' });
 * expect(result.outcome).toBe('completed');
 *
 * const last = await workOnce(flakyWorker, args, { job: { attempt: 5, maxAttempts: 5 } });
 * expect(last.outcome).toBe('discard');
 * ```
 */
export async function workOnce<Args = Record<string, unknown>>(
  worker: Worker,
  args: unknown,
  options: WorkOnceOptions = {},
): Promise<WorkResult<Args>> {
  const where = `workOnce(${worker?.kind ?? '?'})`;
  if (!worker || typeof worker.work !== 'function' || typeof worker.kind !== 'string')
    invalid('worker', 'must be a worker from defineWorker()', where);
  if (!options || typeof options !== 'object') invalid('options', 'must be an object', where);
  refuseUnknownKeys(options, KEYS, '', where);
  const given = options.job ?? {};
  refuseUnknownKeys(given, JOB_KEYS, 'job', where);
  const clock = options.now;
  const now = clock?.() ?? new Date();
  const client = options.client ?? createRecordingClient({ now: clock });

  const plan = await planInsert(
    [
      {
        kind: kindOf(worker),
        args,
        options: {
          queue: given.queue,
          priority: given.priority,
          maxAttempts: given.maxAttempts,
          tags: given.tags,
          metadata: given.metadata,
        },
      },
    ],
    { now, maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES },
  );
  const prepared = plan.jobs[0];
  if (!prepared) throw new Error('workOnce: the insert planned no job');
  const attempt = given.attempt ?? 1;
  if (!Number.isInteger(attempt) || attempt < 1)
    invalid('job.attempt', 'must be an integer from 1', where);
  const job: Job = {
    id: given.id ?? 1n,
    kind: prepared.kind,
    args: parseJson(prepared.argsJson),
    queue: prepared.queue,
    state: 'running',
    priority: prepared.priority,
    attempt,
    maxAttempts: prepared.maxAttempts,
    attemptedAt: now,
    attemptedBy: ['eddy-testing'],
    createdAt: given.createdAt ?? now,
    finalizedAt: null,
    scheduledAt: given.scheduledAt ?? prepared.scheduledAt ?? now,
    errors: given.errors ? [...given.errors] : [],
    metadata: parseJson(prepared.metadataJson) as Record<string, unknown>,
    tags: [...prepared.tags],
  };

  const started = Date.now();
  const host: AttemptHost = { attempt: undefined, stopReason: undefined };
  const outcome = await runOne(
    job,
    worker,
    {
      // No tick deadline cuts this attempt short; only its timeout does.
      leaseUntil: started + 24 * 3600_000,
      abortGraceMs: 1000,
      softDeadline: started + 24 * 3600_000,
      defaultTimeoutMs: options.timeoutMs ?? 60_000,
      client,
      clock,
    },
    host,
  );
  const inserted =
    options.client === undefined && 'inserted' in client
      ? (client as unknown as { inserted: readonly InsertedJob[] }).inserted
      : [];
  const base = { job: job as Job<Args>, inserted };
  const later = (delayMs: number) => new Date((clock?.() ?? new Date()).getTime() + delayMs);
  // As the runner records a delay: whole milliseconds, at most River's maximum.
  const recorded = (delayMs: number) =>
    Number.isFinite(delayMs)
      ? Math.min(Math.max(0, Math.round(delayMs)), MAX_DELAY_MS)
      : delayMs > 0
        ? MAX_DELAY_MS
        : 0;
  switch (outcome.type) {
    case 'completed':
      return {
        ...base,
        outcome: 'completed',
        output: outcome.output === undefined ? undefined : parseJson(outcome.output),
      };
    case 'retry':
      return {
        ...base,
        outcome: 'retry',
        error: outcome.error,
        delayMs: recorded(outcome.delayMs),
        retryAt: later(recorded(outcome.delayMs)),
      };
    case 'discard':
      return { ...base, outcome: 'discard', error: outcome.error };
    case 'cancel':
      return { ...base, outcome: 'cancel', error: outcome.error };
    case 'snooze':
      return {
        ...base,
        outcome: 'snooze',
        delayMs: recorded(outcome.delayMs),
        retryAt: later(recorded(outcome.delayMs)),
      };
    default:
      throw new Error(`workOnce: unexpected outcome ${outcome.type}`);
  }
}
