/**
 * A clock tests move by hand. Pass `clock.now` as `now` to `createClient`, `createRunner`,
 * `createAdmin` and `workOnce`: every statement then takes its time (River's
 * `coalesce($now, now())`), so scheduled jobs, retries' backoff, snoozes, periodic slots and
 * lease expiry move with it, and a test waits for none of them. Timeouts and tick deadlines
 * still run on real time.
 */

import { invalid } from '../errors.js';

export interface TestClock {
  /** The clock's time (a fresh Date each call). */
  now(): Date;
  /** Moves the clock forward by `ms`; returns the new time. */
  advance(ms: number): Date;
  /** Sets the clock to `time`; returns it. */
  set(time: Date): Date;
}

/**
 * Creates a clock that stands still until told to move, starting at `start` (default: now).
 *
 * @example
 * ```ts
 * const clock = createTestClock();
 * const runner = createRunner({ driver, workers, now: clock.now });
 * await runUntilIdle(runner);          // the first attempt fails: retried in ~1 s
 * clock.advance(60_000);
 * await runUntilIdle(runner);          // due now: worked again
 * ```
 */
export function createTestClock(start: Date = new Date()): TestClock {
  const check = (time: unknown, path: string): number => {
    if (!(time instanceof Date) || Number.isNaN(time.getTime()))
      invalid(path, 'must be a valid Date', 'createTestClock');
    return time.getTime();
  };
  let at = check(start, 'start');
  return {
    now: () => new Date(at),
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0)
        invalid('ms', 'must be a non-negative number of milliseconds', 'clock.advance');
      at += ms;
      return new Date(at);
    },
    set(time) {
      at = check(time, 'time');
      return new Date(at);
    },
  };
}
