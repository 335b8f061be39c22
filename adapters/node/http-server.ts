/**
 * Serving a Web-standard `fetch` handler (a Hono app, the kick receiver) with `node:http`: the
 * request's body streams in, the response's streams out, and a client that goes away aborts the
 * request's signal (a claim waiting for jobs stops waiting).
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface FetchServer {
  readonly server: Server;
  /** `http://host:port`, the port chosen when 0 was asked for. */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections and waits up to `graceMs` for requests in flight, then closes
   * what is left. Resolves when the server is closed.
   */
  close(graceMs?: number): Promise<void>;
}

function toRequest(req: IncomingMessage, res: ServerResponse, origin: string): Request {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', origin), {
    method,
    headers,
    signal: controller.signal,
    ...(hasBody
      ? { body: Readable.toWeb(req) as unknown as ReadableStream, duplex: 'half' as const }
      : {}),
  } as RequestInit);
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = name === 'set-cookie' ? response.headers.getSetCookie() : value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}

/** Listens on `host:port` and answers every request with `handler`. */
export function serveFetch(
  handler: FetchHandler,
  { port, host }: { port: number; host: string },
): Promise<FetchServer> {
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const server = createServer((req, res) => {
    void (async () => {
      try {
        await send(res, await handler(toRequest(req, res, origin)));
      } catch (error) {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('internal error\n');
        } else res.destroy(error as Error);
      }
    })();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const chosen = (server.address() as AddressInfo).port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${chosen}`;
      resolve({
        server,
        url,
        port: chosen,
        close: (graceMs = 10_000) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => server.closeAllConnections(), graceMs);
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}
