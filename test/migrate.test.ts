/**
 * The migrator against the real PostgreSQL: it applies only what is missing, upgrades
 * databases River left at older versions without touching their jobs, survives concurrent
 * callers, refuses bad input before connecting, and leaves nothing of a failed version behind.
 */

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePostgres } from '../adapters/node-postgres/index.js';
import { DatabaseError, EddyError, UnsupportedError, ValidationError } from '../src/errors.js';
import { getMigrationVersion, migrate, migrationSql } from '../src/migrate.js';
import { createSchema, DATABASE_URL, uniqueName } from './support/postgres.js';
import { RIVER_CATALOG, readCatalog } from './support/river-catalog.js';

let pool: pg.Pool;
const dropSchemas: (() => Promise<void>)[] = [];

beforeAll(() => {
  pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
});
afterAll(async () => {
  for (const drop of dropSchemas) await drop();
  await pool.end();
});

async function freshSchema(): Promise<string> {
  const { schema, drop } = await createSchema('eddy_mig');
  dropSchemas.push(drop);
  return schema;
}

async function rows(text: string, params: unknown[] = []) {
  return (await pool.query(text, params)).rows;
}

/** Columns every version from 4 on has, as text so values compare exactly. */
const V4_JOB_COLUMNS = `id, state::text, attempt, max_attempts, attempted_at::text, created_at::text,
  finalized_at::text, scheduled_at::text, priority, args, attempted_by, errors::text[], kind,
  metadata, queue, tags`;

/** Jobs shaped as River 0.x inserted them at version 4 (no unique columns yet). */
async function insertJobsAsRiverV4(schema: string) {
  await pool.query(`
    INSERT INTO ${schema}.river_job
      (state, attempt, max_attempts, attempted_at, finalized_at, scheduled_at, priority, args,
       attempted_by, errors, kind, metadata, queue, tags)
    VALUES
      ('available', 0, 25, NULL, NULL, now(), 1, '{"to":"a@example.com"}', NULL, NULL,
       'email', '{}', 'default', '{}'),
      ('completed', 1, 25, now() - interval '1 minute', now(), now() - interval '2 minutes', 2,
       '{"day":"2024-05-01"}', '{host_a}', NULL, 'report', '{"source":"cron"}', 'reports', '{nightly}'),
      ('retryable', 2, 5, now(), NULL, now() + interval '16 seconds', 1, '{}', '{host_a,host_b}',
       ARRAY['{"at":"2024-05-01T00:00:00Z","attempt":1,"error":"boom","trace":""}'::jsonb,
             '{"at":"2024-05-01T00:00:01Z","attempt":2,"error":"again","trace":""}'::jsonb],
       'flaky', '{}', 'default', '{}'),
      ('pending', 0, 25, NULL, NULL, now(), 4, '{"n":1}', NULL, NULL, 'later', '{}', 'default', '{}')`);
  await pool.query(
    `INSERT INTO ${schema}.river_queue (name, updated_at) VALUES ('reports', now())`,
  );
  await pool.query(
    `INSERT INTO ${schema}.river_leader (elected_at, expires_at, leader_id) VALUES (now(), now() + interval '15 seconds', 'host_a')`,
  );
}

async function snapshot(schema: string) {
  return {
    jobs: await rows(`SELECT ${V4_JOB_COLUMNS} FROM ${schema}.river_job ORDER BY id`),
    queues: await rows(
      `SELECT name, created_at::text, metadata, paused_at FROM ${schema}.river_queue`,
    ),
    leaders: await rows(`SELECT leader_id, name FROM ${schema}.river_leader`),
  };
}

