/**
 * The tick runner against the real PostgreSQL: what a tick claims, how each outcome is stored
 * (as Go River would store it), deadlines, leases and rescue, fencing, maintenance.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../src/client.js';
import type { Driver } from '../src/driver/driver.js';
import { defineJobKind } from '../src/job-kind.js';
import { JobCancel, JobSnooze } from '../src/job-outcome.js';
import { definePeriodicJob } from '../src/runner/periodic.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const greet = defineJobKind({ kind: 'greet', args: z.object({ name: z.string() }) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const setup of selectedSetups().filter((s) => s.sharedServer)) {
  describe(`tick runner: ${setup.name}`, () => {
    let river: RiverSchema;
    let schema: string;
    let open: OpenDriver;
    let driver: Driver;
    const insert = (kind: string, args: Record<string, unknown> = {}, options = {}) =>
      createClient({ driver: driver, schema }).insert(kind, args, options);

    beforeAll(async () => {
      river = await riverSchema('run');
      schema = river.schema;
      open = await setup.open();
      driver = open.driver;
    });
    afterAll(async () => {
      await open.close();
      await river.close();
    });
    beforeEach(async () => {
      await river.pool.query(`DELETE FROM ${schema}.river_job; DELETE FROM ${schema}.river_queue`);
    });

    it('works available jobs and records them completed as River would', async () => {
      const seen: string[] = [];
      const runner = createRunner({
        driver: driver,
        schema,
        id: 'test-runner',
        workers: [defineWorker(greet, async (job) => void seen.push(job.args.name))],
      });
      const client = createClient({ driver: driver, schema });
      await client.insertMany([1, 2, 3].map((i) => ({ kind: greet, args: { name: `n${i}` } })));
      const stats = await runner.tick({ budgetMs: 5000 });
      expect(stats).toMatchObject({ claimed: 3, completed: 3, retried: 0, stale: 0 });
      expect(seen.sort()).toEqual(['n1', 'n2', 'n3']);
      const rows = await river.jobs();
      for (const row of rows) {
        expect(row.state).toBe('completed');
        expect(row.attempt).toBe(1);
        expect(row.finalized_at).toBeInstanceOf(Date);
        expect(row.attempted_at).toBeInstanceOf(Date);
        expect(row.errors).toBeNull();
        expect(row.attempted_by).toHaveLength(1);
        expect(row.attempted_by[0]).toMatch(/^eddy:\d+:[0-9a-f]+:test-runner$/);
      }
    });

    it('runs on an injected clock: claims what is due by it and stamps every time with it', async () => {
      // A day ahead of the database's own clock: the clock alone makes these jobs due.
      const at = new Date(Date.now() + 24 * 3600_000);
      const clock = () => at;
      const client = createClient({ driver, schema, now: clock });
      const { job: queued } = await client.insert(greet, { name: 'clocked' });
      expect(queued.createdAt.getTime()).toBe(at.getTime());
      await client.insert(greet, { name: 'later' }, { scheduledAt: new Date(at.getTime() - 1000) });
      const failing = defineJobKind({ kind: 'clocked_failure', args: z.object({}) });
      await client.insert(failing, {});
      const runner = createRunner({
        driver,
        schema,
        workers: [
          defineWorker(greet, async () => {}),
          defineWorker(failing, async () => {
            throw new Error('fails on the clock');
          }),
        ],
        now: clock,
      });
      // Without the clock none of these is due yet (scheduled a day ahead): nothing claimed.
      const unclocked = createRunner({
        driver,
        schema,
        workers: [defineWorker(greet, async () => {})],
      });
      expect((await unclocked.tick({ budgetMs: 5000, maintenance: false })).claimed).toBe(0);
      const stats = await runner.tick({ budgetMs: 5000 });
      expect(stats).toMatchObject({ claimed: 3, completed: 2, retried: 1 });
      const rows = await river.jobs();
      for (const row of rows) {
        expect(row.created_at.getTime()).toBe(at.getTime());
        expect(row.attempted_at.getTime()).toBe(at.getTime());
        if (row.kind === 'greet') expect(row.finalized_at.getTime()).toBe(at.getTime());
      }
      const failed = rows.find((row) => row.kind === 'clocked_failure') as (typeof rows)[number];
      expect(failed.errors[0].at).toBe(at.toISOString());
      // River's first backoff (1 s ±10 %) counted from the clock, not the database's now().
      const delay = failed.scheduled_at.getTime() - at.getTime();
      expect(delay).toBeGreaterThanOrEqual(900);
      expect(delay).toBeLessThanOrEqual(1100);
    });

    it('claims only kinds it has a worker for, from its queues, skipping paused ones', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [defineWorker('mine', async () => {})],
        queues: { default: {}, other: {}, paused: {} },
      });
      await insert('mine', {});
      await insert('not_mine', {});
      await insert('mine', {}, { queue: 'elsewhere' });
      await insert('mine', {}, { queue: 'paused' });
      await river.pool.query(
        `INSERT INTO ${schema}.river_queue (name, paused_at) VALUES ('paused', now())`,
      );
      const stats = await runner.tick({ budgetMs: 5000 });
      expect(stats.completed).toBe(1);
      const left = await river.jobs(`state = 'available'`);
      expect(left.map((r) => `${r.kind}@${r.queue}`).sort()).toEqual([
        'mine@elsewhere',
        'mine@paused',
        'not_mine@default',
      ]);

      await river.pool.query(
        `INSERT INTO ${schema}.river_queue (name, paused_at) VALUES ('*', now())`,
      );
      await insert('mine', {});
      expect((await runner.tick({ budgetMs: 5000 })).claimed).toBe(0);
    });

    it('retries a failed job with River backoff and an AttemptError', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [
          defineWorker('flaky', async () => {
            throw new TypeError('upstream said no');
          }),
        ],
      });
      const { job } = await insert('flaky', {}, { maxAttempts: 3 });
      const before = Date.now();
      const stats = await runner.tick({ budgetMs: 5000 });
      expect(stats).toMatchObject({ claimed: 1, retried: 1 });
      const [row] = await river.jobs('id = $1', [job.id]);
      expect(row?.state).toBe('retryable');
      expect(row?.finalized_at).toBeNull();
      expect(row?.errors).toHaveLength(1);
      const error = row?.errors[0];
      expect(error).toMatchObject({ attempt: 1, error: 'TypeError: upstream said no' });
      expect(error.trace).toContain('upstream said no');
      expect(Date.parse(error.at)).toBeGreaterThanOrEqual(before - 1000);
      // First retry: 1^4 s ± 10 %.
      const delay = row?.scheduled_at.getTime() - before;
      expect(delay).toBeGreaterThan(800);
      expect(delay).toBeLessThan(2500);
    });

    it('discards at max attempts and keeps every error', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [defineWorker('doomed', async () => Promise.reject(new Error('always')))],
      });
      const { job } = await insert('doomed', {}, { maxAttempts: 2 });
      await runner.tick({ budgetMs: 5000 });
      await river.pool.query(
        `UPDATE ${schema}.river_job SET scheduled_at = now() - interval '1 second' WHERE id = $1`,
        [job.id],
      );
      const stats = await runner.tick({ budgetMs: 5000 });
      expect(stats).toMatchObject({ promoted: 1, claimed: 1, discarded: 1 });
      const [row] = await river.jobs('id = $1', [job.id]);
      expect(row).toMatchObject({ state: 'discarded', attempt: 2 });
      expect(row?.finalized_at).toBeInstanceOf(Date);
      expect(row?.errors.map((e: { attempt: number }) => e.attempt)).toEqual([1, 2]);
    });

    it('cancels on JobCancel and snoozes on JobSnooze without counting an attempt', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [
          defineWorker('quit', async (_job, ctx) => ctx.cancel('customer deleted')),
          defineWorker('later', async () => {
            throw new JobSnooze(60_000);
          }),
          defineWorker('cancel_by_throw', async () => {
            throw new JobCancel(new Error('nope'));
          }),
        ],
      });
      const quit = await insert('quit');
      const later = await insert('later');
      await insert('cancel_by_throw');
      const stats = await runner.tick({ budgetMs: 5000 });
      expect(stats).toMatchObject({ cancelled: 2, snoozed: 1 });
      const [q] = await river.jobs('id = $1', [quit.job.id]);
      expect(q).toMatchObject({ state: 'cancelled', attempt: 1 });
      expect(q?.errors[0].error).toMatch(/customer deleted/);
      const [l] = await river.jobs('id = $1', [later.job.id]);
      expect(l).toMatchObject({
        state: 'scheduled',
        attempt: 0,
        metadata: { snoozes: 1 },
        errors: null,
      });
      expect(l?.scheduled_at.getTime()).toBeGreaterThan(Date.now() + 50_000);
    });

    it('discards a job whose args fail the worker schema, with the reason', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [defineWorker(greet, async () => {})],
      });
      await river.pool.query(
        `INSERT INTO ${schema}.river_job (kind, args, max_attempts) VALUES ('greet', '{"name": 42}', 25)`,
      );
      const stats = await runner.tick({ budgetMs: 5000 });
      expect(stats.discarded).toBe(1);
      const [row] = await river.jobs();
      expect(row?.state).toBe('discarded');
      expect(row?.errors[0].error).toMatch(/args failed validation for kind 'greet': name: /);
    });

    it('records non-Error throws with a useful message', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [
          defineWorker('obj', async () => {
            throw { code: 'E_LIMIT', retryAfter: 3 };
          }),
          defineWorker('str', async () => {
            throw 'plain string';
          }),
        ],
      });
      await insert('obj');
      await insert('str');
      await runner.tick({ budgetMs: 5000 });
      const messages = (await river.jobs()).map((r) => r.errors[0].error).sort();
      expect(messages).toEqual([
        'non-Error value thrown: {"code":"E_LIMIT","retryAfter":3}',
        'plain string',
      ]);
    });

    it('at the deadline aborts and snoozes what runs, hands back what has not started, and ends on time', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        concurrency: 2,
        finishReserveMs: 400,
        workers: [
          defineWorker('slow', async (_job, ctx) => {
            await new Promise((resolve, reject) => {
              const t = setTimeout(resolve, 60_000);
              ctx.signal.addEventListener('abort', () => {
                clearTimeout(t);
                reject(ctx.signal.reason);
              });
            });
          }),
        ],
      });
      for (let i = 0; i < 5; i++) await insert('slow');
      const started = Date.now();
      const stats = await runner.tick({ budgetMs: 1500 });
      expect(Date.now() - started).toBeLessThan(1500 + 300);
      expect(stats).toMatchObject({
        claimed: 5,
        snoozed: 2,
        released: 3,
        completed: 0,
        retried: 0,
      });
      const rows = await river.jobs();
      expect(
        rows.every((r) => r.state === 'available' && r.attempt === 0 && r.errors === null),
      ).toBe(true);
      expect(rows.filter((r) => r.metadata.snoozes === 1)).toHaveLength(2);
      // The next tick finishes them.
      const fast = createRunner({
        driver: driver,
        schema,
        workers: [defineWorker('slow', async () => {})],
      });
      expect((await fast.tick({ budgetMs: 5000 })).completed).toBe(5);
    });

    it('fails an attempt that hangs past its timeout ignoring the signal, and still ends by the deadline', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        finishReserveMs: 500,
        leaseMarginMs: 1000,
        workers: [defineWorker('stuck', () => new Promise(() => {}), { timeoutMs: 300 })],
      });
      const { job } = await insert('stuck');
      const started = Date.now();
      const stats = await runner.tick({ budgetMs: 2000, hardDeadline: Date.now() + 3000 });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(stats.retried).toBe(1);
      const [row] = await river.jobs('id = $1', [job.id]);
      expect(row?.state).toBe('retryable');
      expect(row?.errors[0].error).toMatch(/timed out after 300 ms and did not stop when aborted/);
      // It may still be running in this invocation: not before the lease ends (hard + margin).
      expect(row?.scheduled_at.getTime()).toBeGreaterThanOrEqual(started + 3000 + 1000 - 100);
    });

    it('rescues a job whose invocation died, and leaves Go River’s running jobs alone', async () => {
      const expired = `eddy:${Date.now() - 1000}:abc123:dead-runner`;
      const live = `eddy:${Date.now() + 60_000}:def456:live-runner`;
      await river.pool.query(
        `INSERT INTO ${schema}.river_job (kind, args, state, attempt, max_attempts, attempted_at, attempted_by)
       VALUES ('x', '{}', 'running', 1, 5, now(), ARRAY[$1]),
              ('x', '{}', 'running', 5, 5, now(), ARRAY[$1]),
              ('x', '{}', 'running', 1, 5, now(), ARRAY[$2]),
              ('x', '{}', 'running', 1, 5, now() - interval '1 day', ARRAY['go-river-client']),
              ('x', '{}', 'running', 1, 5, now(), ARRAY['eddy:not-a-lease'])`,
        [expired, live],
      );
      const runner = createRunner({ driver: driver, schema, workers: [] });
      const stats = await runner.tick({ budgetMs: 1000 });
      expect(stats.rescued).toBe(2);
      const rows = await river.jobs();
      expect(rows.map((r) => r.state)).toEqual([
        'retryable',
        'discarded',
        'running',
        'running',
        'running',
      ]);
      expect(rows[0]?.errors[0]).toMatchObject({ attempt: 1 });
      expect(rows[0]?.errors[0].error).toMatch(/lease expired.*dead-runner/);
      expect(rows[1]?.finalized_at).toBeInstanceOf(Date);
    });

    it('applies nothing from an attempt that was rescued and claimed again meanwhile', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered!: () => void;
      const running = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [
          defineWorker('racy', async () => {
            entered();
            await gate;
          }),
        ],
      });
      const { job } = await insert('racy');
      const tick = runner.tick({ budgetMs: 10_000 });
      await running;
      // Meanwhile the lease was judged expired and another runner claimed the job again.
      await river.pool.query(
        `UPDATE ${schema}.river_job SET attempt = 2, attempted_by = array_append(attempted_by, 'eddy:${Date.now() + 60_000}:ffff:other') WHERE id = $1`,
        [job.id],
      );
      release();
      const stats = await tick;
      expect(stats).toMatchObject({ claimed: 1, completed: 0, stale: 1 });
      const [row] = await river.jobs('id = $1', [job.id]);
      expect(row).toMatchObject({ state: 'running', attempt: 2, finalized_at: null });
    });

    it('promotes due scheduled jobs and works them in the same tick', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [defineWorker('due', async () => {})],
      });
      await river.pool.query(
        `INSERT INTO ${schema}.river_job (kind, args, state, scheduled_at, max_attempts)
       VALUES ('due', '{}', 'scheduled', now() - interval '1 minute', 25),
              ('due', '{}', 'scheduled', now() + interval '1 hour', 25)`,
      );
      const stats = await runner.tick({ budgetMs: 5000 });
      expect(stats).toMatchObject({ promoted: 1, completed: 1 });
      expect((await river.jobs()).map((r) => r.state)).toEqual(['completed', 'scheduled']);
    });

    it('deletes finalized jobs past retention', async () => {
      await river.pool.query(
        `INSERT INTO ${schema}.river_job (kind, args, state, finalized_at, max_attempts) VALUES
        ('old', '{}', 'completed', now() - interval '25 hours', 25),
        ('new', '{}', 'completed', now() - interval '1 hour', 25),
        ('old', '{}', 'discarded', now() - interval '8 days', 25),
        ('new', '{}', 'discarded', now() - interval '6 days', 25),
        ('old', '{}', 'cancelled', now() - interval '25 hours', 25)`,
      );
      const runner = createRunner({ driver: driver, schema, workers: [] });
      expect((await runner.tick({ budgetMs: 1000 })).deleted).toBe(3);
      expect((await river.jobs()).map((r) => r.kind)).toEqual(['new', 'new']);
    });

    it('costs the same number of statements whatever the batch size', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        batchSize: 1000,
        // Every outcome in the tick's last flush: only the claim could grow with the jobs.
        flushSize: 1000,
        flushDelayMs: 60_000,
        workers: [defineWorker('n', async () => {})],
      });
      const client = createClient({ driver: driver, schema });
      await runner.tick({ budgetMs: 1000 }); // the first tick also registers the queues
      await client.insertMany(Array.from({ length: 10 }, () => ({ kind: 'n', args: {} })));
      const small = await runner.tick({ budgetMs: 10_000 });
      await client.insertMany(Array.from({ length: 900 }, () => ({ kind: 'n', args: {} })));
      const large = await runner.tick({ budgetMs: 10_000 });
      expect(small.completed).toBe(10);
      expect(large.completed).toBe(900);
      expect([large.claims, large.flushes]).toEqual([1, 1]);
      expect(large.statements).toBe(small.statements);
    });

    it('flushes outcomes as they gather, by count and by age, and always before returning', async () => {
      const runner = createRunner({
        driver,
        schema,
        batchSize: 1000,
        concurrency: 5,
        flushSize: 10,
        flushDelayMs: 50,
        workers: [
          defineWorker('quick', async () => {}),
          defineWorker('slow', () => new Promise((r) => setTimeout(r, 400))),
        ],
      });
      const client = createClient({ driver, schema });
      await client.insert('slow', {});
      await client.insertMany(Array.from({ length: 40 }, () => ({ kind: 'quick', args: {} })));
      let runningAt200ms = -1;
      const probe = sleep(200).then(async () => {
        runningAt200ms = (await river.jobs(`state = 'running'`)).length;
      });
      const stats = await runner.tick({ budgetMs: 10_000 });
      await probe;
      expect(stats).toMatchObject({ claimed: 41, completed: 41, claims: 1 });
      // The 40 quick jobs were recorded long before the slow one ended; only it still ran.
      expect(runningAt200ms).toBe(1);
      // Several flushes, but nowhere near one per job: at least 10 outcomes each but the last.
      expect(stats.flushes).toBeGreaterThanOrEqual(2);
      expect(stats.flushes).toBeLessThanOrEqual(6);
      expect((await river.jobs(`state = 'completed'`)).length).toBe(41);
    });

    it('works jobs inserted the way Go River inserts them', async () => {
      // River's JobInsertFastMany shape: explicit state, tags, metadata, no unique key.
      await river.pool.query(
        `INSERT INTO ${schema}.river_job (args, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
       VALUES ('{"name": "gopher"}', 'greet', 25, '{}', 1, 'default', now(), 'available', '{}')`,
      );
      const names: string[] = [];
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [defineWorker(greet, async (job) => void names.push(job.args.name))],
      });
      await runner.tick({ budgetMs: 5000 });
      expect(names).toEqual(['gopher']);
    });

    it('lets workers insert follow-up jobs', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [
          defineWorker('parent', async (job, ctx) => {
            await ctx.client.insert('child', { from: String(job.id) });
          }),
        ],
      });
      const { job } = await insert('parent');
      await runner.tick({ budgetMs: 5000 });
      const [child] = await river.jobs(`kind = 'child'`);
      expect(child?.args).toEqual({ from: String(job.id) });
      expect(child?.state).toBe('available');
    });

    it('enqueues a periodic slot once, and stops spending a statement on it once stored', async () => {
      // A maintenance-only runner: the kind is worked elsewhere (Go River, another deployment).
      const periodic = [
        definePeriodicJob({ kind: 'hourly', schedule: '0 * * * *', workedElsewhere: true }),
      ];
      const first = createRunner({ driver, schema, periodic, workers: [] });
      const a = await first.tick({ budgetMs: 1000 });
      const b = await first.tick({ budgetMs: 1000 });
      const other = createRunner({ driver, schema, periodic, workers: [] });
      const c = await other.tick({ budgetMs: 1000 });
      expect([a.periodicEnqueued, b.periodicEnqueued, c.periodicEnqueued]).toEqual([1, 0, 0]);
      // The first tick also registered its queues; the second skips the known slot.
      expect(b.statements).toBe(a.statements - 2);
      const rows = await river.jobs(`kind = 'hourly'`);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.metadata).toMatchObject({ periodic: 'hourly' });
    });

    it('stops at maxJobs', async () => {
      const runner = createRunner({
        driver: driver,
        schema,
        workers: [defineWorker('m', async () => {})],
      });
      const client = createClient({ driver: driver, schema });
      await client.insertMany(Array.from({ length: 7 }, () => ({ kind: 'm', args: {} })));
      expect((await runner.tick({ budgetMs: 5000, maxJobs: 3 })).completed).toBe(3);
      expect((await river.jobs(`state = 'available'`)).length).toBe(4);
    });
  });
}

void sleep;
