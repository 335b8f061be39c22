/**
 * A local Neon endpoint: Neon's SQL-over-HTTP (`POST /sql`) and WebSocket proxy (`/v2`)
 * protocols in front of a PostgreSQL server or an in-process PGlite, so the unmodified
 * `@neondatabase/serverless` driver runs locally and in CI (Node, Miniflare/workerd) without
 * Docker or a Neon account. Requires `ws`; `pg` for a PostgreSQL server, `@electric-sql/pglite`
 * for PGlite (each loaded only when used).
 *
 * @example
 * ```ts
 * import { neon, neonConfig, Pool } from '@neondatabase/serverless';
 * import ws from 'ws';
 * import { createNeonLocal } from 'eddy/neon-local';
 *
 * const local = await createNeonLocal({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/app' });
 * Object.assign(neonConfig, local.neonConfig);
 * neonConfig.webSocketConstructor = ws; // Node only; workerd and browsers have WebSocket
 *
 * const sql = neon(local.connectionString());
 * await sql`select 1`;
 * const pool = new Pool({ connectionString: local.connectionString() });
 * await pool.query('select 1');
 * ```
 *
 * Trust model (docs/neon-local.md): loopback only unless `allowRemote`, which then requires an
 * access token on every request; no browser origin unless listed in `allowOrigins`; the server
 * (or PGlite) authenticates each client, the endpoint lends none of its own credentials; and at
 * most `maxConnections` upstream connections.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import {
  type Access,
  checkAccess,
  generateAccessToken,
  isLoopbackHost,
  parseOrigins,
} from './access.js';
import { ConnectionSlots, SessionPool } from './connections.js';
import type { PGliteLike } from './pglite-connection.js';
import { type HttpReply, handleSql } from './sql-over-http.js';
import { pgliteUpstream, type Upstream } from './upstream.js';
import { relayWebSocket } from './websocket-relay.js';

export type { PGliteLike } from './pglite-connection.js';

export interface NeonLocalOptions {
  /** A PostgreSQL server to front. Requests choose user and database; host and port are fixed. */
  databaseUrl?: string;
  /** A PGlite instance to front (single database). Neither option: an embedded in-memory PGlite. */
  pglite?: PGliteLike;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /**
   * Address to listen on. Default `127.0.0.1`. Anything but a loopback address needs
   * `allowRemote`.
   */
  host?: string;
  /**
   * Serve a non-loopback `host`. Every request must then carry `accessToken` (generated at
   * start) as the first path segment; `fetchEndpoint`, `wsProxy` and `neonConfig` include it.
   */
  allowRemote?: boolean;
  /** Browser origins let in (`http://localhost:5173`). Default none: any page is refused. */
  allowOrigins?: readonly string[];
  /** Most upstream connections open at once (WebSocket and HTTP together). Default 20. */
  maxConnections?: number;
  /** How long a client waits for a free upstream connection before it is refused. Default 10 s. */
  connectionWaitMs?: number;
  /** Largest accepted `/sql` request body. Default 10 MiB. */
  maxBodyBytes?: number;
}

/** The settings `neonConfig` needs to use the endpoint (plus `webSocketConstructor` in Node). */
export interface NeonLocalConfig {
  fetchEndpoint: string;
  wsProxy: string;
  useSecureWebSocket: false;
  forceDisablePgSSL: true;
  pipelineTLS: false;
  pipelineConnect: false;
}

export interface NeonLocal {
  readonly host: string;
  readonly port: number;
  /** With `allowRemote`: the token every request must carry. A secret: never log it. */
  readonly accessToken: string | undefined;
  /** `http://127.0.0.1:PORT/sql` (`…/TOKEN/sql` with a token), for `neonConfig.fetchEndpoint`. */
  readonly fetchEndpoint: string;
  /** `127.0.0.1:PORT/v2` (`…/TOKEN/v2`), for `neonConfig.wsProxy` (the driver adds `ws://`). */
  readonly wsProxy: string;
  /** Everything to assign onto `neonConfig`. */
  readonly neonConfig: NeonLocalConfig;
  /**
   * A connection string for `neon()` / `Pool`: the upstream's user and password (the caller's
   * own, from `databaseUrl`: secret), `database` or its default.
   */
  connectionString(database?: string): string;
  /** Stops listening, closes client connections and upstream pools (and an embedded PGlite). */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
// A fifth of PostgreSQL's default max_connections: room for the app's other connections.
const DEFAULT_MAX_CONNECTIONS = 20;
const DEFAULT_CONNECTION_WAIT_MS = 10_000;
const WEBSOCKET_PATHS = new Set(['/v1', '/v2']);
const NEON_HEADERS =
  'Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, Neon-Batch-Isolation-Level, Neon-Batch-Read-Only, Neon-Batch-Deferrable, Neon-Pool-Opt-In, Authorization, Content-Type';

/** Starts a local Neon endpoint. See the module comment for the driver settings. */
export async function createNeonLocal(options: NeonLocalOptions = {}): Promise<NeonLocal> {
  const { databaseUrl, pglite, port = 0, host = '127.0.0.1', allowRemote = false } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new TypeError(`maxConnections must be a positive integer, got ${maxConnections}`);
  }
  if (databaseUrl && pglite) throw new TypeError('pass databaseUrl or pglite, not both');
  if (!allowRemote && !isLoopbackHost(host)) {
    throw new TypeError(
      `host ${host} is not a loopback address: anyone who reaches it could run SQL as the upstream's users; pass allowRemote: true to serve it with an access token`,
    );
  }
  const allowed = parseOrigins(options.allowOrigins);
  const token = allowRemote ? generateAccessToken() : undefined;
  const access: Access = { allowed, token, loopbackOnly: !allowRemote };
  const upstream = await openUpstream(databaseUrl, pglite);
  const slots = new ConnectionSlots(
    maxConnections,
    options.connectionWaitMs ?? DEFAULT_CONNECTION_WAIT_MS,
  );
  const sessions = new SessionPool(slots, (credentials) => upstream.open(credentials));

