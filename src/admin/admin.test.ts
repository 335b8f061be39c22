import { describe, expect, it } from 'vitest';
import type { Driver } from '../driver/driver.js';
import { isValidationError, type ValidationError } from '../errors.js';
import { createAdmin } from './admin.js';
import { cellCount } from './counts.js';
import { decodeCursor, encodeCursor } from './cursor.js';

/** Fails any statement: input refused before it reaches the database shows as ValidationError. */
const unreachable: Driver = {
  name: 'unreachable',
  capabilities: { interactiveTransactions: true, inTransaction: false },
  query: async () => {
    throw new Error('the database was reached');
  },
  transaction: async () => {
    throw new Error('the database was reached');
  },
};

const admin = createAdmin({ driver: unreachable });

async function refused(call: () => Promise<unknown>): Promise<ValidationError> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isValidationError(error))
    throw new Error(`expected a ValidationError, got ${String(error)}`);
  return error;
}

describe('the management API refuses bad input before the database', () => {
  it.each([
    ['a negative id', () => admin.jobs.get(-1n), 'id'],
    ['id 0', () => admin.jobs.get(0), 'id'],
    ['a fractional id', () => admin.jobs.get(1.5), 'id'],
    ['an id beyond int8', () => admin.jobs.get(2n ** 63n), 'id'],
    ['digits that are not an id', () => admin.jobs.get('12abc'), 'id'],
    ['a negative id among many', () => admin.jobs.cancel([1n, -2n]), 'ids[1]'],
    ['ids that are not a list', () => admin.jobs.retry(5n as never), 'ids'],
    ['too many ids', () => admin.jobs.delete(Array.from({ length: 1001 }, (_, i) => i + 1)), 'ids'],
    ['an unknown state', () => admin.jobs.list({ state: 'done' as never }), 'state'],
    [
      'an unknown state in a list',
      () => admin.jobs.list({ state: ['available', 'nope' as never] }),
      'state[1]',
    ],
    ['a limit above the maximum', () => admin.jobs.list({ limit: 1001 }), 'limit'],
    ['a limit of 0', () => admin.jobs.list({ limit: 0 }), 'limit'],
    ['a malformed cursor', () => admin.jobs.list({ cursor: 'not a cursor!' }), 'cursor'],
    [
      'a cursor that is base64 of garbage',
      () => admin.jobs.list({ cursor: btoa('{"v":2}') }),
      'cursor',
    ],
    [
      'a cursor of another order',
      () => admin.jobs.list({ cursor: encodeCursor('id', 'asc', { id: 5n, time: null }) }),
      'cursor',
    ],
    ['a priority out of range', () => admin.jobs.list({ priority: 5 }), 'priority'],
    ['an empty kind', () => admin.jobs.list({ kind: '' }), 'kind'],
    ['a kind with NUL', () => admin.jobs.list({ kind: 'a\0b' }), 'kind'],
    ['a tag with NUL in a list', () => admin.jobs.list({ tag: ['ok', '\0'] }), 'tag[1]'],
    ['an empty list', () => admin.jobs.list({ queue: [] }), 'queue'],
    ['a scalar args fragment', () => admin.jobs.list({ args: 5 as never }), 'args'],
    [
      'a range backwards',
      () => admin.jobs.list({ createdAt: { from: new Date(2), to: new Date(1) } }),
      'createdAt',
    ],
    [
      'a range of an invalid date',
      () => admin.jobs.list({ finalizedAt: { from: new Date(Number.NaN) } }),
      'finalizedAt.from',
    ],
    ['an unknown option', () => admin.jobs.list({ stat: 'available' } as never), 'stat'],
    [
      'ordering by finalizedAt over unfinalized states',
      () => admin.jobs.list({ orderBy: 'finalizedAt', state: 'running' }),
      'state',
    ],
    [
      'ordering by scheduledAt without states',
      () => admin.jobs.list({ orderBy: 'scheduledAt' }),
      'state',
    ],
    ['an unknown order', () => admin.jobs.list({ orderBy: 'kind' as never }), 'orderBy'],
    ['an empty bulk filter', () => admin.jobs.cancelMany({}), 'filter'],
    [
      'a bulk cap above the maximum',
      () => admin.jobs.retryMany({ state: 'discarded' }, { max: 10_001 }),
      'max',
    ],
    ['a bad filter in a bulk action', () => admin.jobs.deleteMany({ id: -5 }), 'filter.id'],
    ['a count cap above the maximum', () => admin.counts({ exactUpTo: 100_001 }), 'exactUpTo'],
    ['an unknown grouping', () => admin.counts({ by: 'state' as never }), 'by'],
    ['a queue name River refuses', () => admin.queues.pause('Email!'), 'name'],
    ['an empty queue name', () => admin.queues.get(''), 'name'],
  ] as const)('%s', async (_what, call, path) => {
    const error = await refused(call as () => Promise<unknown>);
    expect(error.issues[0]?.path).toBe(path);
    expect(error.message).not.toContain('the database was reached');
  });

  it('names the call in the message', async () => {
    expect((await refused(() => admin.jobs.list({ state: 'x' as never }))).message).toMatch(
      /^jobs\.list: state must be a job state/,
    );
    expect((await refused(() => admin.jobs.cancelMany({ id: 0 }))).message).toMatch(
      /^jobs\.cancelMany: filter\.id must be a positive job id/,
    );
  });

  it('refuses options it does not have, and a driver that is not one', () => {
    expect(() => createAdmin({ driver: unreachable, schem: 'x' } as never)).toThrow(/schem/);
    expect(() => createAdmin({ driver: {} as never })).toThrow(/driver/);
    expect(() => createAdmin({ driver: unreachable, schema: 'bad name' })).toThrow(/schema/);
  });
});

