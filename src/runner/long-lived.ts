/**
 * What a long-lived process adds to the runner (`eddy/node` uses both; a serverless bundle,
 * which imports neither, does not carry them):
 *
 * - `createHandOver(runner)`: jobs still running when a tick ends are handed to the next tick
 *   instead of being snoozed, and a heartbeat renews the leases of every job that outlives the
 *   tick that claimed it (handed over, or stuck on a worker that ignores its abort), so none is
 *   rescued and run twice while this process lives. If the process dies, the heartbeat stops,
 *   the leases pass and the jobs are rescued (retried with River's backoff).
 * - `listenForRiver(runner)`: LISTEN on River's channels (`notifications.ts`) over a session the
 *   driver keeps: jobs inserted by Eddy or Go River start at once in a running tick, a cancel
 *   fires the job's AbortSignal, a pause stops claims from the queue.
 */

import { Database } from '../driver/database.js';
import type { Driver, Listener } from '../driver/driver.js';
import { UnsupportedError } from '../errors.js';
import { extendLeases } from '../ops/claim-jobs.js';
import { currentSchema } from '../ops/session.js';
import { parseRiverNotification, riverChannels } from './notifications.js';
import type { Owner, Pool, Running, Slots } from './pool.js';
import type { Finished } from './recorder.js';
import type { Runner } from './runner.js';

/** A runner's parts that a long-lived process acts on (`runner.control`). */
export interface RunnerControl {
  readonly driver: Driver;
  readonly schema: string | undefined;
  readonly prefix: string;
  /** The queues the runner works. */
  readonly queues: readonly string[];
  readonly leaseMarginMs: number;
  readonly clock: (() => Date) | undefined;
  readonly slots: Slots;
  /** Jobs may be available in `queue` (all queues when absent): running ticks claim again. */
  wake(queue?: string): void;
  /** A cancel was requested: a running tick aborts the job (or cancels it unstarted). */
  cancel(jobId: bigint): void;
  /** A queue was paused (`*`: all): running ticks claim nothing more from it. */
  pause(queue: string): void;
  resume(queue: string): void;
}

/** Carries running jobs from one tick of a runner to the next (`tick({ handOver })`). */
export interface HandOver {
  /** At a tick's start: the jobs still running, and the outcomes of those that ended meanwhile. */
  adopt(): { running: Running[]; finished: Finished[] };
  /** At a tick's deadline: jobs still running, for the next tick. */
  hold(running: readonly Running[]): void;
  /** A tick is running: the heartbeat covers its jobs too. */
  enter(pool: Pool): void;
  leave(pool: Pool): void;
}

/** How often the leases of jobs that outlive their tick are renewed. */
export const HEARTBEAT_MS = 5_000;

function controlOf(runner: Runner, where: string): RunnerControl {
  if (!runner?.control)
    throw new UnsupportedError(`${where}: pass a runner made by createRunner()`);
  return runner.control;
}

/**
 * The hand-over for a long-lived process's ticks: pass the same one to every tick.
 *
 * @example
 * ```ts
 * const handOver = createHandOver(runner);
 * for (;;) await runner.tick({ budgetMs: 30_000, handOver });
 * ```
 */
