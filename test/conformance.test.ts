/**
 * One suite, every adapter: what goes in comes back the same, batches are atomic, transactions
 * commit and roll back, and errors carry the SQLSTATE with the driver's error as `cause`.
 * The query-builder adapters run it too, each call in a builder transaction of its own; where
 * a builder hands over rows without column types (`untypedResults`), the tests of Eddy's
 * decoding are not run for it here; what it delivers instead is pinned in
 * test/insert-query-builders.test.ts.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/driver/database.js';
import type { Driver } from '../src/driver/driver.js';
import { DatabaseError, UnsupportedError } from '../src/errors.js';
import { builderSetups, driverSetups, type OpenDriver, selectedSetups } from './support/drivers.js';
import { uniqueName } from './support/postgres.js';

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const BIG = 2n ** 62n + 12345n; // far beyond Number.MAX_SAFE_INTEGER

for (const setup of selectedSetups([...driverSetups, ...builderSetups])) {
  describe(`driver conformance: ${setup.name}`, () => {
    let driver: Driver;
    let db: Database;
    let close: () => Promise<void>;
    let userTransaction: OpenDriver['userTransaction'];
    const schema = uniqueName('conf');
    const table = `${schema}.items`;

    beforeAll(async () => {
      ({ driver, close, userTransaction } = await setup.open());
      db = new Database(driver);
      await db.query(`CREATE SCHEMA ${schema}`);
      await db.query(
        `CREATE TABLE ${table} (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, n int8)`,
      );
    });
    afterAll(async () => {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
      await close();
    });

    // Eddy decodes a value only when the driver says its column type.
    // Tests of Eddy's own decoding: not registered for an adapter whose rows arrive untyped
    // (what it delivers instead is pinned in test/insert-query-builders.test.ts).
    const decoded = (name: string, fn: () => Promise<void>) => {
      if (setup.untypedResults !== true) it(name, fn);
    };

    decoded('round-trips int8 beyond 2^53 as bigint, both ways', async () => {
      const { rows } = await db.query('SELECT $1::int8 AS v, $1::int8 + 1 AS next', [BIG]);
      expect(rows[0]).toEqual({ v: BIG, next: BIG + 1n });
    });

    it('round-trips jsonb documents, including unicode, quotes and nesting', async () => {
      const doc = {
        s: 'quote " backslash \\ emoji 🎉 ünï',
        n: [1, 2.5, -3],
        nested: { ok: true, nil: null },
      };
      const { rows } = await db.query('SELECT $1::jsonb AS v', [doc]);
      expect(rows[0]?.v).toEqual(doc);
    });

    it('round-trips jsonb[] arrays', async () => {
      const docs = [
        { at: '2024-01-01', error: 'boom, "bad"' },
        { attempt: 2, trace: 'a\\nb' },
      ];
      const { rows } = await db.query('SELECT $1::jsonb[] AS v', [docs]);
      expect(rows[0]?.v).toEqual(docs);
    });

    // Not registered for the query builders: their drivers JSON.parse jsonb before Eddy sees it
    // (the adapters' doc comments and README's Drivers section say so).
    const eddyDecodesJsonb = (name: string, fn: () => Promise<void>) => {
      if (!builderSetups.includes(setup)) it(name, fn);
    };
    eddyDecodesJsonb(
      'decodes jsonb and jsonb[] integers beyond 2^53 exactly, as bigint',
      async () => {
        const { rows } = await db.query(
          `SELECT '{"id": 9007199254740993, "n": 9007199254740991, "f": 1.5, "s": "12345678901234567"}'::jsonb AS doc,
           ARRAY['{"attempt": 1, "trace_id": -9223372036854775808}'::jsonb] AS list`,
        );
        expect(rows[0]).toEqual({
          doc: { id: 9007199254740993n, n: 9007199254740991, f: 1.5, s: '12345678901234567' },
          list: [{ attempt: 1, trace_id: -9223372036854775808n }],
        });
      },
    );

    it('round-trips text[] and varchar[] with commas, quotes, backslashes, braces, NULL and empty', async () => {
      const values = ['a', 'b,c', 'd"e', 'f\\g', '{h}', '', 'NULL', null, ' spaced '];
      const { rows } = await db.query('SELECT $1::text[] AS t, $1::varchar[] AS v', [values]);
      expect(rows[0]).toEqual({ t: values, v: values });
    });

    it('round-trips bytea with every byte value', async () => {
      const { rows } = await db.query('SELECT $1::bytea AS v, length($1::bytea) AS len', [
        ALL_BYTES,
      ]);
      expect(rows[0]?.len).toBe(256);
      expect(Array.from(rows[0]?.v as Uint8Array)).toEqual(Array.from(ALL_BYTES));
    });

    it('round-trips bit(8) as its text', async () => {
      const { rows } = await db.query("SELECT $1::bit(8) AS v, B'00000101' AS lit", ['11110101']);
      expect(rows[0]).toEqual({ v: '11110101', lit: '00000101' });
    });

    it('round-trips timestamptz with microseconds', async () => {
      const text = '2026-01-02T03:04:05.678912Z';
      const { rows } = await db.query(
        `SELECT $1::timestamptz AS v, to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS exact, extract(microseconds FROM $1::timestamptz)::int AS micros`,
        [text],
      );
      expect(rows[0]?.exact).toBe(text);
      expect(rows[0]?.micros).toBe(5_678_912);
      expect(rows[0]?.v).toEqual(new Date('2026-01-02T03:04:05.678Z'));
    });

    decoded("hands over the server's timestamp text, all six digits of it", async () => {
      const raw = await driver.query("SELECT $1::timestamptz AT TIME ZONE 'UTC' AS v", [
        '2026-01-02T03:04:05.678912Z',
      ]);
      expect(raw.rows[0]?.[0]).toBe('2026-01-02 03:04:05.678912');
    });

    it('decodes booleans, smallints, NULLs, numeric and Dates passed as parameters', async () => {
      const at = new Date('2025-06-07T08:09:10.123Z');
      const { rows } = await db.query(
        'SELECT $1::bool AS b, $2::int2 AS s, $3::text AS nothing, $4::numeric AS num, $5::timestamptz AS at',
        [true, 32767, null, '12345678901234567890.000000000001', at],
      );
      expect(rows[0]).toEqual({
        b: true,
        s: 32767,
        nothing: null,
        num: '12345678901234567890.000000000001',
        at,
      });
    });

    it('reports rowCount for writes and row-returning statements', async () => {
      const inserted = await db.query(
        `INSERT INTO ${table} (name, n) SELECT 'rc' || g, g FROM generate_series(1, 3) g RETURNING id`,
      );
      expect(inserted.rowCount).toBe(3);
      expect(inserted.rows).toHaveLength(3);
      const deleted = await db.query(`DELETE FROM ${table} WHERE name LIKE 'rc%'`);
      expect(deleted.rowCount).toBe(3);
    });

    decoded('runs a batch in order and returns one result per statement', async () => {
      const results = await db.batch([
        {
          text: `INSERT INTO ${table} (name, n) VALUES ($1, $2) RETURNING n`,
          params: ['batch-a', 1n],
        },
        {
          text: `INSERT INTO ${table} (name, n) VALUES ($1, $2) RETURNING n`,
          params: ['batch-b', 2n],
        },
        { text: `SELECT count(*)::int AS c FROM ${table} WHERE name LIKE 'batch-%'` },
      ]);
      expect(results.map((r) => r.rows[0])).toEqual([{ n: 1n }, { n: 2n }, { c: 2 }]);
    });

    it('rolls the whole batch back when one statement fails', async () => {
      const attempt = db.batch([
        { text: `INSERT INTO ${table} (name) VALUES ($1)`, params: ['atomic-1'] },
        { text: `INSERT INTO ${table} (name) VALUES ($1)`, params: ['atomic-2'] },
        { text: `INSERT INTO ${table} (name) VALUES ($1)`, params: ['atomic-1'] }, // duplicate
      ]);
      await expect(attempt).rejects.toMatchObject({ name: 'DatabaseError', code: '23505' });
      const { rows } = await db.query(
        `SELECT count(*)::int AS c FROM ${table} WHERE name LIKE 'atomic-%'`,
      );
      expect(rows[0]?.c).toBe(0);
    });

    it('keeps SQLSTATE, constraint and the driver error as cause', async () => {
      await db.query(`INSERT INTO ${table} (name) VALUES ('dup')`);
      const error = await db.query(`INSERT INTO ${table} (name) VALUES ('dup')`).catch((e) => e);
      expect(error).toBeInstanceOf(DatabaseError);
      expect(error.code).toBe('23505');
      expect(error.constraint).toBe('items_name_key');
      expect(error.cause).toBeInstanceOf(Error);
      expect(error.cause).not.toBeInstanceOf(DatabaseError);
      const syntax = await db.query('SELEC 1').catch((e) => e);
      expect(syntax.code).toBe('42601');
    });

    it('stays usable after an error', async () => {
      await db.query('SELECT 1/0').catch(() => undefined);
      const { rows } = await db.query('SELECT 2 AS two');
      expect(rows[0]?.two).toBe(2);
    });

    if (setup.name.startsWith('neon-http')) {
      it('refuses interactive transactions and names batch() instead', async () => {
        await expect(db.transaction(async () => 1)).rejects.toBeInstanceOf(UnsupportedError);
        await expect(db.transaction(async () => 1)).rejects.toThrow(/batch\(\)/);
      });
    } else {
      it('commits a transaction', async () => {
        const value = await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (name) VALUES ('tx-commit')`);
          const { rows } = await tx.query(
            `SELECT count(*)::int AS c FROM ${table} WHERE name = 'tx-commit'`,
          );
          return rows[0]?.c;
        });
        expect(value).toBe(1);
        const { rows } = await db.query(
          `SELECT count(*)::int AS c FROM ${table} WHERE name = 'tx-commit'`,
        );
        expect(rows[0]?.c).toBe(1);
      });

      it('rolls a transaction back when the callback throws', async () => {
        const failure = db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (name) VALUES ('tx-rollback')`);
          throw new Error('changed my mind');
        });
        await expect(failure).rejects.toThrow('changed my mind');
        const { rows } = await db.query(
          `SELECT count(*)::int AS c FROM ${table} WHERE name = 'tx-rollback'`,
        );
        expect(rows[0]?.c).toBe(0);
      });

      it('scopes a failed batch inside a transaction to the batch (savepoint)', async () => {
        await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (name) VALUES ('outer-kept')`);
          await expect(
            tx.batch([
              { text: `INSERT INTO ${table} (name) VALUES ('inner-lost')` },
              { text: `INSERT INTO ${table} (name) VALUES ('outer-kept')` },
            ]),
          ).rejects.toMatchObject({ code: '23505' });
          // The transaction is still usable: only the batch was undone.
          await tx.query(`INSERT INTO ${table} (name) VALUES ('outer-after')`);
        });
        const { rows } = await db.query(
          `SELECT name FROM ${table} WHERE name IN ('outer-kept', 'inner-lost', 'outer-after') ORDER BY name`,
        );
        expect(rows.map((r) => r.name)).toEqual(['outer-after', 'outer-kept']);
      });

      it("scopes a failed batch inside the caller's own transaction to the batch", async () => {
        if (!userTransaction) throw new Error(`${setup.name} sets up no userTransaction`);
        await userTransaction(async (tx, run) => {
          await run(`INSERT INTO ${table} (name) VALUES ('caller-kept')`);
          await expect(
            new Database(tx).batch([
              { text: `INSERT INTO ${table} (name) VALUES ('caller-lost')` },
              { text: `INSERT INTO ${table} (name) VALUES ('caller-kept')` },
            ]),
          ).rejects.toMatchObject({ code: '23505' });
          // The caller's transaction is still usable: only the batch was undone.
          await run(`INSERT INTO ${table} (name) VALUES ('caller-after')`);
        });
        const { rows } = await db.query(
          `SELECT name FROM ${table} WHERE name IN ('caller-kept', 'caller-lost', 'caller-after') ORDER BY name`,
        );
        expect(rows.map((r) => r.name)).toEqual(['caller-after', 'caller-kept']);
      });
    }
  });
}

describe('driver contract', () => {
  it('refuses a driver with neither transaction nor batch, naming what to implement', () => {
    const driver: Driver = {
      name: 'half-done',
      capabilities: { interactiveTransactions: true, inTransaction: false },
      query: async () => ({ fields: [], rows: [], rowCount: 0 }),
    };
    expect(() => new Database(driver)).toThrow(/half-done.*transaction\(fn\).*batch\(statements\)/);
  });
});
