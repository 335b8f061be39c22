/**
 * One attempt of one job: validate its args, run its worker with a context, enforce its timeout
 * and the pool's stop, and turn how it ended into an `Outcome`. Never touches the database.
 */

import type { Client } from '../client.js';
import { Database } from '../driver/database.js';
import type { Driver } from '../driver/driver.js';
import { encodeParams } from '../driver/values.js';
import { invalid } from '../errors.js';
import { byteLength, toJsonText } from '../insert/json-args.js';
import { formatIssuePath } from '../insert/standard-schema.js';
import type { AttemptError, Job } from '../job.js';
import {
  DEADLINE_SNOOZES_KEY,
  describeThrown,
  isJobCancel,
  isJobSnooze,
  JobCancel,
  JobSnooze,
  MAX_DEADLINE_SNOOZES,
  MAX_OUTPUT_BYTES,
  type Outcome,
} from '../job-outcome.js';
import { completeInTransactionQuery } from '../ops/record-outcomes.js';
import type { PreparedCompletion, Worker, WorkerContext } from '../worker.js';
import { defaultRetryPolicy } from './retry-policy.js';

/** What an attempt needs from its batch. */
export interface AttemptOptions {
  /** Epoch ms until which a job abandoned by this invocation may still be running somewhere. */
  leaseUntil: number;
  /** How long to wait for an aborted worker to settle before abandoning it. */
  abortGraceMs: number;
  /** Epoch ms of the tick's soft deadline (for ctx.remainingMs). */
  softDeadline: number;
  defaultTimeoutMs: number;
  client: Client;
  /** Real time, for timeouts and deadlines (tests). Default `Date.now`. */
  now?: () => number;
  /** The injected clock, for the time recorded in `errors[].at`. Default: real time. */
  clock?: (() => Date) | undefined;
  /** The schema prefix, for a completion inside the worker's own transaction. */
  prefix?: string;
}

/**
 * Where an attempt runs (the pool's record of it): the pool aborts, cancels and adopts attempts
 * through it, and it outlives the tick that started it when the attempt is handed over.
 */
export interface AttemptHost {
  /** The lease token of the attempt's claim (fences a completion in the worker's transaction). */
  readonly token?: string;
  /** The attempt, once its worker has been called. */
  attempt: Attempt | undefined;
  /** Set before the worker is called: why it must not run (the pool stopped meanwhile). */
  stopReason: unknown;
  /**
   * The worker ignored its abort for the whole grace. Return true to keep waiting for it
   * (a long-lived process, which keeps the job's lease alive meanwhile: the job is stuck, never
   * run twice); false abandons it now, and its job stays away until the lease ends.
   */
  onUnresponsive?(attempt: Attempt): boolean;
}

/** A cancel was requested for the job while it ran (River's JobCancel, or Eddy's). */
export class CancelRequested extends Error {
  override name = 'CancelRequested';
}

export class DeadlineReached extends Error {
  override name = 'DeadlineReached';
}
class AttemptTimedOut extends Error {
  override name = 'AttemptTimedOut';
  constructor(readonly timeoutMs: number) {
    super(`job timed out after ${timeoutMs} ms`);
  }
}

/** The time to record for an attempt that ended at real time `at`: the injected clock's, if any. */
function stampOf(options: AttemptOptions, at: number): number {
  return options.clock ? options.clock().getTime() : at;
}

function attemptError(job: Job, message: string, trace: string, now: number): AttemptError {
  return { at: new Date(now).toISOString(), attempt: job.attempt, error: message, trace };
}

function failure(job: Job, worker: Worker, message: string, trace: string, now: number): Outcome {
  const error = attemptError(job, message, trace, now);
  if (job.attempt >= job.maxAttempts) return { type: 'discard', error };
  const policy = worker.options.retryPolicy ?? defaultRetryPolicy;
  let delayMs: number;
  try {
    delayMs = Math.max(0, Number(policy(job)));
    if (!Number.isFinite(delayMs)) delayMs = defaultRetryPolicy(job);
  } catch {
    delayMs = defaultRetryPolicy(job);
  }
  return { type: 'retry', delayMs, error };
}

async function validateArgs(worker: Worker, job: Job): Promise<string | undefined> {
  if (!worker.schema) return undefined;
  const result = await worker.schema['~standard'].validate(job.args);
  if (!result.issues) {
    job.args = result.value;
    return undefined;
  }
  return result.issues
    .map((issue) => `${formatIssuePath(issue.path) || '(root)'}: ${issue.message}`)
    .join('; ');
}

