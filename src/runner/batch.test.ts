/**
 * Running a batch: slots, the stop time, abandoned workers. No database and no sleeping: fake
 * timers drive deadlines and grace periods.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  claimedJob as job,
  batchOptions as options,
  T0,
} from '../../test/support/runner-fixtures.js';
import type { Job } from '../job.js';
import type { Outcome } from '../job-outcome.js';
import { defineWorker } from '../worker.js';
import { type BatchOptions, executeBatch } from './batch.js';

/** Runs the batch to its end, advancing fake time as far as `ms` if it must. */
async function run(jobs: Job[], opts: BatchOptions, ms = 0): Promise<Outcome[]> {
  const done = executeBatch(jobs, opts);
  await vi.advanceTimersByTimeAsync(ms);
  return done;
}

const never = () => new Promise<never>(() => undefined);

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('executeBatch', () => {
  it('completes synchronous and asynchronous workers, with outcomes in input order', async () => {
    const sync = defineWorker('sync', () => undefined);
    const later = defineWorker('later', () => new Promise((r) => setTimeout(r, 50)));
    const outcomes = await run([job('later'), job('sync')], options([sync, later]), 50);
    expect(outcomes).toEqual([{ type: 'completed' }, { type: 'completed' }]);
  });

  it('at the stop time snoozes what runs and hands back what never started', async () => {
    const polite = defineWorker(
      'polite',
      (_job, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
      { timeoutMs: 60_000 },
    );
    const outcomes = await run(
      [job('polite'), job('polite')],
      options([polite], { concurrency: 1, stopAt: T0 + 3_000 }),
      3_000,
    );
    expect(outcomes).toEqual([{ type: 'snooze', delayMs: 0, deadline: true }, { type: 'release' }]);
  });

  it('abandons a worker that ignores its signal, keeping its job away until the lease ends', async () => {
    const deaf = defineWorker('deaf', never, { timeoutMs: 60_000 });
    const outcomes = await run(
      [job('deaf')],
      options([deaf], { stopAt: T0 + 3_000, abortGraceMs: 500, leaseUntil: T0 + 20_000 }),
      3_500,
    );
    // Abandoned at T0 + 3.5 s: snoozed until the lease, when this invocation is surely gone.
    expect(outcomes).toEqual([{ type: 'snooze', delayMs: 16_500 }]);
  });

  it('never runs more jobs of a queue at once than its limit', async () => {
    let running = 0;
    let most = 0;
    const tracked = defineWorker('tracked', async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 100));
      running--;
    });
    const jobs = Array.from({ length: 6 }, (_, i) =>
      job('tracked', { queue: i % 2 === 0 ? 'narrow' : 'wide' }),
    );
    const outcomes = await run(
      jobs,
      options([tracked], { queueConcurrency: new Map([['narrow', 1]]) }),
      1_000,
    );
    expect(outcomes.every((o) => o.type === 'completed')).toBe(true);
    // Three 'wide' jobs at once plus one 'narrow' one.
    expect(most).toBe(4);
  });

  it('hands back a job whose kind has no worker here', async () => {
    const outcomes = await run([job('unknown')], options([]));
    expect(outcomes).toEqual([{ type: 'release' }]);
  });
});
