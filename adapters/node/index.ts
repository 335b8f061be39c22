/**
 * Node: a long-running loop of ticks, for when a job outgrows serverless. Same core, same
 * runner; the loop only decides when to tick and how to stop.
 *
 * @example
 * ```ts
 * import { startLoop } from 'eddy/node';
 * const loop = startLoop(runner, { pollIntervalMs: 1000 });
 * // SIGTERM/SIGINT: stop claiming, let running jobs finish for up to 10 s, snooze the rest.
 * await loop.done;
 * ```
 */

import { invocationDeadlines, type Runner, type TickStats } from '../../src/index.js';

export interface LoopOptions {
  /** Wait between ticks that found nothing to do. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Budget of each tick. Default 30 s. */
  tickBudgetMs?: number;
  /** On stop, how long running jobs may take to finish before they are snoozed. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Stop on SIGTERM and SIGINT. Default true. */
  handleSignals?: boolean;
  onTick?: (stats: TickStats) => void;
  /** A tick that failed (the loop goes on after `pollIntervalMs`). Default: `logger.error`. */
  onError?: (error: unknown) => void;
  /**
   * Where the loop reports: `warn` for each maintenance step a tick reports failed in
   * `stats.errors` (a periodic job whose args fail their schema, say), `error` for a failed
   * tick when there is no `onError`. Default: `console`.
   */
  logger?: LoopLogger;
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
}

export function startLoop(runner: Runner, options: LoopOptions = {}): Loop {
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const tickBudgetMs = options.tickBudgetMs ?? 30_000;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  const logger = options.logger ?? console;
  const onError =
    options.onError ?? ((error: unknown) => logger.error('eddy: tick failed:', error));
  const stopping = new AbortController();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      }
      stopping.signal.addEventListener('abort', done, { once: true });
    });

  const done = (async () => {
    while (!stopping.signal.aborted) {
      let idle = true;
      try {
        const stats = await runner.tick({
          // The hard deadline covers the graceful stop: a tick can outlive its budget by that.
          ...invocationDeadlines({
            startedAt: Date.now(),
            budgetMs: tickBudgetMs,
            overrunMs: shutdownTimeoutMs,
          }),
          signal: stopping.signal,
          gracefulStopMs: shutdownTimeoutMs,
        });
        // The tick went on without these steps; unlogged, a failing periodic job goes unseen.
        for (const step of stats.errors) logger.warn(`eddy: tick maintenance: ${step}`);
        options.onTick?.(stats);
        idle = stats.claimed === 0;
      } catch (error) {
        onError(error);
      }
      if (idle && !stopping.signal.aborted) await sleep(pollIntervalMs);
    }
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
  return { stop, done };
}
