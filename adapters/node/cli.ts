#!/usr/bin/env node
/**
 * The `eddy` command. Each subcommand lives in its own module; this file only dispatches.
 * Failures print one line on stderr and exit with code 1.
 */

const USAGE = `Usage:
  eddy migrate [--database-url URL] [--schema NAME]  apply River's schema (line main, version 8);
                                                     the URL defaults to $DATABASE_URL
  eddy migrate --print [--schema NAME]               print the migration SQL
  eddy neon-local [--database-url URL] [--migrate] [--port N] ...
                                                     serve Neon's SQL-over-HTTP and WebSocket
                                                     protocols locally (embedded PGlite without
                                                     a URL); --help for every option
  eddy serve [--database-url URL] [--data-dir DIR] [--port 8080] [--host 127.0.0.1] ...
                                                     the REST API, /metrics, /livez, /readyz on
                                                     PostgreSQL or an embedded PGlite kept in
                                                     --data-dir (default ./.eddy); keys from
                                                     $EDDY_API_KEY or $EDDY_API_KEYS; --help
  eddy dashboard [--database-url URL] [--port 8081] [--host 127.0.0.1] ...
                                                     the dashboard on PostgreSQL; the admin token
                                                     from $EDDY_ADMIN_TOKEN (or --insecure-no-auth);
                                                     --help
`;

// What each optional peer is for, when `eddy neon-local` finds it missing.
const NEEDED_FOR: Record<string, string> = {
  pg: ' to front --database-url',
  '@electric-sql/pglite': ' for its embedded database (or pass --database-url)',
};
// And by `eddy serve`.
const SERVE_NEEDS: Record<string, string> = {
  pg: ' for --database-url',
  '@electric-sql/pglite': ' for its embedded database (or pass --database-url)',
  hono: ' for the REST API',
  zod: " to validate the REST API's requests",
};

// And by `eddy dashboard`.
const DASHBOARD_NEEDS: Record<string, string> = {
  pg: ' to connect to --database-url',
  hono: ' for the dashboard',
};

/**
 * The bare package a failed `import` could not find (Node's ERR_MODULE_NOT_FOUND), if that is
 * what failed: `eddy neon-local` needs `ws`, and `pg` for a URL or PGlite without one (`eddy serve` too, and hono and zod), optional
 * peer dependencies that `eddy migrate` must work without, so each is loaded only when used.
 */
function missingPackage(error: unknown): string | undefined {
  if ((error as { code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND') return undefined;
  // "Cannot find package 'ws' imported from /…/adapters/neon-local/index.js"
  return /Cannot find package '((?:@[^/']+\/)?[^/']+)'/.exec((error as Error).message)?.[1];
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'migrate': {
      const { runMigrateCommand } = await import('./migrate-command.js');
      return runMigrateCommand(rest);
    }
    case 'neon-local':
      try {
        const { runNeonLocalCommand } = await import('../neon-local/command.js');
        return await runNeonLocalCommand(rest);
      } catch (error) {
        const missing = missingPackage(error);
        if (missing === undefined) throw error;
        process.stderr.write(
          `eddy neon-local needs the ${missing} package${NEEDED_FOR[missing] ?? ''}: npm install ${missing}\n`,
        );
        return 1;
      }
    case 'serve':
      try {
        const { runServeCommand } = await import('./serve-command.js');
        return await runServeCommand(rest);
      } catch (error) {
        const missing = missingPackage(error);
        if (missing === undefined) throw error;
        process.stderr.write(
          `eddy serve needs the ${missing} package${SERVE_NEEDS[missing] ?? ''}: npm install ${missing}\n`,
        );
        return 1;
      }
    case 'dashboard':
      try {
        const { runDashboardCommand } = await import('./dashboard-command.js');
        return await runDashboardCommand(rest);
      } catch (error) {
        const missing = missingPackage(error);
        if (missing === undefined) throw error;
        process.stderr.write(
          `eddy dashboard needs the ${missing} package${DASHBOARD_NEEDS[missing] ?? ''}: npm install ${missing}\n`,
        );
        return 1;
      }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`eddy: unknown command '${command}'. Run 'eddy --help' for the list.\n`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`eddy: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
