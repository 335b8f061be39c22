/**
 * Deadlines: the one place that turns a budget or a platform's wall limit into a tick's times.
 *
 * - **soft deadline**: running jobs are aborted (and snoozed) now;
 * - **stop claiming**: the soft deadline less a reserve kept to record outcomes;
 * - **hard deadline**: when the invocation is certainly dead (the platform kills it, or the
 *   process's own graceful stop is over);
 * - **lease**: the hard deadline plus a margin for clock skew and recording. A job claimed by
 *   this tick cannot be rescued before it, so no job runs twice while its lease holds;
 * - **abort grace**: how long an aborted worker may take to settle before it is abandoned.
 *
 * Adapters describe their invocation (`invocationDeadlines`); the runner derives the rest
 * (`tickDeadlines`). All times are epoch milliseconds.
 */

import { ValidationError } from '../errors.js';

/** Past the soft deadline, how long an invocation without a wall limit may still be running. */
export const DEFAULT_OVERRUN_MS = 30_000;
/** Added to the hard deadline to form the lease. */
export const DEFAULT_LEASE_MARGIN_MS = 15_000;

/** What an adapter knows about the invocation a tick runs in. */
export interface InvocationLimits {
  /** When the invocation started (epoch ms). */
  startedAt: number;
  /** The platform ends the invocation this long after it starts (Vercel's maxDuration, …). */
  wallLimitMs?: number | undefined;
  /**
   * How long the tick may work. Default: the wall limit less the time kept to record outcomes
   * (`wallReserveMs`). Required without a wall limit.
   */
  budgetMs?: number | undefined;
  /**
   * How long past the soft deadline the invocation may still run (a graceful stop, a response
   * still being sent, outcomes being recorded). Without a wall limit the default is 30 s. With
   * one, the hard deadline is the wall limit unless `overrunMs` ends it sooner: a long wall limit
   * (Cloudflare's 15-minute cron) would otherwise lease claimed jobs that long after an early
   * death.
   */
  overrunMs?: number | undefined;
}

/** Kept back from a wall limit to record outcomes before the platform cuts the invocation off. */
export function wallReserveMs(wallLimitMs: number): number {
  return Math.min(5000, wallLimitMs * 0.2);
}

/**
 * The soft and hard deadlines of an invocation, for `tick({ deadline, hardDeadline })`.
 *
 * @example
 * ```ts
 * // A Vercel function with maxDuration = 60: work until 55 s, certainly dead at 60 s.
 * invocationDeadlines({ startedAt: Date.now(), wallLimitMs: 60_000 });
 * ```
 */
export function invocationDeadlines(limits: InvocationLimits): {
  deadline: number;
  hardDeadline: number;
} {
  const { startedAt, wallLimitMs, budgetMs } = limits;
  if (wallLimitMs === undefined) {
    if (budgetMs === undefined)
      throw new ValidationError('invocationDeadlines: give budgetMs, wallLimitMs or both');
    const deadline = startedAt + budgetMs;
    return { deadline, hardDeadline: deadline + (limits.overrunMs ?? DEFAULT_OVERRUN_MS) };
  }
  const usable = wallLimitMs - wallReserveMs(wallLimitMs);
  const deadline = startedAt + Math.min(budgetMs ?? usable, usable);
  const wallEnd = startedAt + wallLimitMs;
  return {
    deadline,
    hardDeadline:
      limits.overrunMs === undefined ? wallEnd : Math.min(wallEnd, deadline + limits.overrunMs),
  };
}

/** Every time a tick works by. */
export interface TickDeadlines {
  /** Abort and snooze what still runs. */
  readonly soft: number;
  /** Claim and start nothing after this. */
  readonly stopAt: number;
  /** The invocation is certainly dead. */
  readonly hard: number;
  /** The lease of every job this tick claims. */
  readonly leaseUntil: number;
  /** The time kept back to record outcomes. */
  readonly reserveMs: number;
}

export interface TickTimes {
  startedAt: number;
  /** Soft deadline; wins over `budgetMs`. */
  deadline?: number | undefined;
  budgetMs: number;
  /** Default: the soft deadline plus `DEFAULT_OVERRUN_MS`. */
  hardDeadline?: number | undefined;
  /** Default min(2 s, 10 % of the budget). */
  finishReserveMs?: number | undefined;
  leaseMarginMs: number;
}

/** Derives a tick's deadlines; refuses a hard deadline before the soft one. */
export function tickDeadlines(times: TickTimes): TickDeadlines {
  const soft = times.deadline ?? times.startedAt + times.budgetMs;
  const hard = times.hardDeadline ?? soft + DEFAULT_OVERRUN_MS;
  if (hard < soft) throw new ValidationError('tick: hardDeadline is before the soft deadline');
  const budget = Math.max(0, soft - times.startedAt);
  const reserveMs = times.finishReserveMs ?? Math.min(2000, budget * 0.1);
  return {
    soft,
    stopAt: soft - reserveMs,
    hard,
    leaseUntil: hard + times.leaseMarginMs,
    reserveMs,
  };
}

/**
 * How long a worker aborted at `now` may take to settle before it is abandoned: half the
 * reserve, and never past the soft deadline.
 */
export function abortGraceMs(deadlines: TickDeadlines, now: number): number {
  return Math.max(0, Math.min(deadlines.reserveMs / 2, deadlines.soft - now));
}
