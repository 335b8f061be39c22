/**
 * `eddy serve`: the REST API, `/metrics`, `/livez`, `/readyz` and a kick receiver in one
 * process, on an embedded PGlite persisted in `--data-dir` (default `./.eddy`) or on the
 * PostgreSQL at `--database-url`; maintenance (promote due jobs, rescue passed leases, delete
 * old finalized jobs) runs on its own timer, so remote workers' lost leases are rescued. Keys come
 * from the environment (`EDDY_API_KEY`, `EDDY_API_KEYS`), never from flags, and it refuses to
 * start with none. SIGTERM or SIGINT stops it gracefully: claims stop waiting, requests in
 * flight finish, the database is closed, the data directory unlocked.
 */

import { parseArgs } from 'node:util';
import { createDashboard } from '../../src/dashboard/index.js';
import type { Driver } from '../../src/driver/index.js';
import {
  type ApiKey,
  checkApiKeys,
  createHttpApi,
  createMetrics,
  SCOPES,
} from '../../src/http/api.js';
import {
  createKickReceiver,
  createRunner,
  getMigrationVersion,
  isValidationError,
  LATEST_MIGRATION_VERSION,
} from '../../src/index.js';
import { nodePostgres } from '../node-postgres/index.js';
import { pglite } from '../pglite/index.js';
import { DataDirLocked, lockDataDir } from './data-dir.js';
import { serveFetch } from './http-server.js';
import { describeError, migrateAndReport } from './migrate-command.js';

const USAGE = `Usage: eddy serve [options]

  --database-url URL     PostgreSQL to serve (needs the pg package); without it, an embedded
                         PGlite persisted in --data-dir (needs @electric-sql/pglite)
  --data-dir DIR         the embedded database's directory (default ./.eddy); one eddy serve
                         at a time per directory
  --migrate              with --database-url: apply River's schema first (the embedded
                         database is always migrated)
  --schema NAME          the schema holding River's tables (default: the search_path)
  --port N               port to listen on (default 8080; 0 picks a free one)
  --host H               address to listen on (default 127.0.0.1)
  --maintenance-ms N     run maintenance every N ms (default 1000)

Environment:
  EDDY_API_KEY           one API key with every scope (at least 32 characters)
  EDDY_API_KEYS          several: [{"key": "…", "scopes": ["insert"], "name": "producer"}]
                         (scopes: insert, work, read, admin); both may be set
  EDDY_ADMIN_TOKEN       the dashboard's admin token (at least 32 characters); with it the
                         dashboard is served at /dashboard/

Routes: /v1/... (the REST API; /v1/openapi.json describes it), /metrics (a key with the read
scope), /livez, /readyz, POST /kick (Eddy's signed kick, signed with an insert or admin key),
/dashboard/ (with EDDY_ADMIN_TOKEN).
`;

class UsageError extends Error {}

