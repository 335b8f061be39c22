/**
 * The management API through every adapter (Neon HTTP included) against the real PostgreSQL
 * (PGlite in-process): each operation does to the rows, and sends on `<schema>.river_control`,
 * what River's statement for it does (riverdriver/riverpgxv5/internal/dbsqlc/river_job.sql and
 * river_queue.sql at fdf6cdf), and every page, count and bulk action says what it did.
 */

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAdmin } from '../src/admin/admin.js';
import { Database } from '../src/driver/database.js';
import { isNotFoundError, isValidationError } from '../src/errors.js';
import { migrate } from '../src/migrate.js';
import {
  type Captured,
  captureNotifications,
  riverCancelPayload,
  seedJobs,
} from './support/admin-fixtures.js';
import { type OpenDriver, selectedSetups } from './support/drivers.js';
import { uniqueName } from './support/postgres.js';

const protocol = JSON.parse(
  readFileSync(new URL('../../shared/river-compat/protocol_values.json', import.meta.url), 'utf8'),
);
const riverPayload = (name: string) =>
  protocol.notifications.find((n: { name: string }) => n.name === name);

const ids = (list: { id: bigint }[]) => list.map((j) => j.id);

for (const setup of selectedSetups()) {
  describe(`management API: ${setup.name}`, () => {
    let open: OpenDriver;
    let db: Database;
    const schema = uniqueName('adm');
    const jobs = `${schema}.river_job`;
    // A time with a trailing zero in its fraction: Go's JSON drops it (.890 → .89).
    let at = Date.parse('2031-03-04T05:06:07.890Z');
    const clock = {
      now: () => new Date(at),
      set(time: Date) {
        at = time.getTime();
      },
    };
    let admin: ReturnType<typeof createAdmin>;
    let control: Captured;

    const row = async (id: bigint) =>
      (
        await db.query(
          `SELECT state::text AS state, attempt, max_attempts, finalized_at, scheduled_at, metadata,
             errors FROM ${jobs} WHERE id = $1`,
          [id],
        )
      ).rows[0];

    beforeAll(async () => {
      open = await setup.open();
      db = new Database(open.driver);
      await db.query(`CREATE SCHEMA ${schema}`);
      await migrate(open.driver, { schema });
      admin = createAdmin({ driver: open.driver, schema, now: clock.now });
    });
    afterAll(async () => {
      await control?.close();
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
      await open.close();
    });
    beforeEach(async () => {
      await db.query(`DELETE FROM ${jobs}`);
      await db.query(`DELETE FROM ${schema}.river_queue`);
      clock.set(new Date('2031-03-04T05:06:07.890Z'));
      await control?.close();
      control = await captureNotifications(
        `${schema}.river_control`,
        setup.sharedServer ? undefined : open.driver,
      );
    });

    it('gets a job by id, and refuses an unknown id with a NotFoundError', async () => {
      const [id] = await seedJobs(db, schema, [{ kind: 'get_me', args: { n: 2n ** 60n } }]);
      const job = await admin.jobs.get(id as bigint);
      expect(job).toMatchObject({ id, kind: 'get_me', state: 'available', args: { n: 2n ** 60n } });
      expect(await admin.jobs.get(String(id))).toEqual(job);
      const missing = await admin.jobs.get((id as bigint) + 1000n).catch((e) => e);
      expect(isNotFoundError(missing)).toBe(true);
      expect(missing).toMatchObject({ what: 'job', key: String((id as bigint) + 1000n) });
    });

    it("cancels as River's JobCancel: queued jobs at once, running ones by request and notification, finalized ones left alone", async () => {
      const [available, scheduled, running, completed, discarded] = (await seedJobs(db, schema, [
        { state: 'available', queue: 'email' },
        { state: 'scheduled', scheduled_at: '2031-03-05T00:00:00Z' },
        { state: 'running', queue: 'email', attempt: 1 },
        { state: 'completed', attempt: 1 },
        { state: 'discarded', attempt: 25 },
      ])) as bigint[];
      const missing = (discarded as bigint) + 100n;
      const results = await admin.jobs.cancel([
        running as bigint,
        available as bigint,
        missing,
        scheduled as bigint,
        completed as bigint,
        discarded as bigint,
        available as bigint,
      ]);
      expect(results.map((r) => [r.id, r.outcome])).toEqual([
        [running, 'cancelRequested'],
        [available, 'cancelled'],
        [missing, 'notFound'],
        [scheduled, 'cancelled'],
        [completed, 'alreadyFinalized'],
        [discarded, 'alreadyFinalized'],
      ]);
      expect(results[2]?.job).toBeNull();
      const at = '2031-03-04T05:06:07.89Z'; // Go's RFC 3339, as River's client writes it
      for (const id of [available, scheduled] as bigint[]) {
        const r = await row(id);
        expect(r?.state).toBe('cancelled');
        expect(r?.finalized_at).toEqual(clock.now());
        expect(r?.metadata).toEqual({ cancel_attempted_at: at });
      }
      const r = await row(running as bigint);
      expect(r).toMatchObject({ state: 'running', finalized_at: null });
      expect(r?.metadata).toEqual({ cancel_attempted_at: at });
      expect((await row(completed as bigint))?.metadata).toEqual({});
      expect((await row(discarded as bigint))?.state).toBe('discarded');
      // River notifies for every job it did not find finalized, in json_build_object's format.
      const payloads = await control.waitFor(3);
      expect(payloads.sort()).toEqual(
        [
          await riverCancelPayload(db, available as bigint, 'email'),
          await riverCancelPayload(db, scheduled as bigint, 'default'),
          await riverCancelPayload(db, running as bigint, 'email'),
        ].sort(),
      );
      expect(Object.keys(JSON.parse(payloads[0] as string)).sort()).toEqual(
        Object.keys(riverPayload('cancel').payload).sort(),
      );
      expect(JSON.parse(await riverCancelPayload(db, 42n, 'priority'))).toEqual(
        riverPayload('cancel').payload,
      );
      expect(await control.settle()).toHaveLength(3);
    });

    it('writes cancel_attempted_at without a fraction when the time has none, as Go does', async () => {
      clock.set(new Date('2031-03-04T05:06:00.000Z'));
      const [id] = await seedJobs(db, schema, [{ state: 'available' }]);
      await admin.jobs.cancel([id as bigint]);
      expect((await row(id as bigint))?.metadata).toEqual({
        cancel_attempted_at: '2031-03-04T05:06:00Z',
      });
    });

    it("retries as River's JobRetry: one more attempt when they are used up, running and waiting jobs left alone", async () => {
      const [exhausted, retryable, running, waiting, completed] = (await seedJobs(db, schema, [
        { state: 'discarded', attempt: 3, max_attempts: 3, errors: [{ error: 'boom' }] },
        { state: 'retryable', attempt: 1, max_attempts: 3, scheduled_at: '2031-03-04T06:00:00Z' },
        { state: 'running', attempt: 1 },
        { state: 'available', scheduled_at: '2031-03-04T05:00:00Z' },
        { state: 'completed', attempt: 1, max_attempts: 1 },
      ])) as bigint[];
      const results = await admin.jobs.retry([
        exhausted as bigint,
        retryable as bigint,
        running as bigint,
        waiting as bigint,
        completed as bigint,
        999_999_999n,
      ]);
      expect(results.map((r) => r.outcome)).toEqual([
        'retried',
        'retried',
        'running',
        'alreadyAvailable',
        'retried',
        'notFound',
      ]);
      expect(await row(exhausted as bigint)).toMatchObject({
        state: 'available',
        attempt: 3,
        max_attempts: 4,
        finalized_at: null,
        scheduled_at: clock.now(),
      });
      expect((await row(exhausted as bigint))?.errors).toHaveLength(1);
      expect(await row(retryable as bigint)).toMatchObject({
        state: 'available',
        max_attempts: 3,
        scheduled_at: clock.now(),
      });
      expect(await row(completed as bigint)).toMatchObject({ state: 'available', max_attempts: 2 });
      expect((await row(running as bigint))?.state).toBe('running');
      expect((await row(waiting as bigint))?.scheduled_at).toEqual(
        new Date('2031-03-04T05:00:00Z'),
      );
      expect(results[0]?.job).toMatchObject({ state: 'available', maxAttempts: 4 });
    });

    it("deletes as River's JobDelete: a running job is refused and stays", async () => {
      const [running, completed, available] = (await seedJobs(db, schema, [
        { state: 'running' },
        { state: 'completed' },
        { state: 'available', kind: 'to_delete' },
      ])) as bigint[];
      const results = await admin.jobs.delete([
        running as bigint,
        completed as bigint,
        available as bigint,
        1n,
      ]);
      expect(results.map((r) => r.outcome)).toEqual(['running', 'deleted', 'deleted', 'notFound']);
      expect(results[2]?.job).toMatchObject({ kind: 'to_delete', state: 'available' });
      const left = await db.query(`SELECT id FROM ${jobs}`);
      expect(left.rows.map((r) => r.id)).toEqual([running]);
    });

    it('lists jobs newest first by every filter, in cursor pages that neither skip nor repeat', async () => {
      const seeded = await seedJobs(db, schema, [
        {
          kind: 'mail',
          queue: 'email',
          priority: 2,
          tags: ['vip', 'eu'],
          args: { user: 1, plan: 'pro' },
        },
        {
          kind: 'mail',
          queue: 'email',
          state: 'discarded',
          args: { user: 2 },
          metadata: { source: 'api' },
        },
        {
          kind: 'sync',
          queue: 'crm',
          state: 'retryable',
          tags: ['eu'],
          created_at: '2031-03-01T00:00:00Z',
        },
        { kind: 'sync', queue: 'crm', state: 'completed', args: { user: 1 } },
        { kind: 'report', state: 'scheduled', priority: 4, scheduled_at: '2031-04-01T00:00:00Z' },
        { kind: 'mail', queue: 'email', state: 'completed', tags: ['vip'] },
      ]);
      const all = [...seeded].reverse();
      expect(ids((await admin.jobs.list()).jobs)).toEqual(all);
      expect(ids((await admin.jobs.list({ order: 'asc' })).jobs)).toEqual(seeded);
      const pick = (...i: number[]) => i.map((k) => seeded[k]);
      const cases: [Parameters<typeof admin.jobs.list>[0], (bigint | undefined)[]][] = [
        [{ state: 'completed' }, pick(5, 3)],
        [{ state: ['discarded', 'retryable'] }, pick(2, 1)],
        [{ kind: 'mail' }, pick(5, 1, 0)],
        [{ queue: 'crm' }, pick(3, 2)],
        [{ queue: 'email', state: 'available' }, pick(0)],
        [{ tag: 'vip' }, pick(5, 0)],
        [{ tag: ['vip', 'eu'] }, pick(0)],
        [{ priority: [2, 4] }, pick(4, 0)],
        [{ id: [seeded[1] as bigint, seeded[4] as bigint, 999_999n] }, pick(4, 1)],
        [{ args: { user: 1 } }, pick(3, 0)],
        [{ args: { user: 1, plan: 'pro' } }, pick(0)],
        [{ metadata: { source: 'api' } }, pick(1)],
        [{ createdAt: { from: new Date('2031-01-01T00:00:00Z') } }, pick(2)],
        [{ createdAt: { to: new Date('2031-01-01T00:00:00Z') } }, pick(5, 4, 3, 1, 0)],
        [{ scheduledAt: { from: new Date('2031-03-15T00:00:00Z') } }, pick(4)],
        [{ finalizedAt: { from: new Date(Date.now() - 60_000) } }, pick(5, 3, 1)],
        [{ kind: 'mail', state: 'completed', tag: 'vip' }, pick(5)],
      ];
      for (const [filter, expected] of cases) {
        const page = await admin.jobs.list(filter);
        expect(
          ids(page.jobs),
          JSON.stringify(filter, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
        ).toEqual(expected);
        expect(page.nextCursor).toBeNull();
        expect(page.truncated).toBe(false);
      }
      // Pages of two: every job once, the last page without a cursor.
      const walked: bigint[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await admin.jobs.list({ limit: 2, ...(cursor ? { cursor } : {}) });
        walked.push(...ids(page.jobs));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(walked).toEqual(all);
    });

    it('pages by finalized_at through ties, and refuses a cursor of another order', async () => {
      const same = '2031-03-04T01:02:03.456789Z';
      const seeded = await seedJobs(db, schema, [
        { state: 'completed', finalized_at: same },
        { state: 'discarded', finalized_at: '2031-03-04T01:02:03.456788Z' },
        { state: 'completed', finalized_at: same },
        { state: 'cancelled', finalized_at: same },
        { state: 'completed', finalized_at: '2031-03-04T09:00:00Z' },
        { state: 'available' },
      ]);
      const walked: bigint[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await admin.jobs.list({
          orderBy: 'finalizedAt',
          limit: 2,
          ...(cursor ? { cursor } : {}),
        });
        walked.push(...ids(page.jobs));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor && pages < 10);
      // Newest first; ties (microseconds apart or equal) broken by id, none skipped.
      expect(walked).toEqual([seeded[4], seeded[3], seeded[2], seeded[0], seeded[1]]);
      const first = await admin.jobs.list({ orderBy: 'finalizedAt', limit: 1 });
      const refused = await admin.jobs.list({ cursor: first.nextCursor as string }).catch((e) => e);
      expect(isValidationError(refused)).toBe(true);
      expect(refused.issues[0].path).toBe('cursor');
      const scheduled = await admin.jobs.list({
        orderBy: 'scheduledAt',
        state: 'available',
        order: 'asc',
      });
      expect(ids(scheduled.jobs)).toEqual([seeded[5]]);
    });

    it('cancels, retries and deletes by filter, capped, saying how many and whether more match', async () => {
      const seeded = await seedJobs(db, schema, [
        { state: 'available', queue: 'bulk' },
        { state: 'running', queue: 'bulk' },
        { state: 'scheduled', queue: 'bulk' },
        { state: 'completed', queue: 'bulk' },
        { state: 'available', queue: 'other' },
        { state: 'discarded', kind: 'failing', attempt: 25, max_attempts: 25 },
        { state: 'discarded', kind: 'failing', attempt: 25, max_attempts: 25 },
        { state: 'completed', kind: 'old' },
      ]);
      const first = await admin.jobs.cancelMany({ queue: 'bulk' }, { max: 2 });
      expect(first).toEqual({
        count: 2,
        byOutcome: { cancelled: 1, cancelRequested: 1 },
        ids: [seeded[0], seeded[1]],
        hasMore: true,
        busy: 0,
      });
      const second = await admin.jobs.cancelMany({ queue: 'bulk' }, { max: 2 });
      // The running job was asked already (it awaits its runner): a second call goes past it, so
      // a cap full of such jobs cannot keep the rest from ever being reached.
      expect(second).toMatchObject({ count: 1, ids: [seeded[2]], hasMore: false });
      expect((await row(seeded[2] as bigint))?.state).toBe('cancelled');
      expect((await row(seeded[3] as bigint))?.state).toBe('completed');
      expect((await row(seeded[4] as bigint))?.state).toBe('available');
      expect(await control.waitFor(3)).toContain(
        await riverCancelPayload(db, seeded[1] as bigint, 'bulk'),
      );

      const retried = await admin.jobs.retryMany({ kind: 'failing', state: 'discarded' });
      expect(retried).toEqual({
        count: 2,
        byOutcome: { retried: 2 },
        ids: [seeded[5], seeded[6]],
        hasMore: false,
        busy: 0,
      });
      expect(await row(seeded[5] as bigint)).toMatchObject({
        state: 'available',
        max_attempts: 26,
      });

      const deleted = await admin.jobs.deleteMany({ state: ['completed', 'running'] });
      expect(deleted).toMatchObject({ count: 2, ids: [seeded[3], seeded[7]], hasMore: false });
      expect((await row(seeded[1] as bigint))?.state).toBe('running');
      expect(await row(seeded[3] as bigint)).toBeUndefined();

      const empty = await admin.jobs.deleteMany({}).catch((e) => e);
      expect(isValidationError(empty)).toBe(true);
      expect(empty.issues[0].path).toBe('filter');
    });

    it("lists queues with counts, pause state and oldest available age; pauses and resumes as River's QueuePause", async () => {
      await db.query(
        `INSERT INTO ${schema}.river_queue (name, created_at, metadata, updated_at)
         VALUES ('email', now(), '{}', now()), ('idle', now(), '{}', now())`,
      );
      await seedJobs(db, schema, [
        {
          queue: 'email',
          state: 'available',
          scheduled_at: '2031-03-04T05:00:07.890Z',
          priority: 3,
        },
        { queue: 'email', state: 'available', scheduled_at: '2031-03-04T05:05:07.890Z' },
        { queue: 'email', state: 'running' },
        { queue: 'email', state: 'completed' },
        { queue: 'orphan', state: 'available', scheduled_at: '2031-03-04T05:06:07.890Z' },
      ]);
      const queues = await admin.queues.list();
      expect(queues.map((q) => [q.name, q.registered])).toEqual([
        ['email', true],
        ['idle', true],
        ['orphan', false],
      ]);
      const email = queues[0];
      expect(email?.counts.available).toEqual({ count: 2, exact: true });
      expect(email?.counts.running).toEqual({ count: 1, exact: true });
      expect(email?.counts.completed).toEqual({ count: 1, exact: true });
      expect(email?.counts.discarded).toEqual({ count: 0, exact: true });
      expect(email?.oldestAvailableAt).toEqual(new Date('2031-03-04T05:00:07.890Z'));
      expect(email?.oldestAvailableAgeMs).toBe(6 * 60_000);
      expect(queues[1]).toMatchObject({ paused: false, oldestAvailableAt: null });
      expect(queues[2]).toMatchObject({ createdAt: null, oldestAvailableAgeMs: 0 });

      await admin.queues.pause('email');
      const paused = await admin.queues.get('email');
      expect(paused).toMatchObject({ paused: true, pausedAt: clock.now() });
      expect(paused.counts.available).toEqual({ count: 2, exact: true });
      expect(await control.waitFor(1)).toEqual(['{"action":"pause","queue":"email"}']);
      expect(JSON.parse(control.payloads[0] as string)).toEqual({
        ...riverPayload('pause').payload,
        queue: 'email',
      });
      await admin.queues.resume('*');
      expect((await admin.queues.get('email')).paused).toBe(false);
      expect(await control.waitFor(2)).toContain('{"action":"resume","queue":"*"}');

      for (const call of [admin.queues.pause('nope'), admin.queues.get('nope')]) {
        const error = await call.catch((e) => e);
        expect(isNotFoundError(error)).toBe(true);
        expect(error).toMatchObject({ what: 'queue', key: 'nope' });
      }
      expect(await control.settle()).toHaveLength(2);
      expect((await admin.queues.get('orphan')).registered).toBe(false);
    });

    it('counts by state, queue and kind: exact up to the cap, estimates beyond that say so', async () => {
      await seedJobs(db, schema, [
        ...Array.from({ length: 6 }, () => ({ state: 'completed', queue: 'a', kind: 'x' })),
        { state: 'available', queue: 'a', kind: 'y' },
        { state: 'discarded', queue: 'b', kind: 'x', finalized_at: '2031-03-04T04:00:00Z' },
        { state: 'discarded', queue: 'b', kind: 'y' },
      ]);
      const counts = await admin.counts();
      expect(counts.states.completed).toEqual({ count: 6, exact: true });
      expect(counts.states.discarded).toEqual({ count: 2, exact: true });
      expect(counts.states.running).toEqual({ count: 0, exact: true });
      expect(counts.groups).toEqual([]);
      const byQueue = await admin.counts({ by: 'queue' });
      expect(
        byQueue.groups.map((g) => [g.name, g.counts.completed.count, g.counts.discarded.count]),
      ).toEqual([
        ['a', 6, 0],
        ['b', 0, 2],
      ]);
      const byKind = await admin.counts({ by: 'kind' });
      expect(
        byKind.groups.map((g) => [g.name, g.counts.completed.count, g.counts.available.count]),
      ).toEqual([
        ['x', 6, 0],
        ['y', 0, 1],
      ]);
      // The seeded jobs were finalized now, one in 2031 (the clock's year).
      for (const by of [undefined, 'queue', 'kind'] as const) {
        const since = await admin.counts({
          finalizedSince: new Date('2031-01-01T00:00:00Z'),
          ...(by ? { by } : {}),
        });
        expect(since.states.discarded, String(by)).toEqual({ count: 1, exact: true });
        expect(since.states.completed, String(by)).toEqual({ count: 0, exact: true });
        expect(since.states.available, String(by)).toEqual({ count: 1, exact: true });
      }
      // Past the cap: an estimate, flagged, never below what was counted.
      for (const by of [undefined, 'queue', 'kind'] as const) {
        const capped = await admin.counts({ exactUpTo: 2, ...(by ? { by } : {}) });
        expect(capped.states.completed.exact, String(by)).toBe(false);
        expect(capped.states.completed.count, String(by)).toBeGreaterThanOrEqual(3);
        expect(capped.states.available, String(by)).toEqual({ count: 1, exact: true });
      }
      const queue = await admin.queues.get('a', { exactUpTo: 5 });
      expect(queue.counts.completed.exact).toBe(false);
      expect(queue.counts.completed.count).toBeGreaterThanOrEqual(6);
      expect(await admin.jobs.kinds()).toEqual(['x', 'y']);
      expect(await admin.jobs.kinds({ after: 'x' })).toEqual(['y']);
    });
  });
}
