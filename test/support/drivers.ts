/**
 * Every adapter set up against the real PostgreSQL (PGlite in-process), for suites that run
 * once per driver. `EDDY_DRIVERS=node-postgres,pglite` narrows the list. The query-builder
 * adapters (Drizzle, Kysely) live only inside the builder's transaction, so they are listed
 * apart, in `builderSetups`, for the suites that can run over them.
 */

import { PGlite } from '@electric-sql/pglite';
import { Pool as NeonPool, type NeonQueryFunction, neon } from '@neondatabase/serverless';
import { sql as drizzleSql } from 'drizzle-orm';
import { drizzle as drizzleNeon } from 'drizzle-orm/neon-serverless';
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, sql as ksql, PostgresDialect } from 'kysely';
import pg from 'pg';
import postgres from 'postgres';
import { type DrizzleTransactionLike, drizzleTx } from '../../adapters/drizzle/index.js';
import { kyselyTx } from '../../adapters/kysely/index.js';
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
  /**
   * Rows reach Eddy without column types, as the query builder's driver parsed them (Kysely):
   * Eddy decodes nothing, so tests of its decoding (int8 as bigint, the server's raw text)
   * cannot hold. test/insert-query-builders.test.ts pins what such a setup hands over instead.
   */
  readonly untypedResults?: boolean;
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

type UserTransaction = NonNullable<OpenDriver['userTransaction']>;

/**
 * A long-lived driver over an adapter that exists only inside a query builder's transaction,
 * for suites written against one: every call opens a builder transaction of its own and commits
 * it (rolls it back when the call throws), as a user who enqueues one job per builder
 * transaction does. `transaction` runs the adapter's own (a savepoint) inside the builder's, so
 * the adapter's code is what is tested.
 */
function perCallBuilderTransaction(name: string, userTransaction: UserTransaction): Driver {
  return {
    name,
    capabilities: { interactiveTransactions: true, inTransaction: false },
    query: (text, params, options) => userTransaction((tx) => tx.query(text, params, options)),
    transaction: (fn) =>
      userTransaction((tx) => {
        if (!tx.transaction) throw new Error(`${tx.name} has no transaction()`);
        return tx.transaction(fn);
      }),
  };
}

/** A Drizzle database's transaction, the user's SQL run by Drizzle itself. */
function drizzleUserTransaction(db: {
  transaction<T>(fn: (tx: DrizzleTransactionLike) => Promise<T>): Promise<T>;
}): UserTransaction {
  return (fn) =>
    db.transaction((tx) =>
      fn(drizzleTx(tx), async (text) => {
        await tx.execute(drizzleSql.raw(text));
      }),
    );
}

export const drizzleNodePostgres: DriverSetup = {
  name: 'drizzle (node-postgres)',
  sharedServer: true,
  async open(url = DATABASE_URL) {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const userTransaction = drizzleUserTransaction(drizzle(pool));
    return {
      driver: perCallBuilderTransaction('drizzle', userTransaction),
      close: () => pool.end(),
      userTransaction,
    };
  },
};

export const drizzleNeonWebSocket: DriverSetup = {
  name: 'drizzle (neon-websocket)',
  sharedServer: true,
  async open(url = DATABASE_URL) {
    const endpoint = await startNeonLocal({ databaseUrl: url });
    const pool = new NeonPool({ connectionString: endpoint.neonUrl(), max: 4 });
    const userTransaction = drizzleUserTransaction(drizzleNeon(pool));
    return {
      driver: perCallBuilderTransaction('drizzle', userTransaction),
      close: async () => {
        await pool.end();
        await endpoint.close();
      },
      userTransaction,
    };
  },
};

export const kyselyNodePostgres: DriverSetup = {
  name: 'kysely (node-postgres)',
  sharedServer: true,
  untypedResults: true,
  async open(url = DATABASE_URL) {
    const db = new Kysely<Record<string, never>>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 4 }) }),
    });
    const userTransaction: UserTransaction = (fn) =>
      db.transaction().execute((trx) =>
        fn(kyselyTx(trx), async (text) => {
          await ksql.raw(text).execute(trx);
        }),
      );
    return {
      driver: perCallBuilderTransaction('kysely', userTransaction),
      close: () => db.destroy(),
      userTransaction,
    };
  },
};

/** The query-builder adapters, each over the builder's driver for PostgreSQL. */
export const builderSetups: DriverSetup[] = [
  drizzleNodePostgres,
  drizzleNeonWebSocket,
  kyselyNodePostgres,
];

export function selectedSetups(setups: readonly DriverSetup[] = driverSetups): DriverSetup[] {
  const only = process.env.EDDY_DRIVERS?.split(',').map((s) => s.trim());
  if (!only) return [...setups];
  return setups.filter((s) => only.some((o) => s.name.startsWith(o)));
}

/**
 * A driver that fails any statement: for checks that must refuse bad input before anything
 * reaches the database (a call that reached it would show as this error).
 */
export const unreachableDriver: Driver = {
  name: 'unreachable',
  capabilities: { interactiveTransactions: true, inTransaction: false },
  query: async () => {
    throw new Error('the database was reached');
  },
  transaction: async () => {
    throw new Error('the database was reached');
  },
};