function snooze(delayMs: number): never {
  throw new JobSnooze(delayMs);
}

function cancel(reason?: string): never {
  throw new JobCancel(reason);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

type Settled = { ok: true; value: unknown } | { ok: false; thrown: unknown } | 'abandoned';

const succeeded = (value: unknown): Settled => ({ ok: true, value });
const toFailed = (thrown: unknown): Settled => ({ ok: false, thrown });

/** The outcome of an attempt that settled (or was abandoned), given why it was aborted, if it was. */
function outcomeOf(
  job: Job,
  worker: Worker,
  options: AttemptOptions,
  settled: Settled,
  reason: unknown,
  recorded: RecordedOutput | undefined,
  attempt: Attempt | undefined,
): Outcome {
  const at = (options.now ?? Date.now)();
  const stamp = stampOf(options, at);
  if (settled === 'abandoned') {
    // The worker ignored its AbortSignal and may still be running in this invocation, so the job
    // must not run elsewhere before this invocation's lease is over.
    const untilLeaseEnds = Math.max(0, options.leaseUntil - at);
    if (reason instanceof CancelRequested) {
      // Cancelled for good: it never runs again, so an abandoned run cannot overlap another.
      return {
        type: 'cancel',
        error: attemptError(job, 'JobCancelError: job cancelled remotely', '', stamp),
      };
    }
    if (reason instanceof AttemptTimedOut) {
      const outcome = failure(
        job,
        worker,
        `job timed out after ${reason.timeoutMs} ms and did not stop when aborted (it ignores ctx.signal)`,
        '',
        stamp,
      );
      return outcome.type === 'retry'
        ? { ...outcome, delayMs: Math.max(outcome.delayMs, untilLeaseEnds) }
        : outcome;
    }
    return { type: 'snooze', delayMs: untilLeaseEnds };
  }
  if (settled.ok) {
    const outcome = completed(job, worker, settled.value, recorded, stamp);
    return attempt?.completedInTransaction && outcome.type === 'completed'
      ? { ...outcome, inTransaction: true }
      : outcome;
  }
  const thrown = settled.thrown;
  if (isJobSnooze(thrown)) return { type: 'snooze', delayMs: thrown.delayMs };
  if (isJobCancel(thrown)) {
    return {
      type: 'cancel',
      error: attemptError(job, `JobCancelError: ${thrown.message}`, thrown.stack ?? '', stamp),
    };
  }
  if (reason instanceof CancelRequested) {
    // As River records a job cancelled while it ran (its JobCancelError), whatever the worker
    // threw on its abort.
    return {
      type: 'cancel',
      error: attemptError(
        job,
        'JobCancelError: job cancelled remotely',
        describeThrown(thrown).trace,
        stamp,
      ),
    };
  }
  if (reason instanceof DeadlineReached) {
    const cuts = Number(job.metadata[DEADLINE_SNOOZES_KEY] ?? 0);
    if (cuts < MAX_DEADLINE_SNOOZES) return { type: 'snooze', delayMs: 0, deadline: true };
    return failure(
      job,
      worker,
      `job ran past the tick's deadline ${cuts + 1} times; give its worker expectedRunMs (a tick then starts it only with that much budget left) or run its kind in a long-lived process (eddy/node)`,
      '',
      stamp,
    );
  }
  if (reason instanceof AttemptTimedOut) {
    const { message, trace } = describeThrown(thrown);
    return failure(
      job,
      worker,
      `job timed out after ${reason.timeoutMs} ms (${message})`,
      trace,
      stamp,
    );
  }
  const { message, trace } = describeThrown(thrown);
  return failure(job, worker, message, trace, stamp);
}

/**
 * One attempt's abort state. The AbortSignal is made only when the worker reads `ctx.signal`;
 * the timers only when the worker returns a promise. Timers call module functions with the
 * attempt, not closures: profiling a 100k no-op drain showed per-job closures, promises and
 * AbortControllers as most of the runner's JavaScript time and garbage.
 */
export class Attempt {
  controller: AbortController | undefined = undefined;
  /** Why the attempt was aborted (DeadlineReached, AttemptTimedOut, CancelRequested). */
  reason: unknown = undefined;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Delivers the outcome of an asynchronous attempt; unset before it waits and once delivered. */
  done: ((outcome: Outcome) => void) | undefined = undefined;
  /** What the worker passed to `ctx.recordOutput`, last call wins. */
  recorded: RecordedOutput | undefined = undefined;
  /** The worker ignored its abort past the grace and is still awaited (a long-lived process). */
  stuck = false;
  /** The worker completed its job inside its own transaction (`ctx.completeWith`). */
  completedInTransaction = false;
  private givenUp = false;

  constructor(
    readonly job: Job,
    readonly worker: Worker,
    /** The options of the pool that runs it now (an adopting pool replaces them). */
    public options: AttemptOptions,
    readonly host: AttemptHost,
  ) {}

  signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(why: unknown): void {
    if (this.reason === undefined) {
      this.reason = why;
      this.controller?.abort(why);
    } else if (why instanceof CancelRequested && !(this.reason instanceof CancelRequested)) {
      // A cancel outranks a timeout or a deadline: the job must not run again.
      this.reason = why;
    }
    // Waiting: give the worker `abortGraceMs` to stop, then abandon it.
    if (this.done && !this.graceTimer && !this.stuck) {
      this.graceTimer = setTimeout(abandonAttempt, this.options.abortGraceMs, this);
    }
  }

  /** Stops waiting for a stuck attempt (the process is stopping): it is abandoned now. */
  giveUp(): void {
    this.givenUp = true;
    this.finish('abandoned');
  }

  /** Waits for the worker's promise (or the grace after an abort it ignores). */
  wait(result: PromiseLike<unknown>, timeoutMs: number, startedAt: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      this.done = resolve;
      Promise.resolve(result).then(
        (value: unknown) => this.finish(succeeded(value)),
        (thrown: unknown) => this.finish(toFailed(thrown)),
      );
      if (this.reason !== undefined) this.abort(this.reason);
      // The timeout counts from the start of the attempt, its synchronous part included.
      const elapsed = (this.options.now ?? Date.now)() - startedAt;
      this.timer = setTimeout(expireAttempt, Math.max(0, timeoutMs - elapsed), this, timeoutMs);
    });
  }

  finish(settled: Settled): void {
    const done = this.done;
    if (!done) return; // already abandoned: a late settle changes nothing
    if (settled === 'abandoned' && !this.givenUp && this.host.onUnresponsive?.(this)) {
      this.stuck = true;
      this.graceTimer = undefined;
      return;
    }
    this.done = undefined;
    clearTimeout(this.timer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    done(settle(this.job, this.worker, this.options, settled, this.reason, this));
  }
}

