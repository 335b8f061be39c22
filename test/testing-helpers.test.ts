/**
 * eddy/testing against the real PostgreSQL (and through Neon HTTP): requireInserted and friends
 * read what an insert wrote (and what a Go-style insert wrote), and runUntilIdle with a test
 * clock works a job through a failure and its retry without sleeping.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../src/client.js';
import { Database } from '../src/driver/database.js';
import { defineJobKind } from '../src/job-kind.js';
import { migrate } from '../src/migrate.js';
import { createRunner } from '../src/runner/runner.js';
import {
  requireInserted,
  requireManyInserted,
  requireNotInserted,
  TestAssertionError,
} from '../src/testing/require-inserted.js';
import { runUntilIdle } from '../src/testing/run-until-idle.js';
import { createTestClock } from '../src/testing/test-clock.js';
import { defineWorker } from '../src/worker.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { uniqueName } from './support/postgres.js';

const sendEmail = defineJobKind({
  kind: 'send_email',
  args: z.object({ to: z.string() }),
  queue: 'email',
  maxAttempts: 3,
});

const setups = selectedSetups().filter((s) =>
  /^(node-postgres \(Pool\)|neon-http|pglite)/.test(s.name),
);

for (const setup of setups) {
  describe(`eddy/testing: ${setup.name}`, () => {
    let open: OpenDriver;
    let db: Database;
    const schema = uniqueName('tst');

    beforeAll(async () => {
      open = await setup.open();
      db = new Database(open.driver);
      await db.query(`CREATE SCHEMA ${schema}`);
      await migrate(open.driver, { schema });
    });
    afterAll(async () => {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
      await open.close();
    });
    beforeEach(async () => {
      await db.query(`DELETE FROM ${schema}.river_job`);
    });

    it('requireInserted reads the jobs in the database, whoever inserted them', async () => {
      const source = { driver: open.driver, schema };
      await requireNotInserted(source, sendEmail);
      const client = createClient({ driver: open.driver, schema });
      const { job } = await client.insert(sendEmail, { to: 'ada@example.com' }, { priority: 3 });
      const found = await requireInserted(source, sendEmail, {
        args: { to: 'ada@example.com' },
        queue: 'email',
        priority: 3,
        maxAttempts: 3,
        state: 'available',
        scheduledAt: job.scheduledAt,
      });
      expect(found.id).toBe(job.id);
      await expect(requireInserted(source, sendEmail, { state: 'completed' })).rejects.toThrow(
        TestAssertionError,
      );
      await requireNotInserted(source, sendEmail, { args: { to: 'bob@example.com' } });
      // As Go River inserts (no Eddy client involved).
      await db.query(
        `INSERT INTO ${schema}.river_job (args, kind, max_attempts, queue, state)
         VALUES ('{"n": 1}', 'go_job', 25, 'default', 'available')`,
      );
      await requireManyInserted(source, [{ kind: sendEmail }, { kind: 'go_job', args: { n: 1 } }]);
    });

    it('runUntilIdle works what is due; the test clock brings a retry due without sleeping', async () => {
      const clock = createTestClock();
      let attempts = 0;
      const runner = createRunner({
        driver: open.driver,
        schema,
        now: clock.now,
        queues: { email: {} },
        workers: [
          defineWorker(sendEmail, () => {
            attempts++;
            if (attempts === 1) throw new Error('first try fails');
          }),
        ],
      });
      const client = createClient({ driver: open.driver, schema, now: clock.now });
      const { job } = await client.insert(sendEmail, { to: 'ada@example.com' });
      const first = await runUntilIdle(runner);
      expect(first.stats).toMatchObject({ claimed: 1, retried: 1, completed: 0 });
      const retried = await requireInserted({ driver: open.driver, schema }, sendEmail, {
        state: 'retryable',
      });
      expect(retried.scheduledAt.getTime()).toBeGreaterThan(clock.now().getTime());
      // Not due yet on the test clock, however long the test takes.
      expect((await runUntilIdle(runner)).stats.claimed).toBe(0);
      clock.advance(60_000);
      const second = await runUntilIdle(runner);
      expect(second.stats).toMatchObject({ promoted: 1, claimed: 1, completed: 1 });
      expect(second.ticks).toBe(2);
      const done = await requireInserted({ driver: open.driver, schema }, sendEmail, {
        state: 'completed',
      });
      expect(done.id).toBe(job.id);
      expect(attempts).toBe(2);
    });
  });
}
