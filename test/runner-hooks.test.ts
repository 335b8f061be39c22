/**
 * Hooks, the one seam for metrics and tracing: what a runner reports as jobs start and end and
 * as ticks end, against the real PostgreSQL. A hook that throws changes nothing but the tick's
 * `stats.errors`.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createClient,
  createRunner,
  defineWorker,
  JobCancel,
  type TickStats,
  ValidationError,
} from '../src/index.js';
import type { JobEndEvent, JobStartEvent, TickEndEvent } from '../src/runner/hooks.js';
import { type RiverSchema, riverSchema } from './support/river.js';

describe('runner hooks', () => {
  let river: RiverSchema;
  beforeAll(async () => {
    river = await riverSchema('hooks');
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
  });

  it('reports each job’s start and end, with outcome, stored state, run time and queue wait', async () => {
    const { schema, driver } = river;
    const client = createClient({ driver, schema });
    await client.insertMany([
      { kind: 'quick', args: {} },
      { kind: 'slow', args: {} },
      { kind: 'flaky', args: {} },
      { kind: 'gives_up', args: {} },
    ]);
    const started: JobStartEvent[] = [];
    const ended: JobEndEvent[] = [];
    const ticks: [TickStats, TickEndEvent][] = [];
    const runner = createRunner({
      driver,
      schema,
      workers: [
        defineWorker('quick', () => {}),
        defineWorker('slow', () => new Promise((resolve) => setTimeout(resolve, 120))),
        defineWorker('flaky', () => {
          throw new Error('try again');
        }),
        defineWorker('gives_up', () => {
          throw new JobCancel('not wanted');
        }),
      ],
      hooks: {
        onJobStart: (event) => void started.push(event),
        onJobEnd: (event) => void ended.push(event),
        onTick: (stats, event) => void ticks.push([stats, event]),
      },
    });
    const stats = await runner.tick({ budgetMs: 5_000, source: 'test' });
    expect(started.map((e) => e.job.kind).sort()).toEqual(['flaky', 'gives_up', 'quick', 'slow']);
    for (const e of started) expect(e.queueWaitMs).toBeGreaterThanOrEqual(0);
    const byKind = Object.fromEntries(ended.map((e) => [e.kind, e]));
    expect(byKind.quick).toMatchObject({
      outcome: 'completed',
      state: 'completed',
      queue: 'default',
    });
    expect(byKind.slow).toMatchObject({ outcome: 'completed', state: 'completed' });
    expect(byKind.slow?.runMs).toBeGreaterThanOrEqual(100);
    expect(byKind.quick?.runMs).toBeLessThan(100);
    expect(byKind.flaky).toMatchObject({
      outcome: 'retry',
      state: 'retryable',
      error: { error: 'try again' },
    });
    expect(byKind.gives_up).toMatchObject({ outcome: 'cancel', state: 'cancelled' });
    expect(ticks).toEqual([[stats, { source: 'test' }]]);
  });

  it('notes a throwing hook in stats.errors and records every job all the same', async () => {
    const { schema, driver } = river;
    await createClient({ driver, schema }).insertMany([
      { kind: 'quick', args: {} },
      { kind: 'quick', args: {} },
    ]);
    const runner = createRunner({
      driver,
      schema,
      workers: [defineWorker('quick', () => {})],
      hooks: {
        onJobStart: () => {
          throw new Error('metrics backend down');
        },
        onJobEnd: () => {
          throw new Error('metrics backend down');
        },
      },
    });
    const stats = await runner.tick({ budgetMs: 5_000 });
    expect(stats).toMatchObject({ claimed: 2, completed: 2 });
    expect(stats.errors).toEqual([
      'hook onJobStart: metrics backend down',
      'hook onJobEnd: metrics backend down',
    ]);
    expect(await river.jobs(`state <> 'completed'`)).toEqual([]);
  });

  it('refuses hooks that are not functions, or unknown, naming them', () => {
    const { schema, driver } = river;
    const paths = (hooks: unknown) => {
      try {
        createRunner({ driver, schema, workers: [], hooks: hooks as never });
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((i) => i.path);
      }
      return [];
    };
    expect(paths({ onJobEnd: 'log' })).toEqual(['hooks.onJobEnd']);
    expect(paths({ onJobFinish: () => {} })[0]).toMatch(/^hooks/);
  });
});
