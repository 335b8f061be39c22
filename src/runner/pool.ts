/**
 * The pool: a tick's continuous execution. Slots (overall and per queue, shared by every tick
 * of a runner) run claimed jobs; as they free, waiting claimed jobs start at once, and when
 * fewer than `lowWater` claimed jobs wait to start, one statement claims up to `batchSize`
 * more. No job waits for a slower one: a job that takes 500 ms holds one slot, not a round.
 * Outcomes go to the recorder (`recorder.ts`), which flushes them in small batches.
 *
 * The pool stops claiming when its queues come back short (until woken: a LISTEN notification,
 * or `repollMs` later), at `stopAt`, at `maxJobs`, when the statement budget is down to what the
 * last flush needs, or when a claim or a flush failed. At `stopAt` (and on the outer signal,
 * after `gracefulStopMs`) it hands back claimed jobs that never started and aborts what runs:
 * an attempt aborted by the deadline is snoozed, one that ignores its abort for the grace is
 * abandoned and kept away until its lease ends. A long-lived process (`handOver`) instead hands
 * the attempts still running at `stopAt` to the runner's next tick, which adopts them.
 *
 * It never touches the database itself: `claim` and the recorder's `record` do (one statement
 * each), so the pool is tested with fake ones and fake timers.
 */

import type { Job } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import type { Worker } from '../worker.js';
import {
  type Attempt,
  type AttemptHost,
  type AttemptOptions,
  CancelRequested,
  DeadlineReached,
  internalFailure,
  runOne,
} from './attempt.js';
import type { Recorder } from './recorder.js';

/** A claimed job and the lease token its claim wrote. */
export interface Claimed {
  readonly job: Job;
  readonly token: string;
}

export interface ClaimRequest {
  /** Queues to claim from, each with the most jobs to take from it. */
  readonly queues: readonly { readonly name: string; readonly limit: number }[];
  /** The most jobs in all. */
  readonly total: number;
  /** Kinds worth claiming now (workers whose `expectedRunMs` still fits). */
  readonly kinds: readonly string[];
}

/**
 * Slots, shared by every tick of one runner: at most `capacity` jobs run at once, and at most a
 * queue's own limit of that queue's.
 */
export class Slots {
  running = 0;
  private readonly perQueue = new Map<string, number>();
  /** Pools waiting for a slot another pool holds. */
  readonly waiting = new Set<() => void>();

  constructor(
    readonly capacity: number,
    readonly queueCapacity: ReadonlyMap<string, number>,
  ) {}

  runningIn(queue: string): number {
    return this.perQueue.get(queue) ?? 0;
  }

  fits(queue: string): boolean {
    if (this.running >= this.capacity) return false;
    const limit = this.queueCapacity.get(queue);
    return limit === undefined || this.runningIn(queue) < limit;
  }

  take(queue: string): void {
    this.running++;
    this.perQueue.set(queue, this.runningIn(queue) + 1);
  }

  give(queue: string): void {
    this.running--;
    this.perQueue.set(queue, this.runningIn(queue) - 1);
    for (const wake of this.waiting) wake();
  }
}

/** Whoever records a running attempt's outcome: the pool running it, or the runner between ticks. */
export interface Owner {
  settle(running: Running, outcome: Outcome): void;
}

/** A job that holds a slot: started, or being adopted from an earlier tick. */
export interface Running extends AttemptHost {
  readonly job: Job;
  readonly token: string;
  readonly worker: Worker;
  /** performance.now() when its worker was called. */
  readonly startedAt: number;
  owner: Owner;
  /** Its lease's expiry as last written (epoch ms), for heartbeats. */
  leaseExpiresAt: number;
  onUnresponsive(attempt: Attempt): boolean;
}

