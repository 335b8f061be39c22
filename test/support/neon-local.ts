/**
 * The local Neon endpoint for tests: the unmodified `@neondatabase/serverless` driver, pointed at
 * a real PostgreSQL (default: the test database server) or at a PGlite.
 *
 * @example
 * ```ts
 * const endpoint = await startNeonLocal();
 * const sql = neon(endpoint.neonUrl());                            // HTTP
 * const pool = new Pool({ connectionString: endpoint.neonUrl() }); // WebSocket
 * afterAll(() => endpoint.close());
 *
 * // As a driver setup over any database URL on the test server:
 * async open(url = DATABASE_URL) {
 *   const endpoint = await startNeonLocal();
 *   const pool = new Pool({ connectionString: endpoint.neonUrlFor(url) });
 *   return { driver: neonWebSocket(pool), close: async () => { await pool.end(); await endpoint.close(); } };
 * }
 * ```
 */

import { neonConfig } from '@neondatabase/serverless';
import ws from 'ws';
import {
  createNeonLocal,
  type NeonLocal,
  type PGliteLike,
} from '../../adapters/neon-local/index.js';
import { DATABASE_URL } from './postgres.js';

export interface StartedNeonLocal {
  readonly local: NeonLocal;
  /** Connection string for `neon()` / `Pool`; `database` defaults to the upstream's. */
  neonUrl(database?: string): string;
  /**
   * The same user, password, database and parameters as `url` (a URL on the upstream server),
   * reached through the endpoint.
   */
  neonUrlFor(url: string): string;
  close(): Promise<void>;
}

/**
 * Starts an endpoint on a random loopback port and configures the driver's global `neonConfig`.
 *
 * The endpoint and WebSocket proxy are derived from each connection string's host and port, and
 * every `neonUrl()` names its own endpoint, so several endpoints (say PostgreSQL and PGlite) work
 * side by side in one test file.
 */
export async function startNeonLocal(
  upstream: { databaseUrl: string } | { pglite: PGliteLike } = { databaseUrl: DATABASE_URL },
): Promise<StartedNeonLocal> {
  configureNeonDriver();
  const local = await createNeonLocal({ ...upstream, port: 0 });
  return {
    local,
    neonUrl: (database) => local.connectionString(database),
    neonUrlFor(url) {
      const through = new URL(url);
      const endpoint = new URL(local.fetchEndpoint);
      through.host = endpoint.host;
      return through.toString();
    },
    close: () => local.close(),
  };
}

/** Points the driver at whichever local endpoint a connection string names. */
export function configureNeonDriver(): void {
  neonConfig.fetchEndpoint = (host, port) => `http://${host}:${port}/sql`;
  neonConfig.wsProxy = (host, port) => `${host}:${port}/v2`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.forceDisablePgSSL = true;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  neonConfig.webSocketConstructor = ws;
}
