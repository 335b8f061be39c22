/**
 * Statements the migrator runs. The migration files themselves are in
 * `migrations.generated.ts`; these find the schema's state and apply one version safely.
 */

/** The migration line Eddy manages; River's other lines (plugins) are left alone. */
export const MIGRATION_LINE = 'main';

/**
 * The target schema (`$1`, or the session's current schema when null), whether it exists,
 * and the shape of its river_migration table: absent, without `line` (before version 5) or
 * with it.
 */
export const migrationTargetGet = `
SELECT
  target.name AS schema,
  ns.oid IS NOT NULL AS schema_exists,
  tbl.oid IS NOT NULL AS table_exists,
  EXISTS (
    SELECT 1 FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = tbl.oid AND a.attname = 'line' AND NOT a.attisdropped
  ) AS line_exists
FROM (SELECT coalesce($1::text, current_schema()) AS name) AS target
LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = target.name
LEFT JOIN pg_catalog.pg_class tbl
  ON tbl.relnamespace = ns.oid AND tbl.relname = 'river_migration' AND tbl.relkind IN ('r', 'p')`;

/** Versions recorded for line `$1` (version 5 and later). `schema` is a quoted identifier. */
export function migrationVersionsGetByLine(schema: string): string {
  return `SELECT version FROM ${schema}.river_migration WHERE line = $1 ORDER BY version`;
}

/** Versions recorded before version 5, when every row belonged to line `main`. */
export function migrationVersionsGetAssumingMain(schema: string): string {
  return `SELECT version FROM ${schema}.river_migration ORDER BY version`;
}

/**
 * First statement of each version's transaction. Under READ COMMITTED each statement sees what
 * committed before it started, so the check after the lock sees a version another migrator
 * applied while we waited; a REPEATABLE READ or SERIALIZABLE database default would pin the
 * snapshot taken before the lock.
 */
export const migrationIsolation = 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED';

/**
 * Second statement of each version's transaction: wait for other migrators of the same schema
 * (`$1`, unquoted), scope unqualified names to it (`$2`, quoted) until commit, and clear the
 * flag that `migrationApplyIfMissing` sets. The lock key is a hash of the schema name, so
 * migrating two schemas does not serialise.
 */
export const migrationLockAndScope = `
SELECT
  pg_advisory_xact_lock(hashtextextended('eddy.migrate:' || $1::text, 0)),
  set_config('search_path', $2::text, true),
  set_config('eddy.migrate_applied', '', true)`;

/**
 * Applies one version unless it is recorded already — another migrator may have applied it
 * while this one waited for the lock. Runs after `migrationLockAndScope` in one transaction.
 *
 * The check reads pg_class with SQL rather than `to_regclass`: opening the catalog processes
 * pending invalidations, so a table another session created while we waited is seen, where a
 * cached lookup could miss it. The migration file runs through EXECUTE so the whole version is
 * one statement, which every driver (Neon's HTTP batches included) can send.
 */
export function migrationApplyIfMissing(version: number, sql: string): string {
  return `
DO $eddy_migrate$
DECLARE
  table_oid oid;
  line_exists boolean;
  recorded boolean := false;
BEGIN
  SELECT c.oid INTO table_oid
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relname = 'river_migration'
    AND n.nspname = current_schema()
    AND c.relkind IN ('r', 'p');

  IF table_oid IS NOT NULL THEN
    SELECT EXISTS (
      SELECT 1 FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = table_oid AND a.attname = 'line' AND NOT a.attisdropped
    ) INTO line_exists;
    IF line_exists THEN
      EXECUTE 'SELECT EXISTS (SELECT 1 FROM river_migration WHERE line = $1 AND version = $2)'
        INTO recorded USING '${MIGRATION_LINE}', ${version};
    ELSE
      EXECUTE 'SELECT EXISTS (SELECT 1 FROM river_migration WHERE version = $1)'
        INTO recorded USING ${version};
    END IF;
  END IF;

  IF NOT recorded THEN
    EXECUTE $eddy_sql$${sql}$eddy_sql$;
    PERFORM set_config('eddy.migrate_applied', '${version}', true);
  END IF;
END
$eddy_migrate$`;
}

/** Last statement of each version's transaction: which version it applied ('' for none). */
export const migrationAppliedGet = `SELECT current_setting('eddy.migrate_applied', true) AS applied`;