/** An output recorded with `ctx.recordOutput` (boxed: `undefined` may be recorded too). */
interface RecordedOutput {
  readonly value: unknown;
}

/**
 * A completed attempt, with its output as JSON text: the recorded one, else the returned value
 * unless it is `undefined`. An output JSON cannot carry, or larger than MAX_OUTPUT_BYTES, fails
 * the attempt: the job's work is done, but River's row would not hold what the worker meant.
 */
function completed(
  job: Job,
  worker: Worker,
  returned: unknown,
  recorded: RecordedOutput | undefined,
  stamp: number,
): Outcome {
  const value = recorded ? recorded.value : returned;
  if (value === undefined) return { type: 'completed' };
  let output: string;
  try {
    output = toJsonText(value, 'output');
  } catch (error) {
    return failure(
      job,
      worker,
      `the job's output cannot be stored: ${describeThrown(error).message}`,
      '',
      stamp,
    );
  }
  const bytes = output.length * 3 > MAX_OUTPUT_BYTES ? byteLength(output) : 0;
  if (bytes > MAX_OUTPUT_BYTES) {
    return failure(
      job,
      worker,
      `the job's output is ${bytes} bytes of JSON; at most ${MAX_OUTPUT_BYTES} can be stored (return less, or store it elsewhere and record a reference)`,
      '',
      stamp,
    );
  }
  return { type: 'completed', output };
}

/**
 * `outcomeOf`, which must never throw: what a worker rejects with is anything at all (a revoked
 * Proxy throws on every access), and an outcome that is never delivered hangs the tick.
 */
function settle(
  job: Job,
  worker: Worker,
  options: AttemptOptions,
  settled: Settled,
  reason: unknown,
  attempt?: Attempt,
): Outcome {
  try {
    return outcomeOf(job, worker, options, settled, reason, attempt?.recorded, attempt);
  } catch (error) {
    const at = stampOf(options, (options.now ?? Date.now)());
    return failure(
      job,
      worker,
      `eddy: could not read how the attempt ended (${describeThrown(error).message})`,
      '',
      at,
    );
  }
}