export interface PoolOptions {
  workers: ReadonlyMap<string, Worker>;
  /** Queues this pool claims from. */
  queues: readonly string[];
  slots: Slots;
  /** The most jobs one claim takes. */
  batchSize: number;
  /** Claim more when fewer claimed jobs than this wait to start. */
  lowWater: number;
  /** Epoch ms: claim and start nothing after this; abort (or hand over) what still runs. */
  stopAt: number;
  /** Epoch ms: every job claimed by this tick is leased until then. */
  leaseUntil: number;
  /** How long an attempt aborted at `now` may take to settle before it is abandoned. */
  abortGraceMs(now: number): number;
  /** Stops early (SIGTERM): nothing more starts; what runs gets `gracefulStopMs`, then is aborted. */
  signal?: AbortSignal | undefined;
  gracefulStopMs?: number | undefined;
  /** Jobs to claim at most. */
  maxJobs: number;
  /** Statements this tick may still send (Infinity without a cap). */
  statementsLeft(): number;
  /**
   * A long-lived process: attempts still running at `stopAt` go to `onHandOver` instead of
   * being aborted, and an attempt that ignores its abort is kept (stuck) instead of abandoned.
   */
  handOver: boolean;
  /** Attempts an earlier tick handed over, to adopt. */
  adopt: readonly Running[];
  /** Once the queues came back short, claim again this long after (absent: never). */
  repollMs?: number | undefined;
  claim(request: ClaimRequest): Promise<Claimed[]>;
  recorder: Recorder;
  /** Options for each attempt (the stop fields come from the above). */
  attempt: Omit<AttemptOptions, 'leaseUntil' | 'abortGraceMs'>;
  onStart?(running: Running): void;
  onStuck?(running: Running): void;
  onHandOver?(running: readonly Running[]): void;
  /** Real time (tests). Default `Date.now`. */
  now?: () => number;
}

/** What stopped the pool from claiming, for the tick's error. */
export interface PoolFailure {
  readonly claim?: unknown;
  readonly record?: unknown;
}

/** A tick's pool (see the top of this file). */
export interface Pool extends Owner {
  /** The attempts holding a slot in this pool. */
  readonly running: ReadonlySet<Running>;
  /** The lease (epoch ms) of every job this pool claims. */
  readonly leaseUntil: number;
  /** Claims, runs and records until the tick is over; returns what stopped it early, if anything. */
  run(): Promise<PoolFailure>;
  /** New jobs may be available (a LISTEN notification for `queue`, or any queue). */
  wake(queue?: string): void;
  /** A queue was paused (`*`: all): claim nothing more from it, hand back its unstarted jobs. */
  pause(queue: string): void;
  resume(queue: string): void;
  /** A cancel was requested for a job: abort it if it runs here, or cancel it if it waits. */
  cancel(id: bigint): boolean;
}

