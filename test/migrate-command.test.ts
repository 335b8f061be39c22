/**
 * `eddy migrate` as a user runs it: success prints one line, every failure is one clear line
 * on stderr with exit code 1, and a failure leaves nothing behind in the database.
 */

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrateCommand } from '../adapters/node/migrate-command.js';
import { createDatabase, DATABASE_URL, uniqueName } from './support/postgres.js';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command, capturing what it writes to the process' stdout and stderr. */
async function eddyMigrate(...argv: string[]): Promise<Outcome> {
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const capture = (stream: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array) => {
      out[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  try {
    const code = await runMigrateCommand(argv);
    return { code, ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
}

/** Runs `fn` with $DATABASE_URL set to `value` (or unset), as the command's environment. */
async function withDatabaseUrlEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.DATABASE_URL;
  if (value === undefined) delete process.env.DATABASE_URL;
  else process.env.DATABASE_URL = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  }
}

/** Exit code 1, nothing on stdout, exactly one line on stderr; returns that line. */
function expectOneLineFailure(outcome: Outcome): string {
  expect(outcome.code).toBe(1);
  expect(outcome.stdout).toBe('');
  expect(outcome.stderr).toMatch(/^eddy migrate: [^\n]+\n$/);
  return outcome.stderr;
}

/** Drops what earlier migrations created, for a test that starts from an empty database. */
async function resetRiver(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  await client.end();
}

async function riverObjects(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT relname AS name FROM pg_class WHERE relname LIKE 'river%'
       UNION ALL SELECT typname FROM pg_type WHERE typname LIKE 'river%'
       UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'river%'`,
    );
    return rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

describe('eddy migrate --print', () => {
  it('prints every version, each in its own transaction', async () => {
    const { code, stdout, stderr } = await eddyMigrate('--print');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    for (const name of [
      '001_create_river_migration',
      '004_pending_and_more',
      '007_notification_outbox',
    ]) {
      expect(stdout).toContain(`-- ${name}\nBEGIN;\n`);
    }
    expect(stdout.match(/^COMMIT;$/gm)).toHaveLength(8);
  });

  it('scopes the script to --schema', async () => {
    const { code, stdout } = await eddyMigrate('--print', '--schema', 'jobs');
    expect(code).toBe(0);
    expect(stdout.match(/^SET LOCAL search_path TO "jobs";$/gm)).toHaveLength(8);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    const line = expectOneLineFailure(await eddyMigrate('--print', '--schema', 'jobs;drop'));
    expect(line).toContain('Invalid schema name');
  });
});

describe('eddy migrate usage errors', () => {
  it('names an unknown flag', async () => {
    const line = expectOneLineFailure(await eddyMigrate('--databse-url', DATABASE_URL));
    expect(line).toContain("'--databse-url'");
  });

  it('asks for --database-url or DATABASE_URL when both are missing', async () => {
    const line = expectOneLineFailure(
      await withDatabaseUrlEnv(undefined, () => eddyMigrate('--schema', 'jobs')),
    );
    expect(line).toContain('missing --database-url URL (or set DATABASE_URL');
  });

  it('refuses a DATABASE_URL that is not one, naming it and without echoing it', async () => {
    const line = expectOneLineFailure(
      await withDatabaseUrlEnv('not a url:secret', () => eddyMigrate()),
    );
    expect(line).toContain('DATABASE_URL is not a valid URL');
    expect(line).not.toContain('secret');
  });

  it('refuses --print together with --database-url', async () => {
    expectOneLineFailure(await eddyMigrate('--print', '--database-url', DATABASE_URL));
  });

  it('refuses a URL that is not one, without echoing it', async () => {
    const line = expectOneLineFailure(await eddyMigrate('--database-url', 'not a url:secret'));
    expect(line).toContain('--database-url is not a valid URL');
    expect(line).not.toContain('secret');
  });

  it('refuses a URL for another protocol', async () => {
    const line = expectOneLineFailure(
      await eddyMigrate('--database-url', 'mysql://root@localhost/db'),
    );
    expect(line).toContain('postgres://');
  });
});

describe('eddy migrate --database-url', () => {
  let database: Awaited<ReturnType<typeof createDatabase>>;
  const role = uniqueName('eddy_nocreate');

  beforeAll(async () => {
    database = await createDatabase('eddy_cli');
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.end();
  });
  afterAll(async () => {
    await database.drop();
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  it('reports an unreachable database in one line', async () => {
    const line = expectOneLineFailure(
      await eddyMigrate('--database-url', 'postgres://postgres@127.0.0.1:1/test'),
    );
    expect(line).toContain('ECONNREFUSED');
  });

  it('reports a role without CREATE privilege in one line and creates nothing', async () => {
    const url = new URL(database.url);
    url.username = role;
    const line = expectOneLineFailure(await eddyMigrate('--database-url', url.toString()));
    expect(line).toContain('permission denied for schema public');
    expect(line).toContain('SQLSTATE 42501');
    expect(await riverObjects(database.url)).toEqual([]);
  });

  it('reports a schema that does not exist', async () => {
    const line = expectOneLineFailure(
      await eddyMigrate('--database-url', database.url, '--schema', 'no_such_schema'),
    );
    expect(line).toContain('Schema "no_such_schema" does not exist');
    expect(await riverObjects(database.url)).toEqual([]);
  });

  it('migrates, then finds nothing to apply', async () => {
    const first = await eddyMigrate('--database-url', database.url);
    expect(first).toEqual({
      code: 0,
      stdout: 'River schema migrated from version 0 to 8 (applied 1, 2, 3, 4, 5, 6, 7, 8)\n',
      stderr: '',
    });
    const second = await eddyMigrate('--database-url', database.url);
    expect(second).toEqual({
      code: 0,
      stdout: 'River schema is at version 8; nothing to apply\n',
      stderr: '',
    });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query(
      "SELECT max(version)::int AS v FROM public.river_migration WHERE line = 'main'",
    );
    await client.end();
    expect(rows).toEqual([{ v: 8 }]);
  });

  it('uses $DATABASE_URL without --database-url, and the flag over it', async () => {
    await resetRiver(database.url);
    const fromEnv = await withDatabaseUrlEnv(database.url, () => eddyMigrate());
    expect(fromEnv).toEqual({
      code: 0,
      stdout: 'River schema migrated from version 0 to 8 (applied 1, 2, 3, 4, 5, 6, 7, 8)\n',
      stderr: '',
    });
    const flagWins = await withDatabaseUrlEnv('postgres://postgres@127.0.0.1:1/test', () =>
      eddyMigrate('--database-url', database.url),
    );
    expect(flagWins).toEqual({
      code: 0,
      stdout: 'River schema is at version 8; nothing to apply\n',
      stderr: '',
    });
  });

  it('migrates into --schema', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('CREATE SCHEMA jobs');
    await client.end();
    const outcome = await eddyMigrate('--database-url', database.url, '--schema', 'jobs');
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toBe(
      'River schema in schema jobs migrated from version 0 to 8 (applied 1, 2, 3, 4, 5, 6, 7, 8)\n',
    );
  });
});
