/**
 * The insert-only client through every adapter against the real PostgreSQL (PGlite in-process):
 * rows as River stores them, one statement per call, transactional enqueue, unique jobs, and bad
 * input refused before anything is written.
 */

import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { neonInsert } from '../adapters/neon-http/index.js';
import { createClient } from '../src/client.js';
import { Database } from '../src/driver/database.js';
import type { Driver } from '../src/driver/driver.js';
import { ValidationError } from '../src/errors.js';
import { rawJson } from '../src/insert/json-args.js';
import { defineJobKind } from '../src/job-kind.js';
import { migrate } from '../src/migrate.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { DATABASE_URL, uniqueName } from './support/postgres.js';

const sendEmail = defineJobKind({
  kind: 'send_email',
  args: z.object({
    to: z.string().email(),
    subject: z.string().min(1),
    tries: z.number().int().optional(),
  }),
  queue: 'email',
  priority: 2,
  maxAttempts: 5,
  tags: ['mail'],
});

const syncAccount = defineJobKind({
  kind: 'sync_account',
  args: z.object({ accountId: z.string(), region: z.string() }),
  unique: { byArgs: ['accountId'] },
});

/**
 * A real driver that counts the statements it is asked to run. A batch runs through the
 * driver's own `batch` (Neon HTTP) or, for every other driver, its `transaction`: each counts.
 */
function counting(driver: Driver): Driver & { calls: number } {
  const counted: Driver & { calls: number } = {
    ...driver,
    calls: 0,
    query: (text, params) => {
      counted.calls++;
      return driver.query(text, params);
    },
  };
  const batch = driver.batch?.bind(driver);
  const transaction = driver.transaction?.bind(driver);
  if (batch) {
    counted.batch = (statements) => {
      counted.calls++;
      return batch(statements);
    };
  }
  if (transaction) {
    counted.transaction = (fn) => {
      counted.calls++;
      return transaction(fn);
    };
  }
  return counted;
}

