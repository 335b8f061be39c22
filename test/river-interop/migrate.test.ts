/**
 * Scenario 1: River's own migrator (rivermigrate v0.51.2, what `river migrate-list`,
 * `migrate-up` and `validate` run) on databases Eddy migrated, and Eddy on what it leaves.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client.js';
import { migrate } from '../../src/migrate.js';
import { createRunner } from '../../src/runner/runner.js';
import { defineWorker } from '../../src/worker.js';
import { createSchema } from '../support/postgres.js';
import { type RiverSchema, riverSchema } from '../support/river.js';
import { RIVER_CATALOG, readCatalog } from '../support/river-catalog.js';
import { go, runGoAt } from './support/go.js';

const RIVER_MAIN_LINE = [
  '001 create river migration',
  '002 initial schema',
  '003 river job tags non null',
  '004 pending and more',
  '005 migration unique client',
  '006 bulk unique',
  '007 notification outbox sqlite jsonb and sql cleanup',
  '008 job id autoincrement',
];

async function worksOn(river: RiverSchema, schema: string): Promise<void> {
  const client = createClient({ driver: river.driver, schema });
  const { job } = await client.insert('after_migrate', { ok: true });
  const runner = createRunner({
    driver: river.driver,
    schema,
    workers: [defineWorker('after_migrate', async () => 'done')],
  });
  expect(await runner.tick({ budgetMs: 5000 })).toMatchObject({ claimed: 1, completed: 1 });
  const { rows } = await river.pool.query(
    `SELECT state::text, metadata->'output' AS output FROM ${schema}.river_job WHERE id = $1`,
    [job.id],
  );
  expect(rows).toEqual([{ state: 'completed', output: 'done' }]);
}

describe("River's migrator on Eddy's schema", () => {
  let river: RiverSchema;
  beforeAll(async () => {
    river = await riverSchema('rmig');
  });
  afterAll(() => river.close());

  it('lists the version Eddy migrated to as current, validates, and finds nothing to apply', async () => {
    const list = await go('migrate-list', { schema: river.schema });
    expect(list.trimEnd().split('\n')).toEqual(
      RIVER_MAIN_LINE.map((line, i) => (i === RIVER_MAIN_LINE.length - 1 ? '* ' : '  ') + line),
    );
    expect(await go('validate', { schema: river.schema })).toBe('ok\n');
    const catalog = await readCatalog(river.driver, river.schema);
    expect(await go('migrate-up', { schema: river.schema })).toBe('no migrations to apply\n');
    expect(await readCatalog(river.driver, river.schema)).toEqual(catalog);
    expect(catalog).toEqual(RIVER_CATALOG);
  });

  it('on a schema Eddy left at 7, applies only 008, which changes no catalog entry; Eddy works on the result', async () => {
    const { schema, drop } = await createSchema('rmig7');
    try {
      await migrate(river.driver, { schema, targetVersion: 7 });
      const invalid = await runGoAt('validate', { schema });
      expect(invalid.code).toBe(1);
      expect(invalid.stdout).toBe('Unapplied migrations: [8]\n');
      const before = await readCatalog(river.driver, schema);

      const up = await go('migrate-up', { schema });
      expect(up.match(/^applied migration \d+/gm)).toEqual(['applied migration 008']);
      expect(await readCatalog(river.driver, schema)).toEqual(before);
      expect(before).toEqual(RIVER_CATALOG);
      const { rows } = await river.pool.query(
        `SELECT line, version FROM ${schema}.river_migration ORDER BY version`,
      );
      expect(rows.map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(new Set(rows.map((r) => r.line))).toEqual(new Set(['main']));

      expect(await migrate(river.driver, { schema })).toEqual({ applied: [], version: 8 });
      await worksOn(river, schema);
    } finally {
      await drop();
    }
  });

  it("on a schema River migrated, Eddy applies nothing, sees River's catalog and works", async () => {
    const { schema, drop } = await createSchema('rmigr');
    try {
      const up = await go('migrate-up', { schema });
      expect(up.match(/^applied migration \d+/gm)).toHaveLength(8);
      expect(await migrate(river.driver, { schema })).toEqual({ applied: [], version: 8 });
      expect(await readCatalog(river.driver, schema)).toEqual(RIVER_CATALOG);
      await worksOn(river, schema);
    } finally {
      await drop();
    }
  });
});