  const http = createServer((request, response) => {
    serveHttp(request, response, upstream, sessions, access, maxBodyBytes).catch(() =>
      response.destroy(),
    );
  });
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const checked = checkAccess(request, access);
    if (typeof checked !== 'string') return refuse(`${checked.status} ${checked.reason}`);
    if (!WEBSOCKET_PATHS.has(checked)) return refuse('404 Not Found');
    sockets.handleUpgrade(request, socket, head, (ws) => relayWebSocket(ws, upstream, slots));
  });

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await upstream.close();
    throw error;
  }
  http.on('error', () => undefined);

  const bound = (http.address() as AddressInfo).port;
  // A wildcard address is reached through loopback.
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const authority = `${reachable.includes(':') ? `[${reachable}]` : reachable}:${bound}`;
  const base = token ? `${authority}/${token}` : authority;
  const fetchEndpoint = `http://${base}/sql`;
  const wsProxy = `${base}/v2`;
  let closing: Promise<void> | undefined;

  return {
    host,
    port: bound,
    accessToken: token,
    fetchEndpoint,
    wsProxy,
    neonConfig: {
      fetchEndpoint,
      wsProxy,
      useSecureWebSocket: false,
      forceDisablePgSSL: true,
      pipelineTLS: false,
      pipelineConnect: false,
    },
    connectionString(database) {
      const { user, password } = upstream.defaults;
      const auth = password
        ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
        : encodeURIComponent(user);
      return `postgresql://${auth}@${authority}/${encodeURIComponent(database ?? upstream.defaults.database)}`;
    },
    close() {
      closing ??= (async () => {
        for (const client of sockets.clients) client.terminate();
        sockets.close();
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeAllConnections();
        await stopped;
        sessions.close();
        await upstream.close();
      })();
      return closing;
    },
  };
}

async function openUpstream(databaseUrl?: string, pglite?: PGliteLike): Promise<Upstream> {
  if (databaseUrl) {
    // Loaded only here: it needs `pg`, which the embedded database does not.
    const { postgresUpstream } = await import('./postgres-upstream.js');
    return postgresUpstream(databaseUrl);
  }
  if (pglite) {
    await pglite.waitReady;
    return pgliteUpstream(pglite, false);
  }
  const { PGlite } = await import('@electric-sql/pglite');
  return pgliteUpstream(await PGlite.create(), true);
}

async function serveHttp(
  request: IncomingMessage,
  response: ServerResponse,
  upstream: Upstream,
  sessions: SessionPool,
  access: Access,
  maxBodyBytes: number,
): Promise<void> {
  const { origin } = request.headers;
  const headers: Record<string, string> = {};
  const checked = checkAccess(request, access);
  if (origin !== undefined && typeof checked === 'string') {
    headers['Access-Control-Allow-Origin'] = origin;
    headers.Vary = 'Origin';
  }
  let reply: HttpReply;
  if (typeof checked !== 'string') {
    reply = { status: checked.status, body: { message: checked.message } };
  } else if (checked !== '/sql') {
    reply = {
      status: 404,
      body: { message: `no such endpoint ${checked}; SQL over HTTP is POST /sql` },
    };
  } else if (request.method === 'OPTIONS') {
    headers['Access-Control-Allow-Methods'] = 'POST, OPTIONS';
    headers['Access-Control-Allow-Headers'] = NEON_HEADERS;
    headers['Access-Control-Max-Age'] = '86400';
    response.writeHead(204, headers).end();
    return;
  } else if (request.method !== 'POST') {
    headers.Allow = 'POST, OPTIONS';
    reply = { status: 405, body: { message: `${request.method} /sql: use POST` } };
  } else {
    reply = await handleSql(request, upstream, sessions, maxBodyBytes);
  }
  // Drain whatever body is left so a keep-alive connection stays usable.
  request.resume();
  const body = JSON.stringify(reply.body);
  response
    .writeHead(reply.status, {
      ...headers,
      ...reply.headers,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
    })
    .end(body);
}
