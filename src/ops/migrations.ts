/**
 * The migrator's statements: where to migrate and what is recorded there, and one version
 * applied in one transaction (see `migrate.ts` for why that works over every driver).
 */

import type { Database } from '../driver/database.js';
import { quoteIdentifier } from '../driver/schema-name.js';
import { EddyError } from '../errors.js';
import {
  MIGRATION_LINE,
  migrationAppliedGet,
  migrationApplyIfMissing,
  migrationIsolation,
  migrationLockAndScope,
  migrationTargetGet,
  migrationVersionsGetAssumingMain,
  migrationVersionsGetByLine,
} from '../sql/migrate.js';
import { type Migration, migrations } from '../sql/migrations.generated.js';

export { MIGRATION_LINE, type Migration, migrations };

export interface MigrationTarget {
  /** The schema, resolved from the session when not given. */
  schema: string;
  schemaExists: boolean;
  /** Versions of line `main` recorded so far. */
  versions: number[];
}

/** The schema to migrate (the session's current one when not given) and what it records. */
export async function readMigrationTarget(
  db: Database,
  schema: string | undefined,
): Promise<MigrationTarget> {
  const { rows } = await db.query<{
    schema: string | null;
    schema_exists: boolean;
    table_exists: boolean;
    line_exists: boolean;
  }>(migrationTargetGet, [schema ?? null]);
  const row = rows[0];
  if (!row?.schema) {
    throw new EddyError(
      'No schema to migrate: the session search_path names no existing schema; pass the schema option (--schema)',
    );
  }
  if (!row.table_exists)
    return { schema: row.schema, schemaExists: row.schema_exists, versions: [] };
  const quoted = quoteIdentifier(row.schema);
  const result = row.line_exists
    ? await db.query<{ version: bigint }>(migrationVersionsGetByLine(quoted), [MIGRATION_LINE])
    : await db.query<{ version: bigint }>(migrationVersionsGetAssumingMain(quoted));
  return {
    schema: row.schema,
    schemaExists: true,
    versions: result.rows.map((r) => Number(r.version)),
  };
}

/**
 * Applies one version in one transaction, under a per-schema advisory lock, unless it is
 * recorded already; true when this call applied it.
 */
export async function applyMigration(
  db: Database,
  schema: string,
  migration: Migration,
): Promise<boolean> {
  const results = await db.batch([
    { text: migrationIsolation },
    { text: migrationLockAndScope, params: [schema, quoteIdentifier(schema)] },
    { text: migrationApplyIfMissing(migration.version, migration.sql) },
    { text: migrationAppliedGet },
  ]);
  return results[3]?.rows[0]?.applied === String(migration.version);
}
