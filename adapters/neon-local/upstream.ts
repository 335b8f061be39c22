/**
 * Where the endpoint's queries go: a PostgreSQL server reached over TCP, or an in-process PGlite.
 * Both give node-postgres pools (for SQL over HTTP) and raw connections (for the WebSocket relay).
 */

import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import pg from 'pg';
import { type PGliteLike, PgliteConnection, PgliteGate } from './pglite-connection.js';

/** Who a request runs as: taken from the client's connection string. */
export interface Credentials {
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  /** The `options` connection parameter (e.g. `-c search_path=app`), passed on at startup. */
  readonly options: string | undefined;
}

export interface Upstream {
  /** For messages: `PostgreSQL at 127.0.0.1:5432`, `PGlite`. */
  readonly label: string;
  /** Credentials a local connection string carries by default. */
  readonly defaults: Credentials;
  /** A pool of connections as `credentials` (one pool per distinct credentials). */
  pool(credentials: Credentials): pg.Pool;
  /** A fresh raw connection; the first bytes written to it must be a startup packet. */
  connect(): Duplex;
  close(): Promise<void>;
}

const POOL_SIZE = 10;
const IDLE_MILLIS = 10_000;
/** Pools kept at once; the least recently created is retired beyond this. */
const MAX_POOLS = 32;

function quietPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  // An idle connection the server drops must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

/** A PostgreSQL server; only its host and port are fixed, user and database come per request. */
export function postgresUpstream(databaseUrl: string): Upstream {
  const url = new URL(databaseUrl);
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new TypeError(`databaseUrl must be a postgres:// URL, got ${url.protocol}//…`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(url.port || 5432);
  const defaults: Credentials = {
    user: decodeURIComponent(url.username) || 'postgres',
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    options: url.searchParams.get('options') ?? undefined,
  };
  const pools = new Map<string, pg.Pool>();
  return {
    label: `PostgreSQL at ${host}:${port}`,
    defaults,
    pool(credentials) {
      // The configured password stands in for its own user when the client sends none.
      const password =
        credentials.password ??
        (credentials.user === defaults.user ? defaults.password : undefined);
      const key = JSON.stringify([
        credentials.user,
        password,
        credentials.database,
        credentials.options,
      ]);
      let pool = pools.get(key);
      if (!pool) {
        pool = quietPool({
          host,
          port,
          user: credentials.user,
          password,
          database: credentials.database,
          options: credentials.options,
          application_name: 'eddy-neon-local',
          max: POOL_SIZE,
          idleTimeoutMillis: IDLE_MILLIS,
          connectionTimeoutMillis: 10_000,
        });
        pools.set(key, pool);
        if (pools.size > MAX_POOLS) {
          const [oldestKey, oldest] = pools.entries().next().value as [string, pg.Pool];
          pools.delete(oldestKey);
          oldest.end().catch(() => undefined);
        }
      }
      return pool;
    },
    connect: () => tcpConnect({ host, port }),
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.allSettled(all.map((p) => p.end()));
    },
  };
}

/** An in-process PGlite: one database, every connection serialised through one gate. */
export function pgliteUpstream(db: PGliteLike, closeDb: boolean): Upstream {
  const gate = new PgliteGate(db);
  let pool: pg.Pool | undefined;
  return {
    label: 'PGlite',
    defaults: { user: 'postgres', password: undefined, database: 'postgres', options: undefined },
    pool() {
      pool ??= quietPool({
        // host and port are never dialled: the stream below is the connection.
        host: 'pglite',
        user: 'postgres',
        database: 'postgres',
        stream: () => new PgliteConnection(gate),
        max: 4,
        idleTimeoutMillis: IDLE_MILLIS,
      });
      return pool;
    },
    connect: () => new PgliteConnection(gate),
    async close() {
      await pool?.end().catch(() => undefined);
      if (closeDb) await db.close();
    },
  };
}
