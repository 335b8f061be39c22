/**
 * Hooks: the one seam for metrics, tracing and logs. `createRunner({ hooks })` calls them; a
 * hook that throws is reported in the tick's `stats.errors` and never fails a job or a tick.
 */

import type { AttemptError, Job, JobState } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import type { TickStats } from './runner.js';

export interface JobStartEvent {
  readonly job: Job;
  /** From when the job was due (`scheduled_at`) to its claim (`attempted_at`), in ms. */
  readonly queueWaitMs: number;
}

export interface JobEndEvent {
  readonly job: Job;
  readonly kind: string;
  readonly queue: string;
  /** How the attempt ended (`completed`, `retry`, `discard`, `cancel`, `snooze`, `release`). */
  readonly outcome: Outcome['type'];
  /**
   * The state the row was left in, or `stale` when the outcome was not applied (its lease had
   * been rescued). A retry of a job River's JobCancel asked to cancel ends `cancelled`.
   */
  readonly state: JobState | 'stale';
  /** The worker's run time in ms (0 for a job handed back unstarted). */
  readonly runMs: number;
  readonly queueWaitMs: number;
  /** The error recorded for a failed or cancelled attempt. */
  readonly error?: AttemptError | undefined;
}

export interface JobStuckEvent {
  readonly job: Job;
  /** How long its worker has run, in ms. */
  readonly runMs: number;
  /** Why it was aborted: its timeout, a requested cancel. */
  readonly reason: string;
}

export interface TickEndEvent {
  /** What started the tick, as its caller said (`tick({ source })`): a cron, `push`, `kick`, … */
  readonly source: string | undefined;
}

export interface RunnerHooks {
  /** A job's worker is about to run. */
  onJobStart?(event: JobStartEvent): void;
  /** A job's outcome was recorded (once per attempt, after the flush that recorded it). */
  onJobEnd?(event: JobEndEvent): void;
  /**
   * A worker ignored its abort (timeout, cancel) for the whole grace, in a long-lived process
   * (`eddy/node`): it keeps its slot and its job's lease until it settles, so the job never runs
   * twice at once. Restarting the process ends it; the job is then rescued.
   */
  onJobStuck?(event: JobStuckEvent): void;
  /** A tick ended (also when it failed: `stats` then says how far it got). */
  onTick?(stats: TickStats, event: TickEndEvent): void;
}

export const HOOK_NAMES = ['onJobStart', 'onJobEnd', 'onJobStuck', 'onTick'] as const;

/** From due to claimed, never negative (clocks of different writers may disagree). */
export function queueWaitMs(job: Job): number {
  const claimed = job.attemptedAt?.getTime() ?? Date.now();
  return Math.max(0, claimed - job.scheduledAt.getTime());
}

/** Calls a hook; a throw is noted in `stats.errors`, once per hook and tick. */
export function callHook<E extends unknown[]>(
  name: (typeof HOOK_NAMES)[number],
  hook: ((...event: E) => void) | undefined,
  stats: TickStats,
  ...event: E
): void {
  if (!hook) return;
  try {
    hook(...event);
  } catch (error) {
    const message = `hook ${name}: ${error instanceof Error ? error.message : String(error)}`;
    if (!stats.errors.includes(message)) stats.errors.push(message);
  }
}
