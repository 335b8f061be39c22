/**
 * `eddy migrate`: installs or upgrades River's schema, or prints its SQL.
 *
 *   eddy migrate [--database-url URL] [--schema NAME]   (URL defaults to $DATABASE_URL)
 *   eddy migrate --print [--schema NAME]
 *
 * Connects with `pg`, or in a project that has only `@neondatabase/serverless`, with its Pool
 * over a WebSocket (both optional peers, loaded only here). Every failure is one line on stderr
 * and exit code 1; a version that fails is rolled back whole.
 */

import { parseArgs } from 'node:util';
import { assertSchemaName, type Driver } from '../../src/driver/index.js';
import { getMigrationVersion, migrate, migrationSql } from '../../src/index.js';
import { neonWebSocket } from '../neon-websocket/index.js';
import { nodePostgres } from '../node-postgres/index.js';

const USAGE = `Usage:
  eddy migrate [--database-url URL] [--schema NAME]  apply River's schema (line main, version 8);
                                                     the URL defaults to $DATABASE_URL
  eddy migrate --print [--schema NAME]               print the migration SQL

Connects with the pg package, or with @neondatabase/serverless when pg is not installed.
For the embedded database of eddy neon-local, use eddy neon-local --migrate.
`;

// A connection that does not answer within this many milliseconds is reported as unreachable.
const CONNECT_TIMEOUT_MS = 10_000;

class UsageError extends Error {}

/** Runs `eddy migrate` with the arguments after `migrate`; resolves to the exit code. */
export async function runMigrateCommand(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (error) {
    process.stderr.write(`eddy migrate: ${describeError(error)}\n`);
    return 1;
  }
}

/** Migrates through `driver`; resolves with the line that says what changed. */
export async function migrateAndReport(driver: Driver, schemaName?: string): Promise<string> {
  const schema = schemaName === undefined ? undefined : assertSchemaName(schemaName);
  const before = await getMigrationVersion(driver, { schema });
  const { applied, version } = await migrate(driver, { schema });
  const where = schema === undefined ? '' : ` in schema ${schema}`;
  return applied.length === 0
    ? `River schema${where} is at version ${version}; nothing to apply\n`
    : `River schema${where} migrated from version ${before} to ${version} (applied ${applied.join(', ')})\n`;
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
  // The flag wins; the environment is the usual place for a connection string.
  const flag = values['database-url'];
  const env = process.env.DATABASE_URL || undefined;
  const url = flag ?? env;
  if (url === undefined) {
    throw new UsageError(
      'missing --database-url URL (or set DATABASE_URL, or --print to print the SQL)',
    );
  }
  checkDatabaseUrl(url, flag === undefined ? 'DATABASE_URL' : '--database-url');

  const connection = await connect(url);
  try {
    process.stdout.write(await migrateAndReport(connection.driver, schema));
    return 0;
  } finally {
    await connection.close().catch(() => undefined);
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
function checkDatabaseUrl(url: string, source: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `${source} is not a valid URL; expected postgres://user@host:port/database`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(
      `${source} must start with postgres:// or postgresql://, not ${parsed.protocol}//`,
    );
  }
}

interface PoolLike {
  on(event: 'error', listener: () => void): unknown;
  end(): Promise<void>;
}
type PoolConstructor = new (config: {
  connectionString: string;
  max: number;
  connectionTimeoutMillis: number;
}) => PoolLike & Parameters<typeof nodePostgres>[0];

/** An optional peer, or undefined when it is not installed (any other failure is thrown). */
async function optional<T>(name: string): Promise<T | undefined> {
  try {
    const mod = (await import(name)) as T & { default?: T };
    return mod.default ?? mod;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(`'${name}'`)) {
      return undefined;
    }
    throw error;
  }
}

async function connect(url: string): Promise<{ driver: Driver; close(): Promise<void> }> {
  const config = { connectionString: url, max: 1, connectionTimeoutMillis: CONNECT_TIMEOUT_MS };
  const pg = await optional<{ Pool: PoolConstructor }>('pg');
  if (pg) {
    const pool = new pg.Pool(config);
    // An idle connection that drops must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    return { driver: nodePostgres(pool), close: () => pool.end() };
  }
  const neon = await optional<{
    Pool: PoolConstructor;
    neonConfig: { webSocketConstructor: unknown };
  }>('@neondatabase/serverless');
  if (!neon) {
    throw new UsageError(
      "connecting needs the 'pg' package (or '@neondatabase/serverless' for Neon); install it with: npm install pg",
    );
  }
  // The Neon Pool speaks over a WebSocket: Node 22 has one built in, Node 20 needs `ws`.
  if (neon.neonConfig.webSocketConstructor === undefined && !('WebSocket' in globalThis)) {
    const ws = await optional<unknown>('ws');
    if (ws === undefined) {
      throw new UsageError(
        "connecting through '@neondatabase/serverless' on Node 20 needs the 'ws' package; install it with: npm install ws (or npm install pg)",
      );
    }
    neon.neonConfig.webSocketConstructor = ws;
  }
  const pool = new neon.Pool(config);
  pool.on('error', () => undefined);
  return { driver: neonWebSocket(pool), close: () => pool.end() };
}

/** One line that says what went wrong, without the stack. */
export function describeError(error: unknown): string {
  return oneLine(describe(error));
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
