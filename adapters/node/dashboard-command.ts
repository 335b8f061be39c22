/**
 * `eddy dashboard`: the dashboard (`eddy/dashboard`) on its own, served by `node:http` over the
 * PostgreSQL at `--database-url` (or `$DATABASE_URL`). Its secret comes from `EDDY_ADMIN_TOKEN`,
 * never from a flag (flags show in `ps`); it refuses to start without one unless told
 * `--insecure-no-auth`, and then, on a loopback address, answers only requests addressed to a
 * loopback name, so a web page cannot reach it through DNS rebinding.
 */

import { parseArgs } from 'node:util';
import { createDashboard } from '../../src/dashboard/index.js';
import {
  getMigrationVersion,
  isValidationError,
  LATEST_MIGRATION_VERSION,
} from '../../src/index.js';
import { nodePostgres } from '../node-postgres/index.js';
import { serveFetch } from './http-server.js';
import { describeError } from './migrate-command.js';

const USAGE = `Usage: eddy dashboard [options]

  --database-url URL     PostgreSQL holding River's tables (default $DATABASE_URL; needs pg)
  --schema NAME          the schema holding them (default: the search_path)
  --port N               port to listen on (default 8081; 0 picks a free one)
  --host H               address to listen on (default 127.0.0.1)
  --base-path PATH       serve under PATH (like /admin) instead of /
  --read-only            hide and refuse every action
  --insecure-no-auth     serve WITHOUT authentication: anyone who reaches the port sees every
                         job and can retry, cancel or delete any of them

Environment:
  EDDY_ADMIN_TOKEN       the admin token (at least 32 characters: \`openssl rand -hex 32\`);
                         sign in with it, or send it as Authorization: Bearer
`;

class UsageError extends Error {}

interface Args {
  databaseUrl: string;
  schema?: string;
  port: number;
  host: string;
  basePath?: string;
  readOnly: boolean;
  insecure: boolean;
}

function parse(argv: string[], env: NodeJS.ProcessEnv): Args | 'help' {
  let values: ReturnType<typeof flags>;
  try {
    values = flags(argv);
  } catch (error) {
    const unknown = /Unknown option '([^']+)'/.exec((error as Error).message);
    throw new UsageError(unknown ? `unknown option '${unknown[1]}'` : (error as Error).message);
  }
  if (values.help) return 'help';
  for (const [flag, value] of Object.entries(values))
    if (value === '') throw new UsageError(`--${flag} needs a value`);
  const databaseUrl = values['database-url'] ?? env.DATABASE_URL;
  if (!databaseUrl)
    throw new UsageError('no database: pass --database-url URL or set DATABASE_URL');
  const port = values.port === undefined ? 8081 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--port must be an integer from 0 to 65535');
  return {
    databaseUrl,
    schema: values.schema,
    port,
    host: values.host ?? '127.0.0.1',
    basePath: values['base-path'],
    readOnly: values['read-only'] ?? false,
    insecure: values['insecure-no-auth'] ?? false,
  };
}

function flags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      'database-url': { type: 'string' },
      schema: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'base-path': { type: 'string' },
      'read-only': { type: 'boolean' },
      'insecure-no-auth': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|\[::1\]|localhost)$/i;

/** The hostname of a Host header (`127.0.0.1:8081` → `127.0.0.1`, `[::1]:80` → `[::1]`). */
function hostname(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? '');
}

/** Runs `eddy dashboard` until SIGTERM or SIGINT; resolves with the exit code. */
export async function runDashboardCommand(argv: string[], env = process.env): Promise<number> {
  let args: Args | 'help';
  try {
    args = parse(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(
      `eddy dashboard: ${error.message}. Run 'eddy dashboard --help' for usage.\n`,
    );
    return 1;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const token = env.EDDY_ADMIN_TOKEN || undefined;
  if (!token && !args.insecure) {
    process.stderr.write(
      'eddy dashboard: no admin token: set EDDY_ADMIN_TOKEN (at least 32 characters, e.g. `export EDDY_ADMIN_TOKEN=$(openssl rand -hex 32)`), or pass --insecure-no-auth to serve it to anyone who can reach it\n',
    );
    return 1;
  }
  if (token && args.insecure) {
    process.stderr.write(
      'eddy dashboard: --insecure-no-auth and EDDY_ADMIN_TOKEN contradict each other: unset one\n',
    );
    return 1;
  }

  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: args.databaseUrl, max: 5 });
  pool.on('error', () => undefined);
  const driver = nodePostgres(pool);
  let dashboard: ReturnType<typeof createDashboard>;
  try {
    dashboard = createDashboard({
      driver,
      schema: args.schema,
      auth: args.insecure ? { insecureNoAuth: true } : { token },
      basePath: args.basePath,
      readOnly: args.readOnly,
      onError: (error) => process.stderr.write(`eddy dashboard: ${describeError(error)}\n`),
    });
  } catch (error) {
    await pool.end();
    if (!isValidationError(error)) throw error;
    const message = error.message.replace(/auth\.token/, 'EDDY_ADMIN_TOKEN');
    process.stderr.write(`eddy dashboard: ${message}\n`);
    return 1;
  }

  const version = await getMigrationVersion(driver, { schema: args.schema }).catch(
    (error: unknown) => error,
  );
  if (typeof version !== 'number') {
    await pool.end();
    process.stderr.write(`eddy dashboard: cannot read the database: ${describeError(version)}\n`);
    return 1;
  }

  const guardHost =
    args.insecure && LOOPBACK.test(args.host.includes(':') ? `[${args.host}]` : args.host);
  const handle = (request: Request): Promise<Response> | Response => {
    // Unauthenticated on loopback: a page elsewhere that rebinds its name to 127.0.0.1 sends
    // its own name as Host; only loopback names reach the dashboard.
    if (guardHost && !LOOPBACK.test(hostname(request.headers.get('host') ?? ''))) {
      return new Response(
        'eddy dashboard: requests must be addressed to 127.0.0.1 or localhost\n',
        {
          status: 421,
          headers: { 'content-type': 'text/plain; charset=utf-8' },
        },
      );
    }
    return dashboard.fetch(request);
  };

  let server: Awaited<ReturnType<typeof serveFetch>>;
  try {
    server = await serveFetch(handle, { port: args.port, host: args.host });
  } catch (error) {
    await pool.end();
    process.stderr.write(
      `eddy dashboard: cannot listen on ${args.host}:${args.port}: ${(error as Error).message}\n`,
    );
    return 1;
  }
  process.stdout.write(
    [
      `eddy dashboard: serving PostgreSQL at ${new URL(args.databaseUrl).host} on ${server.url}`,
      `  dashboard  ${server.url}${(args.basePath ?? '').replace(/\/+$/, '')}/`,
      args.insecure
        ? '  WARNING    --insecure-no-auth: no authentication; anyone who reaches this port can see and change every job'
        : '  sign in    with EDDY_ADMIN_TOKEN (or send it as Authorization: Bearer)',
      ...(args.readOnly ? ['  read-only  actions hidden and refused'] : []),
      ...(version < LATEST_MIGRATION_VERSION
        ? [
            `  warning    River's schema is at version ${version}, not ${LATEST_MIGRATION_VERSION}: run \`eddy migrate\``,
          ]
        : []),
      'SIGTERM or Ctrl-C stops it.',
      '',
    ].join('\n'),
  );

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (received: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(received);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write(`eddy dashboard: ${signal}, stopping\n`);
  await server.close(5_000);
  await pool.end();
  process.stdout.write('eddy dashboard: stopped\n');
  return 0;
}
