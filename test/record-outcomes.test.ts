/**
 * One job's outcome never poisons its batch: outcomes are made recordable (no NUL, no lone
 * surrogate, bounded size, delays within River's range) before the one fenced statement, and if
 * PostgreSQL still refuses the data the batch is recorded in halves around the refused outcome.
 * Runs through every driver on the shared PostgreSQL (Neon HTTP included).
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Driver } from '../src/driver/index.js';
import { createClient, createRunner, defineWorker } from '../src/index.js';
import { DEADLINE_SNOOZES_KEY, MAX_DEADLINE_SNOOZES, MAX_DELAY_MS } from '../src/job-outcome.js';
import {
  MAX_ERROR_CHARS,
  MAX_TRACE_CHARS,
  recordOutcomesTexts,
} from '../src/ops/record-outcomes.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { type RiverSchema, riverSchema } from './support/river.js';

/** What `message.slice(0, n)` leaves when it cuts an emoji in half: a lone high surrogate. */
const halfEmoji = '😀'.slice(0, 1);

for (const setup of selectedSetups().filter((s) => s.sharedServer)) {
  describe(`recording outcomes: ${setup.name}`, () => {
    let river: RiverSchema;
    let open: OpenDriver;
    let driver: Driver;

    beforeAll(async () => {
      river = await riverSchema('rec');
      open = await setup.open();
      driver = open.driver;
    });
    afterAll(async () => {
      await open.close();
      await river.close();
    });
    beforeEach(async () => {
      await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
    });

    it('records a batch whole when some outcomes carry NUL, lone surrogates, huge texts and delays', async () => {
      const { schema } = river;
      const client = createClient({ driver, schema });
      await client.insertMany([
        ...['ok_a', 'ok_b', 'ok_c'].map((name) => ({ kind: 'fine', args: { name } })),
        { kind: 'nul', args: {} },
        { kind: 'surrogate', args: {} },
        { kind: 'huge', args: {} },
        { kind: 'far_snooze', args: {} },
        { kind: 'far_retry', args: {} },
      ]);
      const huge = 'x'.repeat(1_000_000);
      const runner = createRunner({
        driver,
        schema,
        workers: [
          defineWorker('fine', () => {}),
          defineWorker('nul', () => {
            throw new Error('bad byte \u0000 here');
          }),
          defineWorker('surrogate', () => {
            throw new Error(`cut emoji ${halfEmoji}`);
          }),
          defineWorker('huge', () => {
            const error = new Error(huge);
            error.stack = `Error: ${huge}\n    at worker (job.ts:1:1)`;
            throw error;
          }),
          defineWorker('far_snooze', (_job, ctx) => ctx.snooze(1e16)),
          defineWorker(
            'far_retry',
            () => {
              throw new Error('retry far away');
            },
            { retryPolicy: () => 1e19 },
          ),
        ],
      });
      const stats = await runner.tick({ budgetMs: 10_000 });
      expect(stats).toMatchObject({ claimed: 8, completed: 3, retried: 4, snoozed: 1, stale: 0 });
      const rows = await river.jobs();
      const byKind = (kind: string) => rows.filter((row) => row.kind === kind);
      const one = (kind: string) => byKind(kind)[0] as Record<string, any>;
      for (const row of byKind('fine'))
        expect(row).toMatchObject({ state: 'completed', attempt: 1 });
      expect(one('nul').errors[0].error).toBe('bad byte \uFFFD here');
      expect(one('surrogate').errors[0].error).toBe('cut emoji \uFFFD');
      const stored = one('huge').errors[0];
      expect(stored.error.length).toBeLessThan(MAX_ERROR_CHARS + 50);
      expect(stored.error).toMatch(/… \(\d+ more characters\)$/);
      expect(stored.trace.length).toBeLessThan(MAX_TRACE_CHARS + 50);
      // Delays beyond River's maximum are recorded as the maximum (about 292 years).
      const years = (row: Record<string, any>) =>
        (row.scheduled_at.getTime() - Date.now()) / (365.25 * 24 * 3600_000);
      expect(one('far_snooze').state).toBe('scheduled');
      expect(years(one('far_snooze'))).toBeCloseTo(MAX_DELAY_MS / (365.25 * 24 * 3600_000), 0);
      expect(one('far_retry').state).toBe('retryable');
      expect(years(one('far_retry'))).toBeGreaterThan(290);
    });

    it('snoozes a run the deadline cuts short a bounded number of times, then counts it as a failed attempt', async () => {
      const { schema } = river;
      const client = createClient({ driver, schema });
      await client.insert('long', { n: 1 });
      await client.insert(
        'long',
        { n: 2 },
        { metadata: { [DEADLINE_SNOOZES_KEY]: MAX_DEADLINE_SNOOZES } },
      );
      const runner = createRunner({
        driver,
        schema,
        // Honours its signal, but never finishes within a tick.
        workers: [
          defineWorker(
            'long',
            (_job, ctx) =>
              new Promise((_resolve, reject) => {
                ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
              }),
          ),
        ],
      });
      const stats = await runner.tick({ budgetMs: 600 });
      expect(stats).toMatchObject({ claimed: 2, snoozed: 1, retried: 1 });
      const [fresh, worn] = (await river.jobs(`kind = 'long'`)) as [
        Record<string, any>,
        Record<string, any>,
      ];
      expect(fresh).toMatchObject({ state: 'available', attempt: 0, errors: null });
      expect(fresh.metadata).toMatchObject({ snoozes: 1, [DEADLINE_SNOOZES_KEY]: 1 });
      expect(worn).toMatchObject({ state: 'retryable', attempt: 1 });
      expect(worn.errors[0].error).toMatch(
        /ran past the tick's deadline 6 times; give its worker expectedRunMs/,
      );
    });

    it("stores a completed job's output where River keeps it, metadata.output", async () => {
      const { schema } = river;
      const client = createClient({ driver, schema });
      await client.insertMany([
        { kind: 'returns', args: {} },
        { kind: 'records', args: {} },
        { kind: 'silent', args: {} },
      ]);
      const runner = createRunner({
        driver,
        schema,
        workers: [
          defineWorker('returns', () => ({ sent: 3, to: ['a@example.com'] })),
          defineWorker('records', (_job, ctx) => ctx.recordOutput('done')),
          defineWorker('silent', () => {}),
        ],
      });
      expect(await runner.tick({ budgetMs: 5_000 })).toMatchObject({ completed: 3 });
      const rows = await river.jobs();
      const output = (kind: string) => rows.find((row) => row.kind === kind)?.metadata;
      expect(output('returns')).toEqual({ output: { sent: 3, to: ['a@example.com'] } });
      expect(output('records')).toEqual({ output: 'done' });
      expect(output('silent')).toEqual({});
    });

    it('records the rest, and the refused one generically, when PostgreSQL refuses an outcome', async () => {
      const { schema } = river;
      // Fault injection: data that slipped past Eddy's checks. The recording statement is sent
      // with one error turned into a JSON NUL escape, which PostgreSQL refuses (22P05).
      const records = new Set(recordOutcomesTexts(`"${schema}".`));
      let refused = 0;
      const poisoning: Driver = {
        ...driver,
        query: (text, params = [], options) => {
          if (records.has(text) && params.some((p) => p?.includes('POISON'))) {
            refused++;
            const poisoned = params.map((p) => p?.replaceAll('POISON', '\\\\u0000') ?? null);
            return driver.query(text, poisoned, options);
          }
          return driver.query(text, params, options);
        },
      };
      const client = createClient({ driver, schema });
      await client.insertMany([
        ...Array.from({ length: 6 }, (_, i) => ({ kind: 'fine', args: { i } })),
        { kind: 'poison', args: {} },
      ]);
      const runner = createRunner({
        driver: poisoning,
        schema,
        workers: [
          defineWorker('fine', () => {}),
          defineWorker('poison', () => {
            throw new Error('POISON');
          }),
        ],
      });
      const stats = await runner.tick({ budgetMs: 10_000 });
      expect(refused).toBeGreaterThan(1); // the whole batch, then the halves holding it
      expect(stats).toMatchObject({ claimed: 7, completed: 6, retried: 1, stale: 0 });
      const [poisoned] = (await river.jobs(`kind = 'poison'`)) as [Record<string, any>];
      expect(poisoned.state).toBe('available'); // retried at once, with a generic error
      expect(poisoned.errors[0].error).toMatch(/refused this attempt's outcome.*SQLSTATE 22P05/);
      expect(await river.jobs(`kind = 'fine' AND state <> 'completed'`)).toEqual([]);
    });
  });
}
