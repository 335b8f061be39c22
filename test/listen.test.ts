/**
 * LISTEN on every driver that keeps a session, against the real PostgreSQL (PGlite in-process):
 * what a NOTIFY from another session delivers, which channel names work, what a dropped session
 * does (pg_terminate_backend, a cut through a TCP proxy, a proxy refusing connections for a
 * while), and that close() leaves nothing behind. Notification latency and reconnect times are
 * printed; the bounds asserted are wide, as the machine is shared.
 */

import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Listener, ListenHandlers, Notification } from '../src/driver/driver.js';
import { isValidationError } from '../src/errors.js';
import { builderSetups, driverSetups } from './support/drivers.js';
import { type OpenListenDriver, selectedListenSetups } from './support/listen-setups.js';
import { DATABASE_URL, uniqueName } from './support/postgres.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

/** A notification reaches the listener within this (tens of ms expected). */
const LATENCY_BOUND_MS = 1000;
/** A listener LISTENs again within this after its session dropped. */
const RECONNECT_BOUND_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `predicate` holds; returns how long that took. */
async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<number> {
  const start = performance.now();
  while (!(await predicate())) {
    if (performance.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - start;
}

type Event =
  | { type: 'notification'; notification: Notification; at: number }
  | { type: 'listening'; at: number }
  | { type: 'error'; error: unknown; at: number };

/** Handlers that record what the listener called, in order, with the time. */
function recorder() {
  const events: Event[] = [];
  const handlers: Required<ListenHandlers> = {
    onNotification: (notification) =>
      events.push({ type: 'notification', notification, at: performance.now() }),
    onListening: () => events.push({ type: 'listening', at: performance.now() }),
    onError: (error) => events.push({ type: 'error', error, at: performance.now() }),
  };
  const of = <T extends Event['type']>(type: T) =>
    events.filter((e): e is Extract<Event, { type: T }> => e.type === type);
  return {
    events,
    handlers,
    notifications: () => of('notification').map((e) => e.notification),
    count: (type: Event['type']) => of(type).length,
    last: <T extends Event['type']>(type: T) => of(type).at(-1),
    types: () => events.map((e) => e.type),
  };
}

/** Timers alive in this process (a closed listener must leave none of its own). */
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
});
afterAll(() => admin.end());

/** NOTIFY from a session of its own, one statement: delivered in this order, at its commit. */
async function notify(...messages: [channel: string, payload: string][]): Promise<void> {
  const calls = messages.map((_, i) => `pg_notify($${2 * i + 1}, $${2 * i + 2})`).join(', ');
  await admin.query(`SELECT ${calls}`, messages.flat());
}

/** The sessions of one opened driver, found by their application_name. */
async function backends(applicationName: string, onlyListening = false) {
  const { rows } = await admin.query<{ pid: number; query: string }>(
    `SELECT pid, query FROM pg_stat_activity WHERE application_name = $1${onlyListening ? " AND query ILIKE 'listen %'" : ''}`,
    [applicationName],
  );
  return rows;
}

describe('drivers without a session to listen on', () => {
  it('Neon HTTP, Drizzle and Kysely have no listen, nor does a driver inside a transaction', async () => {
    const withoutListen: string[] = [];
    for (const setup of [...driverSetups, ...builderSetups]) {
      const opened = await setup.open();
      try {
        if (setup.name === 'neon-http') expect(opened.driver.listen).toBeUndefined();
        await opened.userTransaction?.(async (tx) => {
          expect(tx.listen, setup.name).toBeUndefined();
          await tx.transaction?.(async (nested) => expect(nested.listen).toBeUndefined());
        });
        if (!opened.driver.listen) withoutListen.push(setup.name);
      } finally {
        await opened.close();
      }
    }
    // The test suite's own wrappers over the builders' transactions have none either.
    expect(withoutListen.sort()).toEqual(
      ['neon-http', 'drizzle (node-postgres)', 'drizzle (neon-websocket)', 'kysely (node-postgres)']
        .filter((name) => [...driverSetups, ...builderSetups].some((s) => s.name === name))
        .sort(),
    );
  });
});

