/**
 * What every driver must get right about migrations, as one function a suite can call with
 * any `Driver` — including the Neon adapters through a local Neon endpoint:
 *
 * ```ts
 * it('migrates to River version 8', () => expectMigrateConformance(neonHttp(sql)));
 * ```
 *
 * It works in fresh schemas it creates and drops through the driver itself, so it needs no
 * other connection to the database.
 */

import { expect } from 'vitest';
import { Database } from '../../src/driver/database.js';
import type { Driver } from '../../src/driver/driver.js';
import { getMigrationVersion, migrate } from '../../src/migrate.js';
import { uniqueName } from './postgres.js';
import { RIVER_CATALOG, readCatalog } from './river-catalog.js';

const ALL_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8];

/**
 * Migrates fresh schemas through `driver` and asserts: River's catalog at version 8, versions
 * recorded as River records them, a second run applies nothing, and concurrent runs all
 * succeed without applying any version twice.
 */
export async function expectMigrateConformance(driver: Driver): Promise<void> {
  const db = new Database(driver);
  const schema = uniqueName('mig_conf');
  const raced = uniqueName('mig_race');
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(`CREATE SCHEMA ${raced}`);
  try {
    expect(await getMigrationVersion(driver, { schema })).toBe(0);
    expect(await migrate(driver, { schema })).toEqual({ applied: ALL_VERSIONS, version: 8 });
    expect(await readCatalog(driver, schema)).toEqual(RIVER_CATALOG);
    const { rows } = await db.query(
      `SELECT line, version FROM ${schema}.river_migration ORDER BY version`,
    );
    expect(rows).toEqual(ALL_VERSIONS.map((v) => ({ line: 'main', version: BigInt(v) })));

    expect(await migrate(driver, { schema })).toEqual({ applied: [], version: 8 });
    expect(await getMigrationVersion(driver, { schema })).toBe(8);
    expect(await readCatalog(driver, schema)).toEqual(RIVER_CATALOG);

    const results = await Promise.all([1, 2, 3].map(() => migrate(driver, { schema: raced })));
    for (const result of results) expect(result.version).toBe(8);
    const applied = results.flatMap((r) => r.applied).sort((a, b) => a - b);
    expect(applied).toEqual(ALL_VERSIONS);
    expect(await readCatalog(driver, raced)).toEqual(RIVER_CATALOG);
  } finally {
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
    await db.query(`DROP SCHEMA ${raced} CASCADE`);
  }
}
