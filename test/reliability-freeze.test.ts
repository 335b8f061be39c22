/**
 * Reliability of the tick runner against the real PostgreSQL when a ticker in its own process is
 * frozen (SIGSTOP) past its lease and wakes after a successor took its jobs over. Every test
 * asserts what ended up in the database.
 */

import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { createRunner, type TickStats } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { DATABASE_URL } from './support/postgres.js';
import { lastOf, leaseOf, runnerOf, sleep, useReliabilitySchema } from './support/reliability.js';
import type { RiverSchema } from './support/river.js';
import { buildTickerBundle, executionsTable, startTickerChild } from './support/ticker-child.js';

describe('tick runner reliability', () => {
  let river: RiverSchema;
  let schema: string;

  useReliabilitySchema('freeze', (created) => {
    river = created;
    schema = created.schema;
  });

  it('a ticker frozen (SIGSTOP) past its lease applies nothing when it wakes', async () => {
    await river.pool.query(executionsTable(schema));
    const bundle = await buildTickerBundle();
    const client = createClient({ driver: river.driver, schema });
    let gate: Promise<void> = Promise.resolve();
    let entered = 0;
    const successor = createRunner({
      driver: river.driver,
      schema,
      id: 'successor',
      workers: [
        defineWorker('kill_trial', async () => {
          entered++;
          await gate;
        }),
      ],
    });
    const rescueAndRetryNow = async () => {
      const stats = await successor.tick({ budgetMs: 5000 });
      await river.pool.query(
        `UPDATE ${schema}.river_job SET scheduled_at = now() WHERE state = 'retryable'`,
      );
      return stats;
    };
    try {
      // Where the successor is when the frozen ticker wakes and tries to record its outcomes.
      for (const phase of ['rescued', 'claimed again', 'completed again'] as const) {
        await river.pool.query(`DELETE FROM ${schema}.river_job`);
        await client.insertMany(
          Array.from({ length: 3 }, () => ({ kind: 'kill_trial', args: { ms: 300 } })),
        );
        const child = startTickerChild(
          bundle,
          {
            url: DATABASE_URL,
            schema,
            runnerId: 'frozen',
            softMs: 600,
            hardMs: 700,
            leaseMarginMs: 100,
            concurrency: 3,
            maxJobs: 3,
          },
          { step: 'started', count: 3, jitterMs: 0, signal: 'SIGSTOP' },
        );
        await Promise.race([
          child.signalled,
          child.exited.then((run) => {
            throw new Error(`the ticker ended before it was frozen: ${run.stderr || run.steps}`);
          }),
        ]);
        const [first] = await river.jobs();
        expect(first?.state).toBe('running');
        await sleep(leaseOf(lastOf(first?.attempted_by as string[])) - Date.now() + 20);

        expect((await rescueAndRetryNow()).rescued).toBe(3);
        let successorTick: Promise<TickStats> | undefined;
        let release: () => void = () => undefined;
        if (phase === 'claimed again') {
          gate = new Promise((resolve) => {
            release = resolve;
          });
          entered = 0;
          successorTick = successor.tick({ budgetMs: 10_000 });
          for (let i = 0; i < 200 && entered < 3; i++) await sleep(10);
          expect(entered).toBe(3);
        } else if (phase === 'completed again') {
          expect((await successor.tick({ budgetMs: 5000 })).completed).toBe(3);
        }
        const before = await river.jobs();

        child.resume();
        const run = await child.exited;
        expect(run.stderr).toBe('');
        expect(run.stats, phase).toMatchObject({ claimed: 3, stale: 3, completed: 0 });
        // The woken ticker changed nothing.
        expect(await river.jobs(), phase).toEqual(before);

        release();
        if (successorTick) expect((await successorTick).completed).toBe(3);
        if (phase === 'rescued')
          expect((await successor.tick({ budgetMs: 5000 })).completed).toBe(3);
        for (const job of await river.jobs()) {
          expect(job).toMatchObject({ state: 'completed', attempt: 2 });
          expect(runnerOf(job.attempted_by[0])).toBe('frozen');
          expect(runnerOf(job.attempted_by[1])).toBe('successor');
          expect(job.errors).toHaveLength(1);
          expect(job.errors[0].error).toMatch(/^lease expired: .*\(frozen\)/);
        }
      }
    } finally {
      await bundle.remove();
    }
  });
});
