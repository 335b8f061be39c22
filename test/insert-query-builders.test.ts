/**
 * Transactional enqueue inside Drizzle and Kysely transactions (over node-postgres), against the
 * real PostgreSQL: the job commits and rolls back with the user's own writes.
 */

import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, sql as ksql, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { drizzleTx } from '../adapters/drizzle/index.js';
import { kyselyTx } from '../adapters/kysely/index.js';
import { createClient } from '../src/client.js';
import { defineJobKind } from '../src/job-kind.js';
import { type RiverSchema, riverSchema } from './support/river.js';

const notify = defineJobKind({
  kind: 'notify_customer',
  args: z.object({ orderId: z.number().int() }),
  unique: { byArgs: true },
});

describe('enqueue inside query-builder transactions', () => {
  let river: RiverSchema;
  const count = async (kind: string) =>
    Number(
      (
        await river.pool.query(
          `SELECT count(*)::int AS c FROM ${river.schema}.river_job WHERE kind = $1`,
          [kind],
        )
      ).rows[0].c,
    );

  beforeAll(async () => {
    river = await riverSchema('qb');
  });
  afterAll(() => river.close());
  beforeEach(async () => {
    await river.pool.query(`DELETE FROM ${river.schema}.river_job`);
  });

  describe('Drizzle', () => {
    it('commits the job with the user’s write, returning the row', async () => {
      const db = drizzle(river.pool);
      const eddy = createClient({ driver: river.driver, schema: river.schema, kinds: [notify] });
      const result = await db.transaction(async (tx) => {
        await tx.execute(
          sql.raw(`INSERT INTO ${river.schema}.river_job (kind, args) VALUES ('user_write', '{}')`),
        );
        return eddy.insertTx(drizzleTx(tx), notify, { orderId: 7 });
      });
      expect(result.skipped).toBe(false);
      expect(typeof result.job.id).toBe('bigint');
      expect(result.job.scheduledAt).toBeInstanceOf(Date);
      expect(result.job.args).toEqual({ orderId: 7 });
      expect(await count('notify_customer')).toBe(1);
      expect(await count('user_write')).toBe(1);
    });

    it('rolls the job back with the transaction, and a duplicate does not abort it', async () => {
      const db = drizzle(river.pool);
      const eddy = createClient({ driver: river.driver, schema: river.schema, kinds: [notify] });
      await expect(
        db.transaction(async (tx) => {
          await eddy.insertTx(drizzleTx(tx), notify, { orderId: 1 });
          const dup = await eddy.insertTx(drizzleTx(tx), notify, { orderId: 1 });
          expect(dup.skipped).toBe(true);
          await tx.execute(
            sql.raw(
              `INSERT INTO ${river.schema}.river_job (kind, args) VALUES ('user_write', '{}')`,
            ),
          );
          throw new Error('payment declined');
        }),
      ).rejects.toThrow('payment declined');
      expect(await count('notify_customer')).toBe(0);
      expect(await count('user_write')).toBe(0);
    });
  });

  describe('Kysely', () => {
    it('commits the job with the user’s write, and rolls back with it', async () => {
      const db = new Kysely<Record<string, never>>({
        dialect: new PostgresDialect({ pool: river.pool }),
      });
      const eddy = createClient({ driver: river.driver, schema: river.schema, kinds: [notify] });
      const result = await db.transaction().execute(async (trx) => {
        await ksql
          .raw(`INSERT INTO ${river.schema}.river_job (kind, args) VALUES ('user_write', '{}')`)
          .execute(trx);
        const first = await eddy.insertTx(kyselyTx(trx), notify, { orderId: 9 });
        const dup = await eddy.insertTx(kyselyTx(trx), notify, { orderId: 9 });
        expect(dup).toMatchObject({ skipped: true, job: { id: first.job.id } });
        return first;
      });
      expect(result.job.args).toEqual({ orderId: 9 });
      expect(await count('notify_customer')).toBe(1);

      await expect(
        db.transaction().execute(async (trx) => {
          await eddy.insertTx(kyselyTx(trx), notify, { orderId: 10 });
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await count('notify_customer')).toBe(1);
    });
  });
});
