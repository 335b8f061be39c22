/**
 * Running a claimed batch: bounded concurrency (overall and per queue), a timeout per attempt,
 * and a deadline for the whole batch. Produces one outcome per job; it never touches the
 * database (the runner records all outcomes in one statement).
 */

import type { Job } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import type { Worker } from '../worker.js';
import {
  type AttemptOptions,
  type BatchStop,
  DeadlineReached,
  internalFailure,
  runOne,
} from './attempt.js';

export interface BatchOptions extends AttemptOptions {
  workers: ReadonlyMap<string, Worker>;
  /** Concurrency limit over the whole batch. */
  concurrency: number;
  /** Concurrency limit per queue (absent: only the overall limit). */
  queueConcurrency: ReadonlyMap<string, number>;
  /** Epoch ms: abort what runs and start nothing more. */
  stopAt: number;
  /**
   * Stops the batch early (e.g. SIGTERM): nothing more starts, running jobs get
   * `gracefulStopMs` to finish, then are aborted and snoozed.
   */
  signal?: AbortSignal | undefined;
  gracefulStopMs?: number | undefined;
  /** Called as each job starts and as its outcome is known (hooks, timing); must not throw. */
  onStart?: ((index: number) => void) | undefined;
  onEnd?: ((index: number) => void) | undefined;
}

export async function executeBatch(
  jobs: readonly Job[],
  options: BatchOptions,
): Promise<Outcome[]> {
  const now = options.now ?? Date.now;
  const outcomes: (Outcome | undefined)[] = new Array(jobs.length);
  const stop = new AbortController();
  const batchStop: BatchStop = { signal: stop.signal, running: new Set() };
  stop.signal.addEventListener(
    'abort',
    () => {
      for (const attempt of batchStop.running) {
        attempt.abort(new DeadlineReached('the tick reached its deadline'));
      }
    },
    { once: true },
  );
  const stopTimer = setTimeout(() => stop.abort(), Math.max(0, options.stopAt - now()));
  let stopStarting = false;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let wake: () => void = () => undefined;
  const onOuterAbort = () => {
    stopStarting = true;
    wake();
    graceTimer = setTimeout(() => stop.abort(), Math.max(0, options.gracefulStopMs ?? 0));
  };
  if (options.signal?.aborted) onOuterAbort();
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const runningPerQueue = new Map<string, number>();
  const started = new Uint8Array(jobs.length);
  let running = 0;
  let unstarted = jobs.length;
  let cursor = 0; // every job before the cursor has started

  await new Promise<void>((resolveAll) => {
    const finishIfDone = () => {
      if (running === 0 && (unstarted === 0 || stopStarting || stop.signal.aborted)) resolveAll();
    };
    const finish = (index: number, job: Job, outcome: Outcome) => {
      outcomes[index] = outcome;
      options.onEnd?.(index);
      running--;
      runningPerQueue.set(job.queue, (runningPerQueue.get(job.queue) ?? 1) - 1);
    };
    wake = finishIfDone;
    const pump = () => {
      if (stop.signal.aborted || stopStarting) return finishIfDone();
      while (cursor < jobs.length && started[cursor]) cursor++;
      // Start every job that fits, in order; a job of a full queue waits while later ones proceed.
      for (let index = cursor; index < jobs.length && running < options.concurrency; index++) {
        if (started[index]) continue;
        const job = jobs[index] as Job;
        const queueLimit = options.queueConcurrency.get(job.queue) ?? Number.POSITIVE_INFINITY;
        const queueRunning = runningPerQueue.get(job.queue) ?? 0;
        if (queueRunning >= queueLimit) continue;
        started[index] = 1;
        options.onStart?.(index);
        unstarted--;
        running++;
        runningPerQueue.set(job.queue, queueRunning + 1);
        const worker = options.workers.get(job.kind);
        // runOne never throws; if it ever did, the batch must still end (with a failure).
        let run: Outcome | Promise<Outcome>;
        try {
          run = worker ? runOne(job, worker, options, batchStop) : { type: 'release' };
        } catch (error) {
          run = internalFailure(job, worker, error, now());
        }
        if (run instanceof Promise) {
          void run.then(
            (outcome) => {
              finish(index, job, outcome);
              pump();
            },
            (error: unknown) => {
              finish(index, job, internalFailure(job, worker, error, now()));
              pump();
            },
          );
        } else {
          // Finished synchronously: no promise, and the loop goes on starting jobs.
          finish(index, job, run);
        }
      }
      finishIfDone();
    };
    stop.signal.addEventListener('abort', finishIfDone, { once: true });
    pump();
  });

  clearTimeout(stopTimer);
  if (graceTimer) clearTimeout(graceTimer);
  options.signal?.removeEventListener('abort', onOuterAbort);
  return Array.from(outcomes, (o): Outcome => o ?? { type: 'release' });
}
