/**
 * Installs and upgrades River's schema (migration line `main`) from the numbered files in
 * `migrations/`, compiled into `sql/migrations.generated.ts`.
 *
 * Compatible with River's own migrator in both directions: each version is recorded in
 * `river_migration`, in the same transaction, the way River's migrator records it (before
 * version 5 without `line`), so River sees version 8 on a database Eddy migrated; and Eddy
 * reads what River recorded, applying only the versions missing from it.
 *
 * Each version is one atomic `batch` (one transaction), so this works over every driver,
 * Neon's stateless HTTP one included: take a per-schema advisory lock, check that the version
 * is still missing, apply it. Concurrent callers therefore all succeed and apply nothing
 * twice, and a version that fails leaves nothing behind.
 */

import { Database } from './driver/database.js';
import type { Driver } from './driver/driver.js';
import { assertSchemaName, quoteIdentifier } from './driver/schema-name.js';
import { DatabaseError, EddyError, UnsupportedError, ValidationError } from './errors.js';
import {
  applyMigration,
  MIGRATION_LINE,
  type Migration,
  migrations,
  readMigrationTarget,
} from './ops/migrations.js';

/** The newest version of River's `main` line that Eddy ships (8, as River 0.50 and later). */
export const LATEST_MIGRATION_VERSION: number = migrations.length;

export interface MigrateOptions {
  /**
   * Schema to install into (River's `Config.Schema`); it must exist. Defaults to the
   * session's current schema (the first existing schema on its `search_path`).
   */
  schema?: string;
  /** Stop after this version (1–8). Defaults to the latest. */
  targetVersion?: number;
}

export interface MigrateResult {
  /** Versions this call applied, in order (empty when the schema was up to date). */
  applied: number[];
  /** Highest version of line `main` now recorded (may exceed 8 if River went further). */
  version: number;
}

/**
 * Brings River's schema up to `targetVersion` (default: latest), applying only missing
 * versions, each in its own transaction.
 *
 * @example
 * ```ts
 * const { applied, version } = await migrate(nodePostgres(pool), { schema: 'jobs' });
 * // first run: applied [1, 2, 3, 4, 5, 6, 7, 8], version 8; later runs: applied []
 * ```
 */
export async function migrate(
  driver: Driver,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const schemaOption = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  const targetVersion = checkTargetVersion(options.targetVersion);
  if (driver.capabilities.inTransaction) {
    throw new UnsupportedError(
      `migrate needs a transaction per version (an enum value added by one is usable only after it commits), so it cannot run inside your transaction; pass ${driver.name}'s pool or client instead`,
    );
  }
  const db = new Database(driver);
  const target = await readMigrationTarget(db, schemaOption);
  if (!target.schemaExists) throw missingSchema(target.schema);

  const recorded = new Set(target.versions);
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version > targetVersion || recorded.has(migration.version)) continue;
    if (await applyVersion(db, target.schema, migration)) applied.push(migration.version);
    // Applied by this call or, while it waited for the lock, by another one.
    recorded.add(migration.version);
  }
  return { applied, version: Math.max(0, ...recorded) };
}

/**
 * The highest version of River's `main` line recorded in the schema; 0 when nothing is
 * installed (no river_migration table, or no such schema).
 *
 * @example
 * ```ts
 * if ((await getMigrationVersion(driver)) < LATEST_MIGRATION_VERSION) await migrate(driver);
 * ```
 */
export async function getMigrationVersion(
  driver: Driver,
  options: { schema?: string } = {},
): Promise<number> {
  const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  const target = await readMigrationTarget(new Database(driver), schema);
  return Math.max(0, ...target.versions);
}

/**
 * The migration SQL as one script for psql or a review: each version in its own transaction,
 * scoped to `schema` when given (otherwise to the session's search_path).
 *
 * @example
 * ```ts
 * process.stdout.write(migrationSql({ schema: 'jobs' }));
 * ```
 */
export function migrationSql(options: MigrateOptions = {}): string {
  const schema = options.schema === undefined ? undefined : assertSchemaName(options.schema);
  const targetVersion = checkTargetVersion(options.targetVersion);
  const scope =
    schema === undefined ? '' : `SET LOCAL search_path TO ${quoteIdentifier(schema)};\n`;
  const header = [
    `-- River's schema, migration line ${MIGRATION_LINE}, versions 1-${targetVersion}${schema === undefined ? '' : `, in schema ${quoteIdentifier(schema)}`}.`,
    '-- Each version runs in its own transaction: an enum value added by version 4 is usable',
    '-- only after it commits. Every version records itself in river_migration.',
    '',
  ].join('\n');
  const versions = migrations
    .filter((m) => m.version <= targetVersion)
    .map((m) => `-- ${m.name}\nBEGIN;\n${scope}\n${m.sql}\nCOMMIT;\n`);
  return [header, ...versions].join('\n');
}

/** Applies one version in one transaction; false when another migrator got there first. */
async function applyVersion(db: Database, schema: string, migration: Migration): Promise<boolean> {
  try {
    return await applyMigration(db, schema, migration);
  } catch (error) {
    // The transaction rolled back: nothing of ours was applied. The check after the lock turns
    // a race with another migrator into a skip; if a race still surfaced as an error, the
    // version is recorded now and this call has nothing left to do for it.
    const now = await readMigrationTarget(db, schema).catch(() => undefined);
    if (now?.versions.includes(migration.version)) return false;
    throw migrationFailed(migration, error);
  }
}

function migrationFailed(migration: Migration, error: unknown): EddyError {
  const reason = error instanceof Error ? error.message : String(error);
  const message = `Migration ${migration.name} failed and was rolled back (nothing of it was applied): ${reason}`;
  if (error instanceof DatabaseError) {
    return new DatabaseError(message, error, { cause: error });
  }
  return new EddyError(message, { cause: error });
}

function missingSchema(schema: string): EddyError {
  return new EddyError(
    `Schema ${quoteIdentifier(schema)} does not exist; create it first (CREATE SCHEMA ${quoteIdentifier(schema)})`,
  );
}

function checkTargetVersion(version: number | undefined): number {
  if (version === undefined) return LATEST_MIGRATION_VERSION;
  if (!Number.isInteger(version) || version < 1 || version > LATEST_MIGRATION_VERSION) {
    const message = `targetVersion must be an integer from 1 to ${LATEST_MIGRATION_VERSION}, got ${String(version)}`;
    throw new ValidationError(message, [{ path: 'targetVersion', message }]);
  }
  return version;
}