describe('cursors', () => {
  it('round-trip a time order with microseconds, and an id order', () => {
    const time = '2031-03-04T05:06:07.123456Z';
    const cursor = encodeCursor('finalized_at', 'desc', { id: 2n ** 62n, time });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, 'finalized_at', 'desc', 'jobs.list')).toEqual({
      id: 2n ** 62n,
      time,
    });
    const byId = encodeCursor('id', 'asc', { id: 7n, time: null });
    expect(decodeCursor(byId, 'id', 'asc', 'jobs.list')).toEqual({ id: 7n, time: null });
  });

  it('refuse a tampered one', () => {
    const cursor = encodeCursor('id', 'desc', { id: 7n, time: null });
    const doc = JSON.parse(atob(cursor.replace(/-/g, '+').replace(/_/g, '/')));
    const forge = (changes: object) =>
      btoa(JSON.stringify({ ...doc, ...changes }))
        .replace(/=+$/, '')
        .replace(/\+/g, '-')
        .replace(/\//g, '_');
    for (const changes of [
      { id: '-1' },
      { id: '0' },
      { id: 7 },
      { t: 'now' },
      { o: 'kind' },
      { d: 'up' },
    ]) {
      expect(
        () => decodeCursor(forge(changes), 'id', 'desc', 'jobs.list'),
        JSON.stringify(changes),
      ).toThrow(/cursor/);
    }
  });
});

describe('estimated counts', () => {
  it('scale the sample by its rate, never below what was counted, and say they are estimates', () => {
    const cell = { state: 'completed' as const, group: null, exact: false, samplePercent: 2 };
    expect(cellCount({ ...cell, seen: 5001, sampled: 1800 })).toEqual({
      count: 90_000,
      exact: false,
    });
    expect(cellCount({ ...cell, seen: 5001, sampled: 3 })).toEqual({ count: 5001, exact: false });
    expect(cellCount({ ...cell, exact: true, seen: 12, sampled: 900 })).toEqual({
      count: 12,
      exact: true,
    });
  });
});
