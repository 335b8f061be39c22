/**
 * Transactional enqueue inside Drizzle and Kysely transactions (over node-postgres), against the
 * real PostgreSQL: the job commits and rolls back with the user's own writes. Then the values
 * each builder's driver parses before Eddy sees them, as the adapters' doc comments state (the
 * rest of what they hand over is held by test/conformance.test.ts).
 */

import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, sql as ksql, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { drizzleTx } from '../adapters/drizzle/index.js';
import { kyselyTx } from '../adapters/kysely/index.js';
import { createClient } from '../src/client.js';
import { Database } from '../src/driver/database.js';
import { defineJobKind } from '../src/job-kind.js';
import {
  type DriverSetup,
  drizzleNeonWebSocket,
  drizzleNodePostgres,
  kyselyNodePostgres,
  type OpenDriver,
} from './support/drivers.js';
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
        return eddy.with(drizzleTx(tx)).insert(notify, { orderId: 7 });
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
          await eddy.with(drizzleTx(tx)).insert(notify, { orderId: 1 });
          const dup = await eddy.with(drizzleTx(tx)).insert(notify, { orderId: 1 });
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
        const first = await eddy.with(kyselyTx(trx)).insert(notify, { orderId: 9 });
        const dup = await eddy.with(kyselyTx(trx)).insert(notify, { orderId: 9 });
        expect(dup).toMatchObject({ skipped: true, job: { id: first.job.id } });
        return first;
      });
      expect(result.job.args).toEqual({ orderId: 9 });
      // Kysely's rows carry no column types; the client converts what it reads all the same.
      expect(typeof result.job.id).toBe('bigint');
      expect(result.job.scheduledAt).toBeInstanceOf(Date);
      expect(await count('notify_customer')).toBe(1);

      await expect(
        db.transaction().execute(async (trx) => {
          await eddy.with(kyselyTx(trx)).insert(notify, { orderId: 10 });
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await count('notify_customer')).toBe(1);
    });
  });
});

const BIG = 2n ** 62n + 12345n; // far beyond Number.MAX_SAFE_INTEGER

/** A `Database` over a builder setup (each call in a builder transaction of its own). */
function openDatabase(setup: DriverSetup) {
  let open: OpenDriver | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    open = await setup.open();
    db = new Database(open.driver);
  });
  afterAll(() => open?.close());
  return () => db as Database;
}

for (const setup of [drizzleNodePostgres, drizzleNeonWebSocket]) {
  describe(`values node-postgres parsed before Eddy decodes the rest: ${setup.name}`, () => {
    const db = openDatabase(setup);

    it('hands over int8[] elements as strings, exact beyond 2^53', async () => {
      const { rows } = await db().query('SELECT ARRAY[1, $1::int8] AS list, $1::int8 AS one', [
        BIG,
      ]);
      expect(rows[0]).toEqual({ list: ['1', String(BIG)], one: BIG });
    });

    it('parses a jsonb string a second time, after node-postgres unquoted it', async () => {
      const { rows } = await db().query(`SELECT '"123"'::jsonb AS n, '{"s":"123"}'::jsonb AS doc`);
      expect(rows[0]).toEqual({ n: 123, doc: { s: '123' } });
      await expect(db().query(`SELECT '"abc"'::jsonb AS s`)).rejects.toMatchObject({
        name: 'DatabaseError',
        cause: expect.any(SyntaxError),
      });
    });
  });
}

describe(`values as node-postgres parsed them, rows without column types: ${kyselyNodePostgres.name}`, () => {
  const db = openDatabase(kyselyNodePostgres);

  it('hands over int8 and int8[] as strings, exact beyond 2^53', async () => {
    const { rows } = await db().query(
      'SELECT $1::int8 AS v, $1::int8 + 1 AS next, ARRAY[1, $1::int8] AS list',
      [BIG],
    );
    expect(rows[0]).toEqual({ v: String(BIG), next: String(BIG + 1n), list: ['1', String(BIG)] });
  });

  it('runs a batch in order, one result per statement, its int8 as strings', async () => {
    const results = await db().batch([
      { text: 'SELECT $1::int8 AS n', params: [1n] },
      { text: 'SELECT $1::int8 AS n', params: [2n] },
      { text: 'SELECT 3::int AS c' },
    ]);
    expect(results.map((r) => r.rows[0])).toEqual([{ n: '1' }, { n: '2' }, { c: 3 }]);
  });

  it("hands over timestamps and dates as Dates to the millisecond, never the server's text", async () => {
    const { rows } = await db().query(
      `SELECT $1::timestamptz AS tz, $1::timestamptz AT TIME ZONE 'UTC' AS ts, '2026-01-02'::date AS d`,
      ['2026-01-02T03:04:05.678912Z'],
    );
    expect(rows[0]).toEqual({
      tz: new Date('2026-01-02T03:04:05.678Z'),
      // Without a time zone, read in the process's own: Date's local-time constructor.
      ts: new Date(2026, 0, 2, 3, 4, 5, 678),
      d: new Date(2026, 0, 2),
    });
  });
});