export function createHandOver(runner: Runner): HandOver {
  const control = controlOf(runner, 'createHandOver');
  const carried = new Set<Running>();
  const finished: Finished[] = [];
  const pools = new Set<Pool>();
  // Between ticks the hand-over owns the jobs: one that ends then is recorded by the next tick.
  const carrier: Owner = {
    settle(running, outcome) {
      if (!carried.delete(running)) return;
      control.slots.give(running.job.queue);
      finished.push({
        job: running.job,
        token: running.token,
        outcome,
        runMs: Math.max(0, performance.now() - running.startedAt),
      });
    },
  };

  const db = new Database(control.driver);
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Renewed to this far ahead, whenever less than half of it is left.
  const renewalMs = control.leaseMarginMs + 3 * HEARTBEAT_MS;
  const beat = async () => {
    timer = undefined;
    const due = Date.now() + Math.min(renewalMs / 2, 2 * HEARTBEAT_MS);
    const held = [...carried, ...[...pools].flatMap((pool) => [...pool.running])].filter(
      (running) => running.leaseExpiresAt < due,
    );
    if (held.length > 0) {
      try {
        const renewed = await extendLeases(
          db,
          control.prefix,
          held.map((running) => ({ id: running.job.id, token: running.token })),
          renewalMs,
          control.clock?.(),
        );
        const until = Date.now() + renewalMs;
        // One not renewed is no longer this attempt's (rescued, finalized): stop renewing it.
        for (const running of held)
          running.leaseExpiresAt = renewed.has(String(running.job.id))
            ? until
            : Number.POSITIVE_INFINITY;
      } catch {
        // The next beat tries again; each lease still has half its renewal left.
      }
    }
    keepBeating();
  };
  const keepBeating = () => {
    if (carried.size === 0 && pools.size === 0) {
      // Nothing outlives its tick: no timer may keep the process alive.
      clearTimeout(timer);
      timer = undefined;
      return;
    }
    if (timer) return;
    // Every HEARTBEAT_MS, sooner when a lease would pass before then (short ticks and margins).
    let earliest = Number.POSITIVE_INFINITY;
    for (const running of carried) earliest = Math.min(earliest, running.leaseExpiresAt);
    // A pool's jobs are leased until its lease unless renewed since (jobs it claims later too).
    const now = Date.now();
    for (const pool of pools) {
      if (pool.leaseUntil > now) earliest = Math.min(earliest, pool.leaseUntil);
      for (const running of pool.running) earliest = Math.min(earliest, running.leaseExpiresAt);
    }
    const delay = Math.min(HEARTBEAT_MS, Math.max(250, (earliest - now) / 2));
    timer = setTimeout(beat, delay);
  };

  return {
    adopt() {
      const running = [...carried];
      carried.clear();
      return { running, finished: finished.splice(0) };
    },
    hold(handed) {
      for (const running of handed) {
        running.owner = carrier;
        carried.add(running);
      }
      keepBeating();
    },
    enter(pool) {
      pools.add(pool);
      keepBeating();
    },
    leave(pool) {
      pools.delete(pool);
      keepBeating();
    },
  };
}

export interface ListenOptions {
  /**
   * Jobs became available in `queue` (a notification, a resume, or the listener connected
   * again and notifications may have been missed: then `*`). A loop sleeping between ticks
   * wakes here.
   */
  onWake?(queue: string): void;
  /** The listener lost its session (it reconnects by itself). */
  onError?(error: unknown): void;
}

/** Whether the runner's driver keeps a session `listenForRiver` can LISTEN on. */
export function canListen(runner: Runner): boolean {
  return typeof runner.control?.driver.listen === 'function';
}

/**
 * LISTENs on River's `<schema>.river_insert` and `<schema>.river_control` for a runner in a
 * long-lived process (`eddy/node` does it for you): jobs inserted by Eddy or Go River start at
 * once in a running tick, a cancel of a job it runs fires the job's `AbortSignal` (the outcome is
 * `cancelled`, as River's), and a pause stops claims from that queue and hands back its jobs not
 * yet started. Needs a driver that keeps a session (pg, Neon WebSocket, postgres.js, PGlite);
 * otherwise it throws `UnsupportedError` and ticks poll as before. Without a listener, a cancel
 * of a running job is seen at the tick's next flush.
 */
export async function listenForRiver(
  runner: Runner,
  options: ListenOptions = {},
): Promise<Listener> {
  const control = controlOf(runner, 'listenForRiver');
  const { driver } = control;
  if (!driver.listen)
    throw new UnsupportedError(
      `${driver.name} keeps no session to LISTEN on; ticks poll instead (use node-postgres, Neon's WebSocket Pool, postgres.js or PGlite to start jobs the moment they are inserted)`,
    );
  // Without a schema, River qualifies its channels with the session's current schema (as do
  // Eddy's inserts, cancels and pauses): listen where they are sent.
  const schema = control.schema ?? (await currentSchema(new Database(driver)));
  const channels = riverChannels(schema);
  const worked = new Set(control.queues);
  const wake = (queue: string) => {
    control.wake(queue === '*' ? undefined : queue);
    options.onWake?.(queue);
  };
  return driver.listen([channels.insert, channels.control], {
    onNotification({ channel, payload }) {
      const event = parseRiverNotification(channel, payload, channels);
      if (!event || (event.queue !== '*' && !worked.has(event.queue))) return;
      if (event.action === 'insert') wake(event.queue);
      else if (event.action === 'cancel') control.cancel(event.jobId);
      else if (event.action === 'pause') control.pause(event.queue);
      else {
        control.resume(event.queue);
        options.onWake?.(event.queue);
      }
    },
    // Connected (again): what was sent meanwhile is lost, so look once.
    onListening: () => wake('*'),
    onError: options.onError,
  });
}
