/**
 * Eddy's migrations produce River's schema: the catalog of a freshly migrated database equals
 * the one taken from a database River migrated (test/fixtures/river-compat), in `public` and
 * in a custom schema, and the custom schema works from sessions that do not have it on their
 * search_path.
 */

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { migrate } from '../src/migrate.js';
import { migrations } from '../src/sql/migrations.generated.js';
import { createDatabase } from './support/postgres.js';
import { RIVER_CATALOG, readCatalog } from './support/river-catalog.js';

const STATES = [
  'available',
  'cancelled',
  'completed',
  'discarded',
  'pending',
  'retryable',
  'running',
  'scheduled',
] as const;

describe("River's schema", () => {
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createDatabase('eddy_cat');
    pool = new pg.Pool({ connectionString: database.url, max: 4 });
  });
  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('is what River 001-008 produce, in public', async () => {
    const driver = nodePostgres(pool);
    expect(await migrate(driver)).toEqual({ applied: [1, 2, 3, 4, 5, 6, 7, 8], version: 8 });
    expect(await readCatalog(driver)).toEqual(RIVER_CATALOG);
  });

  it('is the same in a custom schema, and leaves public alone', async () => {
    const driver = nodePostgres(pool);
    await pool.query('CREATE SCHEMA river_custom');
    const publicBefore = await readCatalog(driver, 'public');
    expect(await migrate(driver, { schema: 'river_custom' })).toEqual({
      applied: [1, 2, 3, 4, 5, 6, 7, 8],
      version: 8,
    });
    expect(await readCatalog(driver, 'river_custom')).toEqual(RIVER_CATALOG);
    expect(await readCatalog(driver, 'public')).toEqual(publicBefore);
  });

  it('works in a custom schema from a session whose search_path does not include it', async () => {
    // public has its own River tables here, so unqualified names would silently hit those.
    const { rows: path } = await pool.query('SHOW search_path');
    expect(path[0].search_path).not.toContain('river_custom');

    const insert = `INSERT INTO river_custom.river_job (kind, args, unique_key, unique_states)
      VALUES ('email', '{}', '\\x01', B'11110101') RETURNING id, state, max_attempts, queue, tags`;
    const { rows } = await pool.query(insert);
    expect(rows[0]).toMatchObject({
      state: 'available',
      max_attempts: 25,
      queue: 'default',
      tags: [],
    });
    // The unique index (through river_job_state_in_bitmask) rejects a duplicate.
    await expect(pool.query(insert)).rejects.toMatchObject({
      code: '23505',
      constraint: 'river_job_unique_idx',
    });
    // A job whose state is outside the mask does not count: 'running' is bit 1, unset here.
    await pool.query(
      `INSERT INTO river_custom.river_job (kind, args, unique_key, unique_states, state, attempt, attempted_at)
       VALUES ('email', '{}', '\\x01', B'10110101', 'running', 1, now())`,
    );
    const { rows: publicJobs } = await pool.query(
      'SELECT count(*)::int AS n FROM public.river_job',
    );
    expect(publicJobs[0].n).toBe(0);
  });

  it("maps each state to River's bit in the unique-states mask", async () => {
    // River's bit(8): the rightmost bit is 'available', the leftmost 'scheduled'.
    for (const [index, state] of STATES.entries()) {
      const mask = [...'00000000'].map((_, bit) => (bit === 7 - index ? '1' : '0')).join('');
      const { rows } = await pool.query(
        `SELECT s::text AS state, river_custom.river_job_state_in_bitmask($1::bit(8), s) AS hit
         FROM unnest(enum_range(NULL::river_custom.river_job_state)) AS s ORDER BY s::text`,
        [mask],
      );
      expect(rows.filter((r) => r.hit).map((r) => r.state)).toEqual([state]);
    }
    const { rows } = await pool.query(
      `SELECT river_custom.river_job_state_in_bitmask(NULL, 'available') AS no_mask,
              river_custom.river_job_state_in_bitmask(B'11111111', NULL) AS no_state`,
    );
    expect(rows[0]).toEqual({ no_mask: null, no_state: false });
  });
});

describe('migration files', () => {
  const dir = new URL('../migrations/', import.meta.url);

  it('compile to an up-to-date src/sql/migrations.generated.ts', () => {
    // Exits 1 with a message when the generated module differs from what the files give.
    execFileSync(process.execPath, [new URL('compile.mjs', dir).pathname, '--check'], {
      stdio: 'pipe',
    });
    const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
    expect(migrations.map((m) => `${m.name}.sql`)).toEqual(files.sort());
    for (const m of migrations) {
      expect(m.sql.trim()).toBe(readFileSync(new URL(`${m.name}.sql`, dir), 'utf8').trim());
    }
  });

  it('name no schema, so they install wherever search_path points', () => {
    for (const m of migrations) {
      const code = m.sql.replace(/--.*$/gm, '');
      expect(code).not.toMatch(/\b(public|pg_temp)\./i);
      expect(code).not.toMatch(/search_path/i);
    }
  });
});
