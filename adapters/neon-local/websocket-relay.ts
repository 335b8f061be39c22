/**
 * Neon's WebSocket proxy protocol: the driver's `Pool` / `Client` send the raw Postgres wire
 * protocol in binary WebSocket frames, and get the server's bytes back the same way.
 *
 * The relay always dials the configured upstream (the `?address=` the driver appends is ignored,
 * so this is never an open relay). It reads the startup packet itself (answering SSL and GSS
 * requests with "no": the WebSocket is the transport) and re-serialises it, so only a well-formed
 * packet reaches the server. After that the bytes pass through untouched, with one adjustment
 * for `neonConfig.pipelineConnect = 'password'`: the driver then sends its password before the
 * server asked for one. A server that asks for none (trust, PGlite) gets that message removed; one
 * that asks for a cleartext password gets it; one that wants md5 or SCRAM cannot use it, and the
 * client is told to turn pipelining off.
 */

import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ConnectionSlots } from './connections.js';
import type { Upstream } from './upstream.js';
import {
  authenticationCode,
  errorResponse,
  MessageReader,
  ProtocolError,
  readFirstPacket,
  startupMessage,
} from './wire.js';

const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const HIGH_WATER = 4 * 1024 * 1024;
const PASSWORD_MESSAGE = 0x70; // 'p'
const STARTUP_TIMEOUT_MS = 30_000;

/**
 * Relays one accepted WebSocket to a fresh upstream connection, once `slots` has one free: the
 * client waits after its startup packet until then, or gets a FATAL "too many connections".
 */
export function relayWebSocket(ws: WebSocket, upstream: Upstream, slots: ConnectionSlots): void {
  const fromClient = new MessageReader(MAX_MESSAGE_BYTES);
  const fromServer = new MessageReader(MAX_MESSAGE_BYTES);
  let server: Duplex | undefined;
  /** The startup packet arrived; the upstream connection is waiting for a slot or open. */
  let started = false;
  /** The upstream's first authentication request code, once seen. */
  let authCode: number | undefined;
  /** Whether the client's first message after startup still needs a look (pipelined password). */
  let firstMessagePending = true;
  let closed = false;

  const toClient = (bytes: Buffer) => {
    if (closed || ws.readyState !== ws.OPEN) return;
    ws.send(bytes, { binary: true }, () => {
      if (server?.isPaused() && ws.bufferedAmount < HIGH_WATER / 4) server.resume();
    });
    if (ws.bufferedAmount > HIGH_WATER) server?.pause();
  };

  let waitingForDrain = false;
  const toServer = (bytes: Buffer) => {
    if (!server || bytes.length === 0) return;
    if (!server.write(bytes) && !waitingForDrain) {
      waitingForDrain = true;
      ws.pause();
      server.once('drain', () => {
        waitingForDrain = false;
        ws.resume();
      });
    }
  };

  const close = (code = 1000, reason = '') => {
    if (closed) return;
    closed = true;
    server?.end();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
  };

  /** Ends the session the way Postgres does: a FATAL ErrorResponse, then the connection closes. */
  const fatal = (code: string, text: string, wsCode = 1000) => {
    toClient(errorResponse('FATAL', code, `neon-local: ${text}`));
    close(wsCode, text.slice(0, 120));
  };

  const openServer = (protocol: number, params: Map<string, string>) => {
    started = true;
    slots.acquire().then(
      (release) => {
        if (closed) return release();
        const socket = upstream.connect();
        // The slot is free once the upstream connection is gone, however it ended.
        socket.once('close', release);
        server = socket;
        socket.on('data', (chunk: Buffer) =>
          guarded(() => (authCode === undefined ? watchAuth(chunk) : toClient(chunk))),
        );
        socket.on('error', (error: Error) => {
          if (authCode === undefined)
            fatal('08006', `cannot reach ${upstream.label}: ${error.message}`);
          else close(1011, 'upstream connection failed');
        });
        socket.on('end', () => close());
        socket.on('close', () => close());
        socket.write(startupMessage(protocol, params));
      },
      (error: Error) => fatal('53300', error.message),
    );
  };

  /** Passes the server's messages on until its first authentication request, and acts on it. */
  const watchAuth = (chunk: Buffer) => {
    fromServer.push(chunk);
    for (let msg = fromServer.next(); msg; msg = fromServer.next()) {
      if (msg.type !== 'R') {
        toClient(msg.frame); // a notice, or an error such as "database does not exist"
        continue;
      }
      authCode = authenticationCode(msg.body);
      if (authCode !== 0) {
        const pipelined = fromClient.pending > 0 && fromClient.peek()[0] === PASSWORD_MESSAGE;
        if ((authCode === 5 || authCode === 10) && pipelined) {
          return fatal(
            '28000',
            `${upstream.label} wants md5 or SCRAM authentication, which a pipelined password cannot do; set neonConfig.pipelineConnect = false`,
          );
        }
        firstMessagePending = false; // the client's next message answers this request
      }
      toClient(msg.frame);
      toClient(fromServer.take(fromServer.pending));
      forwardClient();
      return;
    }
  };

  /** Sends what the client wrote to the server, once the server's authentication is known. */
  const forwardClient = () => {
    if (!server || authCode === undefined) return; // held until then
    if (firstMessagePending) {
      const first = fromClient.next();
      if (!first) return;
      firstMessagePending = false;
      // A password the server never asked for: the driver pipelined it. Drop it.
      if (!(first.type === 'p' && authCode === 0)) toServer(first.frame);
    }
    toServer(fromClient.take(fromClient.pending));
  };

  const onClientBytes = (chunk: Buffer) => {
    fromClient.push(chunk);
    while (!started) {
      const packet = readFirstPacket(fromClient.peek());
      if (!packet) return;
      fromClient.take(packet.length);
      if (packet.kind === 'ssl' || packet.kind === 'gssenc') {
        toClient(Buffer.from('N')); // no TLS inside the tunnel: the WebSocket is the transport
      } else if (packet.kind === 'cancel') {
        return close(); // nothing to cancel: each WebSocket has its own upstream connection
      } else {
        openServer(packet.protocol, packet.params);
      }
    }
    forwardClient(); // held until the server asked for authentication
  };

  /** Runs a step of the relay; bytes it cannot parse end the session, never the process. */
  const guarded = (step: () => void) => {
    try {
      step();
    } catch (error) {
      if (error instanceof ProtocolError) fatal('08P01', error.message, 1002);
      else fatal('58000', `relay failed: ${(error as Error).message}`, 1011);
    }
  };

  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (closed) return;
    if (!isBinary) return fatal('08P01', 'expected binary WebSocket frames', 1003);
    const chunk = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    guarded(() => onClientBytes(chunk));
  });
  ws.on('close', () => close());
  ws.on('error', () => close(1002));
  // A client that never sends its startup packet does not get to hold a connection open.
  const startupTimer = setTimeout(() => {
    if (!started) fatal('08P01', `no startup packet within ${STARTUP_TIMEOUT_MS / 1000}s`, 1002);
  }, STARTUP_TIMEOUT_MS);
  startupTimer.unref();
  ws.once('close', () => clearTimeout(startupTimer));
}
