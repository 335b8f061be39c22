/**
 * One attempt: how the way a worker ended becomes an Outcome. No database and no sleeping:
 * fake timers drive timeouts; the injected clock stamps recorded errors.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  attemptHost,
  attemptOptions,
  CLOCK,
  claimedJob,
  T0,
} from '../../test/support/runner-fixtures.js';
import { defineJobKind } from '../job-kind.js';
import { MAX_OUTPUT_BYTES, type Outcome } from '../job-outcome.js';
import { defineWorker, type Worker } from '../worker.js';
import { runOne } from './attempt.js';

/** Runs one attempt to its outcome, advancing fake time as far as `ms` if it must. */
async function attempt(worker: Worker, overrides = {}, ms = 0): Promise<Outcome> {
  const job = claimedJob(worker.kind, overrides);
  const outcome = runOne(job, worker, attemptOptions(), attemptHost());
  await vi.advanceTimersByTimeAsync(ms);
  return outcome;
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('an attempt', () => {
  it('completes when the worker returns, synchronously or not', async () => {
    expect(await attempt(defineWorker('sync', () => undefined))).toEqual({ type: 'completed' });
    const later = defineWorker('later', () => new Promise((r) => setTimeout(r, 50)));
    expect(await attempt(later, {}, 50)).toEqual({ type: 'completed' });
  });

  it('snoozes and cancels as the worker asks, stamping the cancel with the injected clock', async () => {
    expect(await attempt(defineWorker('snooze', (_job, ctx) => ctx.snooze(30_000)))).toEqual({
      type: 'snooze',
      delayMs: 30_000,
    });
    expect(
      await attempt(defineWorker('cancel', (_job, ctx) => ctx.cancel('not wanted'))),
    ).toMatchObject({
      type: 'cancel',
      error: { at: CLOCK.toISOString(), attempt: 1, error: 'JobCancelError: not wanted' },
    });
  });

  it("recognises a snooze thrown by another copy of Eddy's class, by its brand", async () => {
    class ForeignSnooze extends Error {
      readonly delayMs = 5_000;
      constructor() {
        super('snoozed');
        Object.defineProperty(this, Symbol.for('eddy.JobSnooze'), { value: true });
      }
    }
    const worker = defineWorker('foreign', () => {
      throw new ForeignSnooze();
    });
    expect(await attempt(worker)).toEqual({ type: 'snooze', delayMs: 5_000 });
  });

  it("retries a failure with River's backoff, or discards it on the last attempt", async () => {
    const fail = defineWorker('fail', async () => {
      throw new Error('boom');
    });
    const retry = await attempt(fail);
    expect(retry).toMatchObject({
      type: 'retry',
      error: { at: CLOCK.toISOString(), error: 'boom' },
    });
    // A first error: 1 s ±10 %.
    const { delayMs } = retry as { delayMs: number };
    expect(delayMs).toBeGreaterThanOrEqual(900);
    expect(delayMs).toBeLessThanOrEqual(1100);
    expect(await attempt(fail, { attempt: 3, maxAttempts: 3 })).toMatchObject({
      type: 'discard',
      error: { attempt: 3, error: 'boom' },
    });
  });

  it("uses the worker's retry policy, and River's when the policy throws", async () => {
    const custom = defineWorker(
      'custom',
      () => {
        throw new Error('x');
      },
      { retryPolicy: (job) => job.attempt * 7_000 },
    );
    expect(await attempt(custom, { attempt: 2 })).toMatchObject({ type: 'retry', delayMs: 14_000 });
  });

  it('fails an attempt that outlives its timeout, after aborting its signal', async () => {
    let reason: unknown;
    const slow = defineWorker(
      'slow',
      (_job, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            reject(new Error('aborted by signal'));
          });
        }),
      { timeoutMs: 2_000 },
    );
    expect(await attempt(slow, {}, 2_000)).toMatchObject({
      type: 'retry',
      error: { error: 'job timed out after 2000 ms (aborted by signal)' },
    });
    expect(reason).toBeInstanceOf(Error);
  });

  it('discards a job whose args fail its kind’s schema, naming the field', async () => {
    const kind = defineJobKind({ kind: 'typed', args: z.object({ n: z.number() }) });
    const worker = defineWorker(kind, () => {});
    expect(await attempt(worker, { args: { n: 'one' } })).toMatchObject({
      type: 'discard',
      error: {
        at: CLOCK.toISOString(),
        error: expect.stringMatching(/^args failed validation for kind 'typed': n: /),
      },
    });
  });
});

describe('an attempt that ends in something unreadable', () => {
  const revoked = () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  };

  it('fails, and still delivers its outcome, when the worker rejects with a revoked Proxy', async () => {
    const worker = defineWorker('rejects_revoked', async () => {
      throw revoked();
    });
    const outcome = await attempt(worker);
    expect(outcome).toMatchObject({ type: 'retry', error: { at: CLOCK.toISOString() } });
    expect((outcome as { error: { error: string } }).error.error).toContain('[unprintable value]');
  });

  it('fails when the worker returns a revoked Proxy, whose `then` cannot be read', async () => {
    const worker = defineWorker('returns_revoked', () => revoked());
    expect(await attempt(worker)).toMatchObject({ type: 'retry' });
  });
});

describe("an attempt's output", () => {
  it('is the returned value as JSON, or what ctx.recordOutput was given last, which wins', async () => {
    expect(await attempt(defineWorker('returns', () => ({ sent: 3 })))).toEqual({
      type: 'completed',
      output: '{"sent":3}',
    });
    const recording = defineWorker('records', async (_job, ctx) => {
      ctx.recordOutput({ step: 1 });
      ctx.recordOutput({ step: 2 });
      return 'ignored';
    });
    expect(await attempt(recording)).toEqual({ type: 'completed', output: '{"step":2}' });
    expect(await attempt(defineWorker('nothing', () => undefined))).toEqual({ type: 'completed' });
  });

  it('fails the attempt when the output is not JSON or is too large, saying why', async () => {
    expect(await attempt(defineWorker('bigint', () => ({ n: 10n })))).toMatchObject({
      type: 'retry',
      error: { error: expect.stringMatching(/^the job's output cannot be stored: .*output\.n/) },
    });
    const huge = defineWorker('huge', () => 'x'.repeat(MAX_OUTPUT_BYTES));
    expect(await attempt(huge)).toMatchObject({
      type: 'retry',
      error: {
        error: expect.stringMatching(/^the job's output is \d+ bytes of JSON; at most 1048576/),
      },
    });
  });
});
