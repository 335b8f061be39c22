/**
 * Migrations through every adapter in test/support/drivers.ts (PGlite included); the Neon
 * adapters run the same `expectMigrateConformance` through the local Neon endpoint.
 */

import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { pglite } from '../adapters/pglite/index.js';
import { UnsupportedError } from '../src/errors.js';
import { migrate } from '../src/migrate.js';
import { selectedSetups } from './support/drivers.js';
import { expectMigrateConformance } from './support/migrate-conformance.js';
import { RIVER_CATALOG, readCatalog } from './support/river-catalog.js';

for (const setup of selectedSetups()) {
  describe(`migrate through ${setup.name}`, () => {
    it('installs River version 8 once, even when raced', async () => {
      const { driver, close } = await setup.open();
      try {
        await expectMigrateConformance(driver);
      } finally {
        await close();
      }
    });
  });
}

describe('migrate on PGlite', () => {
  it("installs River's schema into the default schema of a new PGlite", async () => {
    const db = new PGlite();
    try {
      const driver = pglite(db);
      expect(await migrate(driver)).toEqual({ applied: [1, 2, 3, 4, 5, 6, 7, 8], version: 8 });
      expect(await readCatalog(driver)).toEqual(RIVER_CATALOG);
      expect(await migrate(driver)).toEqual({ applied: [], version: 8 });
    } finally {
      await db.close();
    }
  });

  it('refuses to run inside the caller’s transaction, where version 6 could not use version 4', async () => {
    const db = new PGlite();
    try {
      await expect(db.transaction((tx) => migrate(pglite(tx)))).rejects.toBeInstanceOf(
        UnsupportedError,
      );
      const { rows } = await db.query("SELECT to_regclass('river_migration') AS t");
      expect(rows).toEqual([{ t: null }]);
    } finally {
      await db.close();
    }
  });
});
