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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'migrate': {
      const { runMigrateCommand } = await import('./migrate-command.js');
      return runMigrateCommand(rest);
    }
    case 'neon-local': {
      const { runNeonLocalCommand } = await import('../neon-local/command.js');
      return runNeonLocalCommand(rest);
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