describe('migrate', () => {
  it('applies only missing versions: a second run applies nothing and changes nothing', async () => {
    const schema = await freshSchema();
    const driver = nodePostgres(pool);
    expect(await migrate(driver, { schema, targetVersion: 3 })).toEqual({
      applied: [1, 2, 3],
      version: 3,
    });
    expect(await migrate(driver, { schema })).toEqual({ applied: [4, 5, 6, 7, 8], version: 8 });
    const catalog = await readCatalog(driver, schema);
    const recorded = await rows(
      `SELECT line, version, created_at::text FROM ${schema}.river_migration ORDER BY version`,
    );
    expect(await migrate(driver, { schema })).toEqual({ applied: [], version: 8 });
    expect(await migrate(driver, { schema, targetVersion: 4 })).toEqual({
      applied: [],
      version: 8,
    });
    expect(await readCatalog(driver, schema)).toEqual(catalog);
    expect(
      await rows(
        `SELECT line, version, created_at::text FROM ${schema}.river_migration ORDER BY version`,
      ),
    ).toEqual(recorded);
    expect(recorded.map((r) => [r.line, r.version])).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((v) => ['main', String(v)]),
    );
  });

  it('lets concurrent callers on separate connections all succeed, applying each version once', async () => {
    const schema = await freshSchema();
    const pools = [1, 2, 3, 4].map(() => new pg.Pool({ connectionString: DATABASE_URL, max: 1 }));
    try {
      const results = await Promise.all(pools.map((p) => migrate(nodePostgres(p), { schema })));
      for (const result of results) expect(result.version).toBe(8);
      expect(results.flatMap((r) => r.applied).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    expect(await readCatalog(nodePostgres(pool), schema)).toEqual(RIVER_CATALOG);
    expect(await rows(`SELECT count(*)::int AS n FROM ${schema}.river_migration`)).toEqual([
      { n: 8 },
    ]);
  });

  it('lets concurrent callers succeed under a REPEATABLE READ default too', async () => {
    // Their snapshot predates the lock, so a loser may try a version the winner just applied.
    const schema = await freshSchema();
    const options = '-c default_transaction_isolation=repeatable\\ read';
    const pools = [1, 2, 3].map(
      () => new pg.Pool({ connectionString: DATABASE_URL, max: 1, options }),
    );
    try {
      const results = await Promise.all(pools.map((p) => migrate(nodePostgres(p), { schema })));
      for (const result of results) expect(result.version).toBe(8);
      expect(results.flatMap((r) => r.applied).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    expect(await readCatalog(nodePostgres(pool), schema)).toEqual(RIVER_CATALOG);
  });

  it('records versions before 5 the way River does, without a line column', async () => {
    const schema = await freshSchema();
    const driver = nodePostgres(pool);
    await migrate(driver, { schema, targetVersion: 4 });
    const columns = await rows(
      `SELECT column_name FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = 'river_migration' ORDER BY ordinal_position`,
      [schema],
    );
    expect(columns.map((c) => c.column_name)).toEqual(['id', 'created_at', 'version']);
    expect(await rows(`SELECT version FROM ${schema}.river_migration ORDER BY id`)).toEqual(
      ['1', '2', '3', '4'].map((version) => ({ version })),
    );
    expect(await getMigrationVersion(driver, { schema })).toBe(4);
  });

  it('installs into the session’s current schema when none is given', async () => {
    const schema = await freshSchema();
    const scoped = new pg.Pool({
      connectionString: DATABASE_URL,
      max: 2,
      options: `-c search_path=${schema}`,
    });
    try {
      expect(await migrate(nodePostgres(scoped))).toEqual({
        applied: [1, 2, 3, 4, 5, 6, 7, 8],
        version: 8,
      });
      expect(await getMigrationVersion(nodePostgres(scoped))).toBe(8);
    } finally {
      await scoped.end();
    }
    expect(await readCatalog(nodePostgres(pool), schema)).toEqual(RIVER_CATALOG);
  });
});

describe('migrate on a database River left at an older version', () => {
  it('brings version 4 to 8 and keeps every job, queue, leader and migration record', async () => {
    const schema = await freshSchema();
    const driver = nodePostgres(pool);
    await migrate(driver, { schema, targetVersion: 4 });
    await insertJobsAsRiverV4(schema);
    const before = await snapshot(schema);
    const recordedBefore = await rows(
      `SELECT version, created_at::text FROM ${schema}.river_migration ORDER BY version`,
    );

    expect(await migrate(driver, { schema })).toEqual({ applied: [5, 6, 7, 8], version: 8 });

    expect(await snapshot(schema)).toEqual(before);
    expect(before.jobs).toHaveLength(4);
    expect(await rows(`SELECT unique_key, unique_states FROM ${schema}.river_job`)).toEqual(
      before.jobs.map(() => ({ unique_key: null, unique_states: null })),
    );
    // 005 rebuilt river_migration keeping River's timestamps for versions 1-4.
    const recordedAfter = await rows(
      `SELECT line, version, created_at::text FROM ${schema}.river_migration ORDER BY version`,
    );
    expect(recordedAfter.slice(0, 4)).toEqual(recordedBefore.map((r) => ({ line: 'main', ...r })));
    expect(recordedAfter.map((r) => r.version)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
    expect(await readCatalog(driver, schema)).toEqual(RIVER_CATALOG);
  });

  it('brings version 5 to 8, keeping jobs made unique by (kind, unique_key)', async () => {
    const schema = await freshSchema();
    const driver = nodePostgres(pool);
    await migrate(driver, { schema, targetVersion: 5 });
    await insertJobsAsRiverV4(schema);
    // River 0.10-0.12 set unique_key alone; the (kind, unique_key) index enforced it.
    await pool.query(
      `INSERT INTO ${schema}.river_job (kind, args, max_attempts, unique_key) VALUES ('email', '{"to":"b"}', 25, '\\xc0ffee')`,
    );
    await expect(
      pool.query(
        `INSERT INTO ${schema}.river_job (kind, args, max_attempts, unique_key) VALUES ('email', '{}', 25, '\\xc0ffee')`,
      ),
    ).rejects.toMatchObject({ constraint: 'river_job_kind_unique_key_idx' });
    await pool.query(
      `INSERT INTO ${schema}.river_client (id, updated_at) VALUES ('host_a', now())`,
    );
    const before = await snapshot(schema);

    expect(await migrate(driver, { schema })).toEqual({ applied: [6, 7, 8], version: 8 });

    expect(await snapshot(schema)).toEqual(before);
    expect(
      await rows(
        `SELECT kind, encode(unique_key, 'hex') AS key, unique_states FROM ${schema}.river_job WHERE unique_key IS NOT NULL`,
      ),
    ).toEqual([{ kind: 'email', key: 'c0ffee', unique_states: null }]);
    expect(await readCatalog(driver, schema)).toEqual(RIVER_CATALOG);
  });

  it('brings version 6 to 8, keeping jobs unique by (unique_key, unique_states)', async () => {
    const schema = await freshSchema();
    const driver = nodePostgres(pool);
    await migrate(driver, { schema, targetVersion: 6 });
    await insertJobsAsRiverV4(schema);
    await pool.query(
      `INSERT INTO ${schema}.river_job (kind, args, max_attempts, unique_key, unique_states)
       VALUES ('email', '{"to":"c"}', 25, '\\xbeef', B'11110101')`,
    );
    const before = await snapshot(schema);
    const uniqueBefore = await rows(
      `SELECT id, encode(unique_key, 'hex') AS key, unique_states FROM ${schema}.river_job ORDER BY id`,
    );

    expect(await migrate(driver, { schema })).toEqual({ applied: [7, 8], version: 8 });

    expect(await snapshot(schema)).toEqual(before);
    expect(
      await rows(
        `SELECT id, encode(unique_key, 'hex') AS key, unique_states FROM ${schema}.river_job ORDER BY id`,
      ),
    ).toEqual(uniqueBefore);
    await expect(
      pool.query(
        `INSERT INTO ${schema}.river_job (kind, args, unique_key, unique_states) VALUES ('email', '{}', '\\xbeef', B'11110101')`,
      ),
    ).rejects.toMatchObject({ constraint: 'river_job_unique_idx' });
    expect(await readCatalog(driver, schema)).toEqual(RIVER_CATALOG);
  });

  it('brings version 7 (River before 0.50) to 8, recording it and changing nothing else', async () => {
    const schema = await freshSchema();
    const driver = nodePostgres(pool);
    await migrate(driver, { schema, targetVersion: 7 });
    await insertJobsAsRiverV4(schema);
    const before = await snapshot(schema);
    const catalogBefore = await readCatalog(driver, schema);

    expect(await migrate(driver, { schema })).toEqual({ applied: [8], version: 8 });

    expect(await snapshot(schema)).toEqual(before);
    expect(await readCatalog(driver, schema)).toEqual(catalogBefore);
    expect(
      await rows(`SELECT line, version FROM ${schema}.river_migration WHERE version = 8`),
    ).toEqual([{ line: 'main', version: '8' }]);
  });
});

describe('migrate failures', () => {
  it('rolls a failing version back whole and applies it once the obstacle is gone', async () => {
    const schema = await freshSchema();
    const driver = nodePostgres(pool);
    await migrate(driver, { schema, targetVersion: 3 });
    // Version 4 creates river_queue; a table of that name already there makes it fail late.
    await pool.query(`CREATE TABLE ${schema}.river_queue (name text)`);

    const failure = await migrate(driver, { schema }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DatabaseError);
    expect(failure).toMatchObject({ code: '42P07' });
    expect((failure as Error).message).toMatch(
      /^Migration 004_pending_and_more failed and was rolled back/,
    );

    expect(await getMigrationVersion(driver, { schema })).toBe(3);
    // Statements of version 4 that ran before the failure are undone too.
    expect(
      await rows(
        `SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = '${schema}.river_job_state'::regtype AND e.enumlabel = 'pending'`,
      ),
    ).toEqual([]);
    expect(
      await rows(
        `SELECT attnotnull FROM pg_attribute WHERE attrelid = '${schema}.river_job'::regclass AND attname = 'args'`,
      ),
    ).toEqual([{ attnotnull: false }]);
    expect(
      await rows(`SELECT tgname FROM pg_trigger WHERE tgrelid = '${schema}.river_job'::regclass`),
    ).toEqual([{ tgname: 'river_notify' }]);

    await pool.query(`DROP TABLE ${schema}.river_queue`);
    expect(await migrate(driver, { schema })).toEqual({ applied: [4, 5, 6, 7, 8], version: 8 });
    expect(await readCatalog(driver, schema)).toEqual(RIVER_CATALOG);
  });

  it('refuses bad schema names and target versions before touching the database', async () => {
    // Nothing listens on port 1: reaching the database would fail with a DatabaseError.
    const unreachable = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
    const driver = nodePostgres(unreachable);
    try {
      for (const schema of [
        '',
        'river-jobs',
        'jobs; DROP TABLE x',
        '"jobs"',
        '1jobs',
        'pg_jobs',
        'a'.repeat(64),
      ]) {
        await expect(migrate(driver, { schema })).rejects.toBeInstanceOf(ValidationError);
        expect(() => migrationSql({ schema })).toThrow(ValidationError);
      }
      for (const targetVersion of [0, 9, 2.5, Number.NaN]) {
        await expect(migrate(driver, { targetVersion })).rejects.toBeInstanceOf(ValidationError);
      }
      await expect(migrate(driver, { schema: 'a'.repeat(63) })).rejects.toBeInstanceOf(
        DatabaseError,
      );
    } finally {
      await unreachable.end();
    }
  });

  it('says to create a schema that does not exist, and creates nothing', async () => {
    const schema = uniqueName('eddy_absent');
    const failure = await migrate(nodePostgres(pool), { schema }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(EddyError);
    expect((failure as Error).message).toBe(
      `Schema "${schema}" does not exist; create it first (CREATE SCHEMA "${schema}")`,
    );
    expect(await rows('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).toEqual([]);
    expect(await getMigrationVersion(nodePostgres(pool), { schema })).toBe(0);
  });

  it('refuses a driver inside the caller’s transaction', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await expect(
        migrate(nodePostgres(client, { inTransaction: true }), { schema: 'public' }),
      ).rejects.toBeInstanceOf(UnsupportedError);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });
});

describe('migrationSql', () => {
  it('prints a script that psql-style execution turns into River’s schema, recorded', async () => {
    const schema = await freshSchema();
    const script = migrationSql({ schema });
    expect(script.match(/^BEGIN;$/gm)).toHaveLength(8);
    expect(script.match(/^COMMIT;$/gm)).toHaveLength(8);
    expect(script.match(new RegExp(`^SET LOCAL search_path TO "${schema}";$`, 'gm'))).toHaveLength(
      8,
    );

    // pg sends a query without parameters as one simple-protocol message, as psql -f would.
    await pool.query(script);

    const driver = nodePostgres(pool);
    expect(await readCatalog(driver, schema)).toEqual(RIVER_CATALOG);
    expect(await migrate(driver, { schema })).toEqual({ applied: [], version: 8 });
  });

  it('stops at targetVersion and, without a schema, leaves the search_path alone', () => {
    const script = migrationSql({ targetVersion: 2 });
    expect(script).toContain('-- 002_initial_schema');
    expect(script).not.toContain('003_');
    expect(script).not.toMatch(/^SET LOCAL search_path/m);
  });
});
