/**
 * Reliability of the tick runner against the real PostgreSQL when its connection is cut
 * mid-statement: through a TCP proxy (before or after the statement reaches the server) and by
 * pg_terminate_backend. Every test asserts what ended up in the database.
 */

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { createClient } from '../src/client.js';
import { schemaPrefix } from '../src/driver/schema-name.js';
import { TickError } from '../src/errors.js';
import { claimJobsText } from '../src/ops/claim-jobs.js';
import { recordOutcomesTexts } from '../src/ops/record-outcomes.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { DATABASE_URL } from './support/postgres.js';
import { lastOf, leaseOf, runnerOf, sleep, useReliabilitySchema } from './support/reliability.js';
import type { RiverSchema } from './support/river.js';
import { startTcpProxy } from './support/tcp-proxy.js';

describe('tick runner reliability', () => {
  let river: RiverSchema;
  let schema: string;

  useReliabilitySchema('connection', (created) => {
    river = created;
    schema = created.schema;
  });

  describe('a connection cut mid-statement', () => {
    const leaseMarginMs = 200;
    /** A tick whose lease ends 1.2 s from now. */
    const shortLease = () => ({ budgetMs: 800, hardDeadline: Date.now() + 1000 });
    const rejection = (promise: Promise<unknown>) =>
      promise.then(
        () => expect.unreachable('the tick should have failed'),
        (error: unknown) => error as TickError,
      );
    const claimMarker = () => claimJobsText(schemaPrefix(schema));
    /** Every statement that records outcomes (the runner picks one per batch). */
    const recordMarker = () => recordOutcomesTexts(schemaPrefix(schema));
    const claimMessage =
      /^tick: claiming jobs failed \(node-postgres: .+\); any jobs it may have claimed stay running until their lease passes at (\S+Z) and the next tick rescues them$/;
    const recordMessage =
      /^tick: recording the outcomes of 3 jobs failed \(node-postgres: .+\); they stay running until their lease passes at (\S+Z) and the next tick rescues them$/;

    /** The armed cut happened (it does before the tick settles, or never). */
    const cutDone = async (cut: Promise<void>) =>
      expect(await Promise.race([cut.then(() => true), sleep(2000).then(() => false)])).toBe(true);

    /** A runner on its own pool; its worker counts executions per job. */
    function cutRunner(url: string, id: string, applicationName?: string) {
      const pool = new pg.Pool({
        connectionString: url,
        max: 4,
        ...(applicationName ? { application_name: applicationName } : {}),
      });
      pool.on('error', () => undefined);
      const runs = new Map<string, number>();
      let during: (job: { id: bigint }) => Promise<void> = async () => {};
      const runner = createRunner({
        driver: nodePostgres(pool),
        schema,
        id,
        leaseMarginMs,
        workers: [
          defineWorker('cut', async (job) => {
            runs.set(String(job.id), (runs.get(String(job.id)) ?? 0) + 1);
            await during(job);
          }),
        ],
      });
      return {
        pool,
        runner,
        runs,
        /** Runs inside every execution. */
        during(fn: (job: { id: bigint }) => Promise<void>) {
          during = fn;
        },
      };
    }

    const insertCut = async (n: number) =>
      (
        await createClient({ driver: river.driver, schema }).insertMany(
          Array.from({ length: n }, () => ({ kind: 'cut', args: {} })),
        )
      ).map((r) => String(r.job.id));

    /** After the running jobs' lease: rescue them, then (backoff skipped) finish them. */
    async function rescueAndFinish(runner: ReturnType<typeof createRunner>, ids: string[]) {
      const running = await river.jobs(`state = 'running'`);
      const lease = Math.max(...running.map((r) => leaseOf(lastOf(r.attempted_by))));
      await sleep(lease - Date.now() + 20);
      const rescue = await runner.tick({ budgetMs: 2000 });
      expect(rescue.rescued).toBe(ids.length);
      await river.pool.query(
        `UPDATE ${schema}.river_job SET scheduled_at = now() WHERE state = 'retryable'`,
      );
      const finish = await runner.tick({ budgetMs: 2000 });
      expect(finish).toMatchObject({ completed: ids.length, errors: [] });
      for (const row of await river.jobs('id = ANY($1::int8[])', [ids])) {
        expect(row).toMatchObject({ state: 'completed', attempt: 2 });
        expect(row.errors).toHaveLength(1);
        expect(row.errors[0].error).toMatch(/^lease expired: .*; rescued$/);
      }
    }

    it('claim lost on the way to the server: nothing claimed, the next tick carries on', async () => {
      const proxy = await startTcpProxy(DATABASE_URL);
      const { pool, runner, runs } = cutRunner(proxy.url, 'cut-claim-before');
      try {
        await insertCut(3);
        const cut = proxy.cutOn({ marker: claimMarker(), when: 'before', refuseAfter: true });
        const error = await rejection(runner.tick(shortLease()));
        await cutDone(cut);
        expect(error).toBeInstanceOf(TickError);
        expect(error.message).toMatch(claimMessage);
        expect(error.stats.claimed).toBe(0);
        const rows = await river.jobs();
        expect(rows.map((r) => [r.state, r.attempt])).toEqual([
          ['available', 0],
          ['available', 0],
          ['available', 0],
        ]);
        proxy.restore();
        expect(await runner.tick(shortLease())).toMatchObject({ completed: 3, errors: [] });
        expect([...runs.values()]).toEqual([1, 1, 1]);
      } finally {
        await pool.end();
        await proxy.close();
      }
    });

    it('claim committed but its reply lost: the jobs wait out their lease, then are rescued and finished', async () => {
      const proxy = await startTcpProxy(DATABASE_URL);
      const { pool, runner, runs } = cutRunner(proxy.url, 'cut-claim-after');
      try {
        const ids = await insertCut(3);
        const cut = proxy.cutOn({ marker: claimMarker(), when: 'after' });
        const error = await rejection(runner.tick(shortLease()));
        await cutDone(cut);
        expect(error.message).toMatch(claimMessage);
        const rescueAt = Date.parse(claimMessage.exec(error.message)?.[1] as string);
        const rows = await river.jobs();
        expect(rows.map((r) => r.state)).toEqual(['running', 'running', 'running']);
        for (const row of rows) {
          expect(runnerOf(lastOf(row.attempted_by))).toBe('cut-claim-after');
          expect(Math.abs(leaseOf(lastOf(row.attempted_by)) - rescueAt)).toBeLessThan(200);
        }
        // The next tick carries on with other work and leaves the leased jobs alone.
        const [other] = await insertCut(1);
        expect(await runner.tick(shortLease())).toMatchObject({
          claimed: 1,
          completed: 1,
          rescued: 0,
          errors: [],
        });
        expect(runs.get(other as string)).toBe(1);
        expect(Date.now()).toBeLessThan(rescueAt);
        await rescueAndFinish(runner, ids);
        // Claimed twice, run once: the lost claim never ran them.
        expect(ids.map((id) => runs.get(id))).toEqual([1, 1, 1]);
      } finally {
        await pool.end();
        await proxy.close();
      }
    });

    it('outcomes lost on the way to the server: TickError saying when they are rescued', async () => {
      const proxy = await startTcpProxy(DATABASE_URL);
      const { pool, runner, runs } = cutRunner(proxy.url, 'cut-record-before');
      try {
        const ids = await insertCut(3);
        const cut = proxy.cutOn({ marker: recordMarker(), when: 'before', refuseAfter: true });
        const error = await rejection(runner.tick(shortLease()));
        await cutDone(cut);
        expect(error).toBeInstanceOf(TickError);
        expect(error.message).toMatch(recordMessage);
        expect(error.stats).toMatchObject({ claimed: 3, completed: 0 });
        const rescueAt = Date.parse(recordMessage.exec(error.message)?.[1] as string);
        const rows = await river.jobs();
        expect(rows.map((r) => r.state)).toEqual(['running', 'running', 'running']);
        for (const row of rows) {
          expect(Math.abs(leaseOf(lastOf(row.attempted_by)) - rescueAt)).toBeLessThan(200);
        }
        proxy.restore();
        // Within the lease nothing runs them again.
        expect(await runner.tick(shortLease())).toMatchObject({ claimed: 0, rescued: 0 });
        await rescueAndFinish(runner, ids);
        // The first run's result was lost, so it ran again after its lease.
        expect(ids.map((id) => runs.get(id))).toEqual([2, 2, 2]);
      } finally {
        await pool.end();
        await proxy.close();
      }
    });

    it('outcomes applied but the reply lost: the retry changes nothing and the jobs stay completed', async () => {
      const proxy = await startTcpProxy(DATABASE_URL);
      const { pool, runner, runs } = cutRunner(proxy.url, 'cut-record-after');
      try {
        await insertCut(3);
        const cut = proxy.cutOn({ marker: recordMarker(), when: 'after' });
        const stats = await runner.tick(shortLease());
        await cutDone(cut);
        expect(stats.claimed).toBe(3);
        // The retry cannot tell its own first try from a rescue: applied results count as stale.
        expect(stats.completed + stats.stale).toBe(3);
        const rows = await river.jobs();
        expect(rows.map((r) => [r.state, r.attempt, r.errors])).toEqual([
          ['completed', 1, null],
          ['completed', 1, null],
          ['completed', 1, null],
        ]);
        expect([...runs.values()]).toEqual([1, 1, 1]);
      } finally {
        await pool.end();
        await proxy.close();
      }
    });

    /**
     * Terminates `times` backends of `applicationName`, each once it waits on a lock. A backend
     * being terminated may still be listed: each pid counts once.
     */
    async function terminateWhenBlocked(applicationName: string, times: number) {
      const terminated = new Set<number>();
      for (let i = 0; terminated.size < times && i < 500; i++) {
        const { rows } = await river.pool.query(
          `SELECT pid FROM pg_stat_activity
           WHERE application_name = $1 AND wait_event_type = 'Lock' AND NOT pid = ANY($2::int[])`,
          [applicationName, [...terminated]],
        );
        for (const { pid } of rows) {
          await river.pool.query('SELECT pg_terminate_backend($1)', [pid]);
          terminated.add(pid);
        }
        if (rows.length === 0) await sleep(10);
      }
      expect(terminated.size, 'blocked backends terminated').toBe(times);
    }

    it('pg_terminate_backend on the claiming connection: TickError, then the next tick works', async () => {
      const app = `eddy-cut-claim-${process.pid}`;
      const { pool, runner, runs } = cutRunner(DATABASE_URL, 'terminated-claim', app);
      const blocker = await river.pool.connect();
      try {
        await runner.tick({ budgetMs: 500 }); // registers the queue
        await insertCut(3);
        // The claim reads river_queue (paused queues): it waits for this lock until terminated.
        await blocker.query(`BEGIN; LOCK TABLE ${schema}.river_queue IN ACCESS EXCLUSIVE MODE`);
        const failed = rejection(runner.tick(shortLease()));
        await terminateWhenBlocked(app, 1).finally(() => blocker.query('ROLLBACK'));
        const error = await failed;
        expect(error.message).toMatch(claimMessage);
        expect(error.message).toMatch(/terminating connection due to administrator command/);
        expect((await river.jobs()).map((r) => r.state)).toEqual([
          'available',
          'available',
          'available',
        ]);
        expect(await runner.tick(shortLease())).toMatchObject({ completed: 3, errors: [] });
        expect([...runs.values()]).toEqual([1, 1, 1]);
      } finally {
        blocker.release();
        await pool.end();
      }
    });

    it('pg_terminate_backend on the recording connection, twice: TickError, rescue after the lease', async () => {
      const app = `eddy-cut-record-${process.pid}`;
      const { pool, runner, runs, during } = cutRunner(DATABASE_URL, 'terminated-record', app);
      const blocker = await river.pool.connect();
      try {
        const ids = await insertCut(3);
        // While the batch runs, another transaction locks one job's row, so recording waits.
        let locked = false;
        during(async (job) => {
          if (locked) return;
          locked = true;
          await blocker.query('BEGIN');
          await blocker.query(`SELECT 1 FROM ${schema}.river_job WHERE id = $1 FOR UPDATE`, [
            String(job.id),
          ]);
        });
        const failed = rejection(runner.tick(shortLease()));
        // The first try and its retry.
        await terminateWhenBlocked(app, 2).finally(() => blocker.query('ROLLBACK'));
        const error = await failed;
        expect(error.message).toMatch(recordMessage);
        expect(error.message).toMatch(/terminating connection due to administrator command/);
        during(async () => {});
        expect((await river.jobs()).map((r) => r.state)).toEqual(['running', 'running', 'running']);
        const [other] = await insertCut(1);
        expect(await runner.tick(shortLease())).toMatchObject({
          claimed: 1,
          completed: 1,
          errors: [],
        });
        expect(runs.get(other as string)).toBe(1);
        await rescueAndFinish(runner, ids);
        expect(ids.map((id) => runs.get(id))).toEqual([2, 2, 2]);
      } finally {
        blocker.release();
        await pool.end();
      }
    });
  });
});
