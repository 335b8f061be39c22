/**
 * `eddy neon-local`: serves Neon's SQL-over-HTTP and WebSocket protocols locally until SIGINT or
 * SIGTERM, in front of a PostgreSQL server or, without a URL, an embedded in-memory PGlite.
 * Prints the `neonConfig` lines that point the driver at it, and never a secret: neither the
 * database password nor the access token (which goes to `--token-file`, see docs/neon-local.md).
 */

import { closeSync, fchmodSync, openSync, rmSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Driver } from '../../src/driver/index.js';
import { describeError, migrateAndReport } from '../node/migrate-command.js';
import { nodePostgres } from '../node-postgres/index.js';
import { pglite } from '../pglite/index.js';
import { isLoopbackHost, parseOrigins } from './access.js';
import { createNeonLocal, type NeonLocal, type PGliteLike } from './index.js';

const USAGE = `Usage: eddy neon-local [options]

  --database-url URL     PostgreSQL server to front (needs the pg package); without it, an
                         embedded in-memory PGlite (needs @electric-sql/pglite)
  --migrate              apply River's schema to that database before serving it
  --schema NAME          with --migrate: the schema to migrate into
  --port N               port to listen on (default 4444; 0 picks a free one)
  --host H               address to listen on (default 127.0.0.1; only loopback without
                         --allow-remote)
  --allow-remote         serve a non-loopback --host; every request must then carry a
                         generated access token
  --token-file PATH      with --allow-remote: where the token is written (owner-only, removed
                         on exit); it is never printed
  --allow-origin ORIGIN  let browser pages from ORIGIN in (repeatable; default: no page)
  --max-connections N    most upstream connections at once (default 20); more clients wait
`;

class UsageError extends Error {}

interface Args {
  databaseUrl?: string;
  port: number;
  host: string;
  allowRemote: boolean;
  tokenFile?: string;
  allowOrigins: string[];
  maxConnections?: number;
  migrate: boolean;
  schema?: string;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}`);
  }
  return n;
}

function parse(argv: string[]): Args | 'help' {
  let values: ReturnType<typeof parseFlags>;
  try {
    values = parseFlags(argv);
  } catch (error) {
    const unknown = /Unknown option '([^']+)'/.exec((error as Error).message);
    throw new UsageError(unknown ? `unknown option '${unknown[1]}'` : (error as Error).message);
  }
  if (values.help) return 'help';
  for (const [flag, value] of Object.entries(values)) {
    if (value === '') throw new UsageError(`--${flag} needs a value`);
  }
  const args: Args = {
    databaseUrl: values['database-url'],
    port: values.port === undefined ? 4444 : integer('--port', values.port, 0, 65535),
    host: values.host ?? '127.0.0.1',
    allowRemote: values['allow-remote'] ?? false,
    tokenFile: values['token-file'],
    allowOrigins: values['allow-origin'] ?? [],
    maxConnections:
      values['max-connections'] === undefined
        ? undefined
        : integer('--max-connections', values['max-connections'], 1, 10_000),
    migrate: values.migrate ?? false,
    schema: values.schema,
  };
  if (!args.allowRemote && !isLoopbackHost(args.host)) {
    throw new UsageError(
      `--host ${args.host} is not a loopback address, so other machines could run SQL through it; add --allow-remote --token-file PATH to require an access token`,
    );
  }
  if (args.allowRemote && args.tokenFile === undefined) {
    throw new UsageError(
      '--allow-remote needs --token-file PATH, where the access token is written',
    );
  }
  if (!args.allowRemote && args.tokenFile !== undefined) {
    throw new UsageError('--token-file goes with --allow-remote');
  }
  try {
    parseOrigins(args.allowOrigins);
  } catch (error) {
    throw new UsageError((error as Error).message.replace('allowOrigins', '--allow-origin'));
  }
  if (args.schema !== undefined && !args.migrate) {
    throw new UsageError('--schema goes with --migrate');
  }
  return args;
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      'database-url': { type: 'string' },
      migrate: { type: 'boolean' },
      schema: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      'token-file': { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      'max-connections': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

/** Creates or truncates `path` readable by its owner only (an existing file's mode too). */
function writeTokenFile(path: string, token: string): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
}

function describe(local: NeonLocal, args: Args, upstream: string): string {
  // The token stays in its file: the settings show where it goes.
  const hide = (text: string) =>
    local.accessToken ? text.replace(local.accessToken, '<token>') : text;
  const url = new URL(local.connectionString());
  const hadPassword = url.password !== '';
  url.password = '';
  const c = local.neonConfig;
  const lines = [
    `eddy neon-local: serving ${upstream}`,
    `  SQL over HTTP   ${hide(local.fetchEndpoint)}`,
    `  WebSocket proxy ws://${hide(local.wsProxy)}`,
    `  DATABASE_URL=${url}`,
  ];
  if (hadPassword) {
    lines.push('  (put the password of --database-url in it: the endpoint never lends its own)');
  }
  if (local.accessToken) {
    lines.push(
      `  Listening on ${args.host}:${local.port}: every request needs the access token, in ${args.tokenFile}.`,
      "  Replace <token> below with it (and 127.0.0.1 with this machine's address elsewhere).",
    );
  }
  lines.push(
    args.allowOrigins.length === 0
      ? '  Browser pages: none let in (--allow-origin ORIGIN to allow one)'
      : `  Browser pages let in from: ${args.allowOrigins.join(', ')}`,
    '',
    'Point @neondatabase/serverless at it:',
    `  neonConfig.fetchEndpoint = '${hide(c.fetchEndpoint)}';`,
    `  neonConfig.wsProxy = '${hide(c.wsProxy)}';`,
    '  neonConfig.useSecureWebSocket = false;',
    '  neonConfig.pipelineConnect = false;',
    "  neonConfig.webSocketConstructor = ws; // Node 20 only (import ws from 'ws')",
    '',
    'Ctrl-C stops it.',
    '',
  );
  return lines.join('\n');
}

