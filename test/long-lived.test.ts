/**
 * A long-lived process against the real PostgreSQL: jobs outlive the tick that claimed them
 * (handed over, not snoozed), a worker that ignores its abort keeps its job (stuck, its lease
 * renewed by the heartbeat, never rescued or run twice), cancels reach running jobs without a
 * listener, and the statement cap of a tick holds.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLoop } from '../adapters/node/index.js';
import { createClient } from '../src/client.js';
import type { JobStuckEvent } from '../src/runner/hooks.js';
import { createRunner, type TickStats } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('a long-lived runner', () => {
  let river: RiverSchema;
  beforeAll(async () => {
    river = await riverSchema('long');
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
  });
  const insert = (kind: string, args: Record<string, unknown> = {}) =>
    createClient({ driver: river.driver, schema: river.schema }).insert(kind, args);

  it('finishes a job longer than its tick in the next tick: handed over, never snoozed', async () => {
    const ticks: TickStats[] = [];
    let runs = 0;
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [
        defineWorker('long', async () => {
          runs++;
          await sleep(2_500);
          return 'done';
        }),
      ],
      hooks: { onTick: (stats) => void ticks.push({ ...stats }) },
    });
    const { job } = await insert('long');
    const loop = startLoop(runner, {
      tickBudgetMs: 1_000,
      pollIntervalMs: 50,
      handleSignals: false,
      listen: false,
    });
    try {
      await eventually(async () => (await river.jobs())[0]?.state === 'completed');
    } finally {
      await loop.stop();
    }
    const [row] = await river.jobs();
    expect(row).toMatchObject({ id: String(job.id), attempt: 1, errors: null });
    expect(row?.metadata).toEqual({ output: 'done' });
    expect(runs).toBe(1);
    expect(ticks.some((t) => t.handedOver === 1)).toBe(true);
    expect(ticks.reduce((n, t) => n + t.completed, 0)).toBe(1);
    expect(ticks.reduce((n, t) => n + t.snoozed, 0)).toBe(0);
  });

  it('keeps a worker that ignores its timeout: stuck, its lease renewed, never rescued or run twice', async () => {
    const stuck: JobStuckEvent[] = [];
    let running = 0;
    let most = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const deaf = defineWorker(
      'deaf',
      async () => {
        running++;
        most = Math.max(most, running);
        await released; // ignores ctx.signal
        running--;
        throw new Error('finally gave up');
      },
      { timeoutMs: 300 },
    );
    // A short lease: without the heartbeat it would pass within a second.
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [deaf, defineWorker('quick', () => undefined)],
      leaseMarginMs: 0,
      hooks: { onJobStuck: (event) => void stuck.push(event) },
    });
    // Another deployment's runner, whose maintenance rescues expired leases.
    const rescuer = createRunner({ driver: river.driver, schema: river.schema, workers: [deaf] });
    const { job } = await insert('deaf');
    const loop = startLoop(runner, {
      tickBudgetMs: 600,
      shutdownTimeoutMs: 200,
      pollIntervalMs: 50,
      handleSignals: false,
      listen: false,
    });
    try {
      await eventually(async () => stuck.length === 1);
      expect(stuck[0]).toMatchObject({ reason: 'job timed out after 300 ms' });
      expect(String(stuck[0]?.job.id)).toBe(String(job.id));
      // Well past the claim's own lease (the tick's budget plus 200 ms), the job is still this
      // attempt's: the rescuer finds no expired lease, and nothing runs it again.
      for (let i = 0; i < 5; i++) {
        await sleep(600);
        expect((await rescuer.tick({ budgetMs: 200 })).rescued).toBe(0);
      }
      const [row] = await river.jobs();
      expect(row).toMatchObject({ state: 'running', attempt: 1 });
      const expiry = Number(String(row?.attempted_by.at(-1)).split(':')[1]);
      expect(expiry).toBeGreaterThan(Date.now() + 5_000);
      // Other jobs still run beside it.
      await insert('quick');
      await eventually(async () => (await river.jobs(`kind = 'quick'`))[0]?.state === 'completed');
      release();
      await eventually(async () => (await river.jobs(`kind = 'deaf'`))[0]?.state === 'retryable');
    } finally {
      release();
      await loop.stop();
    }
    expect(most).toBe(1);
    const [row] = await river.jobs(`kind = 'deaf'`);
    expect(row?.errors).toHaveLength(1);
    expect(row?.errors[0]).toMatchObject({
      attempt: 1,
      error: 'job timed out after 300 ms (finally gave up)',
    });
  });

  it('aborts a running job at its next flush when a cancel is requested, without a listener', async () => {
    let aborted = false;
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      workers: [
        defineWorker(
          'polite',
          (_job, ctx) =>
            new Promise((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => {
                aborted = true;
                reject(ctx.signal.reason);
              });
            }),
        ),
        defineWorker('quick', () => sleep(400)),
      ],
    });
    const { job } = await insert('polite');
    await insert('quick');
    const tick = runner.tick({ budgetMs: 10_000 });
    await eventually(async () => (await river.jobs(`state = 'running'`)).length === 2);
    // As River's JobCancel marks a running job: the runner learns it when it next records.
    await river.pool.query(
      `UPDATE ${river.schema}.river_job SET metadata = metadata || jsonb_build_object('cancel_attempted_at', now()) WHERE id = $1`,
      [String(job.id)],
    );
    const stats = await tick;
    expect(aborted).toBe(true);
    expect(stats).toMatchObject({ claimed: 2, completed: 1, cancelled: 1 });
    const [row] = await river.jobs(`id = $1`, [String(job.id)]);
    expect(row).toMatchObject({ state: 'cancelled', attempt: 1 });
    expect(row?.finalized_at).toBeInstanceOf(Date);
    expect(row?.errors[0]).toMatchObject({
      attempt: 1,
      error: 'JobCancelError: job cancelled remotely',
    });
  });

  it('never sends more statements in a tick than maxStatements, and finishes what it claimed', async () => {
    const runner = createRunner({
      driver: river.driver,
      schema: river.schema,
      batchSize: 20,
      maxStatements: 10,
      workers: [defineWorker('n', () => sleep(2))],
    });
    const client = createClient({ driver: river.driver, schema: river.schema });
    await client.insertMany(Array.from({ length: 500 }, () => ({ kind: 'n', args: {} })));
    let done = 0;
    for (let i = 0; i < 200 && done < 500; i++) {
      const stats = await runner.tick({ budgetMs: 10_000 });
      expect(stats.statements).toBeLessThanOrEqual(10);
      expect(stats.completed).toBe(stats.claimed);
      expect(stats.claimed).toBeGreaterThan(0);
      done += stats.completed;
    }
    expect(done).toBe(500);
    expect((await river.jobs(`state = 'completed'`)).length).toBe(500);
    // A cap below what a tick needs is refused before anything runs.
    await expect(runner.tick({ maxStatements: 7 })).rejects.toThrow(
      /maxStatements must be a whole number of at least 8/,
    );
  });
});
