/**
 * Insert input that Postgres or River would refuse, refused first with a `ValidationError`
 * naming the path, through every driver against the real PostgreSQL: NUL and lone surrogates,
 * nesting too deep, times outside years 0001–9999, queue names River does not accept. Nothing
 * stored is harmed, and the caller's own transaction (Neon HTTP's `sql.transaction([...])`
 * included) goes on.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { neonInsert } from '../adapters/neon-http/index.js';
import { createClient } from '../src/client.js';
import { Database } from '../src/driver/database.js';
import type { Driver } from '../src/driver/driver.js';
import { isValidationError, ValidationError } from '../src/errors.js';
import { MAX_QUEUE_NAME_LENGTH, queueNameProblem } from '../src/insert/job-fields.js';
import { rawJson } from '../src/insert/json-args.js';
import { defineJobKind } from '../src/job-kind.js';
import { migrate } from '../src/migrate.js';
import { createRunner } from '../src/runner/runner.js';
import { defineWorker } from '../src/worker.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { uniqueName } from './support/postgres.js';

/** `{ a: { a: … { a: 1 } } }`, `depth` objects deep. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 1 };
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

type Tree = { children: Tree[] };
const tree: z.ZodType<Tree> = z.lazy(() => z.object({ children: z.array(tree) }));
const treeKind = defineJobKind({ kind: 'tree', args: tree });

function deepTree(depth: number): Tree {
  let value: Tree = { children: [] };
  for (let i = 1; i < depth; i++) value = { children: [value] };
  return value;
}

const lone = '\uD800';
const plainClient = (driver: Driver, schema: string) => createClient({ driver, schema });
type Insert = (eddy: ReturnType<typeof plainClient>) => Promise<unknown>;

// [what, the insert, the path the error names, what it says]
const cases: [string, Insert, string, RegExp][] = [
  ['NUL in an args string', (e) => e.insert('k', { note: 'a\0b' }), 'args.note', /NUL/],
  ['NUL in an args key', (e) => e.insert('k', { 'x\0': 1 }), 'args key "x\\u0000"', /NUL/],
  [
    'a lone surrogate in args',
    (e) => e.insert('k', { list: ['ok', `${lone}!`] }),
    'args.list[1]',
    /lone UTF-16 surrogate/,
  ],
  ['NUL in rawJson() args', (e) => e.insert('k', rawJson('{"s": "a\\u0000"}')), 'args.s', /NUL/],
  [
    'a lone surrogate in rawJson() args',
    (e) => e.insert('k', rawJson('{"s": "\\ud800"}')),
    'args.s',
    /surrogate/,
  ],
  [
    'NUL in metadata',
    (e) => e.insert('k', {}, { metadata: { m: { n: '\0' } } }),
    'metadata.m.n',
    /NUL/,
  ],
  [
    'a lone surrogate in a metadata key',
    (e) => e.insert('k', {}, { metadata: { [lone]: 1 } }),
    'metadata key "\\ud800"',
    /surrogate/,
  ],
  ['NUL in the kind', (e) => e.insert('k\0', {}), 'kind', /NUL/],
  ['a lone surrogate in the kind', (e) => e.insert(`k${lone}`, {}), 'kind', /surrogate/],
  ['NUL in a tag', (e) => e.insert('k', {}, { tags: ['ok', 'a\0'] }), 'tags[1]', /NUL/],
  ['a lone surrogate in a tag', (e) => e.insert('k', {}, { tags: [lone] }), 'tags[0]', /surrogate/],
  [
    'NUL in the queue',
    (e) => e.insert('k', {}, { queue: 'a\0' }),
    'queue',
    /not a queue name River accepts/,
  ],
  [
    'args nested 5,000 levels deep',
    (e) => e.insert('k', nested(5000)),
    `args${'.a'.repeat(1001)}`,
    /nests deeper than 1000 levels/,
  ],
  [
    'metadata nested 5,000 levels deep',
    (e) => e.insert('k', {}, { metadata: nested(5000) }),
    `metadata${'.a'.repeat(1001)}`,
    /nests deeper than 1000 levels/,
  ],
  [
    'rawJson() args nested 5,000 levels deep',
    (e) => e.insert('k', rawJson(`${'{"a": '.repeat(5000)}1${'}'.repeat(5000)}`)),
    `args${'.a'.repeat(1001)}`,
    /nests deeper/,
  ],
  [
    'args too deep for a recursive schema',
    (e) => e.insert(treeKind, deepTree(100_000)),
    'args',
    /nest too deeply for the schema/,
  ],
  [
    'scheduledAt: new Date(8.64e15)',
    (e) => e.insert('k', {}, { scheduledAt: new Date(8.64e15) }),
    'scheduledAt',
    /falls in year 275760; River and Postgres take years 0001–9999/,
  ],
  [
    'scheduledAt in year 0',
    (e) => e.insert('k', {}, { scheduledAt: new Date('0000-12-31T23:59:59.999Z') }),
    'scheduledAt',
    /falls in year 0;/,
  ],
  [
    'performAt: new Date(-8.64e15)',
    (e) => e.insert('k', {}, { performAt: new Date(-8.64e15) }),
    'performAt',
    /falls in year -271821/,
  ],
  [
    'performIn: 1e300',
    (e) => e.insert('k', {}, { performIn: 1e300 }),
    'performIn',
    /falls outside any time a Date holds/,
  ],
  [
    'performIn past year 9999',
    (e) => e.insert('k', {}, { performIn: 1e15 }),
    'performIn',
    /falls in year 3\d{4}/,
  ],
  [
    'queue: my queue!',
    (e) => e.insert('k', {}, { queue: 'my queue!' }),
    'queue',
    /\("my queue!"\) is not a queue name River accepts/,
  ],
  [
    'queue: Email (uppercase)',
    (e) => e.insert('k', {}, { queue: 'Email' }),
    'queue',
    /not a queue name River accepts/,
  ],
  [
    'queue: a--b (two joiners)',
    (e) => e.insert('k', {}, { queue: 'a--b' }),
    'queue',
    /not a queue name/,
  ],
  [
    'queue: -a (leading joiner)',
    (e) => e.insert('k', {}, { queue: '-a' }),
    'queue',
    /not a queue name/,
  ],
  [
    'queue: 65 characters',
    (e) => e.insert('k', {}, { queue: 'q'.repeat(65) }),
    'queue',
    /at most 64/,
  ],
];

for (const setup of selectedSetups()) {
  describe(`insert refusals: ${setup.name}`, () => {
    let open: OpenDriver;
    let db: Database;
    const schema = uniqueName('refuse');
    const jobs = `${schema}.river_job`;
    const count = async (where = 'true') =>
      Number((await db.query(`SELECT count(*)::int AS c FROM ${jobs} WHERE ${where}`)).rows[0]?.c);

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

    it.each(cases)(
      'refuses %s, naming the path, before the database',
      async (_, call, path, message) => {
        await db.query(`INSERT INTO ${jobs} (kind, args) VALUES ('existing', '{"n": 1}')`);
        const error = (await call(plainClient(open.driver, schema)).catch(
          (e: unknown) => e,
        )) as ValidationError;
        expect(error).toBeInstanceOf(ValidationError);
        expect(error.issues[0]?.path).toBe(path);
        expect(error.message).toMatch(message);
        expect(await count(`kind = 'existing' AND args = '{"n": 1}'`)).toBe(1);
        expect(await count()).toBe(1);
      },
    );

    it('stores what lies just inside the limits', async () => {
      const eddy = createClient({ driver: open.driver, schema });
      const first = new Date('0001-01-01T00:00:00.000Z');
      const last = new Date('9999-12-31T23:59:59.999Z');
      const queues = ['a_b|c-d1', 'q'.repeat(MAX_QUEUE_NAME_LENGTH), '0'];
      await eddy.insertMany([
        { kind: 'k', args: { s: '🎉 \u2028', deep: nested(999) }, options: { scheduledAt: first } },
        { kind: 'k', args: {}, options: { scheduledAt: last, metadata: nested(1000) } },
        ...queues.map((queue) => ({ kind: 'k', args: {}, options: { queue } })),
      ]);
      const { rows } = await db.query(
        `SELECT queue, scheduled_at, args->>'s' AS s FROM ${jobs} ORDER BY id`,
      );
      expect(rows.map((r) => r.scheduled_at)).toContainEqual(first);
      expect(rows.map((r) => r.scheduled_at)).toContainEqual(last);
      expect(rows[0]?.s).toBe('🎉 \u2028');
      expect(rows.slice(2).map((r) => r.queue)).toEqual(queues);
    });

    if (setup.name === 'neon-http') {
      it('leaves the user’s write in sql.transaction([...]) unharmed: the bad insert fails to build', async () => {
        const sql = open.neonSql as NonNullable<OpenDriver['neonSql']>;
        const eddy = createClient({ driver: open.driver, schema });
        const userWrite = sql.query(`INSERT INTO ${jobs} (kind, args) VALUES ('user_write', '{}')`);
        let enqueue: ReturnType<typeof neonInsert> | undefined;
        const error = await eddy
          .prepareInsertMany([{ kind: 'k', args: { note: 'a\0b' } }])
          .then((statement) => {
            enqueue = neonInsert(sql, statement);
          })
          .catch((e: unknown) => e);
        expect(isValidationError(error)).toBe(true);
        // As the user's code goes on: their batch without the job that could not be built.
        await sql.transaction(enqueue ? [userWrite, enqueue.query] : [userWrite]);
        expect(await count(`kind = 'user_write'`)).toBe(1);
      });
    } else {
      it('leaves the user’s own transaction usable after a refused insert', async () => {
        if (!open.userTransaction) throw new Error('driver has no interactive transactions');
        const eddy = createClient({ driver: open.driver, schema });
        await open.userTransaction(async (tx, run) => {
          await run(`INSERT INTO ${jobs} (kind, args) VALUES ('user_write', '{}')`);
          for (const bad of [{ note: 'a\0b' }, { s: lone }]) {
            await expect(eddy.with(tx).insert('k', bad)).rejects.toBeInstanceOf(ValidationError);
          }
          await expect(
            eddy.with(tx).insert('k', {}, { scheduledAt: new Date(8.64e15) }),
          ).rejects.toBeInstanceOf(ValidationError);
          await run(`INSERT INTO ${jobs} (kind, args) VALUES ('after', '{}')`);
        });
        expect(await count(`kind IN ('user_write', 'after')`)).toBe(2);
      });
    }
  });
}

describe('queue names', () => {
  it('follows River’s rule in createRunner({ queues }) too, naming the queue', () => {
    const workers = [defineWorker('k', async () => {})];
    const driver: Driver = {
      name: 'unreachable',
      capabilities: { interactiveTransactions: true, inTransaction: false },
      query: () => Promise.reject(new Error('the database was reached')),
      transaction: () => Promise.reject(new Error('the database was reached')),
    };
    const error = (() => {
      try {
        createRunner({ driver, workers, queues: { default: {}, 'my queue!': {} } });
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error?.issues[0]?.path).toBe('queues["my queue!"]');
    expect(() =>
      createRunner({ driver, workers, queues: { default: {}, 'a|b': {} } }),
    ).not.toThrow();
  });

  it('matches River’s regexp exactly, and in linear time', () => {
    // River: ^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$ (client.go). Every string over a small
    // alphabet up to 6 characters gets the same answer from both.
    const river = /^(?:[a-z0-9])+(?:[_|-]?[a-z0-9]+)*$/;
    const alphabet = ['a', '0', '_', '|', '-', 'A', ' ', '.'];
    let strings = [''];
    for (let length = 1; length <= 6; length++) {
      strings = strings.flatMap((s) => alphabet.map((c) => s + c));
      const disagree = strings.filter((s) => (queueNameProblem(s) === undefined) !== river.test(s));
      expect(disagree).toEqual([]);
    }
    const started = performance.now();
    expect(queueNameProblem(`${'a'.repeat(63)}!`)).toMatch(/not a queue name/);
    expect(performance.now() - started).toBeLessThan(50);
  });
});
