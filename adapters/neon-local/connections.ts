/**
 * The endpoint's upstream connections, counted: WebSocket sessions and SQL-over-HTTP sessions
 * (busy or idle) together never exceed `maxConnections`, so a flood of clients waits here instead
 * of exhausting the server's `max_connections`. A caller that waits longer than `waitMs` is
 * refused. Idle HTTP sessions are the first to go when someone is waiting.
 */

import type { Credentials, SqlSession } from './upstream.js';

/** No slot came free in time. */
export class TooManyConnections extends Error {}

type Release = () => void;

export class ConnectionSlots {
  private used = 0;
  private readonly queue: ((release: Release) => void)[] = [];
  /** Frees an idle connection, if there is one; set by the HTTP session pool. */
  reclaim: () => boolean = () => false;

  constructor(
    readonly max: number,
    private readonly waitMs: number,
  ) {}

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with the function that gives the slot back (once) when the connection is gone. */
  acquire(): Promise<Release> {
    if (this.used < this.max) {
      this.used++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = (release: Release) => {
        clearTimeout(timer);
        resolve(release);
      };
      const timer = setTimeout(() => {
        this.queue.splice(this.queue.indexOf(grant), 1);
        reject(
          new TooManyConnections(
            `all ${this.max} upstream connections are in use (maxConnections) and none came free within ${this.waitMs / 1000}s`,
          ),
        );
      }, this.waitMs);
      this.queue.push(grant);
      this.reclaim();
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next(this.releaser());
      else this.used--;
    };
  }
}

interface Idle {
  readonly key: string;
  readonly session: SqlSession;
  readonly release: Release;
  readonly timer: NodeJS.Timeout;
}

/** A session borrowed for one request. */
export interface Lease {
  readonly session: SqlSession;
  /** Returns it: kept for the next request if it is still reusable, closed otherwise. */
  done(): void;
}

const IDLE_MILLIS = 10_000;

/** SQL-over-HTTP sessions, kept idle per credentials for the next request. */
export class SessionPool {
  private readonly idle: Idle[] = [];
  private closed = false;

  constructor(
    private readonly slots: ConnectionSlots,
    private readonly open: (credentials: Credentials) => Promise<SqlSession>,
  ) {
    slots.reclaim = () => this.closeOldestIdle();
  }

  async lease(credentials: Credentials): Promise<Lease> {
    const key = JSON.stringify([
      credentials.user,
      credentials.password,
      credentials.database,
      credentials.options,
    ]);
    const index = this.idle.findIndex((entry) => entry.key === key);
    if (index !== -1) {
      const [entry] = this.idle.splice(index, 1) as [Idle];
      clearTimeout(entry.timer);
      return this.leaseOf(key, entry.session, entry.release);
    }
    const release = await this.slots.acquire();
    try {
      return this.leaseOf(key, await this.open(credentials), release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Closes every idle session; busy ones close when their request ends. */
  close(): void {
    this.closed = true;
    while (this.closeOldestIdle());
  }

  private leaseOf(key: string, session: SqlSession, release: Release): Lease {
    return {
      session,
      done: () => {
        // With others waiting, the slot serves them better than an idle session would.
        if (this.closed || !session.reusable || this.slots.waiting > 0) {
          session.close().finally(release);
          return;
        }
        const timer = setTimeout(() => this.remove(entry), IDLE_MILLIS);
        timer.unref();
        const entry: Idle = { key, session, release, timer };
        this.idle.push(entry);
      },
    };
  }

  private closeOldestIdle(): boolean {
    const oldest = this.idle[0];
    if (!oldest) return false;
    this.remove(oldest);
    return true;
  }

  private remove(entry: Idle): void {
    const index = this.idle.indexOf(entry);
    if (index === -1) return;
    this.idle.splice(index, 1);
    clearTimeout(entry.timer);
    // The slot is free once the connection is gone, so the server never sees one too many.
    entry.session.close().finally(entry.release);
  }
}
