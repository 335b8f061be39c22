/**
 * The recorder: outcomes gather here as jobs finish and are flushed in one fenced statement when
 * `flushSize` have gathered or `flushDelayMs` have passed since the first unflushed one, and
 * always before the tick returns. One flush is in flight at a time; what finishes meanwhile
 * waits for the next. Each flush also asks which running jobs have had a cancel requested.
 *
 * One outcome must not poison its flush. Outcomes are made recordable first (see
 * `ops/record-outcomes.ts`); if PostgreSQL still refuses the data (SQLSTATE class 22), the flush
 * is recorded in halves, down to the one outcome it refuses, which is then recorded with a
 * generic error instead. Without this, every job of the flush stayed `running` until its lease
 * passed and ran again: three jobs whose workers succeeded ran five times each.
 *
 * A flush that fails otherwise is tried once more (recording is fenced and idempotent); if that
 * fails too, its outcomes go back to the front of the queue and `failure` is set: the pool then
 * stops claiming, and the final flush tries once more before the tick gives up.
 */

import { isDatabaseError } from '../errors.js';
import type { Job, JobState } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import type { OutcomeRecord, Recorded } from '../ops/record-outcomes.js';

/** One finished (or never started) attempt waiting to be recorded. */
export interface Finished {
  readonly job: Job;
  readonly token: string;
  readonly outcome: Outcome;
  /** The worker's run time in ms (0 for a job handed back unstarted). */
  readonly runMs: number;
}

export interface RecorderOptions {
  /** One statement: records `records`, checks `running` for requested cancels. */
  record(records: readonly OutcomeRecord[], running: readonly bigint[]): Promise<Recorded>;
  /** Flush once this many outcomes have gathered. */
  flushSize: number;
  /** Flush once the oldest unflushed outcome has waited this long (ms). */
  flushDelayMs: number;
  /**
   * Whether a flush the size or the delay asks for may be sent now (the tick's statement
   * budget). The final flush is always sent.
   */
  mayFlushEarly(): boolean;
  /** The ids of the jobs still running, to check for requested cancels. */
  running(): readonly bigint[];
  /** Jobs still running whose cancel was requested. */
  onCancelRequested(ids: readonly bigint[]): void;
  /** Each outcome once recorded: the state its row ended in, or `stale` when not applied. */
  onRecorded(finished: Finished, state: JobState | 'stale'): void;
  /** A flush statement was sent (for stats). */
  onFlush?(): void;
}

/**
 * The state of an outcome the fence did not apply: `stale` (its lease was rescued), unless the
 * worker completed the job in its own transaction, whose commit is why the row is not running.
 */
function staleness(finished: Finished): JobState | 'stale' {
  const { outcome } = finished;
  return outcome.type === 'completed' && outcome.inTransaction ? 'completed' : 'stale';
}

/** PostgreSQL refused the data itself (class 22: data exception), not the connection. */
function refusedData(error: unknown): boolean {
  return isDatabaseError(error) && error.code?.startsWith('22') === true;
}

/** The same outcome with nothing in it that could have been refused. */
function generic(record: OutcomeRecord, job: Job, reason: unknown): OutcomeRecord {
  const { outcome } = record;
  if (outcome.type === 'completed' || outcome.type === 'release') return record;
  const code = isDatabaseError(reason) ? reason.code : undefined;
  const error = {
    at: new Date().toISOString(),
    attempt: job.attempt,
    error: `eddy: the database refused this attempt's outcome as given (SQLSTATE ${code ?? 'unknown'}); recorded without its details`,
    trace: '',
  };
  const replaced: Outcome =
    outcome.type === 'snooze'
      ? { type: 'snooze', delayMs: 0 }
      : outcome.type === 'retry'
        ? { type: 'retry', delayMs: 0, error }
        : { ...outcome, error };
  return { ...record, outcome: replaced };
}

