/**
 * A migrated River schema on the real PostgreSQL for one test file, with a pg Pool for direct
 * inspection and the Eddy driver under test.
 */

import pg from 'pg';
import { nodePostgres } from '../../adapters/node-postgres/index.js';
import type { Driver } from '../../src/driver/driver.js';
import { migrate } from '../../src/migrate.js';
import { createSchema, DATABASE_URL } from './postgres.js';

export interface RiverSchema {
  schema: string;
  pool: pg.Pool;
  driver: Driver;
  /** Rows of river_job, decoded by pg, for assertions. */
  jobs(where?: string, params?: unknown[]): Promise<Record<string, any>[]>;
  close(): Promise<void>;
}

export async function riverSchema(prefix = 'rv'): Promise<RiverSchema> {
  const { schema, drop } = await createSchema(prefix);
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 8 });
  const driver = nodePostgres(pool);
  await migrate(driver, { schema });
  return {
    schema,
    pool,
    driver,
    async jobs(where = 'true', params = []) {
      const { rows } = await pool.query(
        `SELECT *, state::text AS state FROM ${schema}.river_job WHERE ${where} ORDER BY id`,
        params,
      );
      return rows;
    },
    async close() {
      await pool.end();
      await drop();
    },
  };
}