function abandonAttempt(attempt: Attempt): void {
  attempt.finish('abandoned');
}

function expireAttempt(attempt: Attempt, timeoutMs: number): void {
  attempt.abort(new AttemptTimedOut(timeoutMs));
}

/**
 * Runs one job to an outcome; synchronously when its worker finishes synchronously. Never
 * throws.
 */
export function runOne(
  job: Job,
  worker: Worker,
  options: AttemptOptions,
  host: AttemptHost,
): Outcome | Promise<Outcome> {
  if (!worker.schema) return start(job, worker, options, host);
  const now = options.now ?? Date.now;
  return validateArgs(worker, job)
    .catch((e) => describeThrown(e).message)
    .then((invalid) =>
      invalid === undefined
        ? start(job, worker, options, host)
        : // Bad args never get better by retrying: discard with the reason.
          {
            type: 'discard' as const,
            error: attemptError(
              job,
              `args failed validation for kind '${job.kind}': ${invalid}`,
              '',
              stampOf(options, now()),
            ),
          },
    );
}

function start(
  job: Job,
  worker: Worker,
  options: AttemptOptions,
  host: AttemptHost,
): Outcome | Promise<Outcome> {
  const now = options.now ?? Date.now;
  const attempt = new Attempt(job, worker, options, host);
  host.attempt = attempt;
  const ctx: WorkerContext = {
    get signal() {
      return attempt.signal();
    },
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    remainingMs: () => Math.max(0, attempt.options.softDeadline - now()),
    snooze,
    cancel,
    client: options.client,
    recordOutput(value: unknown) {
      attempt.recorded = { value };
    },
    async completeWith(tx: Driver, output?: unknown) {
      if (!tx || typeof (tx as Partial<Driver>).query !== 'function')
        invalid(
          'tx',
          'must be an Eddy driver over your transaction, e.g. nodePostgres(client, { inTransaction: true })',
          'ctx.completeWith',
        );
      const query = completion(attempt, host, output);
      await new Database(tx).query(query.text, query.params);
      attempt.completedInTransaction = true;
    },
    prepareComplete(output?: unknown): PreparedCompletion {
      const query = completion(attempt, host, output);
      attempt.completedInTransaction = true;
      return {
        text: query.text,
        params: encodeParams(query.params ?? []),
        read: (result) => result.rows.length === 1,
      };
    },
  };
  if (host.stopReason !== undefined) attempt.reason = host.stopReason;

  const startedAt = now();
  let result: unknown;
  try {
    result = worker.work(job, ctx);
  } catch (thrown) {
    return settle(job, worker, options, toFailed(thrown), attempt.reason, attempt);
  }
  let thenable: boolean;
  try {
    thenable = isThenable(result);
  } catch (thrown) {
    // A returned value whose `then` cannot be read (a revoked Proxy): the attempt failed.
    return settle(job, worker, options, toFailed(thrown), attempt.reason, attempt);
  }
  if (!thenable) return settle(job, worker, options, succeeded(result), attempt.reason, attempt);
  return attempt.wait(
    result as PromiseLike<unknown>,
    worker.options.timeoutMs ?? options.defaultTimeoutMs,
    startedAt,
  );
}

/** The fenced completion statement for `ctx.completeWith` / `ctx.prepareComplete`. */
function completion(attempt: Attempt, host: AttemptHost, output: unknown) {
  const { options, job } = attempt;
  if (host.token === undefined || options.prefix === undefined)
    throw new Error('ctx.completeWith: this attempt was not claimed by a runner');
  let json: string | undefined;
  if (output !== undefined) {
    json = toJsonText(output, 'output');
    if (json.length * 3 > MAX_OUTPUT_BYTES && byteLength(json) > MAX_OUTPUT_BYTES)
      invalid('output', `is more than ${MAX_OUTPUT_BYTES} bytes of JSON`, 'ctx.completeWith');
  }
  return completeInTransactionQuery(
    options.prefix,
    { id: job.id, token: host.token },
    json,
    options.clock?.(),
  );
}

/** The outcome when Eddy itself failed running a job (never expected). */
export function internalFailure(
  job: Job,
  worker: Worker | undefined,
  error: unknown,
  now: number,
): Outcome {
  if (!worker) return { type: 'release' };
  return failure(job, worker, `eddy: ${describeThrown(error).message}`, '', now);
}
