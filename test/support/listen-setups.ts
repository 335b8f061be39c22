/**
 * Every driver that can LISTEN, opened so that a test can find its sessions: each connection it
 * makes to the real PostgreSQL carries the given `application_name` (PGlite has no server).
 * `EDDY_DRIVERS=node-postgres,pglite` narrows the list, as for test/support/drivers.ts.
 */

import { PGlite } from '@electric-sql/pglite';
import { Client as NeonClient, Pool as NeonPool } from '@neondatabase/serverless';
import pg from 'pg';
import postgres from 'postgres';
import { neonWebSocket } from '../../adapters/neon-websocket/index.js';
import { nodePostgres } from '../../adapters/node-postgres/index.js';
import { pglite } from '../../adapters/pglite/index.js';
import { type PostgresJsLike, postgresJs } from '../../adapters/postgres-js/index.js';
import type { Driver } from '../../src/driver/driver.js';
import { startNeonLocal } from './neon-local.js';

export type ListeningDriver = Driver & Required<Pick<Driver, 'listen'>>;

export interface OpenListenDriver {
  driver: ListeningDriver;
  /** Ends the client (and the local Neon endpoint). */
  close(): Promise<void>;
  /** Connections the Pool holds. */
  poolSize?(): number;
  /** Handlers on a plain Client's `notification`, `error` and `end` events. */
  handlerCount?(): number;
}

interface EventCounting {
  listenerCount(event: string): number;
}
const handlerCount = (client: EventCounting) => () =>
  ['notification', 'error', 'end'].reduce((n, event) => n + client.listenerCount(event), 0);

/** What a user of a long-lived Client does: pg emits `error` on a drop, unhandled it is fatal. */
const userErrorHandler = () => undefined;

export interface ListenSetup {
  readonly name: string;
  /**
   * Where the listener LISTENs. `pool`: a connection of its own, replaced when it drops.
   * `client`: the caller's client, which cannot be replaced. `postgres-js`: postgres.js' own
   * listening connection, which it reconnects and keeps until `sql.end()`. `pglite`: in-process.
   */
  readonly session: 'pool' | 'client' | 'postgres-js' | 'pglite';
  /** Opens the driver on `url`; for a Client, connects it (so `url` must be reachable). */
  open(url: string, applicationName: string): Promise<OpenListenDriver>;
}

function listening(driver: Driver): ListeningDriver {
  if (!driver.listen) throw new Error(`${driver.name} has no listen()`);
  return driver as ListeningDriver;
}

export const listenSetups: ListenSetup[] = [
  {
    name: 'node-postgres (Pool)',
    session: 'pool',
    async open(url, applicationName) {
      const pool = new pg.Pool({
        connectionString: url,
        application_name: applicationName,
        max: 4,
      });
      return {
        driver: listening(nodePostgres(pool)),
        close: () => pool.end(),
        poolSize: () => pool.totalCount,
      };
    },
  },
  {
    name: 'node-postgres (Client)',
    session: 'client',
    async open(url, applicationName) {
      const client = new pg.Client({ connectionString: url, application_name: applicationName });
      client.on('error', userErrorHandler);
      await client.connect();
      return {
        driver: listening(nodePostgres(client)),
        close: () => client.end(),
        handlerCount: handlerCount(client),
      };
    },
  },
  {
    name: 'postgres-js',
    session: 'postgres-js',
    async open(url, applicationName) {
      const sql = postgres(url, {
        max: 2,
        onnotice: () => undefined,
        connection: { application_name: applicationName },
      });
      return {
        driver: listening(postgresJs(sql as unknown as PostgresJsLike)),
        close: () => sql.end({ timeout: 1 }),
      };
    },
  },
  {
    name: 'neon-websocket (Pool)',
    session: 'pool',
    async open(url, applicationName) {
      const endpoint = await startNeonLocal({ databaseUrl: url });
      const pool = new NeonPool({
        connectionString: endpoint.neonUrlFor(url),
        application_name: applicationName,
        max: 4,
      });
      return {
        driver: listening(neonWebSocket(pool)),
        close: async () => {
          await pool.end();
          await endpoint.close();
        },
        poolSize: () => pool.totalCount,
      };
    },
  },
  {
    name: 'neon-websocket (Client)',
    session: 'client',
    async open(url, applicationName) {
      const endpoint = await startNeonLocal({ databaseUrl: url });
      const client = new NeonClient({
        connectionString: endpoint.neonUrlFor(url),
        application_name: applicationName,
      });
      client.on('error', userErrorHandler);
      try {
        await client.connect();
      } catch (error) {
        await endpoint.close();
        throw error;
      }
      return {
        driver: listening(neonWebSocket(client)),
        close: async () => {
          // The driver's bundled pg never settles end() on a client whose connection dropped.
          await Promise.race([client.end(), new Promise((resolve) => setTimeout(resolve, 1000))]);
          await endpoint.close();
        },
        handlerCount: handlerCount(client),
      };
    },
  },
  {
    name: 'pglite',
    session: 'pglite',
    async open() {
      const db = new PGlite();
      await db.waitReady;
      return { driver: listening(pglite(db)), close: () => db.close() };
    },
  },
];

export function selectedListenSetups(): ListenSetup[] {
  const only = process.env.EDDY_DRIVERS?.split(',').map((s) => s.trim());
  if (!only) return [...listenSetups];
  return listenSetups.filter((s) => only.some((o) => s.name.startsWith(o)));
}