for (const setup of selectedListenSetups()) {
  describe(`listen: ${setup.name}`, () => {
    const onServer = setup.session !== 'pglite';
    const reconnects = setup.session === 'pool' || setup.session === 'postgres-js';
    /** A prefix unique to this suite, so no other file's NOTIFY reaches it. */
    const tag = uniqueName('lsn');
    let serial = 0;

    /** Opens the driver for one test, its sessions named `<tag>_<n>`. */
    async function open(url = DATABASE_URL) {
      const applicationName = `${tag}_${++serial}`;
      const opened = await setup.open(url, applicationName);
      return { ...opened, applicationName };
    }

    /** Sends through the database the listener is on: another session, or PGlite itself. */
    async function send(opened: OpenListenDriver, ...messages: [string, string][]) {
      if (onServer) return notify(...messages);
      for (const [channel, payload] of messages)
        await opened.driver.query('SELECT pg_notify($1, $2)', [channel, payload]);
    }

    /** Waits until the listener got `count` notifications in all. */
    const received = (rec: ReturnType<typeof recorder>, count: number, timeoutMs?: number) =>
      waitFor(`${count} notification(s)`, () => rec.count('notification') >= count, timeoutMs);

    it('delivers a NOTIFY from another session with its exact channel and payload, at once', async () => {
      const opened = await open();
      const insert = `${tag}.river_insert`;
      const control = `${tag}.river_control`;
      const rec = recorder();
      const listener = await opened.driver.listen([insert, control], rec.handlers);
      try {
        expect(rec.types()).toEqual(['listening']); // once, before listen() resolved
        await send(opened, [insert, '{"queue":"q"}']);
        await received(rec, 1);
        await send(opened, [control, '{"action":"pause","queue":"q"}'], [insert, '']);
        await received(rec, 3);
        expect(rec.notifications()).toEqual([
          { channel: insert, payload: '{"queue":"q"}' },
          { channel: control, payload: '{"action":"pause","queue":"q"}' },
          { channel: insert, payload: '' },
        ]);

        const latencies: number[] = [];
        for (let i = 0; i < 20; i++) {
          const before = rec.count('notification');
          const sent = performance.now();
          await send(opened, [insert, `{"n":${i}}`]);
          await received(rec, before + 1);
          latencies.push((rec.last('notification')?.at ?? Number.NaN) - sent);
        }
        latencies.sort((a, b) => a - b);
        const median = latencies[10] as number;
        const max = latencies.at(-1) as number;
        console.info(
          `${setup.name}: NOTIFY to delivery median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms over 20 (bound ${LATENCY_BOUND_MS} ms)`,
        );
        expect(max).toBeLessThan(LATENCY_BOUND_MS);
        expect(rec.count('error')).toBe(0);
      } finally {
        await listener.close();
        await opened.close();
      }
    });

    it('LISTENs on channels with a dot, upper case, a double quote and non-ASCII exactly, and delivers only those', async () => {
      const opened = await open();
      const listened = [`${tag}.River_Insert`, `we"ird.${tag}`, `${tag}.ünï"""`];
      const others = [`${tag}.river_insert`, `we"ird.${tag}x`, `"${tag}.River_Insert"`, tag];
      const rec = recorder();
      const listener = await opened.driver.listen(listened, rec.handlers);
      try {
        // The others first: had any of them been delivered, it would arrive before the rest.
        await send(opened, ...others.map((c): [string, string] => [c, 'not listened']));
        await send(opened, ...listened.map((c): [string, string] => [c, c]));
        await received(rec, listened.length);
        await sleep(50);
        expect(rec.notifications()).toEqual(listened.map((c) => ({ channel: c, payload: c })));
      } finally {
        await listener.close();
        await opened.close();
      }
    });

    it('refuses channel names Postgres would truncate or cannot hold, before reaching the database', async () => {
      const opened = await open();
      try {
        const refusal = async (channels: unknown[]) => {
          const error = await opened.driver
            .listen(channels as string[], recorder().handlers)
            .then((l) => l.close().then(() => expect.unreachable('listen() should refuse')))
            .catch((e: unknown) => e);
          expect(isValidationError(error), String(error)).toBe(true);
          return error as { message: string; issues: { path: string; message: string }[] };
        };
        const long = await refusal([`${tag}.ok`, 'x'.repeat(64)]);
        expect(long.issues).toEqual([
          { path: 'channels[1]', message: expect.stringContaining('64 bytes; Postgres allows 63') },
        ]);
        expect(long.message).toMatch(/listen: channels\[1\]/);
        expect((await refusal(['é'.repeat(32)])).issues[0]?.message).toContain('64 bytes');
        expect((await refusal([''])).issues[0]?.message).toBe('is empty');
        expect((await refusal([])).issues[0]?.path).toBe('channels');
        expect((await refusal(['a\0b'])).issues[0]?.message).toContain('NUL');
        expect((await refusal([42])).issues[0]?.message).toContain('got number');
        expect(opened.poolSize?.() ?? 0).toBe(0);
        if (setup.session === 'pool') expect(await backends(opened.applicationName)).toEqual([]);

        // 63 bytes is the longest name there is, and it works.
        const longest = `${tag}.`.padEnd(63, 'x');
        const rec = recorder();
        const listener = await opened.driver.listen([longest], rec.handlers);
        await send(opened, [longest, 'longest']);
        await received(rec, 1);
        expect(rec.notifications()).toEqual([{ channel: longest, payload: 'longest' }]);
        await listener.close();
      } finally {
        await opened.close();
      }
    });

    it('keeps delivering after onNotification throws, and after onListening throws', async () => {
      const opened = await open();
      const channel = `${tag}.river_insert`;
      const seen: string[] = [];
      const listener = await opened.driver.listen([channel], {
        onNotification: ({ payload }) => {
          seen.push(payload);
          throw new Error(`handler failed on ${payload}`);
        },
        onListening: () => {
          throw new Error('onListening failed');
        },
      });
      try {
        await send(opened, [channel, 'first']);
        await waitFor('the first', () => seen.length === 1);
        await send(opened, [channel, 'second'], [channel, 'third']);
        await waitFor('the rest', () => seen.length === 3);
        expect(seen).toEqual(['first', 'second', 'third']);
        // The driver under the listener is unharmed too.
        const { rows } = await opened.driver.query('SELECT 1 AS one', []);
        expect(rows).toEqual([['1']]);
      } finally {
        await listener.close();
        await opened.close();
      }
    });

    it('close() stops delivery for good and leaves no session, listener or timer of its own', async () => {
      const opened = await open();
      const channel = `${tag}.river_insert`;
      await send(opened, [`${tag}.warm_up`, '']); // PGlite keeps a timer from its first NOTIFY on
      const timersBefore = activeTimers();
      const handlersBefore = opened.handlerCount?.();
      const rec = recorder();
      const listener = await opened.driver.listen([channel], rec.handlers);
      // A second listener on the same channel: it hears what the closed one would have, and on
      // a session both share (a Client, PGlite) closing one must not deafen the other.
      const witness = recorder();
      const other = await opened.driver.listen([channel], witness.handlers);
      await send(opened, [channel, 'before']);
      await received(rec, 1);

      const closing = listener.close();
      expect(listener.close()).toBe(closing); // idempotent
      await closing;
      await listener.close();
      const heard = rec.events.length;
      await send(opened, [channel, 'after']);
      await received(witness, 2);
      await sleep(50);
      expect(rec.events.length).toBe(heard);
      expect(witness.notifications().map((n) => n.payload)).toEqual(['before', 'after']);

      await other.close();
      await send(opened, [channel, 'after both']);
      await sleep(100);
      expect(witness.count('notification')).toBe(2);

      if (setup.session === 'pool') {
        // Each listener's connection was destroyed; nothing of the driver is left open.
        await waitFor(
          'no session left',
          async () => (await backends(opened.applicationName)).length === 0,
          5000,
        );
        expect(opened.poolSize?.()).toBe(0);
      } else if (setup.session === 'client' || setup.session === 'pglite') {
        // The caller's session lives on, listening on nothing, without our event handlers.
        const { rows } = await opened.driver.query('SELECT pg_listening_channels()', []);
        expect(rows).toEqual([]);
        expect(opened.handlerCount?.()).toBe(handlersBefore);
        if (onServer) expect(await backends(opened.applicationName)).toHaveLength(1);
      } else {
        // postgres.js keeps its listening connection until sql.end(), UNLISTENed.
        const sessions = await backends(opened.applicationName);
        expect(sessions.map((s) => s.query.toLowerCase())).toContain(`unlisten "${channel}"`);
      }
      await waitFor('no timer of the listener', () => activeTimers() <= timersBefore, 5000);
      await opened.close();
      if (onServer)
        await waitFor(
          'no session after close',
          async () => (await backends(opened.applicationName)).length === 0,
          5000,
        );
    });

    if (setup.session !== 'pglite') {
      it('rejects the first listen when the database is unreachable, leaving nothing behind', async () => {
        const port = await closedPort();
        const unreachable = new URL(DATABASE_URL);
        unreachable.port = String(port);
        let opened: (OpenListenDriver & { applicationName: string }) | undefined;
        let proxy: TcpProxy | undefined;
        if (setup.session === 'client') {
          // A Client connects when it is made: make it, then lose the database.
          proxy = await startTcpProxy(DATABASE_URL);
          opened = await open(proxy.url);
          proxy.sever({ refuse: true });
          await sleep(100);
        } else {
          opened = await open(unreachable.toString());
        }
        const timersBefore = activeTimers();
        const handlersBefore = opened.handlerCount?.();
        const rec = recorder();
        try {
          const started = performance.now();
          const error = await opened.driver.listen([`${tag}.river_insert`], rec.handlers).then(
            () => expect.unreachable('listen() should reject'),
            (e: unknown) => e,
          );
          console.info(
            `${setup.name}: unreachable database, listen() rejected in ${(performance.now() - started).toFixed(0)} ms: ${String(error).slice(0, 120)}`,
          );
          expect(error).toBeInstanceOf(Error);
          expect(opened.poolSize?.() ?? 0).toBe(0);
          expect(opened.handlerCount?.()).toBe(handlersBefore);
          await sleep(300);
          expect(rec.events).toEqual([]);
          expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
        } finally {
          await opened.close().catch(() => undefined);
          await proxy?.close();
        }
      });

      it('after pg_terminate_backend on its session: reports the drop, then LISTENs again (or, on a Client, stays down)', async () => {
        const opened = await open();
        const channel = `${tag}.river_insert`;
        const rec = recorder();
        const listener = await opened.driver.listen([channel], rec.handlers);
        try {
          // Its last statement was the LISTEN (postgres.js also has a pool connection).
          const [session, ...more] = await backends(opened.applicationName, true);
          expect(session).toBeDefined();
          expect(more).toEqual([]);
          const terminated = performance.now();
          await admin.query('SELECT pg_terminate_backend($1)', [session?.pid]);
          await waitFor('onError', () => rec.count('error') === 1, RECONNECT_BOUND_MS);
          if (!reconnects) {
            await sleep(500);
            expect(rec.types()).toEqual(['listening', 'error']);
            await listener.close();
            return;
          }
          await waitFor(
            'onListening again',
            () => rec.count('listening') === 2,
            RECONNECT_BOUND_MS,
          );
          const back = (rec.last('listening')?.at ?? Number.NaN) - terminated;
          console.info(
            `${setup.name}: LISTENing again ${back.toFixed(0)} ms after pg_terminate_backend`,
          );
          expect(rec.types()).toEqual(['listening', 'error', 'listening']);
          await send(opened, [channel, 'after the drop']);
          await received(rec, 1);
          expect(rec.notifications()).toEqual([{ channel, payload: 'after the drop' }]);
          const [replacement] = await backends(opened.applicationName, true);
          expect(replacement?.pid).not.toBe(session?.pid);
        } finally {
          await listener.close();
          await opened.close().catch(() => undefined);
        }
      });

      it('after its connection is cut: reports the drop, then LISTENs again (or, on a Client, stays down)', async () => {
        const proxy = await startTcpProxy(DATABASE_URL);
        const opened = await open(proxy.url);
        const channel = `${tag}.river_control`;
        const rec = recorder();
        const listener = await opened.driver.listen([channel], rec.handlers);
        try {
          const cut = performance.now();
          proxy.sever();
          await waitFor('onError', () => rec.count('error') >= 1, RECONNECT_BOUND_MS);
          if (!reconnects) {
            await sleep(500);
            expect(rec.types()).toEqual(['listening', 'error']);
            await expect(opened.driver.query('SELECT 1', [])).rejects.toThrow();
            return;
          }
          await waitFor(
            'onListening again',
            () => rec.count('listening') === 2,
            RECONNECT_BOUND_MS,
          );
          const back = (rec.last('listening')?.at ?? Number.NaN) - cut;
          console.info(`${setup.name}: LISTENing again ${back.toFixed(0)} ms after the cut`);
          expect(rec.types()).toEqual(['listening', 'error', 'listening']);
          await send(opened, [channel, 'after the cut']);
          await received(rec, 1);
          expect(rec.notifications()).toEqual([{ channel, payload: 'after the cut' }]);
        } finally {
          await listener.close();
          await opened.close().catch(() => undefined);
          await proxy.close();
        }
      });
    }

    if (reconnects) {
      it('keeps retrying while connections are refused, and recovers once they are not', async () => {
        const proxy = await startTcpProxy(DATABASE_URL);
        const opened = await open(proxy.url);
        const channel = `${tag}.river_insert`;
        const rec = recorder();
        const listener = await opened.driver.listen([channel], rec.handlers);
        try {
          proxy.sever({ refuse: true });
          await sleep(1500);
          const errorsWhileRefused = rec.count('error');
          const restored = performance.now();
          proxy.restore();
          await waitFor(
            'onListening again',
            () => rec.count('listening') === 2,
            RECONNECT_BOUND_MS,
          );
          const back = (rec.last('listening')?.at ?? Number.NaN) - restored;
          console.info(
            `${setup.name}: refused for 1.5 s: ${errorsWhileRefused} onError while refused, ${rec.count('error')} in all; LISTENing again ${back.toFixed(0)} ms after restore`,
          );
          if (setup.session === 'pool') {
            // The drop, then failed attempts at about 0.1, 0.3, 0.7 s (with jitter).
            expect(errorsWhileRefused).toBeGreaterThanOrEqual(3);
          } else {
            // postgres.js says nothing until it LISTENs again (see adapters/postgres-js).
            expect(rec.count('error')).toBe(1);
          }
          expect(rec.types().at(-1)).toBe('listening');
          expect(rec.types().slice(0, 2)).toEqual(['listening', 'error']);
          await send(opened, [channel, 'recovered']);
          await received(rec, 1);
          expect(rec.notifications()).toEqual([{ channel, payload: 'recovered' }]);
        } finally {
          await listener.close();
          await opened.close().catch(() => undefined);
          await proxy.close();
        }
      });
    }

    if (setup.session === 'pool') {
      it('close() while retrying ends the retries: no timer, no session, no handler called', async () => {
        const proxy = await startTcpProxy(DATABASE_URL);
        const opened = await open(proxy.url);
        const timersBefore = activeTimers();
        const rec = recorder();
        const listener: Listener = await opened.driver.listen(
          [`${tag}.river_insert`],
          rec.handlers,
        );
        try {
          proxy.sever({ refuse: true });
          await waitFor('a failed attempt', () => rec.count('error') >= 2, RECONNECT_BOUND_MS);
          await listener.close();
          const heard = rec.events.length;
          proxy.restore();
          await sleep(6000); // longer than the longest backoff
          expect(rec.events.length).toBe(heard);
          expect(opened.poolSize?.()).toBe(0);
          expect(await backends(opened.applicationName)).toEqual([]);
          expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
        } finally {
          await opened.close().catch(() => undefined);
          await proxy.close();
        }
      });
    }
  });
}
