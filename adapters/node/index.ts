/**
 * Node: a long-running loop of ticks, for when a job outgrows serverless. Same core, same
 * runner; the loop only decides when to tick and how to stop. Its ticks hand the jobs still
 * running at their deadline to the next tick (`handOver`), so a job is never cut short by a
 * tick boundary, and a worker that ignores its abort keeps its job's lease until it settles
 * (`hooks.onJobStuck`). Stats and events reach the runner's `hooks`, with `source: 'loop'`.
 *
 * @example
 * ```ts
 * import { startLoop } from 'eddy/node';
 * const loop = startLoop(runner, { pollIntervalMs: 1000 });
 * // SIGTERM/SIGINT: stop claiming, let running jobs finish for up to 10 s, snooze the rest.
 * await loop.done;
 * ```
 */

import {
  canListen,
  createHandOver,
  createKickReceiver,
  invocationDeadlines,
  type Listener,
  listenForRiver,
  type Runner,
} from '../../src/index.js';
import { type FetchServer, serveFetch } from './http-server.js';

/**
 * Where the loop accepts kicks (`createKick`), so a producer anywhere — a Worker, a Next.js
 * route, another service — starts work at once without a tick endpoint of its own.
 */
export interface LoopKickOptions {
  /** The signing secret(s) a kick may carry (at least 32 characters; several to rotate). */
  secret: string | readonly string[];
  /** Default 8788; 0 picks a free port (see `loop.kickUrl`). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default `/kick`. */
  path?: string;
}

export interface LoopOptions {
  /**
   * Wait between ticks that found nothing to do, and while jobs run with the queues empty, how
   * often to look for new ones. Default 1000 ms.
   */
  pollIntervalMs?: number;
  /** Budget of each tick. Default 30 s. */
  tickBudgetMs?: number;
  /** On stop, how long running jobs may take to finish before they are snoozed. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Stop on SIGTERM and SIGINT. Default true. */
  handleSignals?: boolean;
  /**
   * LISTEN for River's notifications (`runner.listen()`) when the runner's driver keeps a
   * session: inserted jobs start at once, cancels and pauses act at once; polling stays the
   * fallback. Default true.
   */
  listen?: boolean;
  /** A tick that failed (the loop goes on after `pollIntervalMs`). Default: `logger.error`. */
  onError?: (error: unknown) => void;
  /**
   * Where the loop reports: `warn` for each maintenance step a tick reports failed in
   * `stats.errors` (a periodic job whose args fail their schema, say), `error` for a failed
   * tick when there is no `onError`. Default: `console`.
   */
  logger?: LoopLogger;
  /**
   * Accept Eddy's signed kicks over HTTP: each wakes the loop like a LISTEN notification, so a
   * producer that cannot reach this database's notifications (Neon HTTP, another service)
   * starts work at once: `createClient({ kick: createKick({ url: await loop.kickUrl, secret }) })`.
   */
  kick?: LoopKickOptions;
}

