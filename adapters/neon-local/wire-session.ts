/**
 * The client side of the Postgres wire protocol, just enough for SQL over HTTP on PGlite: startup
 * without authentication, then one statement at a time on the extended protocol with every value
 * as text. It replaces node-postgres there, so the embedded database needs no `pg` package.
 */

import type { Duplex } from 'node:stream';
import type { Credentials, SqlField, SqlResult, SqlSession } from './upstream.js';
import { ServerError, UpstreamError } from './upstream.js';
import {
  authenticationCode,
  type Message,
  MessageReader,
  message,
  PROTOCOL_3,
  startupMessage,
} from './wire.js';

const MAX_MESSAGE_BYTES = 1 << 30;

// ErrorResponse field codes, named as node-postgres and the Neon driver name them.
const ERROR_FIELDS: Record<string, string> = {
  S: 'severity',
  C: 'code',
  D: 'detail',
  H: 'hint',
  P: 'position',
  p: 'internalPosition',
  q: 'internalQuery',
  W: 'where',
  s: 'schema',
  t: 'table',
  c: 'column',
  d: 'dataType',
  n: 'constraint',
  F: 'file',
  L: 'line',
  R: 'routine',
};

// node-postgres' reading of a CommandComplete tag: "INSERT 0 2", "SELECT 3", "CREATE TABLE".
const COMMAND_TAG = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;

const cstring = (text: string) => Buffer.from(`${text}\0`, 'utf8');
const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
function int32(n: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(n);
  return bytes;
}

export class WireSession implements SqlSession {
  private readonly reader = new MessageReader(MAX_MESSAGE_BYTES);
  private readonly inbox: Message[] = [];
  private wake: (() => void) | undefined;
  private lost: Error | undefined;
  private status = 'I';

  private constructor(private readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
        for (let m = this.reader.next(); m; m = this.reader.next()) this.inbox.push(m);
      } catch (error) {
        this.fail(error as Error);
        stream.destroy();
      }
      this.wake?.();
    });
    stream.on('error', (error: Error) => this.fail(error));
    stream.on('close', () => this.fail(new UpstreamError('the connection closed')));
  }

  /** Connects and waits for the first ReadyForQuery. */
  static async open(stream: Duplex, credentials: Credentials): Promise<WireSession> {
    const session = new WireSession(stream);
    const params = new Map([
      ['user', credentials.user],
      ['database', credentials.database],
    ]);
    stream.write(startupMessage(PROTOCOL_3, params));
    try {
      const reply = await session.untilReady();
      const auth = reply.find((m) => m.type === 'R');
      if (auth && authenticationCode(auth.body) !== 0) {
        throw new UpstreamError('the upstream asks for a password, which this session cannot send');
      }
      throwIfError(reply);
      return session;
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  get reusable(): boolean {
    return this.lost === undefined && this.status === 'I';
  }

  async run(text: string, params: readonly (string | null)[]): Promise<SqlResult> {
    const values = params.map((p) => {
      if (p === null) return int32(-1);
      const bytes = Buffer.from(p, 'utf8');
      return Buffer.concat([int32(bytes.length), bytes]);
    });
    this.send(
      Buffer.concat([
        message('P', Buffer.concat([cstring(''), cstring(text), int16(0)])),
        message(
          'B',
          Buffer.concat([
            cstring(''),
            cstring(''),
            int16(0),
            int16(params.length),
            ...values,
            int16(0),
          ]),
        ),
        message('D', Buffer.from('P\0')),
        message('E', Buffer.concat([cstring(''), int32(0)])),
        message('S'),
      ]),
    );
    const reply = await this.untilReady();
    throwIfError(reply);
    let fields: SqlField[] = [];
    const rows: (string | null)[][] = [];
    let command: string | null = null;
    let rowCount: number | null = null;
    for (const m of reply) {
      if (m.type === 'T') fields = readFields(m.body);
      else if (m.type === 'D') rows.push(readRow(m.body));
      else if (m.type === 'C') {
        const match = COMMAND_TAG.exec(m.body.toString('utf8', 0, m.body.length - 1));
        command = match?.[1] ?? null;
        const count = match?.[3] ?? match?.[2];
        rowCount = count === undefined ? null : Number.parseInt(count, 10);
      }
    }
    return { fields, rows, command, rowCount };
  }

  close(): Promise<void> {
    const { stream } = this;
    const closed = new Promise<void>((resolve) => {
      if (stream.destroyed) resolve();
      else stream.once('close', () => resolve());
    });
    if (this.lost === undefined && stream.writable) stream.end(message('X'));
    else stream.destroy();
    this.fail(new UpstreamError('the session is closed'));
    return closed;
  }

  private send(bytes: Buffer): void {
    if (this.lost) throw this.lost;
    this.stream.write(bytes);
  }

  private fail(error: Error): void {
    this.lost ??= error instanceof UpstreamError ? error : new UpstreamError(error.message);
    this.wake?.();
  }

  /** The messages up to and including the next ReadyForQuery. */
  private async untilReady(): Promise<Message[]> {
    for (;;) {
      const ready = this.inbox.findIndex((m) => m.type === 'Z');
      if (ready !== -1) {
        const reply = this.inbox.splice(0, ready + 1);
        this.status = String.fromCharCode(reply[ready]?.body[0] ?? 0x49);
        return reply;
      }
      // A FATAL error ends the session; report it rather than the closed connection.
      if (this.lost) {
        throwIfError(this.inbox.splice(0));
        throw this.lost;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

function throwIfError(reply: readonly Message[]): void {
  const error = reply.find((m) => m.type === 'E');
  if (!error) return;
  const fields: Record<string, string> = {};
  let message = '';
  for (const part of error.body.toString('utf8').split('\0')) {
    const code = part[0];
    if (code === undefined) continue;
    if (code === 'M') message = part.slice(1);
    else if (ERROR_FIELDS[code]) fields[ERROR_FIELDS[code]] = part.slice(1);
  }
  throw new ServerError(message, fields);
}

function readFields(body: Buffer): SqlField[] {
  const count = body.readInt16BE(0);
  const fields: SqlField[] = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, offset);
    const name = body.toString('utf8', offset, end);
    offset = end + 1;
    fields.push({
      name,
      tableID: body.readInt32BE(offset),
      columnID: body.readInt16BE(offset + 4),
      dataTypeID: body.readInt32BE(offset + 6),
      dataTypeSize: body.readInt16BE(offset + 10),
      dataTypeModifier: body.readInt32BE(offset + 12),
    });
    offset += 18; // and the format code, always text here
  }
  return fields;
}

function readRow(body: Buffer): (string | null)[] {
  const count = body.readInt16BE(0);
  const row: (string | null)[] = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length < 0) row.push(null);
    else {
      row.push(body.toString('utf8', offset, offset + length));
      offset += length;
    }
  }
  return row;
}
