/**
 * Every adapter set up against the real PostgreSQL (PGlite in-process), for suites that run
 * once per driver. `EDDY_DRIVERS=node-postgres,pglite` narrows the list.
 */

import { PGlite } from '@electric-sql/pglite';
import { Pool as NeonPool, type NeonQueryFunction, neon } from '@neondatabase/serverless';
import pg from 'pg';
import postgres from 'postgres';
import { neonHttp } from '../../adapters/neon-http/index.js';
import { neonWebSocket } from '../../adapters/neon-websocket/index.js';
import { nodePostgres } from '../../adapters/node-postgres/index.js';
import { type PGliteLike, pglite } from '../../adapters/pglite/index.js';
import { type PostgresJsLike, postgresJs } from '../../adapters/postgres-js/index.js';
import type { Driver } from '../../src/driver/driver.js';
import { startNeonLocal } from './neon-local.js';
import { DATABASE_URL } from './postgres.js';

export interface OpenDriver {
  driver: Driver;
  close: () => Promise<void>;
  /**
   * Runs `fn` inside a transaction opened the way a user of this driver opens one, handing it
   * the Eddy driver over that transaction and a way to run the user's own SQL in it. Commits
   * unless `fn` throws. Absent for drivers without interactive transactions.
   */
  userTransaction?: <T>(
    fn: (tx: Driver, run: (text: string) => Promise<void>) => Promise<T>,
  ) => Promise<T>;
  /** Neon HTTP only: the user's own `sql` function (for `sql.transaction([...])`). */
  neonSql?: NeonQueryFunction<false, false>;
}

export interface DriverSetup {
  readonly name: string;
  /** Whether the driver talks to the shared real PostgreSQL (false: its own PGlite). */
  readonly sharedServer: boolean;
  open(url?: string): Promise<OpenDriver>;
}

interface PgLikePool {
  connect(): Promise<{
    query(text: string): Promise<unknown>;
    release(): void;
  }>;
}

/** BEGIN … COMMIT on a pooled connection, as a user of node-postgres or Neon's Pool writes it. */
async function pooledUserTransaction<T>(
  pool: PgLikePool,
  adapter: (client: never, options: { inTransaction: true }) => Driver,
  fn: (tx: Driver, run: (text: string) => Promise<void>) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const value = await fn(adapter(client as never, { inTransaction: true }), async (text) => {
      await client.query(text);
    });
    await client.query('COMMIT');
    return value;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

export const driverSetups: DriverSetup[] = [
  {
    name: 'node-postgres (Pool)',
    sharedServer: true,
    async open(url = DATABASE_URL) {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      return {
        driver: nodePostgres(pool),
        close: () => pool.end(),
        userTransaction: (fn) => pooledUserTransaction(pool, nodePostgres, fn),
      };
    },
  },
  {
    name: 'node-postgres (Client)',
    sharedServer: true,
    async open(url = DATABASE_URL) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return {
        driver: nodePostgres(client),
        close: () => client.end(),
        async userTransaction(fn) {
          await client.query('BEGIN');
          try {
            const value = await fn(nodePostgres(client, { inTransaction: true }), async (text) => {
              await client.query(text);
            });
            await client.query('COMMIT');
            return value;
          } catch (error) {
            await client.query('ROLLBACK');
            throw error;
          }
        },
      };
    },
  },
  {
    name: 'postgres-js',
    sharedServer: true,
    async open(url = DATABASE_URL) {
      const sql = postgres(url, { max: 4, onnotice: () => undefined });
      return {
        driver: postgresJs(sql),
        close: () => sql.end(),
        async userTransaction(fn) {
          let value: unknown;
          await sql.begin(async (tx) => {
            value = await fn(postgresJs(tx as unknown as PostgresJsLike), async (text) => {
              await tx.unsafe(text);
            });
          });
          return value as never;
        },
      };
    },
  },
  {
    name: 'neon-http',
    sharedServer: true,
    async open(url = DATABASE_URL) {
      const endpoint = await startNeonLocal({ databaseUrl: url });
      const sql = neon(endpoint.neonUrl());
      return { driver: neonHttp(sql), close: () => endpoint.close(), neonSql: sql };
    },
  },
  {
    name: 'neon-websocket (Pool)',
    sharedServer: true,
    async open(url = DATABASE_URL) {
      const endpoint = await startNeonLocal({ databaseUrl: url });
      const pool = new NeonPool({ connectionString: endpoint.neonUrl(), max: 4 });
      return {
        driver: neonWebSocket(pool),
        close: async () => {
          await pool.end();
          await endpoint.close();
        },
        userTransaction: (fn) => pooledUserTransaction(pool, neonWebSocket, fn),
      };
    },
  },
  {
    name: 'pglite',
    sharedServer: false,
    async open() {
      const db = new PGlite();
      await db.waitReady;
      return {
        driver: pglite(db),
        close: () => db.close(),
        userTransaction: (fn) =>
          db.transaction((tx) =>
            fn(pglite(tx as unknown as PGliteLike), async (text) => {
              await tx.query(text);
            }),
          ),
      };
    },
  },
];

export function selectedSetups(): DriverSetup[] {
  const only = process.env.EDDY_DRIVERS?.split(',').map((s) => s.trim());
  if (!only) return driverSetups;
  return driverSetups.filter((s) => only.some((o) => s.name.startsWith(o)));
}
