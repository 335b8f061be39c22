/**
 * `eddy migrate`: installs or upgrades River's schema, or prints its SQL.
 *
 *   eddy migrate --database-url URL [--schema NAME]
 *   eddy migrate --print [--schema NAME]
 *
 * Connects with `pg` (an optional peer dependency, loaded only here). Every failure is one
 * line on stderr and exit code 1; a version that fails is rolled back whole.
 */

import { parseArgs } from 'node:util';
import { assertSchemaName } from '../../src/driver/index.js';
import { getMigrationVersion, migrate, migrationSql } from '../../src/index.js';
import { nodePostgres } from '../node-postgres/index.js';

const USAGE = `Usage:
  eddy migrate --database-url URL [--schema NAME]   apply River's schema (line main, version 7)
  eddy migrate --print [--schema NAME]              print the migration SQL
`;

// A connection that does not answer within this many milliseconds is reported as unreachable.
const CONNECT_TIMEOUT_MS = 10_000;

class UsageError extends Error {}

/** Runs `eddy migrate` with the arguments after `migrate`; resolves to the exit code. */
export async function runMigrateCommand(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (error) {
    process.stderr.write(`eddy migrate: ${oneLine(describe(error))}\n`);
    return 1;
  }
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine(argv);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const schema = values.schema === undefined ? undefined : assertSchemaName(values.schema);
  if (values.print) {
    if (values['database-url'] !== undefined) {
      throw new UsageError('use either --print or --database-url, not both');
    }
    process.stdout.write(migrationSql({ schema }));
    return 0;
  }
  const url = values['database-url'];
  if (url === undefined)
    throw new UsageError('missing --database-url URL (or --print to print the SQL)');
  checkDatabaseUrl(url);

  const pg = await loadPg();
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An idle connection that drops must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  try {
    const driver = nodePostgres(pool);
    const before = await getMigrationVersion(driver, { schema });
    const { applied, version } = await migrate(driver, { schema });
    const where = schema === undefined ? '' : ` in schema ${schema}`;
    process.stdout.write(
      applied.length === 0
        ? `River schema${where} is at version ${version}; nothing to apply\n`
        : `River schema${where} migrated from version ${before} to ${version} (applied ${applied.join(', ')})\n`,
    );
    return 0;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        'database-url': { type: 'string' },
        schema: { type: 'string' },
        print: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    // parseArgs explains well ("Unknown option '--x'"); add where to look.
    throw new UsageError(`${(error as Error).message}. Run 'eddy migrate --help' for usage.`);
  }
}

/** Refuses what cannot be a Postgres URL, without echoing it (it may carry a password). */
function checkDatabaseUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      '--database-url is not a valid URL; expected postgres://user@host:port/database',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(
      `--database-url must start with postgres:// or postgresql://, not ${parsed.protocol}//`,
    );
  }
}

interface PgModule {
  Pool: typeof import('pg').Pool;
}

async function loadPg(): Promise<PgModule> {
  try {
    const mod = (await import('pg')) as PgModule & { default?: PgModule };
    return mod.default ?? mod;
  } catch {
    throw new UsageError("connecting needs the 'pg' package; install it with: npm install pg");
  }
}

function describe(error: unknown): string {
  if (error instanceof UsageError) return error.message;
  if (!(error instanceof Error)) return String(error);
  // Node reports a refused connection to a name with several addresses as an AggregateError
  // with an empty message; its parts say what happened.
  const cause = (error as { cause?: unknown }).cause;
  const parts = cause instanceof AggregateError ? cause.errors : [];
  const detail = parts.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
  const code = (error as { code?: unknown }).code;
  const suffix =
    typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? ` (SQLSTATE ${code})` : '';
  const message = error.message.replace(/: $/, '');
  const text = `${detail ? `${message}: ${detail}` : message}${suffix}`;
  // A socket error (ECONNREFUSED, ENOTFOUND...) or pg's own timeout: no usable connection.
  const causeCode = (cause as { code?: unknown } | undefined)?.code;
  const lost =
    (typeof causeCode === 'string' && /^E[A-Z]+$/.test(causeCode)) ||
    /Connection terminated|timeout exceeded when trying to connect/.test(message);
  return lost ? `could not connect to the database: ${text}` : text;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
