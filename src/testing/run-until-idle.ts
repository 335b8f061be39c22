/**
 * `runUntilIdle`: ticks a runner until a tick finds nothing to do, for tests that insert jobs and
 * then want them worked. With an injected clock (`createTestClock`), advance it and run again to
 * work what was scheduled or retried for later, without sleeping.
 */

import { EddyError, invalid, refuseUnknownKeys } from '../errors.js';
import type { Runner, TickOptions, TickStats } from '../runner/runner.js';

export interface RunUntilIdleOptions {
  /** Ticks at most (default 100); still busy then is an error. */
  maxTicks?: number;
  /** Passed to every tick (a budget, `maxStatements`, …). */
  tick?: TickOptions;
}

export interface RunUntilIdleResult {
  /** Ticks run, the idle one included. */
  ticks: number;
  /** Every tick's stats summed; `errors` concatenated, `durationMs` the total. */
  stats: TickStats;
}

/** A tick did something that may leave work for the next one. */
function busy(stats: TickStats): boolean {
  return stats.claimed > 0 || stats.promoted > 0 || stats.rescued > 0 || stats.periodicEnqueued > 0;
}

function add(total: TickStats | undefined, stats: TickStats): TickStats {
  if (!total) return { ...stats, errors: [...stats.errors] };
  const sum = { ...total, errors: [...total.errors, ...stats.errors] };
  for (const key of Object.keys(stats) as (keyof TickStats)[]) {
    const value = stats[key];
    if (typeof value === 'number')
      (sum as Record<string, unknown>)[key] = (total[key] as number) + value;
  }
  return sum;
}

/**
 * Ticks `runner` until a tick claims nothing, promotes nothing, rescues nothing and enqueues no
 * periodic job: every job due now has been worked.
 *
 * @example
 * ```ts
 * await client.insert(sendEmail, args);
 * const { stats } = await runUntilIdle(runner);
 * expect(stats.completed).toBe(1);
 * ```
 */
export async function runUntilIdle(
  runner: Runner,
  options: RunUntilIdleOptions = {},
): Promise<RunUntilIdleResult> {
  if (!runner || typeof runner.tick !== 'function')
    invalid('runner', 'must be a runner from createRunner()', 'runUntilIdle');
  refuseUnknownKeys(options, { maxTicks: 1, tick: 1 }, '', 'runUntilIdle');
  const maxTicks = options.maxTicks ?? 100;
  if (!Number.isInteger(maxTicks) || maxTicks < 1)
    invalid('maxTicks', 'must be a positive integer', 'runUntilIdle');
  let total: TickStats | undefined;
  for (let ticks = 1; ticks <= maxTicks; ticks++) {
    const stats = await runner.tick(options.tick);
    total = add(total, stats);
    if (!busy(stats)) return { ticks, stats: total };
  }
  throw new EddyError(
    `runUntilIdle: the runner still found work after ${maxTicks} ticks (a job that snoozes or fails without delay keeps coming back); raise maxTicks, or look at the stats of its ticks`,
  );
}
