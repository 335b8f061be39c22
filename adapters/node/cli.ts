#!/usr/bin/env node
/**
 * The `eddy` command. Each subcommand lives in its own module; this file only dispatches.
 * Failures print one line on stderr and exit with code 1.
 */

const USAGE = `Usage:
  eddy migrate --database-url URL [--schema NAME]   apply River's schema (line main, version 7)
  eddy migrate --print [--schema NAME]              print the migration SQL
  eddy neon-local [--database-url URL] [--port N] [--host H]
                                                    serve Neon's SQL-over-HTTP and WebSocket
                                                    protocols locally (embedded PGlite without a URL)
`;

/**
 * The bare package a failed `import` could not find (Node's ERR_MODULE_NOT_FOUND), if that is
 * what failed: `eddy neon-local` needs `ws` and `pg` (and PGlite without a URL), optional peer
 * dependencies that `eddy migrate` must work without, so they are loaded only when it runs.
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
          `eddy neon-local needs the ${missing} package: npm install ${missing}\n`,
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
