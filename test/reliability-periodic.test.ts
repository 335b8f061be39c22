/**
 * Reliability of periodic jobs against the real PostgreSQL: overlapping and repeated ticks of
 * several deployments, and River's persistent-worker pattern (unique by state without
 * `completed`). Every test asserts what ended up in the database.
 */

import { describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { definePeriodicJob } from '../src/runner/periodic.js';
import { createRunner, type TickStats } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { deploymentPool, lastOf, sleep, useReliabilitySchema } from './support/reliability.js';
import type { RiverSchema } from './support/river.js';

describe('tick runner reliability', () => {
  let river: RiverSchema;
  let schema: string;

  useReliabilitySchema('periodic', (created) => {
    river = created;
    schema = created.schema;
  });

  it('overlapping and repeated ticks of several deployments enqueue each periodic slot once', async () => {
    const minutely = definePeriodicJob({
      name: 'minutely',
      kind: 'minutely',
      schedule: '* * * * *',
      catchUp: 'all',
      catchUpWindowMs: 10 * 60_000,
    });
    const everySecond = definePeriodicJob({
      name: 'every-second',
      kind: 'every_second',
      schedule: { everyMs: 1000 },
      catchUp: 'all',
      catchUpWindowMs: 5000,
    });
    const latestOnly = definePeriodicJob({
      name: 'every-2s-latest',
      kind: 'every_second',
      schedule: { everyMs: 2000 },
      catchUp: 'latest',
    });
    const definitions = [minutely, everySecond, latestOnly];
    // Two deployments (own pool, own runner ids), three overlapping runners each; the second
    // lists its schedules in another order.
    const deployments = ['blue', 'green'].map((name, d) => {
      const pool = deploymentPool(3);
      const runners = Array.from({ length: 3 }, (_, i) =>
        createRunner({
          driver: nodePostgres(pool),
          schema,
          id: `${name}-${i}`,
          periodic: d === 0 ? definitions : [...definitions].reverse(),
          workers: [
            defineWorker('minutely', async () => {}),
            defineWorker('every_second', async () => {}),
          ],
        }),
      );
      return { pool, runners };
    });
    const ticks: TickStats[] = [];
    const started = Date.now();
    try {
      await Promise.all(
        deployments.flatMap(({ runners }) =>
          runners.map(async (runner) => {
            for (let round = 0; round < 500 && Date.now() - started < 3500; round++) {
              ticks.push(await runner.tick({ budgetMs: 2000 }));
              await sleep(Math.random() * 30);
            }
          }),
        ),
      );
    } finally {
      await Promise.all(deployments.map(({ pool }) => pool.end()));
    }
    const ended = Date.now();

    expect(ticks.flatMap((s) => s.errors)).toEqual([]);
    const { rows } = await river.pool.query(
      `SELECT metadata->>'periodic' AS name, (metadata->>'periodic_slot')::timestamptz AS slot,
         count(*)::int AS n
       FROM ${schema}.river_job GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    const slotsOf = (name: string) =>
      rows.filter((r) => r.name === name).map((r) => (r.slot as Date).getTime());
    const contiguous = (slots: number[], step: number) =>
      slots.every((slot, i) => i === 0 || slot - (slots[i - 1] as number) === step);
    // Every slot from the window before the first tick to the last tick, none missing.
    const seconds = slotsOf('every-second');
    expect(contiguous(seconds, 1000)).toBe(true);
    // (The first tick starts a little after `started`.)
    expect(seconds[0]).toBeLessThanOrEqual(started + 500 - 4000);
    expect(lastOf(seconds)).toBeGreaterThanOrEqual(Math.floor(ended / 1000) * 1000 - 1000);
    const minutes = slotsOf('minutely');
    expect(contiguous(minutes, 60_000)).toBe(true);
    expect(minutes.length).toBeGreaterThanOrEqual(10);
    const latest = slotsOf('every-2s-latest');
    expect(contiguous(latest, 2000)).toBe(true);
    expect(latest.length).toBeGreaterThanOrEqual(2);
    // Ticks counted each enqueued slot once: the others saw it skipped as a duplicate.
    expect(ticks.reduce((n, s) => n + s.periodicEnqueued, 0)).toBe(
      rows.reduce((n, r) => n + r.n, 0),
    );
    expect(await river.jobs(`state <> 'completed'`)).toEqual([]);
  });

  it('a periodic job unique by state without `completed` keeps exactly one live instance (River’s persistent worker)', async () => {
    const live = ['available', 'pending', 'retryable', 'running', 'scheduled'] as const;
    const definitions = [
      // Runs forever, snoozing itself: never a second row.
      definePeriodicJob({
        kind: 'forever',
        schedule: { everyMs: 1000 },
        catchUp: 'all',
        catchUpWindowMs: 5000,
        options: { unique: { byState: [...live] } },
      }),
      // Finishes each run: enqueued again by a later tick, but never while one is live.
      definePeriodicJob({
        kind: 'relay',
        schedule: { everyMs: 1000 },
        options: { unique: { byState: [...live] } },
      }),
    ];
    const deployments = ['blue', 'green'].map((name) => {
      const pool = deploymentPool(3);
      const runners = Array.from({ length: 2 }, (_, i) =>
        createRunner({
          driver: nodePostgres(pool),
          schema,
          id: `${name}-${i}`,
          periodic: definitions,
          workers: [
            defineWorker('forever', async (_job, ctx) => {
              await sleep(10);
              ctx.snooze(50);
            }),
            defineWorker('relay', async () => sleep(30)),
          ],
        }),
      );
      return { pool, runners };
    });
    const ticks: TickStats[] = [];
    const samples: { kind: string; n: number }[] = [];
    const started = Date.now();
    let ticking = true;
    const sampler = (async () => {
      while (ticking) {
        const { rows } = await river.pool.query(
          `SELECT kind, count(*)::int AS n FROM ${schema}.river_job
           WHERE state::text = ANY($1) GROUP BY kind`,
          [live],
        );
        samples.push(...rows);
        await sleep(5);
      }
    })();
    try {
      await Promise.all(
        deployments.flatMap(({ runners }) =>
          runners.map(async (runner) => {
            for (let round = 0; round < 500 && Date.now() - started < 2500; round++) {
              ticks.push(await runner.tick({ budgetMs: 2000 }));
              await sleep(Math.random() * 20);
            }
          }),
        ),
      );
    } finally {
      ticking = false;
      await sampler;
      await Promise.all(deployments.map(({ pool }) => pool.end()));
    }

    expect(ticks.flatMap((s) => s.errors)).toEqual([]);
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.filter((s) => s.n > 1)).toEqual([]);
    const forever = await river.jobs(`kind = 'forever'`);
    expect(forever).toHaveLength(1);
    expect(live).toContain(forever[0]?.state);
    expect(forever[0]?.metadata.snoozes).toBeGreaterThanOrEqual(3);
    const relay = await river.jobs(`kind = 'relay'`);
    expect(relay.length).toBeGreaterThanOrEqual(3);
    expect(relay.slice(0, -1).every((r) => r.state === 'completed')).toBe(true);
  });
});
