/**
 * What every adapter's `listen` shares, so the semantics of `Driver.listen` live in one place:
 * handlers that are never called after close and whose throws break nothing, the reconnect
 * backoff, and LISTEN counts for a session that several listeners share.
 */

import type { ListenHandlers, Notification } from './driver.js';

/** `ListenHandlers` as an adapter calls them. */
export interface GuardedHandlers {
  /** Delivers a notification if its channel is one of the listener's and it is still open. */
  notification(channel: string, payload: string | undefined): void;
  listening(): void;
  error(error: unknown): void;
  /** From now on nothing is called. */
  close(): void;
  readonly closed: boolean;
}

function call(fn: () => void): void {
  try {
    fn();
  } catch {
    // Dropped, as ListenHandlers says: a handler runs inside the driver's socket callback, where
    // a throw would break the driver's parser, and the listener must go on regardless.
  }
}

/**
 * Wraps `handlers` for one listener on `channels`: only those channels are delivered (a shared
 * session may listen on others), nothing is called once `close()` ran, and what a handler throws
 * is dropped.
 */
export function guardHandlers(
  handlers: ListenHandlers,
  channels: readonly string[],
): GuardedHandlers {
  const wanted = new Set(channels);
  let closed = false;
  return {
    notification(channel, payload) {
      if (closed || !wanted.has(channel)) return;
      const notification: Notification = { channel, payload: payload ?? '' };
      call(() => handlers.onNotification(notification));
    },
    listening() {
      if (!closed && handlers.onListening) call(() => handlers.onListening?.());
    },
    error(error) {
      if (!closed && handlers.onError) call(() => handlers.onError?.(error));
    },
    close() {
      closed = true;
    },
    get closed() {
      return closed;
    },
  };
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5000;

/**
 * How long to wait before reconnect attempt `attempt` (0 for the first after a drop): 100 ms
 * doubling to 5 s, each drawn from the upper half of its range so that many listeners cut at
 * once do not return in step.
 *
 * @example
 * ```ts
 * reconnectDelay(0); // 50–100 ms
 * reconnectDelay(3); // 400–800 ms
 * reconnectDelay(9); // 2.5–5 s
 * ```
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

const counts = new WeakMap<object, Map<string, number>>();

/**
 * LISTEN counts for one session that several listeners may share (a plain `Client`, a PGlite):
 * UNLISTEN a channel only when its last listener closes, or the others go deaf with it.
 */
export const sharedChannels = {
  /** Counts the listener's channels in. */
  add(session: object, channels: readonly string[]): void {
    const held = counts.get(session) ?? new Map<string, number>();
    counts.set(session, held);
    for (const channel of channels) held.set(channel, (held.get(channel) ?? 0) + 1);
  },
  /** Counts them out; returns those that no listener on `session` holds any more. */
  remove(session: object, channels: readonly string[]): string[] {
    const held = counts.get(session);
    if (!held) return [...channels];
    const unheld: string[] = [];
    for (const channel of channels) {
      const left = (held.get(channel) ?? 1) - 1;
      if (left > 0) held.set(channel, left);
      else {
        held.delete(channel);
        unheld.push(channel);
      }
    }
    return unheld;
  },
};

/**
 * Waits for `promise` to settle, at most `ms`, and never rejects: for a close() that must not
 * hang on a connection that is gone. Leaves no timer behind.
 */
export async function waitAtMost(promise: PromiseLike<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = Promise.resolve(promise).then(
    () => undefined,
    () => undefined,
  );
  await Promise.race([
    settled,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
