/**
 * Bad arguments to define* and create* throw a `ValidationError` whose issues name the path of
 * what to fix, before anything touches a database. A driver that would fail every query stands
 * in for one, so a call that reached it would show.
 */

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTickRoute } from '../adapters/vercel/index.js';
import type { Driver } from '../src/driver/index.js';
import {
  createClient,
  createKick,
  createRunner,
  defineJobKind,
  definePeriodicJob,
  defineWorker,
  isEddyError,
  isValidationError,
  JobSnooze,
  ValidationError,
} from '../src/index.js';
import { unreachableDriver } from './support/drivers.js';

const unreachable = unreachableDriver;

/** The issue paths of the ValidationError `fn` throws. */
function pathsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect(isValidationError(error)).toBe(true);
    expect(isEddyError(error)).toBe(true);
    return (error as ValidationError).issues.map((issue) => issue.path);
  }
  throw new Error('expected a ValidationError');
}

const email = defineJobKind({ kind: 'email', args: z.object({ to: z.string() }) });

describe('bad arguments name the path to fix', () => {
  it('defineJobKind', () => {
    expect(pathsOf(() => defineJobKind({ kind: 'x', args: {} as never }))).toEqual(['args']);
    expect(pathsOf(() => defineJobKind({ kind: '' as string, args: z.object({}) }))).toEqual([
      'kind',
    ]);
  });

  it('defineWorker', () => {
    expect(pathsOf(() => defineWorker(email, 'not a function' as never))).toEqual(['work']);
    expect(pathsOf(() => defineWorker(email, () => {}, { timeoutMs: -1 }))).toEqual([
      'options.timeoutMs',
    ]);
    expect(pathsOf(() => defineWorker(email, () => {}, { retryPolicy: 5 as never }))).toEqual([
      'options.retryPolicy',
    ]);
  });

  it('definePeriodicJob', () => {
    expect(pathsOf(() => definePeriodicJob({ kind: email, schedule: 'every tuesday' }))).toEqual([
      'schedule',
    ]);
    expect(
      pathsOf(() =>
        definePeriodicJob({ kind: email, schedule: '* * * * *', catchUp: 'x' as never }),
      ),
    ).toEqual(['catchUp']);
  });

  it('createClient', () => {
    expect(pathsOf(() => createClient({ driver: {} as Driver }))).toEqual(['driver']);
    expect(pathsOf(() => createClient({ driver: unreachable, kinds: [email, email] }))).toEqual([
      'kinds',
    ]);
    expect(pathsOf(() => createClient({ driver: unreachable, maxPayloadBytes: 0 }))).toEqual([
      'maxPayloadBytes',
    ]);
    expect(pathsOf(() => createClient({ driver: unreachable }).with({} as Driver))).toEqual([
      'driver',
    ]);
  });

  it('createRunner', () => {
    const worker = defineWorker(email, () => {});
    const base = { driver: unreachable, workers: [worker] };
    expect(pathsOf(() => createRunner({ ...base, concurrency: 0 }))).toEqual(['concurrency']);
    expect(pathsOf(() => createRunner({ ...base, leaseMarginMs: Number.NaN }))).toEqual([
      'leaseMarginMs',
    ]);
    expect(pathsOf(() => createRunner({ ...base, finishReserveMs: -5 }))).toEqual([
      'finishReserveMs',
    ]);
    expect(pathsOf(() => createRunner({ ...base, workers: [worker, worker] }))).toEqual([
      'workers[1]',
    ]);
    expect(
      pathsOf(() => createRunner({ ...base, queues: { email: { concurrency: -1 } } })),
    ).toEqual(['queues.email.concurrency']);
    expect(pathsOf(() => createRunner({ ...base, queues: {} }))).toEqual(['queues']);
  });

  it('createKick and createTickRoute', () => {
    expect(pathsOf(() => createKick({ url: '/tick', secret: 's' }))).toEqual(['url']);
    expect(pathsOf(() => createKick({ url: 'https://example.com/tick', secret: '' }))).toEqual([
      'secret',
    ]);
    expect(pathsOf(() => createTickRoute({ runner: () => ({}) as never, maxDuration: 0 }))).toEqual(
      ['maxDuration'],
    );
  });

  it('JobSnooze', () => {
    expect(pathsOf(() => new JobSnooze(-1))).toEqual(['delayMs']);
  });
});
