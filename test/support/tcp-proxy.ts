/**
 * A TCP proxy on loopback between a client and PostgreSQL that a test can cut at will: drop every
 * connection, refuse new ones, or cut the connection that sends a given statement, either before
 * the statement reaches the server or after (so it runs and commits but the reply is lost).
 */

import net from 'node:net';

export interface CutOptions {
  /** Text the client sends (the SQL in the Parse message) that triggers the cut; any of a list. */
  marker: string | readonly string[];
  /**
   * `before`: the statement never reaches the server. `after`: the server gets it (and commits
   * it) but the client never sees the reply.
   */
  when: 'before' | 'after';
  /** Also refuse every new connection from the cut on, until `restore()`. */
  refuseAfter?: boolean;
}

export interface TcpProxy {
  /** A connection string that goes through the proxy. */
  readonly url: string;
  /** Connections currently open through the proxy. */
  readonly openConnections: number;
  /** Destroys every open connection; with `refuse`, new ones are closed at once until `restore()`. */
  sever(options?: { refuse?: boolean }): void;
  /** Accepts connections again. */
  restore(): void;
  /** Arms a one-shot cut; resolves when it happened. */
  cutOn(options: CutOptions): Promise<void>;
  close(): Promise<void>;
}

// The server ends its reply to a statement with ReadyForQuery: 'Z', length 5, status byte.
const endsWithReadyForQuery = (chunk: Buffer) =>
  chunk.length >= 6 && chunk.subarray(-6, -1).equals(Buffer.from([0x5a, 0, 0, 0, 5]));

interface Pair {
  client: net.Socket;
  server: net.Socket;
}

/** Starts a proxy in front of the PostgreSQL at `targetUrl`. */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const targetHost = target.hostname;
  const targetPort = Number(target.port || 5432);
  const pairs = new Set<Pair>();
  let refusing = false;
  let armed: (CutOptions & { done: () => void }) | undefined;

  const destroy = (pair: Pair) => {
    pair.client.destroy();
    pair.server.destroy();
    pairs.delete(pair);
  };

  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    upstream.on('error', () => undefined);
    const pair: Pair = { client, server: upstream };
    pairs.add(pair);
    let tail = '';
    let replying = true;
    let swallowing: (() => void) | undefined;
    client.on('data', (chunk: Buffer) => {
      if (!replying) {
        upstream.write(chunk);
        return;
      }
      const cut = armed;
      if (cut) {
        const markers = typeof cut.marker === 'string' ? [cut.marker] : cut.marker;
        // A marker may straddle two chunks: search the end of the previous one too.
        const text = tail + chunk.toString('latin1');
        tail = text.slice(-Math.max(...markers.map((m) => m.length)));
        if (markers.some((marker) => text.includes(marker))) {
          armed = undefined;
          if (cut.refuseAfter) {
            refusing = true;
            for (const other of [...pairs]) if (other !== pair) destroy(other);
          }
          if (cut.when === 'before') {
            destroy(pair);
            cut.done();
            return;
          }
          // Forward the statement and swallow the reply; cut once the server is done with it
          // (ReadyForQuery), so it has committed by the time the client sees the cut.
          replying = false;
          const fallback = setTimeout(() => swallowing?.(), 5000);
          swallowing = () => {
            clearTimeout(fallback);
            swallowing = undefined;
            destroy(pair);
            cut.done();
          };
          upstream.write(chunk);
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (replying) client.write(chunk);
      else if (swallowing && endsWithReadyForQuery(chunk)) swallowing();
    });
    client.on('close', () => destroy(pair));
    upstream.on('close', () => destroy(pair));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    url: url.toString(),
    get openConnections() {
      return pairs.size;
    },
    sever(options = {}) {
      if (options.refuse) refusing = true;
      for (const pair of [...pairs]) destroy(pair);
    },
    restore() {
      refusing = false;
      armed = undefined;
    },
    cutOn(options) {
      return new Promise<void>((resolve) => {
        armed = { ...options, done: resolve };
      });
    },
    async close() {
      refusing = true;
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
