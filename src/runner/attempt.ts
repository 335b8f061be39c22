/**
 * One attempt of one job: validate its args, run its worker with a context, enforce its timeout
 * and the batch's stop, and turn how it ended into an `Outcome`. Never touches the database.
 */

import type { Client } from '../client.js';
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
import type { Worker, WorkerContext } from '../worker.js';
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

/**
 * The batch's stop, shared by its jobs through one listener on `signal`: a listener per running
 * job trips Node's MaxListenersExceededWarning from 11 concurrent jobs on.
 */
export interface BatchStop {
  readonly signal: AbortSignal;
  /** The attempts running asynchronously, aborted when the batch stops. */
  readonly running: Set<Attempt>;
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
): Outcome {
  const at = (options.now ?? Date.now)();
  const stamp = stampOf(options, at);
  if (settled === 'abandoned') {
    // The worker ignored its AbortSignal and may still be running in this invocation, so the job
    // must not run elsewhere before this invocation's lease is over.
    const untilLeaseEnds = Math.max(0, options.leaseUntil - at);
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
  if (settled.ok) return completed(job, worker, settled.value, recorded, stamp);
  const thrown = settled.thrown;
  if (isJobSnooze(thrown)) return { type: 'snooze', delayMs: thrown.delayMs };
  if (isJobCancel(thrown)) {
    return {
      type: 'cancel',
      error: attemptError(job, `cancelled: ${thrown.message}`, thrown.stack ?? '', stamp),
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
 * the timers and the batch-stop registration only when the worker returns a promise. Timers call
 * module functions with the attempt, not closures: profiling a 100k no-op drain showed per-job
 * closures, promises and AbortControllers as most of the runner's JavaScript time and garbage.
 */
export class Attempt {
  controller: AbortController | undefined = undefined;
  /** Why the attempt was aborted (DeadlineReached or AttemptTimedOut), once it was. */
  reason: unknown = undefined;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Delivers the outcome of an asynchronous attempt; unset before it waits and once delivered. */
  done: ((outcome: Outcome) => void) | undefined = undefined;
  /** What the worker passed to `ctx.recordOutput`, last call wins. */
  recorded: RecordedOutput | undefined = undefined;

  constructor(
    readonly job: Job,
    readonly worker: Worker,
    readonly options: AttemptOptions,
    readonly stop: BatchStop,
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
    }
    // Waiting: give the worker `abortGraceMs` to stop, then abandon it.
    if (this.done && !this.graceTimer) {
      this.graceTimer = setTimeout(abandonAttempt, this.options.abortGraceMs, this);
    }
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
      else this.stop.running.add(this);
      // The timeout counts from the start of the attempt, its synchronous part included.
      const elapsed = (this.options.now ?? Date.now)() - startedAt;
      this.timer = setTimeout(expireAttempt, Math.max(0, timeoutMs - elapsed), this, timeoutMs);
    });
  }

  finish(settled: Settled): void {
    const done = this.done;
    if (!done) return; // already abandoned: a late settle changes nothing
    this.done = undefined;
    clearTimeout(this.timer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.stop.running.delete(this);
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
    return outcomeOf(job, worker, options, settled, reason, attempt?.recorded);
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
  stop: BatchStop,
): Outcome | Promise<Outcome> {
  if (!worker.schema) return start(job, worker, options, stop);
  const now = options.now ?? Date.now;
  return validateArgs(worker, job)
    .catch((e) => describeThrown(e).message)
    .then((invalid) =>
      invalid === undefined
        ? start(job, worker, options, stop)
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
  stop: BatchStop,
): Outcome | Promise<Outcome> {
  const now = options.now ?? Date.now;
  const attempt = new Attempt(job, worker, options, stop);
  const ctx: WorkerContext = {
    get signal() {
      return attempt.signal();
    },
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    remainingMs: () => Math.max(0, options.softDeadline - now()),
    snooze,
    cancel,
    client: options.client,
    recordOutput(value: unknown) {
      attempt.recorded = { value };
    },
  };
  if (stop.signal.aborted) attempt.reason = new DeadlineReached('the tick reached its deadline');

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

/**
 * Runs the batch and resolves with one outcome per job, in input order, by `stopAt` plus the
 * abort grace at the latest.
 */
