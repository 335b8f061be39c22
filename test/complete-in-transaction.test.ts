/**
 * Transactional completion (River's JobCompleteTx): a worker completes its own job inside its
 * own transaction, fenced by its claim, through every driver that has one and through Neon
 * HTTP's `sql.transaction([...])`. The rows are checked as River leaves them.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { neonComplete } from '../adapters/neon-http/index.js';
import { createClient } from '../src/client.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker, type WorkerContext } from '../src/worker.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { type RiverSchema, riverSchema } from './support/river.js';

for (const setup of selectedSetups().filter((s) => s.sharedServer)) {
  describe(`completing a job in the worker's transaction: ${setup.name}`, () => {
    let river: RiverSchema;
    let schema: string;
    let open: OpenDriver;

    beforeAll(async () => {
      river = await riverSchema('ctx');
      schema = river.schema;
      await river.pool.query(`CREATE TABLE ${schema}.charges (order_id text PRIMARY KEY)`);
      open = await setup.open();
    });
    afterAll(async () => {
      await open.close();
      await river.close();
    });
    beforeEach(async () => {
      await river.pool.query(`DELETE FROM ${schema}.river_job; DELETE FROM ${schema}.charges`);
    });

    /** The user's own write and the job's completion, in one transaction of this driver's kind. */
    async function chargeAndComplete(orderId: string, ctx: WorkerContext, output?: unknown) {
      const insert = `INSERT INTO ${schema}.charges (order_id) VALUES ('${orderId}')`;
      if (open.userTransaction) {
        await open.userTransaction(async (tx, run) => {
          await run(insert);
          await ctx.completeWith(tx, output);
        });
      } else if (open.neonSql) {
        const sql = open.neonSql;
        await sql.transaction([
          sql.query(insert),
          neonComplete(sql, ctx.prepareComplete(output)).query,
        ]);
      } else {
        throw new Error(`${setup.name} has no transaction to complete in`);
      }
    }

    /** Takes the job's lease away, as a rescue and a claim by another runner would. */
    const stealLease = (id: bigint) =>
      river.pool.query(
        `UPDATE ${schema}.river_job SET attempted_by[cardinality(attempted_by)] = 'eddy:1:0badc0ffee00:thief' WHERE id = $1`,
        [id],
      );

    it('commits the worker’s write and the completion together, with its output', async () => {
      const runner = createRunner({
        driver: open.driver,
        schema,
        workers: [
          defineWorker('charge', async (job, ctx) => {
            await chargeAndComplete(String(job.args.orderId), ctx, { receipt: 'r-1' });
          }),
        ],
      });
      const { job } = await createClient({ driver: open.driver, schema }).insert('charge', {
        orderId: 'o-1',
      });
      const stats = await runner.tick({ budgetMs: 10_000 });
      expect(stats).toMatchObject({ claimed: 1, completed: 1, stale: 0, retried: 0 });
      const [row] = await river.jobs();
      expect(row).toMatchObject({
        id: String(job.id),
        state: 'completed',
        attempt: 1,
        errors: null,
      });
      expect(row?.finalized_at).toBeInstanceOf(Date);
      expect(row?.metadata).toEqual({ output: { receipt: 'r-1' } });
      const charges = await river.pool.query(`SELECT order_id FROM ${schema}.charges`);
      expect(charges.rows).toEqual([{ order_id: 'o-1' }]);
    });

    it('refuses to commit when the attempt no longer holds its job: the worker’s write is undone', async () => {
      let thrown: unknown;
      const runner = createRunner({
        driver: open.driver,
        schema,
        workers: [
          defineWorker('charge', async (job, ctx) => {
            await stealLease(job.id);
            try {
              await chargeAndComplete(String(job.args.orderId), ctx);
            } catch (error) {
              thrown = error;
              throw error;
            }
          }),
        ],
      });
      await createClient({ driver: open.driver, schema }).insert('charge', { orderId: 'o-2' });
      const stats = await runner.tick({ budgetMs: 10_000 });
      expect(String(thrown)).toMatch(/is no longer held by this attempt/);
      // Nothing of this attempt is recorded: the job belongs to the "thief" now.
      expect(stats).toMatchObject({ claimed: 1, completed: 0, stale: 1 });
      const [row] = await river.jobs();
      expect(row).toMatchObject({ state: 'running', errors: null });
      expect(row?.attempted_by.at(-1)).toBe('eddy:1:0badc0ffee00:thief');
      const charges = await river.pool.query(`SELECT order_id FROM ${schema}.charges`);
      expect(charges.rows).toEqual([]);
    });

    // Neon HTTP's batch cannot roll back after the completion succeeded: only interactive drivers.
    const interactive = setup.name !== 'neon-http';
    if (interactive)
      it('a completion whose transaction rolled back is completed by the runner when the worker returns, as River does', async () => {
        const userTransaction = open.userTransaction as NonNullable<OpenDriver['userTransaction']>;
        const runner = createRunner({
          driver: open.driver,
          schema,
          workers: [
            defineWorker('charge', async (_job, ctx) => {
              await userTransaction(async (tx) => {
                await ctx.completeWith(tx);
                throw new Error('the rest of the transaction failed');
              }).catch(() => undefined);
              return { retried: 'elsewhere' };
            }),
          ],
        });
        await createClient({ driver: open.driver, schema }).insert('charge', { orderId: 'o-3' });
        const stats = await runner.tick({ budgetMs: 10_000 });
        expect(stats).toMatchObject({ claimed: 1, completed: 1, stale: 0 });
        const [row] = await river.jobs();
        expect(row).toMatchObject({
          state: 'completed',
          metadata: { output: { retried: 'elsewhere' } },
        });
      });

    it('refuses bad input before the database', async () => {
      const problems: string[] = [];
      const runner = createRunner({
        driver: open.driver,
        schema,
        workers: [
          defineWorker('charge', async (_job, ctx) => {
            for (const attempt of [
              () => ctx.completeWith(undefined as never),
              () => ctx.completeWith(open.driver, { big: 1n << 70n, self: globalThis }),
            ]) {
              await attempt().catch((error: Error) => problems.push(error.message));
            }
          }),
        ],
      });
      await createClient({ driver: open.driver, schema }).insert('charge', { orderId: 'o-4' });
      await runner.tick({ budgetMs: 10_000 });
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/ctx\.completeWith: tx must be an Eddy driver/);
      expect(problems[1]).toMatch(/output/);
      // The worker returned: completed by the runner, nothing half-written.
      expect((await river.jobs())[0]).toMatchObject({ state: 'completed', metadata: {} });
    });
  });
}
