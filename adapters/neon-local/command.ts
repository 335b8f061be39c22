/**
 * `eddy neon-local [--database-url URL] [--port N] [--host H]`: serves Neon's SQL-over-HTTP and
 * WebSocket protocols locally until SIGINT or SIGTERM, in front of a PostgreSQL server or, without
 * a URL, an embedded in-memory PGlite. Prints the `neonConfig` lines that point the driver at it.
 */

import { createNeonLocal, type NeonLocal } from './index.js';

const USAGE = `Usage: eddy neon-local [--database-url URL] [--port N] [--host H]

  --database-url URL   PostgreSQL server to front (default: an embedded in-memory PGlite)
  --port N             port to listen on (default 4444; 0 picks a free one)
  --host H             address to listen on (default 127.0.0.1)
`;

interface Args {
  databaseUrl?: string;
  port: number;
  host: string;
}

function parseArgs(argv: string[]): Args | 'help' {
  const args: Args = { port: 4444, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] as string).split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--database-url':
        args.databaseUrl = value();
        break;
      case '--port': {
        const port = Number(value());
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new Error('--port must be an integer from 0 to 65535');
        }
        args.port = port;
        break;
      }
      case '--host':
        args.host = value();
        break;
      case '--help':
      case '-h':
        return 'help';
      default:
        throw new Error(`unknown option '${flag}'`);
    }
  }
  return args;
}

function describe(local: NeonLocal, upstream: string): string {
  const c = local.neonConfig;
  return `eddy neon-local: serving ${upstream}
  SQL over HTTP   ${local.fetchEndpoint}
  WebSocket proxy ws://${local.wsProxy}
  DATABASE_URL=${local.connectionString()}

Point @neondatabase/serverless at it:
  neonConfig.fetchEndpoint = '${c.fetchEndpoint}';
  neonConfig.wsProxy = '${c.wsProxy}';
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = false;
  neonConfig.webSocketConstructor = ws; // Node only (import ws from 'ws')

Ctrl-C stops it.
`;
}

/** Runs the endpoint until SIGINT/SIGTERM; resolves with the exit code. */
export async function runNeonLocalCommand(argv: string[]): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`eddy neon-local: ${(error as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const local = await createNeonLocal({
    databaseUrl: args.databaseUrl,
    port: args.port,
    host: args.host,
  });
  const upstream = args.databaseUrl
    ? `PostgreSQL at ${new URL(args.databaseUrl).host}`
    : 'an embedded in-memory PGlite (data is lost on exit)';
  process.stdout.write(describe(local, upstream));

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
  await local.close();
  return 0;
}
