/**
 * The real PostgreSQL the tests run against (DATABASE_URL, default the local service), and
 * helpers that give each test file its own schema or database so files run in parallel.
 */

import pg from 'pg';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let counter = 0;
/** A name unique to this process and call, safe as a schema or database name. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`;
}

/** A pg Pool on the test database. The caller ends it. */
export function testPool(url = DATABASE_URL, max = 5): pg.Pool {
  return new pg.Pool({ connectionString: url, max });
}

/** Connection string for another database on the same server. */
export function urlForDatabase(database: string, url = DATABASE_URL): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates an empty database; returns its URL and a function that drops it. */
export async function createDatabase(
  prefix = 'eddy_t',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = uniqueName(prefix);
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: urlForDatabase(name),
    drop: async () => {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Creates an empty schema in the test database; returns its name and a function that drops it. */
export async function createSchema(
  prefix = 'eddy_s',
): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = uniqueName(prefix);
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  return {
    schema,
    drop: async () => {
      const d = new pg.Client({ connectionString: DATABASE_URL });
      await d.connect();
      await d.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await d.end();
    },
  };
}
