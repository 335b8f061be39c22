/**
 * Every adapter set up against the real PostgreSQL (PGlite in-process), for suites that run
 * once per driver. `EDDY_DRIVERS=node-postgres,pglite` narrows the list.
 */

import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import postgres from 'postgres';
import { nodePostgres } from '../../adapters/node-postgres/index.js';
import { pglite } from '../../adapters/pglite/index.js';
import { postgresJs } from '../../adapters/postgres-js/index.js';
import type { Driver } from '../../src/driver.js';
import { DATABASE_URL } from './postgres.js';

export interface DriverSetup {
  readonly name: string;
  /** Whether the driver talks to the shared real PostgreSQL (false: its own PGlite). */
  readonly sharedServer: boolean;
  open(url?: string): Promise<{ driver: Driver; close: () => Promise<void> }>;
}

export const driverSetups: DriverSetup[] = [
  {
    name: 'node-postgres (Pool)',
    sharedServer: true,
    async open(url = DATABASE_URL) {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      return { driver: nodePostgres(pool), close: () => pool.end() };
    },
  },
  {
    name: 'node-postgres (Client)',
    sharedServer: true,
    async open(url = DATABASE_URL) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return { driver: nodePostgres(client), close: () => client.end() };
    },
  },
  {
    name: 'postgres-js',
    sharedServer: true,
    async open(url = DATABASE_URL) {
      const sql = postgres(url, { max: 4, onnotice: () => undefined });
      return { driver: postgresJs(sql), close: () => sql.end() };
    },
  },
  {
    name: 'pglite',
    sharedServer: false,
    async open() {
      const db = new PGlite();
      await db.waitReady;
      return { driver: pglite(db), close: () => db.close() };
    },
  },
];

export function selectedSetups(): DriverSetup[] {
  const only = process.env.EDDY_DRIVERS?.split(',').map((s) => s.trim());
  if (!only) return driverSetups;
  return driverSetups.filter((s) => only.some((o) => s.name.startsWith(o)));
}
