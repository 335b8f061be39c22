/**
 * Remote workers: jobs claimed with a lease by a process that is not a runner (a Python or Go
 * service over the REST API), and their outcomes, fenced by the claim's token exactly as the
 * runner's are. Framework-free: the REST API (`api-claims.ts`) is its HTTP face.
 *
 * Every write is the runner's own statement (`claimJobs`, `recordOutcomes`, `extendLeases`), so
 * a remote attempt is indistinguishable in the rows from a runner's: its lease is an Eddy lease
 * in `attempted_by`, a lease that passes is rescued by the next maintenance anywhere, and a late
 * answer after a rescue changes nothing. When a write changes nothing, one read says why.
 */

import { Database } from '../driver/database.js';
import type { Driver } from '../driver/driver.js';
import { schemaPrefix } from '../driver/schema-name.js';
import { invalid } from '../errors.js';
import { byteLength, toJsonText } from '../insert/json-args.js';
import type { AttemptError, Job, JobState } from '../job.js';
import { MAX_DELAY_MS, MAX_OUTPUT_BYTES, type Outcome } from '../job-outcome.js';
import { claimJobs, extendLeases } from '../ops/claim-jobs.js';
import { type JobWithLease, readJobWithLease } from '../ops/job-lease-read.js';
import { parseLeaseToken } from '../ops/lease.js';
import { recordOutcomes } from '../ops/record-outcomes.js';
import type { RunnerHooks } from '../runner/hooks.js';
import { queueWaitMs } from '../runner/hooks.js';
import { defaultRetryPolicy } from '../runner/retry-policy.js';

export interface RemoteWorkOptions {
  driver: Driver;
  schema?: string | undefined;
  /** The clock the database sees (tests); default its own `now()`. */
  now?: (() => Date) | undefined;
  /** Told as remote attempts start (at their claim) and end (at their outcome). */
  hooks?: Pick<RunnerHooks, 'onJobStart' | 'onJobEnd'> | undefined;
  /** A hook threw (it changes nothing else). */
  onHookError?: ((error: unknown) => void) | undefined;
}

export interface ClaimRequest {
  queues: readonly string[];
  kinds: readonly string[];
  /** The most jobs to claim, in all. */
  limit: number;
  /** The lease, from the claim; the caller has checked it against its maximum. */
  leaseMs: number;
  /** Names the worker in the lease (and in a rescue's error). */
  worker: string;
}

export interface ClaimedJob {
  readonly job: Job;
  /** The claim's token: the fence of every answer about this attempt. */
  readonly token: string;
  readonly leaseExpiresAt: Date;
}

/** What an answer about an attempt did. */
export type Settled =
  | {
      readonly ok: true;
      /** The state the row was left in. */
      readonly state: JobState;
      /** Lease extensions: the new expiry, and whether a cancel was requested meanwhile. */
      readonly leaseExpiresAt?: Date;
      readonly cancelRequested?: boolean;
    }
  | { readonly ok: false; readonly problem: 'not-found' }
  | {
      readonly ok: false;
      readonly problem: 'lease-lost';
      /** The job's state now (`running` under another attempt, `retryable` once rescued, …). */
      readonly state: JobState;
      readonly detail: string;
    };

export interface FailRequest {
  error: string;
  trace?: string | undefined;
  /** When to try again; default River's backoff. */
  retryAt?: Date | undefined;
  /** Do not try again. */
  discard?: boolean | undefined;
}

export interface RemoteWork {
  claim(request: ClaimRequest): Promise<ClaimedJob[]>;
  complete(id: bigint, token: string, output?: unknown): Promise<Settled>;
  fail(id: bigint, token: string, request: FailRequest): Promise<Settled>;
  snooze(id: bigint, token: string, delayMs: number): Promise<Settled>;
  extend(id: bigint, token: string, extendMs: number): Promise<Settled>;
}

// Jobs claimed here, for the hooks' kind, queue and run time without another read. Bounded:
// a worker that never answers must not grow it forever.
const REMEMBERED = 10_000;

/** Refuses a token no claim could have written: it could fence nothing. */
function checkToken(token: string): void {
  if (typeof token !== 'string' || parseLeaseToken(token) === undefined)
    invalid('token', 'is not a token from a claim (POST /v1/claims gives one per job)');
}

/** Why a fenced write changed nothing, from the job as it is now. */
function lost(found: JobWithLease | undefined, id: bigint): Settled {
  if (!found) return { ok: false, problem: 'not-found' };
  const { state } = found.job;
  const detail =
    state === 'running'
      ? `job ${id} is running under another attempt: this attempt's lease was rescued and the job claimed again`
      : `job ${id} is ${state}: this attempt no longer holds it (its lease passed and it was rescued, or it was finalized meanwhile); nothing was changed`;
  return { ok: false, problem: 'lease-lost', state, detail };
}

/**
 * Remote work over `driver`.
 *
 * @example
 * ```ts
 * const work = createRemoteWork({ driver });
 * const [claimed] = await work.claim({ queues: ['default'], kinds: ['resize'], limit: 1, leaseMs: 30_000, worker: 'py-1' });
 * await work.complete(claimed.job.id, claimed.token, { ok: true });
 * ```
 */