/** The part of `console` the loop writes to. */
export interface LoopLogger {
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface Loop {
  /** Stops gracefully; resolves when the last tick has recorded its outcomes. */
  stop(): Promise<void>;
  /** Settles when the loop has stopped. */
  readonly done: Promise<void>;
  /** Skips the current wait: the loop ticks now (what a kick or a notification does). */
  wake(): void;
  /** With the `kick` option: the URL kicks go to, once it listens (else undefined). */
  readonly kickUrl: Promise<string | undefined>;
}

const LOOP_KEYS = new Set([
  'pollIntervalMs',
  'tickBudgetMs',
  'shutdownTimeoutMs',
  'handleSignals',
  'listen',
  'onError',
  'logger',
  'kick',
]);

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function startLoop(runner: Runner, options: LoopOptions = {}): Loop {
  for (const key of Object.keys(options)) {
    if (!LOOP_KEYS.has(key)) {
      throw new TypeError(
        `startLoop: unknown option '${key}'${key === 'onTick' ? " (ticks are reported to the runner's hooks: createRunner({ hooks: { onTick } }))" : ''}`,
      );
    }
  }
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const tickBudgetMs = options.tickBudgetMs ?? 30_000;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  const logger = options.logger ?? console;
  const onError =
    options.onError ?? ((error: unknown) => logger.error('eddy: tick failed:', error));
  const stopping = new AbortController();

  // A notification since the last tick began: the next sleep is skipped.
  let woken = false;
  let wakeSleep: (() => void) | undefined;
  const wakeLoop = () => {
    woken = true;
    wakeSleep?.();
  };
  // A kick or `loop.wake()`: also a tick running with its queues drained claims again now, not
  // at its next poll (a notification wakes that tick itself, for its own queue).
  const wake = () => {
    wakeLoop();
    runner.control?.wake();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeSleep = undefined;
        stopping.signal.removeEventListener('abort', done);
        resolve();
      }
      wakeSleep = done;
      stopping.signal.addEventListener('abort', done, { once: true });
    });

  const sleepFor = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopping.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });

  // LISTEN where the driver can; retried in the background if the database is not there yet.
  let listener: Listener | undefined;
  const listening =
    options.listen === false || !canListen(runner)
      ? Promise.resolve()
      : (async () => {
          for (let delay = 1000; !stopping.signal.aborted; delay = Math.min(delay * 2, 30_000)) {
            try {
              const opened = await listenForRiver(runner, {
                onWake: wakeLoop,
                onError: (error) =>
                  logger.warn(
                    `eddy: LISTEN connection lost (${describe(error)}); reconnecting, polling meanwhile`,
                  ),
              });
              if (stopping.signal.aborted) await opened.close();
              else listener = opened;
              return;
            } catch (error) {
              logger.warn(
                `eddy: LISTEN failed (${describe(error)}); polling every ${pollIntervalMs} ms, trying again in ${delay / 1000} s`,
              );
              await sleepFor(delay);
            }
          }
        })();
  // Kicks: a small HTTP server whose only route wakes the loop.
  let kickServer: FetchServer | undefined;
  const kick = options.kick;
  // Built now, so a short or missing secret fails startLoop itself.
  const receive = kick
    ? createKickReceiver({
        secrets: typeof kick.secret === 'string' ? [kick.secret] : (kick.secret ?? []),
        onKick: () => wake(),
      })
    : undefined;
  const kickUrl: Promise<string | undefined> =
    kick && receive
      ? (async () => {
          const path = kick.path ?? '/kick';
          kickServer = await serveFetch(
            (request) =>
              new URL(request.url).pathname === path
                ? receive(request)
                : new Response('not found\n', { status: 404 }),
            { port: kick.port ?? 8788, host: kick.host ?? '127.0.0.1' },
          );
          if (stopping.signal.aborted) await kickServer.close(0);
          return `${kickServer.url}${path}`;
        })()
      : Promise.resolve(undefined);
  // A server that could not listen is a failed start of that part only: say so, poll on.
  kickUrl.catch((error) => logger.error('eddy: kick server failed to start:', error));

  // One hand-over for every tick: what runs at a tick's deadline goes on in the next one.
  const handOver = runner.control ? createHandOver(runner) : undefined;
  const tick = (maintenance: boolean) =>
    runner.tick({
      source: 'loop',
      // The hard deadline covers the graceful stop: a tick can outlive its budget by that.
      ...invocationDeadlines({
        startedAt: Date.now(),
        budgetMs: tickBudgetMs,
        overrunMs: shutdownTimeoutMs,
      }),
      signal: stopping.signal,
      gracefulStopMs: shutdownTimeoutMs,
      ...(handOver ? { handOver } : {}),
      pollIntervalMs,
      maintenance,
    });

  const done = (async () => {
    let handedOver = false;
    while (!stopping.signal.aborted) {
      let idle = true;
      woken = false;
      try {
        const stats = await tick(true);
        // The tick went on without these steps; unlogged, a failing periodic job goes unseen.
        for (const step of stats.errors) logger.warn(`eddy: tick maintenance: ${step}`);
        handedOver = stats.handedOver > 0;
        idle = stats.claimed === 0 && !handedOver;
      } catch (error) {
        onError(error);
      }
      if (idle && !stopping.signal.aborted) await sleep(pollIntervalMs);
    }
    // Stopped between ticks while jobs handed over still ran: one last tick adopts them, lets
    // them finish within the shutdown timeout and records them.
    if (handedOver) {
      try {
        await tick(false);
      } catch (error) {
        onError(error);
      }
    }
    await listening;
    await listener?.close().catch(() => undefined);
    await kickUrl.catch(() => undefined);
    await kickServer?.close(1_000);
  })();

  const onSignal = () => void stop();
  const handleSignals = options.handleSignals ?? true;
  if (handleSignals) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  async function stop(): Promise<void> {
    stopping.abort();
    if (handleSignals) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
    await done;
  }
  return { stop, done, wake, kickUrl };
}