interface Args {
  databaseUrl?: string;
  dataDir: string;
  migrate: boolean;
  schema?: string;
  port: number;
  host: string;
  maintenanceMs: number;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}`);
  return n;
}

function parse(argv: string[]): Args | 'help' {
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
  if (values.migrate && values['database-url'] === undefined)
    throw new UsageError(
      '--migrate goes with --database-url (the embedded database is always migrated)',
    );
  if (values['data-dir'] !== undefined && values['database-url'] !== undefined)
    throw new UsageError('use either --data-dir (embedded PGlite) or --database-url, not both');
  return {
    databaseUrl: values['database-url'],
    dataDir: values['data-dir'] ?? '.eddy',
    migrate: values.migrate ?? false,
    schema: values.schema,
    port: values.port === undefined ? 8080 : integer('--port', values.port, 0, 65535),
    host: values.host ?? '127.0.0.1',
    maintenanceMs:
      values['maintenance-ms'] === undefined
        ? 1000
        : integer('--maintenance-ms', values['maintenance-ms'], 100, 3_600_000),
  };
}

function flags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      'database-url': { type: 'string' },
      'data-dir': { type: 'string' },
      migrate: { type: 'boolean' },
      schema: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'maintenance-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

/** The keys from the environment, or the reason there are none usable. */
export function keysFromEnv(env: NodeJS.ProcessEnv): ApiKey[] {
  const keys: ApiKey[] = [];
  if (env.EDDY_API_KEY)
    keys.push({ key: env.EDDY_API_KEY, scopes: ['admin'], name: 'EDDY_API_KEY' });
  if (env.EDDY_API_KEYS) {
    let listed: unknown;
    try {
      listed = JSON.parse(env.EDDY_API_KEYS);
    } catch (error) {
      throw new UsageError(`EDDY_API_KEYS is not JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(listed))
      throw new UsageError(
        'EDDY_API_KEYS must be a JSON array: [{"key": "…", "scopes": ["insert"]}]',
      );
    listed.forEach((entry, i) => {
      const { key, scopes, name } = (entry ?? {}) as Partial<ApiKey>;
      keys.push({
        key: key as string,
        scopes: scopes as ApiKey['scopes'],
        name: name ?? `EDDY_API_KEYS[${i}]`,
      });
    });
  }
  if (keys.length === 0)
    throw new UsageError(
      `no API key: set EDDY_API_KEY (one key with every scope, e.g. \`export EDDY_API_KEY=$(openssl rand -hex 32)\`) or EDDY_API_KEYS (scopes: ${SCOPES.join(', ')})`,
    );
  return keys;
}

interface Database {
  driver: Driver;
  describe: string;
  close(): Promise<void>;
}