/** Runs the endpoint until SIGINT/SIGTERM; resolves with the exit code. */
export async function runNeonLocalCommand(argv: string[]): Promise<number> {
  let args: Args | 'help';
  try {
    args = parse(argv);
  } catch (error) {
    process.stderr.write(
      `eddy neon-local: ${(error as Error).message}. Run 'eddy neon-local --help' for usage.\n`,
    );
    return 1;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  // The embedded database is opened here so --migrate can reach it before anyone else does.
  let db: (PGliteLike & Parameters<typeof pglite>[0]) | undefined;
  if (args.databaseUrl === undefined) {
    const { PGlite } = await import('@electric-sql/pglite');
    db = await PGlite.create();
  }
  let local: NeonLocal | undefined;
  let tokenWritten = false;
  try {
    if (args.migrate) {
      const report = await migrate(args, db);
      if (report instanceof Error) {
        process.stderr.write(`eddy neon-local --migrate: ${report.message}\n`);
        return 1;
      }
      process.stdout.write(`eddy neon-local: ${report}`);
    }
    local = await createNeonLocal({
      ...(db ? { pglite: db } : { databaseUrl: args.databaseUrl }),
      port: args.port,
      host: args.host,
      allowRemote: args.allowRemote,
      allowOrigins: args.allowOrigins,
      maxConnections: args.maxConnections,
    });
    if (local.accessToken && args.tokenFile) {
      try {
        writeTokenFile(args.tokenFile, local.accessToken);
        tokenWritten = true;
      } catch (error) {
        process.stderr.write(
          `eddy neon-local: cannot write --token-file: ${(error as Error).message}\n`,
        );
        return 1;
      }
    }
    const upstream = db
      ? 'an embedded in-memory PGlite (data is lost on exit)'
      : `PostgreSQL at ${new URL(args.databaseUrl as string).host}`;
    process.stdout.write(describe(local, args, upstream));

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const stop = (received: NodeJS.Signals) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve(received);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    process.stdout.write(`eddy neon-local: ${signal}, closing\n`);
    return 0;
  } finally {
    await local?.close();
    await db?.close();
    // The token dies with this process; so does the file that holds it.
    if (tokenWritten && args.tokenFile) rmSync(args.tokenFile, { force: true });
  }
}

/** Migrates the database behind the endpoint; the report line, or the error to print. */
async function migrate(args: Args, db: Parameters<typeof pglite>[0] | undefined) {
  let driver: Driver;
  let close = async () => {};
  if (db) driver = pglite(db);
  else {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: args.databaseUrl, max: 1 });
    pool.on('error', () => undefined);
    driver = nodePostgres(pool);
    close = () => pool.end();
  }
  try {
    return await migrateAndReport(driver, args.schema);
  } catch (error) {
    return new Error(describeError(error));
  } finally {
    await close().catch(() => undefined);
  }
}
