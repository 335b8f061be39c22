/**
 * Reliability of the tick runner against the real PostgreSQL with workers that misbehave (throw
 * odd values, time out, ignore their abort signal) in one crowded batch. Every test asserts what
 * ended up in the database.
 */

import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { createRunner, type TickStats } from '../src/runner/runner.js';
import { defineWorker, type WorkerContext } from '../src/worker.js';
import { useReliabilitySchema } from './support/reliability.js';
import type { RiverSchema } from './support/river.js';

describe('tick runner reliability', () => {
  let river: RiverSchema;
  let schema: string;

  useReliabilitySchema('workers', (created) => {
    river = created;
    schema = created.schema;
  });

  it('records every misbehaving worker of a crowded batch as a failed attempt with a useful message, and ends by the deadline', async () => {
    const hang = () => new Promise<never>(() => {});
    const rejectOnAbort = (signal: AbortSignal, value: () => unknown) =>
      new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => reject(value()), { once: true });
      });
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    interface Case {
      work: (job: unknown, ctx: WorkerContext) => unknown;
      timeoutMs?: number;
      /** The job's state after the tick, and the error recorded (null: none). */
      state: string;
      error: string | null;
    }
    const throwing =
      (value: unknown): Case['work'] =>
      async () => {
        throw value;
      };
    const retry = (work: Case['work'], error: string, timeoutMs?: number): Case => ({
      work,
      timeoutMs,
      state: 'retryable',
      error,
    });
    const honourAbort: Case['work'] = (_job, ctx) =>
      rejectOnAbort(ctx.signal, () => ctx.signal.reason);
    const nonError = 'non-Error value thrown:';
    const cases: Record<string, Case> = {
      throw_null: retry(throwing(null), `${nonError} null`),
      throw_undefined: retry(throwing(undefined), `${nonError} undefined`),
      throw_number: retry(throwing(42), `${nonError} 42`),
      throw_symbol: retry(throwing(Symbol('boom')), `${nonError} Symbol(boom)`),
      throw_bigint: retry(throwing(10n), `${nonError} 10n`),
      throw_circular: retry(throwing(circular), `${nonError} {"name":"loop","self":"[Circular]"}`),
      // Neither JSON.stringify nor String() can render it.
      throw_null_prototype: retry(
        throwing(Object.assign(Object.create(null), { limit: 1n })),
        `${nonError} {"limit":"1n"}`,
      ),
      throw_empty_error: retry(throwing(new Error()), 'Error'),
      throw_sync: retry(() => {
        throw new RangeError('thrown before any await');
      }, 'RangeError: thrown before any await'),
      reject_with_string: retry(() => Promise.reject('plain rejection'), 'plain rejection'),
      timeout_then_string: retry(
        (_job, ctx) => rejectOnAbort(ctx.signal, () => 'stopping'),
        'job timed out after 200 ms (stopping)',
        200,
      ),
      timeout_then_reason: retry(
        honourAbort,
        'job timed out after 200 ms (AttemptTimedOut: job timed out after 200 ms)',
        200,
      ),
      timeout_ignoring_signal: retry(
        hang,
        'job timed out after 200 ms and did not stop when aborted (it ignores ctx.signal)',
        200,
      ),
      // At the deadline: snoozed, no attempt or error counted.
      deadline_ignoring_signal: { work: hang, state: 'scheduled', error: null },
      deadline_honouring_signal: { work: honourAbort, state: 'available', error: null },
    };
    const perKind = 4;
    const client = createClient({ driver: river.driver, schema });
    await client.insertMany(
      Object.keys(cases).flatMap((kind) =>
        Array.from({ length: perKind }, () => ({ kind, args: {}, options: { maxAttempts: 5 } })),
      ),
    );
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    const runner = createRunner({
      driver: river.driver,
      schema,
      concurrency: 100,
      finishReserveMs: 300,
      leaseMarginMs: 500,
      workers: Object.entries(cases).map(([kind, { work, timeoutMs }]) =>
        defineWorker(kind, work, timeoutMs === undefined ? {} : { timeoutMs }),
      ),
    });
    const started = Date.now();
    const deadline = started + 1500;
    const hardDeadline = started + 2000;
    let stats: TickStats;
    try {
      stats = await runner.tick({ deadline, hardDeadline });
    } finally {
      process.off('warning', onWarning);
    }
    const ended = Date.now();
    // Aborted at deadline − reserve, abandoned half the reserve later, recorded well before it.
    expect(ended).toBeLessThanOrEqual(deadline + 150);
    const total = Object.keys(cases).length * perKind;
    expect(stats).toMatchObject({ claimed: total, stale: 0, errors: [] });
    expect(warnings).toEqual([]);

    const leaseUntil = hardDeadline + 500;
    for (const [kind, { state, error }] of Object.entries(cases)) {
      const rows = await river.jobs('kind = $1', [kind]);
      expect(rows).toHaveLength(perKind);
      for (const row of rows) {
        expect({ kind, state: row.state }).toEqual({ kind, state });
        if (error === null) {
          expect({ kind, attempt: row.attempt, errors: row.errors }).toEqual({
            kind,
            attempt: 0,
            errors: null,
          });
          continue;
        }
        expect(row.attempt, kind).toBe(1);
        expect(row.errors, kind).toHaveLength(1);
        expect(row.errors[0]).toMatchObject({ attempt: 1, error });
      }
      // A worker still running in this invocation must not run anywhere else before the lease ends.
      if (kind.endsWith('ignoring_signal')) {
        for (const row of rows) {
          expect(row.scheduled_at.getTime(), kind).toBeGreaterThanOrEqual(leaseUntil - 50);
        }
      }
    }
  });
});
