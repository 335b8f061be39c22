/**
 * A bare WebSocket client speaking the Postgres wire protocol by hand, for tests that need what
 * no driver sends: garbage, half a transaction before vanishing, frames of the wrong kind.
 */

import WebSocket from 'ws';
import {
  MessageReader,
  PROTOCOL_3,
  queryMessage,
  startupMessage,
} from '../../adapters/neon-local/wire.js';

export interface BackendMessage {
  readonly type: string;
  readonly body: Buffer;
}

export class WireClient {
  private readonly reader = new MessageReader(1 << 30);
  private readonly messages: BackendMessage[] = [];
  private wake: (() => void) | undefined;
  /** Resolves with the close code once the server (or we) closed the WebSocket. */
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.reader.push(data);
      for (let m = this.reader.next(); m; m = this.reader.next()) {
        this.messages.push({ type: m.type, body: Buffer.from(m.body) });
      }
      this.wake?.();
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        resolve(code);
        this.wake?.();
      }),
    );
  }

  /** Opens a WebSocket to `wsProxy` (as in `NeonLocal.wsProxy`). */
  static async open(wsProxy: string, headers: Record<string, string> = {}): Promise<WireClient> {
    const ws = new WebSocket(`ws://${wsProxy}?address=localhost:5432`, { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new WireClient(ws);
  }

  /** Opens a session: startup, then waits for the first ReadyForQuery. */
  static async connect(wsProxy: string, database = 'postgres'): Promise<WireClient> {
    const client = await WireClient.open(wsProxy);
    client.send(
      startupMessage(
        PROTOCOL_3,
        new Map([
          ['user', 'postgres'],
          ['database', database],
        ]),
      ),
    );
    const reply = await client.untilReady();
    const error = reply.find((m) => m.type === 'E');
    if (error) throw new Error(`startup failed: ${errorText(error)}`);
    return client;
  }

  send(bytes: Buffer | string): void {
    this.ws.send(bytes);
  }

  /** Runs SQL with the simple query protocol; resolves with the rows' first column texts. */
  async query(text: string): Promise<(string | null)[]> {
    this.send(queryMessage(text));
    const reply = await this.untilReady();
    const error = reply.find((m) => m.type === 'E');
    if (error) throw new Error(errorText(error));
    return reply
      .filter((m) => m.type === 'D')
      .map((m) => {
        const length = m.body.readInt32BE(2);
        return length < 0 ? null : m.body.toString('utf8', 6, 6 + length);
      });
  }

  /** Messages up to the next ReadyForQuery, or up to close. */
  async untilReady(): Promise<BackendMessage[]> {
    for (;;) {
      const ready = this.messages.findIndex((m) => m.type === 'Z');
      if (ready !== -1) return this.messages.splice(0, ready + 1);
      if (this.ws.readyState === WebSocket.CLOSED) return this.messages.splice(0);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Drops the connection without a goodbye, as a crashed client would. */
  terminate(): void {
    this.ws.terminate();
  }
}

/** The SQLSTATE and message of an ErrorResponse. */
export function errorText(message: BackendMessage): string {
  const fields = new Map<string, string>();
  for (const field of message.body.toString('utf8').split('\0')) {
    if (field) fields.set(field[0] as string, field.slice(1));
  }
  return `${fields.get('C')} ${fields.get('M')}`;
}
