/**
 * A local Neon endpoint: Neon's SQL-over-HTTP (`POST /sql`) and WebSocket proxy (`/v2`)
 * protocols in front of a PostgreSQL server or an in-process PGlite, so the unmodified
 * `@neondatabase/serverless` driver runs locally and in CI (Node, Miniflare/workerd) without
 * Docker or a Neon account. Requires `pg` and `ws`; `@electric-sql/pglite` for PGlite.
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
 * Bound to 127.0.0.1 by default. Requests from browsers are accepted only from loopback origins
 * (`http://localhost:3000`, ...), so a web page elsewhere cannot reach a local database through it.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { PGliteLike } from './pglite-connection.js';
import { type HttpReply, handleSql } from './sql-over-http.js';
import { pgliteUpstream, postgresUpstream, type Upstream } from './upstream.js';
import { relayWebSocket } from './websocket-relay.js';

export type { PGliteLike } from './pglite-connection.js';

export interface NeonLocalOptions {
  /** A PostgreSQL server to front. Requests choose user and database; host and port are fixed. */
  databaseUrl?: string;
  /** A PGlite instance to front (single database). Neither option: an embedded in-memory PGlite. */
  pglite?: PGliteLike;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
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
  /** `http://127.0.0.1:PORT/sql`, for `neonConfig.fetchEndpoint`. */
  readonly fetchEndpoint: string;
  /** `127.0.0.1:PORT/v2`, for `neonConfig.wsProxy` (the driver adds `ws://` and `?address=`). */
  readonly wsProxy: string;
  /** Everything to assign onto `neonConfig`. */
  readonly neonConfig: NeonLocalConfig;
  /** A connection string for `neon()` / `Pool`: the upstream's user, `database` or its default. */
  connectionString(database?: string): string;
  /** Stops listening, closes client connections and upstream pools (and an embedded PGlite). */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
const WEBSOCKET_PATHS = new Set(['/v1', '/v2']);
const NEON_HEADERS =
  'Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, Neon-Batch-Isolation-Level, Neon-Batch-Read-Only, Neon-Batch-Deferrable, Neon-Pool-Opt-In, Authorization, Content-Type';

/** Starts a local Neon endpoint. See the module comment for the driver settings. */
export async function createNeonLocal(options: NeonLocalOptions = {}): Promise<NeonLocal> {
  const { databaseUrl, pglite, port = 0, host = '127.0.0.1' } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (databaseUrl && pglite) throw new TypeError('pass databaseUrl or pglite, not both');
  const upstream = await openUpstream(databaseUrl, pglite);

  const http = createServer((request, response) => {
    serveHttp(request, response, upstream, maxBodyBytes).catch(() => response.destroy());
  });
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const path = new URL(request.url ?? '/', 'http://local').pathname;
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!WEBSOCKET_PATHS.has(path)) return refuse('404 Not Found');
    if (!allowedOrigin(request.headers.origin)) return refuse('403 Forbidden');
    sockets.handleUpgrade(request, socket, head, (ws) => relayWebSocket(ws, upstream));
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
  const fetchEndpoint = `http://${authority}/sql`;
  const wsProxy = `${authority}/v2`;
  let closing: Promise<void> | undefined;

  return {
    host,
    port: bound,
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
        await upstream.close();
      })();
      return closing;
    },
  };
}

async function openUpstream(databaseUrl?: string, pglite?: PGliteLike): Promise<Upstream> {
  if (databaseUrl) return postgresUpstream(databaseUrl);
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
  maxBodyBytes: number,
): Promise<void> {
  const { origin } = request.headers;
  const path = new URL(request.url ?? '/', 'http://local').pathname;
  const headers: Record<string, string> = {};
  if (origin && allowedOrigin(origin)) {
    headers['Access-Control-Allow-Origin'] = origin;
    headers.Vary = 'Origin';
  }
  let reply: HttpReply;
  if (path !== '/sql') {
    reply = {
      status: 404,
      body: { message: `no such endpoint ${path}; SQL over HTTP is POST /sql` },
    };
  } else if (!allowedOrigin(origin)) {
    reply = { status: 403, body: { message: `origin ${origin} is not a loopback origin` } };
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
    reply = await handleSql(request, upstream, maxBodyBytes);
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

const LOOPBACK_HOST = /^(localhost|[^.]+\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** No Origin (Node, workerd) or a loopback page: yes. Any other web page: no. */
function allowedOrigin(origin: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    const url = new URL(origin);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOST.test(url.hostname)
    );
  } catch {
    return false;
  }
}
