/**
 * River's schema as the PostgreSQL catalog describes it, for comparing Eddy's migrations with
 * River's. The fixtures come from ../shared/river-compat: `catalog.sql` was run (`psql -At -f`)
 * on a database migrated by River 001-007 on PostgreSQL 15 to produce `schema-catalog.json`.
 */

import { readFileSync } from 'node:fs';
import { Database } from '../../src/driver/database.js';
import type { Driver } from '../../src/driver/driver.js';
import { quoteIdentifier } from '../../src/driver/schema-name.js';

// The reference data lives beside the repository (shared/ in CI's checkout), never copied.
const fixtures = new URL('../../../shared/river-compat/', import.meta.url);

/** The catalog query, written for schema `public`. */
export const CATALOG_SQL = readFileSync(new URL('catalog.sql', fixtures), 'utf8');

/** What CATALOG_SQL printed for River's schema at version 7; version 8 changes no entry of it. */
export const RIVER_CATALOG: unknown = JSON.parse(
  readFileSync(new URL('schema-catalog.json', fixtures), 'utf8'),
);

interface Catalog {
  tables?: Record<string, { constraints?: Record<string, string> | null }> | null;
}

/**
 * Runs the catalog query for `schema` through `driver`. For a schema other than `public` the
 * query is pointed at it and runs with `search_path` set to it, so names print unqualified as
 * they do for `public`; index definitions always qualify the table, which is mapped back.
 *
 * PostgreSQL 18 (PGlite 0.5) also lists each NOT NULL column as a constraint `NOT NULL col`;
 * those are dropped, since the columns' `not_null` already says the same and PostgreSQL 15,
 * where the reference catalog was taken, has no such rows.
 */
export async function readCatalog(driver: Driver, schema = 'public'): Promise<unknown> {
  const text = CATALOG_SQL.replaceAll("nspname='public'", `nspname='${schema}'`);
  const [, result] = await new Database(driver).batch([
    { text: `SELECT set_config('search_path', $1, true)`, params: [quoteIdentifier(schema)] },
    { text },
  ]);
  const printed = Object.values(result?.rows[0] ?? {})[0];
  if (typeof printed !== 'string') throw new Error('catalog query returned no text');
  const catalog = JSON.parse(printed.replaceAll(` ON ${schema}.`, ' ON public.')) as Catalog;
  for (const table of Object.values(catalog.tables ?? {})) {
    const constraints = table.constraints ?? {};
    for (const [name, definition] of Object.entries(constraints)) {
      if (definition.startsWith('NOT NULL ')) delete constraints[name];
    }
  }
  return catalog;
}