export function createRemoteWork(options: RemoteWorkOptions): RemoteWork {
  const db = new Database(options.driver);
  const prefix = schemaPrefix(options.schema);
  const clock = options.now;
  const hooks = options.hooks ?? {};
  const claimed = new Map<string, Job>();

  const hook = (call: () => void) => {
    try {
      call();
    } catch (error) {
      options.onHookError?.(error);
    }
  };

  /** Tells `onJobEnd` about an applied outcome: the job from its claim here, or read again. */
  async function ended(
    id: bigint,
    token: string,
    outcome: Outcome,
    state: JobState,
  ): Promise<void> {
    const key = String(id);
    const remembered = claimed.get(key);
    claimed.delete(key);
    if (!hooks.onJobEnd) return;
    const job = remembered ?? (await readJobWithLease(db, prefix, id, token))?.job;
    if (!job) return;
    const now = clock?.().getTime() ?? Date.now();
    hook(() =>
      hooks.onJobEnd?.({
        job,
        kind: job.kind,
        queue: job.queue,
        outcome: outcome.type,
        state,
        runMs: Math.max(0, now - (job.attemptedAt?.getTime() ?? now)),
        queueWaitMs: queueWaitMs(job),
        error: 'error' in outcome ? outcome.error : undefined,
      }),
    );
  }

  /** Records one outcome, fenced; says why when it changed nothing. */
  async function settle(id: bigint, token: string, outcome: Outcome): Promise<Settled> {
    const { applied } = await recordOutcomes(db, prefix, [{ id, token, outcome }], clock?.());
    const state = applied.get(String(id));
    if (state === undefined) return lost(await readJobWithLease(db, prefix, id, token), id);
    await ended(id, token, outcome, state).catch((error) => options.onHookError?.(error));
    return { ok: true, state };
  }

  return {
    async claim(request) {
      const jobs = await claimJobs(db, {
        prefix,
        queues: request.queues.map((name) => ({ name, limit: request.limit })),
        total: request.limit,
        kinds: request.kinds,
        runnerId: request.worker,
        leaseMs: request.leaseMs,
        now: clock?.(),
      });
      return jobs.map((job) => {
        const token = job.attemptedBy[job.attemptedBy.length - 1] as string;
        if (hooks.onJobStart || hooks.onJobEnd) {
          if (claimed.size >= REMEMBERED) claimed.delete(claimed.keys().next().value as string);
          claimed.set(String(job.id), job);
        }
        if (hooks.onJobStart)
          hook(() => hooks.onJobStart?.({ job, queueWaitMs: queueWaitMs(job) }));
        return {
          job,
          token,
          leaseExpiresAt: new Date(parseLeaseToken(token)?.expiresAt ?? Date.now()),
        };
      });
    },

    async complete(id, token, output) {
      checkToken(token);
      let text: string | undefined;
      if (output !== undefined) {
        text = toJsonText(output, 'output');
        if (byteLength(text) > MAX_OUTPUT_BYTES)
          invalid('output', `is over ${MAX_OUTPUT_BYTES} bytes of JSON`);
      }
      return settle(id, token, {
        type: 'completed',
        ...(text === undefined ? {} : { output: text }),
      });
    },

    async fail(id, token, request) {
      checkToken(token);
      // River's backoff counts the errors so far, and the attempt decides a discard: read first.
      const found = await readJobWithLease(db, prefix, id, token);
      if (!found?.held) return lost(found, id);
      const { job } = found;
      const now = clock?.() ?? new Date();
      const error: AttemptError = {
        at: now.toISOString(),
        attempt: job.attempt,
        error: request.error,
        trace: request.trace ?? '',
      };
      let outcome: Outcome;
      if (request.discard || job.attempt >= job.maxAttempts) outcome = { type: 'discard', error };
      else {
        const delayMs =
          request.retryAt === undefined
            ? defaultRetryPolicy(job)
            : Math.min(Math.max(0, request.retryAt.getTime() - now.getTime()), MAX_DELAY_MS);
        outcome = { type: 'retry', delayMs, error };
      }
      // The hooks' job without another read (forgotten by `ended`, or bounded at the claim).
      if (hooks.onJobEnd && !claimed.has(String(id))) claimed.set(String(id), job);
      return settle(id, token, outcome);
    },

    async snooze(id, token, delayMs) {
      checkToken(token);
      return settle(id, token, { type: 'snooze', delayMs });
    },

    async extend(id, token, extendMs) {
      checkToken(token);
      const extended = await extendLeases(db, prefix, [{ id, token }], extendMs, clock?.());
      const found = await readJobWithLease(db, prefix, id, token);
      if (!extended.has(String(id)) || !found?.held) return lost(found, id);
      return {
        ok: true,
        state: found.job.state,
        leaseExpiresAt: new Date(found.leaseExpiresAt ?? Date.now()),
        cancelRequested: found.cancelRequested,
      };
    },
  };
}