/** A tick's recorder (see the top of this file). */
export interface Recorder {
  /** Outcomes waiting to be recorded (not counting a flush in flight). */
  readonly size: number;
  /** The last flush failed twice (its outcomes are pending again). */
  readonly failure: unknown;
  add(finished: Finished): void;
  /**
   * Records everything pending and waits for it, however the budget stands (the tick is
   * ending). Throws if recording keeps failing; what could not be recorded stays `running` until
   * its lease passes.
   */
  drain(): Promise<void>;
  /**
   * Asks, in a statement of its own, whether a cancel was requested for a running job, unless a
   * flush is due anyway (a long-lived tick polling while its jobs run).
   */
  poke(): void;
  /** Stops the delay's timer (the tick is over). */
  close(): void;
}

// A closure, not a class, so that a minifier shortens its state (it is in every Worker bundle).
export function createRecorder(options: RecorderOptions): Recorder {
  let pending: Finished[] = [];
  let firstPendingAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | undefined;
  let failure: unknown;

  const stopTimer = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };

  /** Flushes now if the size or the delay says so, else arms the delay's timer. */
  function schedule(): void {
    if (inFlight || pending.length === 0 || failure !== undefined) return;
    const waited = Date.now() - firstPendingAt;
    if (pending.length >= options.flushSize || waited >= options.flushDelayMs) {
      if (options.mayFlushEarly()) void flush();
      return;
    }
    timer ??= setTimeout(() => {
      timer = undefined;
      schedule();
    }, options.flushDelayMs - waited);
  }

  /** Records everything pending now (one statement, more only to isolate refused data). */
  function flush(): Promise<void> {
    stopTimer();
    const batch = pending;
    pending = [];
    inFlight = recordTwice(batch).then(
      () => {
        inFlight = undefined;
        schedule();
      },
      (error: unknown) => {
        inFlight = undefined;
        failure = error;
        pending = batch.concat(pending);
      },
    );
    return inFlight;
  }

  async function recordTwice(batch: readonly Finished[]): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const { applied, cancelRequested } = await recordSplitting(
          batch.map((f) => ({ id: f.job.id, token: f.token, outcome: f.outcome })),
          batch,
        );
        for (const finished of batch) {
          options.onRecorded(finished, applied.get(String(finished.job.id)) ?? staleness(finished));
        }
        if (cancelRequested.length > 0) options.onCancelRequested(cancelRequested);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /** Records, splitting on refused data. */
  async function recordSplitting(
    records: readonly OutcomeRecord[],
    batch: readonly Finished[],
  ): Promise<Recorded> {
    options.onFlush?.();
    try {
      return await options.record(records, options.running());
    } catch (error) {
      if (!refusedData(error)) throw error;
      if (records.length === 1) {
        const only = records[0] as OutcomeRecord;
        const job = batch.find((f) => f.job.id === only.id)?.job as Job;
        options.onFlush?.();
        return options.record([generic(only, job, error)], []);
      }
      const half = Math.ceil(records.length / 2);
      const first = await recordSplitting(records.slice(0, half), batch);
      const second = await recordSplitting(records.slice(half), batch);
      return {
        applied: new Map([...first.applied, ...second.applied]),
        cancelRequested: [...first.cancelRequested, ...second.cancelRequested],
      };
    }
  }

  return {
    get size() {
      return pending.length;
    },
    get failure() {
      return failure;
    },
    add(finished) {
      if (pending.length === 0) firstPendingAt = Date.now();
      pending.push(finished);
      schedule();
    },
    async drain() {
      stopTimer();
      while (inFlight) await inFlight;
      while (pending.length > 0) {
        failure = undefined;
        await flush();
        if (failure !== undefined) throw failure;
      }
    },
    poke() {
      if (inFlight || pending.length > 0 || failure !== undefined || !options.mayFlushEarly())
        return;
      const running = options.running();
      if (running.length > 0) void flush();
    },
    close: stopTimer,
  };
}