async function openDatabase(args: Args): Promise<Database> {
  if (args.databaseUrl !== undefined) {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: args.databaseUrl, max: 10 });
    pool.on('error', () => undefined);
    const driver = nodePostgres(pool);
    if (args.migrate)
      process.stdout.write(`eddy serve: ${await migrateAndReport(driver, args.schema)}`);
    return {
      driver,
      describe: `PostgreSQL at ${new URL(args.databaseUrl).host}`,
      close: () => pool.end(),
    };
  }
  const release = lockDataDir(args.dataDir);
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(args.dataDir);
    const driver = pglite(db);
    process.stdout.write(`eddy serve: ${await migrateAndReport(driver, args.schema)}`);
    return {
      driver,
      describe: `an embedded PGlite in ${args.dataDir} (kept across restarts)`,
      close: async () => {
        try {
          await db.close();
        } finally {
          release();
        }
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}

/** Runs `eddy serve` until SIGTERM or SIGINT; resolves with the exit code. */
export async function runServeCommand(argv: string[], env = process.env): Promise<number> {
  let args: Args | 'help';
  let keys: ApiKey[];
  try {
    args = parse(argv);
    if (args === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    keys = keysFromEnv(env);
    checkApiKeys(keys, 'EDDY_API_KEY / EDDY_API_KEYS');
  } catch (error) {
    if (!(error instanceof UsageError) && !isValidationError(error)) throw error;
    process.stderr.write(`eddy serve: ${error.message}. Run 'eddy serve --help' for usage.\n`);
    return 1;
  }
  const adminToken = env.EDDY_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 32) {
    process.stderr.write('eddy serve: EDDY_ADMIN_TOKEN must be at least 32 characters\n');
    return 1;
  }

  let database: Database;
  try {
    database = await openDatabase(args);
  } catch (error) {
    const message = error instanceof DataDirLocked ? error.message : describeError(error);
    process.stderr.write(`eddy serve: ${message}\n`);
    return 1;
  }
  const { driver } = database;
  const metrics = createMetrics();
  let api: ReturnType<typeof createHttpApi>;
  try {
    api = createHttpApi({
      driver,
      keys,
      schema: args.schema,
      metrics,
      onError: (error) => process.stderr.write(`eddy serve: ${describeError(error)}\n`),
    });
  } catch (error) {
    await database.close();
    process.stderr.write(
      `eddy serve: the API keys from EDDY_API_KEY / EDDY_API_KEYS are not valid: ${(error as Error).message}\n`,
    );
    return 1;
  }

  const dashboard = adminToken
    ? createDashboard({
        driver,
        schema: args.schema,
        auth: { token: adminToken },
        basePath: '/dashboard',
        onError: (error) =>
          process.stderr.write(`eddy serve: dashboard: ${describeError(error)}\n`),
      })
    : undefined;

  // A runner without workers does maintenance only: rescue, promote, delete, on this timer.
  const maintainer = createRunner({
    driver,
    workers: [],
    schema: args.schema,
    hooks: metrics.hooks,
  });
  const stopping = new AbortController();
  let nudge: (() => void) | undefined;
  const maintenance = (async () => {
    while (!stopping.signal.aborted) {
      try {
        const stats = await maintainer.tick({ budgetMs: 5_000, source: 'maintenance' });
        if (stats.promoted > 0 || stats.rescued > 0) api.wake();
        for (const step of stats.errors) process.stderr.write(`eddy serve: maintenance: ${step}\n`);
      } catch (error) {
        process.stderr.write(`eddy serve: maintenance failed: ${describeError(error)}\n`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, args.maintenanceMs);
        function done() {
          clearTimeout(timer);
          // One listener per wait, gone with it: left behind, one a second would pile up.
          stopping.signal.removeEventListener('abort', done);
          nudge = undefined;
          resolve();
        }
        nudge = done;
        stopping.signal.addEventListener('abort', done, { once: true });
      });
    }
  })();

  const kickSecrets = keys
    .filter((k) => k.scopes.includes('insert') || k.scopes.includes('admin'))
    .map((k) => k.key);
  const receiveKick =
    kickSecrets.length === 0
      ? undefined
      : createKickReceiver({
          secrets: kickSecrets,
          onKick: () => {
            api.wake();
            nudge?.(); // promote what came due now
          },
        });

  const handle = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (pathname === '/kick' && receiveKick) return receiveKick(request);
    if (pathname === '/dashboard' || pathname.startsWith('/dashboard/')) {
      if (dashboard) return dashboard.fetch(request);
      return new Response(
        JSON.stringify({
          type: 'urn:eddy:problem:not-found',
          title: 'The dashboard is off',
          status: 404,
          detail: 'set EDDY_ADMIN_TOKEN (at least 32 characters) and restart eddy serve',
        }),
        { status: 404, headers: { 'content-type': 'application/problem+json' } },
      );
    }
    return api.fetch(request);
  };

  let server: Awaited<ReturnType<typeof serveFetch>>;
  try {
    server = await serveFetch(handle, { port: args.port, host: args.host });
  } catch (error) {
    stopping.abort();
    await maintenance;
    await database.close();
    process.stderr.write(
      `eddy serve: cannot listen on ${args.host}:${args.port}: ${(error as Error).message}\n`,
    );
    return 1;
  }
  const version = await getMigrationVersion(driver, { schema: args.schema }).catch(() => 0);
  process.stdout.write(
    [
      `eddy serve: serving ${database.describe} on ${server.url}`,
      `  REST API   ${server.url}/v1  (OpenAPI: ${server.url}/v1/openapi.json)`,
      `  metrics    ${server.url}/metrics  (a key with the read scope)`,
      `  health     ${server.url}/livez  ${server.url}/readyz`,
      `  kick       POST ${server.url}/kick  (createKick with an insert key as its secret)`,
      `  keys       ${keys.length} (${keys.map((k) => `${k.name}: ${k.scopes.join(', ')}`).join('; ')})`,
      ...(adminToken
        ? [`  dashboard  ${server.url}/dashboard/  (sign in with EDDY_ADMIN_TOKEN)`]
        : []),
      ...(version < LATEST_MIGRATION_VERSION
        ? [
            `  warning    River's schema is at version ${version}, not ${LATEST_MIGRATION_VERSION}: /readyz answers 503 until \`eddy migrate\` runs (or pass --migrate)`,
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
  process.stdout.write(`eddy serve: ${signal}, stopping\n`);
  api.close();
  stopping.abort();
  await server.close(10_000);
  await maintenance;
  await database.close();
  process.stdout.write('eddy serve: stopped\n');
  return 0;
}
