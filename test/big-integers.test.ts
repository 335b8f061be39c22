/**
 * Integers beyond ±(2^53−1) in args and metadata, through every driver against the real
 * PostgreSQL: rows Go River inserts (int64 ids) reach workers exactly, as `bigint`, or the job is
 * discarded naming the path when the worker's schema wants a number; insert takes such integers
 * as `bigint` (or `rawJson()`) and refuses what would not come back as given.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../src/client.js';
import { Database } from '../src/driver/database.js';
import { ValidationError } from '../src/errors.js';
import { rawJson } from '../src/insert/json-args.js';
import { defineJobKind } from '../src/job-kind.js';
import { migrate } from '../src/migrate.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { uniqueName } from './support/postgres.js';

const ledger = defineJobKind({
  kind: 'ledger',
  args: z.object({
    account_id: z.bigint(),
    amounts: z.array(z.union([z.bigint(), z.number()])).optional(),
  }),
});
const ledgerAsNumber = defineJobKind({
  kind: 'ledger',
  args: z.object({ account_id: z.number() }),
});

for (const setup of selectedSetups()) {
  describe(`big integers: ${setup.name}`, () => {
    let open: OpenDriver;
    let db: Database;
    const schema = uniqueName('big');
    const jobs = `${schema}.river_job`;

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
      await db.query(`DELETE FROM ${jobs}`);
    });

    /** A row as Go River's JobInsertFastMany writes it. */
    const insertLikeGo = (args: string, metadata = '{}') =>
      db.query(
        `INSERT INTO ${jobs} (args, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags)
         VALUES ($1::jsonb, 'ledger', 25, $2::jsonb, 1, 'default', now(), 'available', '{}')`,
        [args, metadata],
      );
    const tick = (worker: ReturnType<typeof defineWorker>) =>
      createRunner({ driver: open.driver, schema, workers: [worker] }).tick({ budgetMs: 10_000 });
    const stored = async () =>
      (
        await db.query(
          `SELECT state::text AS state, args::text AS args, metadata::text AS metadata, errors FROM ${jobs}`,
        )
      ).rows;

    it('hands a Go River row’s int64 args and metadata to the worker exactly, as bigint', async () => {
      await insertLikeGo(
        '{"account_id": 9007199254740993, "amounts": [18446744073709551615, 1]}',
        '{"trace_id": 9223372036854775807}',
      );
      const seen: unknown[] = [];
      const stats = await tick(
        defineWorker(ledger, async (job) => void seen.push(job.args, job.metadata)),
      );
      expect(stats).toMatchObject({ claimed: 1, completed: 1 });
      expect(seen).toEqual([
        { account_id: 9007199254740993n, amounts: [18446744073709551615n, 1] },
        { trace_id: 9223372036854775807n },
      ]);
    });

    it('discards the job, naming the path, when the worker’s schema wants a number', async () => {
      await insertLikeGo('{"account_id": 9007199254740993}');
      let called = false;
      const stats = await tick(
        defineWorker(ledgerAsNumber, async () => {
          called = true;
        }),
      );
      expect(stats).toMatchObject({ claimed: 1, discarded: 1 });
      expect(called).toBe(false);
      const [row] = await stored();
      expect(row?.state).toBe('discarded');
      const errors = row?.errors as { error: string }[];
      expect(errors[0]?.error).toMatch(
        /args failed validation for kind 'ledger': account_id: .*number/i,
      );
    });

    it('inserts a bigint beyond 2^53 as its digits, and the worker receives it back', async () => {
      const eddy = createClient({ driver: open.driver, schema, kinds: [ledger] });
      const { job } = await eddy.insert(
        ledger,
        { account_id: 2n ** 63n - 1n, amounts: [-(2n ** 63n), 7] },
        { metadata: { trace_id: 2n ** 64n } },
      );
      // The inserted job the client returns reads them as a worker will.
      expect(job.args).toEqual({ account_id: 2n ** 63n - 1n, amounts: [-(2n ** 63n), 7] });
      expect(job.metadata).toEqual({ trace_id: 2n ** 64n });
      const [row] = await stored();
      expect(row?.args).toBe(
        '{"amounts": [-9223372036854775808, 7], "account_id": 9223372036854775807}',
      );
      expect(row?.metadata).toBe('{"trace_id": 18446744073709551616}');
      const seen: unknown[] = [];
      await tick(defineWorker(ledger, async (job) => void seen.push(job.args, job.metadata)));
      expect(seen).toEqual([
        { account_id: 2n ** 63n - 1n, amounts: [-(2n ** 63n), 7] },
        { trace_id: 2n ** 64n },
      ]);
    });

    it('validates rawJson() args as the worker will read them, exponent forms included', async () => {
      const eddy = createClient({ driver: open.driver, schema, kinds: [ledger] });
      // jsonb stores 9.007199254740993e15 as 9007199254740993: a bigint to the worker, and to
      // the schema at insert.
      await eddy.insert(ledger, rawJson('{"account_id": 9.007199254740993e15}'));
      const seen: unknown[] = [];
      await tick(defineWorker(ledger, async (job) => void seen.push(job.args)));
      expect(seen).toEqual([{ account_id: 9007199254740993n }]);
    });

    describe('refuses, naming the path, what would not come back as given', () => {
      const plain = () => createClient({ driver: open.driver, schema });
      const typed = () => createClient({ driver: open.driver, schema, kinds: [ledgerAsNumber] });
      const cases: [string, () => Promise<unknown>, RegExp][] = [
        [
          'a bigint within the safe range (it would come back a number)',
          () => plain().insert('any', { id: 5n }),
          /args\.id is a BigInt \(5n\) within ±\(2\^53−1\)/,
        ],
        [
          'a number beyond 2^53 (it may be rounded, and would come back a bigint)',
          () => plain().insert('any', { ids: [1, 2 ** 60] }),
          /args\.ids\[1\] is 1152921504606847000, a number beyond ±\(2\^53−1\)/,
        ],
        [
          'a number beyond 2^53 in metadata',
          () => plain().insert('any', {}, { metadata: { trace: { id: 1e21 } } }),
          /metadata\.trace\.id is 1e\+21, a number beyond/,
        ],
        [
          'rawJson() args whose big integer the schema wants as a number',
          () => typed().insert(ledgerAsNumber, rawJson('{"account_id": 9007199254740993}')),
          /args\.account_id: .*number/i,
        ],
      ];
      it.each(cases)('%s', async (_, call, message) => {
        await db.query(`INSERT INTO ${jobs} (kind, args) VALUES ('existing', '{}')`);
        const error = (await call().catch((e: unknown) => e)) as Error;
        expect(error).toBeInstanceOf(ValidationError);
        expect(error.message).toMatch(message);
        expect((await stored()).length).toBe(1);
      });
    });
  });
}