// Written as a closure, not a class: its state is local variables, which a minifier shortens,
// where a class's fields and methods keep their names (this file is in every Worker bundle).
export function createPool(options: PoolOptions): Pool {
  const { slots, recorder } = options;
  const now = options.now ?? Date.now;
  const buffered: Claimed[] = [];
  const bufferedPerQueue = new Map<string, number>();
  const running = new Set<Running>();
  const drained = new Set<string>();
  const paused = new Set<string>();
  const timers: ReturnType<typeof setTimeout>[] = [];
  let claiming = false;
  let claimed = 0;
  /** No more claims (deadline, signal, failure, maxJobs). */
  let claimsOver = false;
  /** No more starts: the deadline or the signal. */
  let startsOver = false;
  let shuttingDown = false;
  let claimError: unknown;
  let repollTimer: ReturnType<typeof setTimeout> | undefined;
  let resolveDone: (() => void) | undefined;
  let finished = false;
  // One options object for every attempt of this pool; its grace is read when an abort comes.
  const attemptOptions: AttemptOptions = {
    ...options.attempt,
    leaseUntil: options.leaseUntil,
    get abortGraceMs() {
      return options.abortGraceMs(now());
    },
  };

  const countBuffered = (queue: string, delta: number) =>
    bufferedPerQueue.set(queue, (bufferedPerQueue.get(queue) ?? 0) + delta);
  const hold = (claimed: Claimed) => {
    buffered.push(claimed);
    countBuffered(claimed.job.queue, 1);
  };
  const takeBuffered = (index: number): Claimed => {
    const [claimed] = buffered.splice(index, 1) as [Claimed];
    countBuffered(claimed.job.queue, -1);
    return claimed;
  };
  const release = (claimed: Claimed) =>
    recorder.add({ ...claimed, outcome: { type: 'release' }, runMs: 0 });
  const releaseBuffered = (which: (claimed: Claimed) => boolean = () => true) => {
    for (let i = 0; i < buffered.length; ) {
      if (which(buffered[i] as Claimed)) release(takeBuffered(i));
      else i++;
    }
  };
  const abortAll = (reason: unknown) => {
    for (const r of running) {
      if (r.attempt) r.attempt.abort(reason);
      else r.stopReason = reason;
    }
  };
  const allDrained = () => options.queues.every((q) => drained.has(q) || paused.has(q));
  const finish = () => {
    if (finished) return;
    finished = true;
    resolveDone?.();
  };

  /** Starts what fits, claims when the buffer runs low, and ends the pool when all is done. */
  function pump(): void {
    if (finished) return;
    if (!claimsOver && recorder.failure !== undefined) {
      // Nothing can be recorded: claim and start nothing more; the last flush tries again.
      claimsOver = true;
      startsOver = true;
      releaseBuffered();
    }
    if (!startsOver) {
      // In claim order; a job of a full queue waits while later ones start.
      for (let i = 0; i < buffered.length && slots.running < slots.capacity; ) {
        if (slots.fits((buffered[i] as Claimed).job.queue)) start(takeBuffered(i));
        else i++;
      }
    }
    if (!claimsOver && !claiming) maybeClaim();
    const idle = buffered.length === 0 && running.size === 0 && !claiming;
    const empty = allDrained();
    if (idle && (claimsOver || empty)) finish();
    else if (!claimsOver && empty && options.repollMs !== undefined && !repollTimer) {
      repollTimer = setTimeout(() => {
        repollTimer = undefined;
        // Also the moment to learn of a cancel while long jobs run and nothing else is recorded.
        recorder.poke();
        pool.wake();
      }, options.repollMs);
    }
  }

  function start(claimed: Claimed): void {
    const { job, token } = claimed;
    const worker = options.workers.get(job.kind);
    // Claimed by a runner that no longer has this kind's worker: hand it back.
    if (!worker) return void release(claimed);
    const r: Running = {
      job,
      token,
      worker,
      startedAt: performance.now(),
      owner: pool,
      leaseExpiresAt: options.leaseUntil,
      attempt: undefined,
      stopReason: undefined,
      // An attempt ignored its abort: a long-lived process keeps it (stuck) unless stopping.
      onUnresponsive() {
        if (!options.handOver || shuttingDown) return false;
        options.onStuck?.(r);
        return true;
      },
    };
    slots.take(job.queue);
    running.add(r);
    options.onStart?.(r);
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = runOne(job, worker, attemptOptions, r);
    } catch (error) {
      // runOne never throws; if it ever did, the job must still end (with a failure).
      outcome = internalFailure(job, worker, error, now());
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (settled) => r.owner.settle(r, settled),
        (error: unknown) => r.owner.settle(r, internalFailure(job, worker, error, now())),
      );
    } else {
      pool.settle(r, outcome);
    }
  }

  function maybeClaim(): void {
    // The claim and the flush of what it brings: without both, claim nothing more.
    if (claimed >= options.maxJobs || options.statementsLeft() < 2) {
      claimsOver = true;
      return;
    }
    if (now() >= options.stopAt) return;
    // Claim when the buffer runs low, or when slots are free that no waiting job may take (all
    // of full queues).
    const blocked = buffered.length > 0 && slots.running < slots.capacity;
    if (buffered.length >= options.lowWater && !blocked) return;
    const request = claimRequest();
    if (request === 'over') claimsOver = true;
    if (typeof request !== 'object') return;
    claiming = true;
    options.claim(request).then(
      (jobs) => claimedJobs(request, jobs),
      (error: unknown) => {
        claiming = false;
        claimError = error;
        claimsOver = true;
        pump();
      },
    );
  }

  /** The next claim; `over` when no claim can come any more (no kind fits the time left). */
  function claimRequest(): ClaimRequest | 'over' | undefined {
    const total = Math.min(options.batchSize, options.maxJobs - claimed);
    if (total <= 0) return 'over';
    const remaining = options.stopAt - now();
    const kinds: string[] = [];
    for (const worker of options.workers.values()) {
      // A long-lived process finishes what it starts, whatever the tick's budget.
      if (options.handOver || (worker.options.expectedRunMs ?? 0) <= remaining)
        kinds.push(worker.kind);
    }
    if (kinds.length === 0) return 'over';
    const queues: { name: string; limit: number }[] = [];
    for (const name of options.queues) {
      if (drained.has(name) || paused.has(name)) continue;
      const cap = slots.queueCapacity.get(name);
      // A limited queue keeps at most its limit running and as many again waiting.
      const limit =
        cap === undefined
          ? total
          : Math.min(
              total,
              Math.max(0, 2 * cap - slots.runningIn(name) - (bufferedPerQueue.get(name) ?? 0)),
            );
      if (limit > 0) queues.push({ name, limit });
    }
    return queues.length === 0 ? undefined : { queues, total, kinds };
  }

  function claimedJobs(request: ClaimRequest, jobs: readonly Claimed[]): void {
    claiming = false;
    claimed += jobs.length;
    const perQueue = new Map<string, number>();
    for (const c of jobs) perQueue.set(c.job.queue, (perQueue.get(c.job.queue) ?? 0) + 1);
    // A queue that gave fewer than asked is empty for now (or the rest is locked elsewhere).
    for (const { name, limit } of request.queues) {
      if ((perQueue.get(name) ?? 0) < limit) drained.add(name);
    }
    for (const c of jobs) {
      if (startsOver || paused.has(c.job.queue)) release(c);
      else hold(c);
    }
    pump();
  }

  /** `stopAt`: nothing more starts; what runs is aborted, or handed over. */
  function reachDeadline(): void {
    if (finished) return;
    claimsOver = true;
    startsOver = true;
    releaseBuffered();
    if (options.handOver && !shuttingDown) {
      const handed = [...running];
      running.clear();
      if (handed.length > 0) options.onHandOver?.(handed);
    } else {
      abortAll(new DeadlineReached('the tick reached its deadline'));
    }
    pump();
  }

  /** The outer signal: nothing more starts; what runs gets `gracefulStopMs`, then is aborted. */
  function stopBySignal(): void {
    if (finished) return;
    shuttingDown = true;
    claimsOver = true;
    startsOver = true;
    releaseBuffered();
    timers.push(
      setTimeout(
        () => {
          abortAll(new DeadlineReached('the runner is stopping'));
          for (const r of running) if (r.attempt?.stuck) r.attempt.giveUp();
        },
        Math.max(0, options.gracefulStopMs ?? 0),
      ),
    );
    pump();
  }

  const pool: Pool = {
    running,
    leaseUntil: options.leaseUntil,
    async run() {
      slots.waiting.add(pump);
      const done = new Promise<void>((resolve) => {
        resolveDone = resolve;
      });
      for (const r of options.adopt) {
        r.owner = pool;
        running.add(r);
        if (r.attempt) r.attempt.options = attemptOptions;
      }
      timers.push(setTimeout(reachDeadline, Math.max(0, options.stopAt - now())));
      const { signal } = options;
      if (signal?.aborted) stopBySignal();
      else signal?.addEventListener('abort', stopBySignal, { once: true });
      pump();
      await done;
      for (const timer of timers) clearTimeout(timer);
      if (repollTimer) clearTimeout(repollTimer);
      signal?.removeEventListener('abort', stopBySignal);
      slots.waiting.delete(pump);
      let record: unknown;
      try {
        await recorder.drain();
      } catch (error) {
        record = error;
      }
      recorder.close();
      return {
        ...(claimError !== undefined ? { claim: claimError } : {}),
        ...(record !== undefined ? { record } : {}),
      };
    },
    wake(queue) {
      if (queue === undefined) drained.clear();
      else drained.delete(queue);
      pump();
    },
    pause(queue) {
      if (queue === '*') for (const name of options.queues) paused.add(name);
      else paused.add(queue);
      releaseBuffered((c) => paused.has(c.job.queue));
      pump();
    },
    resume(queue) {
      if (queue === '*') paused.clear();
      else paused.delete(queue);
      pool.wake(queue === '*' ? undefined : queue);
    },
    cancel(id) {
      for (const r of running) {
        if (r.job.id !== id) continue;
        const reason = new CancelRequested('a cancel was requested while the job ran');
        if (r.attempt) r.attempt.abort(reason);
        else r.stopReason = reason;
        return true;
      }
      const index = buffered.findIndex((c) => c.job.id === id);
      if (index < 0) return false;
      const c = takeBuffered(index);
      const at = (options.attempt.clock?.() ?? new Date(now())).toISOString();
      recorder.add({
        ...c,
        outcome: {
          type: 'cancel',
          error: {
            at,
            attempt: c.job.attempt,
            error: 'JobCancelError: job cancelled remotely',
            trace: '',
          },
        },
        runMs: 0,
      });
      pump();
      return true;
    },
    /** Records an attempt's outcome and frees its slot. */
    settle(r, outcome) {
      if (!running.delete(r)) return;
      slots.give(r.job.queue);
      recorder.add({
        job: r.job,
        token: r.token,
        outcome,
        runMs: Math.max(0, performance.now() - r.startedAt),
      });
      pump();
    },
  };
  return pool;
}
