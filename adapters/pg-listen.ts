/**
 * LISTEN over pg-compatible clients (node-postgres, and the Neon WebSocket driver, which is
 * pg), for pg-session.ts. Over a Pool: one dedicated connection from `pool.connect()`, destroyed
 * and replaced whenever it drops. Over a Client: that client itself, which nothing can replace,
 * so a drop is reported and the listener stays down. Typed structurally: no driver package.
 */

import {
  assertChannelNames,
  type GuardedHandlers,
  guardHandlers,
  type Listener,
  type ListenHandlers,
  listenStatement,
  reconnectDelay,
  sharedChannels,
  unlistenStatement,
  waitAtMost,
} from '../src/driver/index.js';

/** A NotificationResponse as pg's `Client` emits it. */
export interface PgNotification {
  readonly channel: string;
  readonly payload?: string | undefined;
}

/** The events of pg's `Client` / `PoolClient` that a listener needs. */
export interface PgClientEvents {
  on(event: 'notification', listener: (message: PgNotification) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  off(event: 'notification', listener: (message: PgNotification) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'end', listener: () => void): unknown;
}

/** Runs one statement (without parameters) on the given connection. */
type RunOn<C> = (client: C, text: string) => Promise<unknown>;

export function hasEvents(client: object): client is PgClientEvents {
  const c = client as Partial<PgClientEvents>;
  return typeof c.on === 'function' && typeof c.off === 'function';
}

const listenAll = (channels: readonly string[]) => channels.map(listenStatement).join('; ');
const unlistenAll = (channels: readonly string[]) => channels.map(unlistenStatement).join('; ');

/** Our handlers on one client. Its first `error` or `end` is the session's drop. */
interface Tap {
  /** Settles once the client emitted `end`. */
  readonly ended: Promise<void>;
  readonly dropped: boolean;
  /** Stops delivering and reporting; an `error` handler stays so a late one crashes nothing. */
  silence(): void;
  /** Takes every handler off (the caller's client, which lives on). */
  detach(): void;
}

function tap(
  client: PgClientEvents,
  handlers: GuardedHandlers,
  onDrop: (error: unknown) => void,
): Tap {
  let dropped = false;
  let silenced = false;
  let markEnded!: () => void;
  const ended = new Promise<void>((resolve) => {
    markEnded = resolve;
  });
  const drop = (error: unknown) => {
    if (dropped) return;
    dropped = true;
    if (!silenced) onDrop(error);
  };
  const onNotification = (message: PgNotification) => {
    if (!silenced) handlers.notification(message.channel, message.payload);
  };
  const onError = (error: Error) => drop(error);
  const onEnd = () => {
    markEnded();
    drop(new Error('the listening connection ended'));
  };
  client.on('notification', onNotification);
  client.on('error', onError);
  client.on('end', onEnd);
  return {
    ended,
    get dropped() {
      return dropped;
    },
    silence() {
      silenced = true;
      client.off('notification', onNotification);
    },
    detach() {
      silenced = true;
      client.off('notification', onNotification);
      client.off('error', onError);
      client.off('end', onEnd);
    },
  };
}

/**
 * How long close() waits for a connection to end, a connect in progress or an UNLISTEN, before
 * it resolves anyway (what it waited for still ends, later).
 */
const END_WAIT_MS = 2000;

interface PooledClient {
  release(destroy?: boolean | Error): void;
}

/** The part of a pg `Pool` a listener uses. */
export interface PgListenPool<C extends PooledClient> {
  connect(): Promise<C>;
}

/**
 * Listens on a dedicated connection of `pool`, held until close. When it drops (an `error` or
 * `end` event), it is destroyed and a fresh one connected, with `reconnectDelay` between
 * attempts, until one LISTENs again.
 */
export async function listenOnPool<C extends PooledClient>(
  name: string,
  pool: PgListenPool<C>,
  run: RunOn<C>,
  channels: readonly string[],
  listenHandlers: ListenHandlers,
): Promise<Listener> {
  const names = assertChannelNames(channels, `${name}: listen`);
  const handlers = guardHandlers(listenHandlers, names);

  interface Held {
    readonly client: C;
    readonly tap: Tap;
    released: boolean;
  }
  let current: Held | undefined;
  let connecting: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let closing: Promise<void> | undefined;

  const destroy = (held: Held, error?: unknown) => {
    held.tap.silence();
    if (held.released) return;
    held.released = true;
    // Destroyed, never returned to the pool: it may be broken, and its LISTENs end with it.
    held.client.release(error instanceof Error ? error : true);
  };

  const open = async (): Promise<Held> => {
    const client = await pool.connect();
    if (!hasEvents(client)) {
      client.release();
      throw new TypeError(`${name}: the pool's clients have no on()/off(); cannot listen`);
    }
    const held: Held = {
      client,
      released: false,
      tap: tap(client, handlers, (error) => dropped(held, error)),
    };
    try {
      await run(client, listenAll(names));
      if (held.tap.dropped) throw new Error('the listening connection dropped during LISTEN');
    } catch (error) {
      destroy(held, error);
      throw error;
    }
    return held;
  };

  const dropped = (held: Held, error: unknown) => {
    if (held !== current) return; // still opening: open() rejects instead
    current = undefined;
    destroy(held, error);
    if (handlers.closed) return;
    handlers.error(error);
    retryLater();
  };

  const retryLater = () => {
    timer = setTimeout(reconnect, reconnectDelay(failures++));
  };

  const reconnect = () => {
    timer = undefined;
    connecting = open().then(
      (held) => {
        connecting = undefined;
        if (handlers.closed) return destroy(held); // close() gave up waiting for it
        current = held;
        failures = 0;
        handlers.listening();
      },
      (error: unknown) => {
        connecting = undefined;
        if (handlers.closed) return;
        handlers.error(error);
        retryLater();
      },
    );
  };

  current = await open();
  handlers.listening();

  return {
    close() {
      closing ??= (async () => {
        handlers.close();
        clearTimeout(timer);
        // A connect may wait long (a full pool, a silent network): once it ends, it is destroyed.
        if (connecting) await waitAtMost(connecting, END_WAIT_MS);
        const held = current;
        current = undefined;
        if (!held) return;
        destroy(held);
        await waitAtMost(held.tap.ended, END_WAIT_MS);
      })();
      return closing;
    },
  };
}

/**
 * Listens on the caller's client, through `serial` (the driver's lock, so a LISTEN never lands
 * inside a transaction running on the same client). A drop is reported once through `onError`;
 * the client is dead then, and the listener stays down.
 */
export async function listenOnClient<C extends PgClientEvents>(
  name: string,
  client: C,
  serial: <T>(fn: () => Promise<T>) => Promise<T>,
  run: RunOn<C>,
  channels: readonly string[],
  listenHandlers: ListenHandlers,
): Promise<Listener> {
  const names = assertChannelNames(channels, `${name}: listen`);
  const handlers = guardHandlers(listenHandlers, names);
  let down = false;
  let listening = false;
  const tapped = tap(client, handlers, (error) => {
    down = true;
    if (listening) handlers.error(error); // before that, listen() rejects instead
  });
  try {
    await serial(() => run(client, listenAll(names)));
    if (down) throw new Error('the client dropped during LISTEN');
  } catch (error) {
    tapped.detach();
    throw error;
  }
  listening = true;
  sharedChannels.add(client, names);
  handlers.listening();

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        handlers.close();
        const unheld = sharedChannels.remove(client, names);
        // The session lives on as the caller's: leave it listening on nothing of ours.
        if (!down && unheld.length > 0)
          await waitAtMost(
            serial(() => run(client, unlistenAll(unheld))),
            END_WAIT_MS,
          );
        tapped.detach();
      })();
      return closing;
    },
  };
}