for (const setup of selectedSetups()) {
  describe(`insert client: ${setup.name}`, () => {
    let open: OpenDriver;
    let db: Database;
    let observer: pg.Pool | undefined;
    const schema = uniqueName('ins');
    const jobs = `${schema}.river_job`;

    const count = async (where = 'true') =>
      Number((await db.query(`SELECT count(*)::int AS c FROM ${jobs} WHERE ${where}`)).rows[0]?.c);

    beforeAll(async () => {
      open = await setup.open();
      db = new Database(open.driver);
      await db.query(`CREATE SCHEMA ${schema}`);
      await migrate(open.driver, { schema });
      if (setup.sharedServer) observer = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
    });
    afterAll(async () => {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
      await observer?.end();
      await open.close();
    });
    beforeEach(async () => {
      await db.query(`DELETE FROM ${jobs}`);
    });

    it('inserts a job as River stores it and returns its row', async () => {
      const eddy = createClient({ driver: open.driver, schema, kinds: [sendEmail] });
      const { job, skipped } = await eddy.insert(
        sendEmail,
        { to: 'a@example.com', subject: 'Hi' },
        {
          metadata: { source: 'signup' },
        },
      );
      expect(skipped).toBe(false);
      expect(typeof job.id).toBe('bigint');
      expect(job).toMatchObject({
        kind: 'send_email',
        queue: 'email',
        state: 'available',
        priority: 2,
        maxAttempts: 5,
        tags: ['mail'],
        args: { to: 'a@example.com', subject: 'Hi' },
        metadata: { source: 'signup' },
      });
      const { rows } = await db.query(
        `SELECT kind, queue, state::text AS state, priority, max_attempts, attempt, args, tags, metadata,
           unique_key, unique_states, finalized_at, errors, attempted_by FROM ${jobs} WHERE id = $1`,
        [job.id],
      );
      expect(rows[0]).toEqual({
        kind: 'send_email',
        queue: 'email',
        state: 'available',
        priority: 2,
        max_attempts: 5,
        attempt: 0,
        args: { to: 'a@example.com', subject: 'Hi' },
        tags: ['mail'],
        metadata: { source: 'signup' },
        unique_key: null,
        unique_states: null,
        finalized_at: null,
        errors: null,
        attempted_by: null,
      });
    });

    it('returns ids beyond 2^53 exactly, as bigint', async () => {
      const big = 2n ** 53n + 7n;
      await db.query(`SELECT setval('${schema}.river_job_id_seq', $1::int8)`, [big]);
      const eddy = createClient({ driver: open.driver, schema });
      const { job } = await eddy.insert('any_kind', { n: 1 });
      expect(job.id).toBe(big + 1n);
    });

    it('inserts many jobs in one statement, returning them in input order', async () => {
      const driver = counting(open.driver);
      const eddy = createClient({ driver, schema, kinds: [sendEmail] });
      const items = Array.from({ length: 1000 }, (_, i) => ({
        kind: sendEmail,
        args: { to: `u${i}@example.com`, subject: `#${i}` },
        options: i % 2 ? { tags: ['odd', `n${i}`], priority: 4 } : {},
      }));
      const results = await eddy.insertMany(items);
      expect(driver.calls).toBe(1);
      expect(results).toHaveLength(1000);
      results.forEach((r, i) => {
        expect(r.job.args).toEqual({ to: `u${i}@example.com`, subject: `#${i}` });
        expect(r.job.tags).toEqual(i % 2 ? ['odd', `n${i}`] : ['mail']);
      });
      expect(await count()).toBe(1000);
      expect(await count(`priority = 4 AND tags = ARRAY['odd', 'n999']::varchar[]`)).toBe(1);
    });

    it('single inserts are one statement too', async () => {
      const driver = counting(open.driver);
      const eddy = createClient({ driver, schema });
      await eddy.insert('one', { a: 1 });
      expect(driver.calls).toBe(1);
    });

    it('schedules with scheduledAt, performAt and performIn, and inserts pending jobs', async () => {
      const now = new Date('2030-01-01T00:00:00.000Z');
      const eddy = createClient({ driver: open.driver, schema, now: () => now });
      const a = await eddy.insert('later', {}, { performIn: 90_000 });
      const b = await eddy.insert('later', {}, { performAt: new Date('2030-01-02T00:00:00Z') });
      const c = await eddy.insert('later', {}, { scheduledAt: new Date('2029-12-31T00:00:00Z') });
      const d = await eddy.insert('later', {}, { pending: true });
      expect(a.job.state).toBe('scheduled');
      expect(a.job.scheduledAt.toISOString()).toBe('2030-01-01T00:01:30.000Z');
      expect(b.job).toMatchObject({
        state: 'scheduled',
        scheduledAt: new Date('2030-01-02T00:00:00Z'),
      });
      expect(c.job).toMatchObject({
        state: 'available',
        scheduledAt: new Date('2029-12-31T00:00:00Z'),
      });
      expect(d.job.state).toBe('pending');
    });

    it('skips a unique duplicate without error and says so', async () => {
      const eddy = createClient({ driver: open.driver, schema, kinds: [syncAccount] });
      const first = await eddy.insert(syncAccount, { accountId: 'acct_1', region: 'eu' });
      const second = await eddy.insert(syncAccount, { accountId: 'acct_1', region: 'us' });
      expect(first.skipped).toBe(false);
      expect(second.skipped).toBe(true);
      expect(second.job.id).toBe(first.job.id);
      expect(second.job.args).toEqual({ accountId: 'acct_1', region: 'eu' });
      const many = await eddy.insertMany([
        { kind: syncAccount, args: { accountId: 'acct_2', region: 'eu' } },
        { kind: syncAccount, args: { accountId: 'acct_2', region: 'us' } },
        { kind: syncAccount, args: { accountId: 'acct_1', region: 'us' } },
      ]);
      expect(many.map((r) => r.skipped)).toEqual([false, true, true]);
      expect(many[1]?.job.id).toBe(many[0]?.job.id);
      expect(many[2]?.job.id).toBe(first.job.id);
      expect(await count()).toBe(2);
    });

    it('stores args given as raw JSON text exactly, big numbers included', async () => {
      const eddy = createClient({ driver: open.driver, schema });
      const { job } = await eddy.insert(
        'ledger',
        rawJson('{"amount": 123456789012345678901234567890.000001}'),
      );
      const { rows } = await db.query(
        `SELECT args->>'amount' AS amount FROM ${jobs} WHERE id = $1`,
        [job.id],
      );
      expect(rows[0]?.amount).toBe('123456789012345678901234567890.000001');
    });

    describe('refuses bad input before touching the database', () => {
      const eddy = () =>
        createClient({
          driver: open.driver,
          schema,
          kinds: [sendEmail, syncAccount],
          maxPayloadBytes: 4096,
        });
      const cases: [string, (c: ReturnType<typeof eddy>) => Promise<unknown>, RegExp][] = [
        [
          'an unknown kind',
          (c) => c.insert('nope' as any, {}),
          /'nope' is not a kind this client knows/,
        ],
        [
          'args failing the schema, listing the fields',
          (c) => c.insert(sendEmail, { to: 'not-an-email', subject: '' }),
          /args\.to: .*args\.subject/,
        ],
        [
          'priority out of range',
          (c) => c.insert(sendEmail, { to: 'a@b.co', subject: 's' }, { priority: 5 }),
          /priority must be an integer from 1 to 4/,
        ],
        [
          'maxAttempts beyond smallint',
          (c) => c.insert(sendEmail, { to: 'a@b.co', subject: 's' }, { maxAttempts: 40_000 }),
          /maxAttempts must be an integer from 1 to 32767/,
        ],
        [
          'a tag with a comma',
          (c) => c.insert(sendEmail, { to: 'a@b.co', subject: 's' }, { tags: ['a,b'] }),
          /must not contain a comma/,
        ],
        [
          'an over-long tag',
          (c) => c.insert(sendEmail, { to: 'a@b.co', subject: 's' }, { tags: ['x'.repeat(256)] }),
          /longer than 255/,
        ],
        [
          'an empty queue',
          (c) => c.insert(sendEmail, { to: 'a@b.co', subject: 's' }, { queue: '' }),
          /queue must be a non-empty string/,
        ],
        [
          'an over-long queue',
          (c) => c.insert(sendEmail, { to: 'a@b.co', subject: 's' }, { queue: 'q'.repeat(65) }),
          /at most 64/,
        ],
        [
          'an over-long kind name',
          (_c) => createClient({ driver: open.driver, schema }).insert('k'.repeat(200) as any, {}),
          /kind is 200 characters long/,
        ],
        [
          'a BigInt in args',
          (_c) => createClient({ driver: open.driver, schema }).insert('k', { n: 1n }),
          /args\.n is a BigInt/,
        ],
        [
          'a function in args',
          (_c) => createClient({ driver: open.driver, schema }).insert('k', { f: () => 1 }),
          /args\.f is a function/,
        ],
        [
          'a cycle in args',
          () => {
            const a: Record<string, unknown> = {};
            a.self = a;
            return createClient({ driver: open.driver, schema }).insert('k', a);
          },
          /cycle/,
        ],
        [
          'undefined args',
          () => createClient({ driver: open.driver, schema }).insert('k', undefined as any),
          /args is undefined/,
        ],
        [
          'NaN in args',
          () => createClient({ driver: open.driver, schema }).insert('k', { n: Number.NaN }),
          /args\.n is NaN/,
        ],
        [
          'args above the payload limit',
          (c) => c.insert(sendEmail, { to: 'a@b.co', subject: 'x'.repeat(5000) }),
          /limit is 4096/,
        ],
        [
          'two schedules at once',
          (c) =>
            c.insert(
              sendEmail,
              { to: 'a@b.co', subject: 's' },
              { performIn: 5, performAt: new Date() },
            ),
          /give only one of/,
        ],
      ];
      it.each(cases)(
        'refuses %s with a ValidationError that says what to fix',
        async (_, call, message) => {
          await db.query(`INSERT INTO ${jobs} (kind, args) VALUES ('existing', '{}')`);
          const error = (await call(eddy()).catch((e: unknown) => e)) as Error;
          expect(error).toBeInstanceOf(ValidationError);
          expect(error.message).toMatch(message);
          expect(await count()).toBe(1); // nothing written, nothing already stored harmed
        },
      );

      it('refuses a whole insertMany when one item is bad', async () => {
        const error = await eddy()
          .insertMany([
            { kind: sendEmail, args: { to: 'ok@example.com', subject: 'fine' } },
            {
              kind: sendEmail,
              args: { to: 'ok@example.com', subject: 'fine' },
              options: { priority: 0 },
            },
          ])
          .catch((e) => e);
        expect(error.message).toMatch(/insertMany\[1\] \(send_email\): priority/);
        expect(await count()).toBe(0);
      });
    });

    it('notifies Go River listeners in the same statement when asked', async () => {
      if (!observer) return expect(setup.sharedServer).toBe(false); // one in-process PGlite has no second session
      const listener = await observer.connect();
      const received: { channel: string; payload?: string }[] = [];
      listener.on('notification', (n) => received.push({ channel: n.channel, payload: n.payload }));
      await listener.query(`LISTEN "${schema}.river_insert"`);
      try {
        const eddy = createClient({ driver: open.driver, schema, notify: true });
        await eddy.insertMany([
          { kind: 'a', args: {}, options: { queue: 'alpha' } },
          { kind: 'b', args: {}, options: { queue: 'alpha' } },
          { kind: 'c', args: {}, options: { queue: 'beta' } },
          { kind: 'd', args: {}, options: { queue: 'later', performIn: 60_000 } },
        ]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(received.map((r) => r.payload).sort()).toEqual([
          '{"queue": "alpha"}',
          '{"queue": "beta"}',
        ]);
        expect(received.every((r) => r.channel === `${schema}.river_insert`)).toBe(true);
      } finally {
        await listener.query('UNLISTEN *');
        listener.release();
      }
    });

    if (setup.name === 'neon-http') {
      describe('inside the caller’s sql.transaction([...]) batch', () => {
        it('commits the job with the user’s write, built with the user’s own sql function', async () => {
          const sql = open.neonSql as NonNullable<OpenDriver['neonSql']>;
          const eddy = createClient({ driver: open.driver, schema, kinds: [sendEmail] });
          const enqueue = neonInsert(
            sql,
            await eddy.prepareInsertMany([
              { kind: sendEmail, args: { to: 'tx@example.com', subject: 'in batch' } },
            ]),
          );
          const [, enqueued] = await sql.transaction([
            sql.query(`INSERT INTO ${jobs} (kind, args) VALUES ('user_write', '{}')`),
            enqueue.query,
          ]);
          const [result] = enqueue.read(enqueued);
          expect(result).toMatchObject({
            skipped: false,
            job: { kind: 'send_email', state: 'available' },
          });
          expect(typeof result?.job.id).toBe('bigint');
          expect(await count(`kind = 'send_email'`)).toBe(1);
          expect(await count(`kind = 'user_write'`)).toBe(1);
        });

        it('is gone when another statement of the batch fails', async () => {
          const sql = open.neonSql as NonNullable<OpenDriver['neonSql']>;
          const eddy = createClient({ driver: open.driver, schema, kinds: [sendEmail] });
          const enqueue = neonInsert(
            sql,
            await eddy.prepareInsertMany([
              { kind: sendEmail, args: { to: 'tx@example.com', subject: 'in batch' } },
            ]),
          );
          await expect(
            sql.transaction([enqueue.query, sql.query('SELECT 1/0')]),
          ).rejects.toMatchObject({ code: '22012' });
          expect(await count()).toBe(0);
        });

        it('a duplicate inside the batch does not abort it', async () => {
          const sql = open.neonSql as NonNullable<OpenDriver['neonSql']>;
          const eddy = createClient({ driver: open.driver, schema, kinds: [syncAccount] });
          const first = await eddy.insert(syncAccount, { accountId: 'n1', region: 'eu' });
          const dup = neonInsert(
            sql,
            await eddy.prepareInsertMany([
              { kind: syncAccount, args: { accountId: 'n1', region: 'us' } },
            ]),
          );
          const [results] = await sql.transaction([
            dup.query,
            sql.query(`INSERT INTO ${jobs} (kind, args) VALUES ('after', '{}')`),
          ]);
          expect(dup.read(results)[0]).toMatchObject({
            skipped: true,
            job: { id: first.job.id },
          });
          expect(await count()).toBe(2);
        });
      });
      return;
    }

    describe('inside the caller’s transaction', () => {
      it('is visible after commit and invisible to others before it', async () => {
        if (!open.userTransaction) throw new Error('driver has no interactive transactions');
        const eddy = createClient({ driver: open.driver, schema, kinds: [sendEmail] });
        await open.userTransaction(async (tx, run) => {
          await run(`INSERT INTO ${jobs} (kind, args) VALUES ('user_write', '{}')`);
          await eddy.with(tx).insert(sendEmail, { to: 'tx@example.com', subject: 'in tx' });
          if (observer) {
            const seen = await observer.query(`SELECT count(*)::int AS c FROM ${jobs}`);
            expect(seen.rows[0].c).toBe(0);
          }
        });
        expect(await count(`kind = 'send_email'`)).toBe(1);
        expect(await count(`kind = 'user_write'`)).toBe(1);
      });

      it('is gone after rollback, with the user’s own write', async () => {
        if (!open.userTransaction) throw new Error('driver has no interactive transactions');
        const eddy = createClient({ driver: open.driver, schema, kinds: [sendEmail] });
        await expect(
          open.userTransaction(async (tx, run) => {
            await run(`INSERT INTO ${jobs} (kind, args) VALUES ('user_write', '{}')`);
            await eddy.with(tx).insert(sendEmail, { to: 'tx@example.com', subject: 'in tx' });
            throw new Error('order failed');
          }),
        ).rejects.toThrow('order failed');
        expect(await count()).toBe(0);
      });

      it('neither a duplicate nor bad input disturbs the transaction', async () => {
        if (!open.userTransaction) throw new Error('driver has no interactive transactions');
        const eddy = createClient({ driver: open.driver, schema, kinds: [syncAccount] });
        await open.userTransaction(async (tx, run) => {
          await eddy.with(tx).insert(syncAccount, { accountId: 'x', region: 'eu' });
          const dup = await eddy.with(tx).insert(syncAccount, { accountId: 'x', region: 'us' });
          expect(dup.skipped).toBe(true);
          await expect(
            eddy.with(tx).insert(syncAccount, { accountId: 7 } as any),
          ).rejects.toBeInstanceOf(ValidationError);
          await run(`INSERT INTO ${jobs} (kind, args) VALUES ('after', '{}')`);
        });
        expect(await count()).toBe(2);
      });
    });
  });
}
