/**
 * The few pieces of the Postgres wire protocol the local endpoint must understand itself: the
 * untyped first packet of a connection (startup, SSL, GSS and cancel requests), message framing,
 * and the backend messages it synthesises (errors) or watches (authentication, ReadyForQuery).
 * Everything else passes through as bytes.
 */

export const PROTOCOL_3 = 196608; // 3.0
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Postgres refuses startup packets above this size; so do we. */
const MAX_STARTUP_BYTES = 10_000;

/** Bytes a client sent that are not the Postgres protocol. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** The first packet of a connection. */
export type FirstPacket =
  | { kind: 'ssl'; length: number }
  | { kind: 'gssenc'; length: number }
  | { kind: 'cancel'; length: number }
  | { kind: 'startup'; length: number; protocol: number; params: Map<string, string> };

/** Reads the first packet from the front of `buffer`; undefined while it is incomplete. */
export function readFirstPacket(buffer: Buffer): FirstPacket | undefined {
  if (buffer.length < 8) return undefined;
  const length = buffer.readInt32BE(0);
  const code = buffer.readInt32BE(4);
  if (length < 8 || length > MAX_STARTUP_BYTES) {
    throw new ProtocolError(`invalid startup packet length ${length}`);
  }
  if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
    if (length !== 8) throw new ProtocolError('invalid SSL/GSS request');
    return code === SSL_REQUEST ? { kind: 'ssl', length } : { kind: 'gssenc', length };
  }
  if (code === CANCEL_REQUEST) {
    if (buffer.length < length) return undefined;
    return { kind: 'cancel', length };
  }
  if (code >>> 16 !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`);
  }
  if (buffer.length < length) return undefined;
  return { kind: 'startup', length, protocol: code, params: readStartupParams(buffer, length) };
}

function readStartupParams(buffer: Buffer, length: number): Map<string, string> {
  const params = new Map<string, string>();
  let offset = 8;
  const readCString = () => {
    const end = buffer.indexOf(0, offset);
    if (end === -1 || end >= length)
      throw new ProtocolError('unterminated string in startup packet');
    const value = buffer.toString('utf8', offset, end);
    offset = end + 1;
    return value;
  };
  for (;;) {
    const key = readCString();
    if (key === '') break;
    params.set(key, readCString());
  }
  if (offset !== length) throw new ProtocolError('trailing bytes in startup packet');
  if (!params.get('user'))
    throw new ProtocolError('no PostgreSQL user name specified in startup packet');
  return params;
}

/** Serialises a startup message (so only well-formed packets reach the upstream). */
export function startupMessage(protocol: number, params: ReadonlyMap<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of params) parts.push(Buffer.from(`${key}\0${value}\0`, 'utf8'));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + body.length, 0);
  header.writeInt32BE(protocol, 4);
  return Buffer.concat([header, body]);
}

/** One typed message: its type byte and body, plus the full frame as received. */
export interface Message {
  readonly type: string;
  readonly body: Buffer;
  readonly frame: Buffer;
}

/** Splits a byte stream into typed messages. */
export class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  /** Bytes received but not yet returned as messages. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Takes raw bytes off the front (for the untyped first packet). */
  take(length: number): Buffer {
    const bytes = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return bytes;
  }

  /** The bytes not yet consumed. */
  peek(): Buffer {
    return this.buffer;
  }

  /** The next complete message, or undefined while it is incomplete. */
  next(): Message | undefined {
    if (this.buffer.length < 5) return undefined;
    const length = this.buffer.readInt32BE(1);
    if (length < 4 || length > this.maxMessageBytes) {
      throw new ProtocolError(`invalid message length ${length}`);
    }
    if (this.buffer.length < length + 1) return undefined;
    const frame = this.buffer.subarray(0, length + 1);
    this.buffer = this.buffer.subarray(length + 1);
    return { type: String.fromCharCode(frame[0] as number), body: frame.subarray(5), frame };
  }
}

/** Builds a typed message. */
export function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** A simple-protocol Query message. */
export function queryMessage(sql: string): Buffer {
  return message('Q', Buffer.from(`${sql}\0`, 'utf8'));
}

/** An ErrorResponse, for failures the endpoint reports in the client's own protocol. */
export function errorResponse(severity: 'ERROR' | 'FATAL', code: string, text: string): Buffer {
  const fields = `S${severity}\0V${severity}\0C${code}\0M${text}\0\0`;
  return message('E', Buffer.from(fields, 'utf8'));
}

/** The request code of an Authentication message (0 = ok, 3 = cleartext, 5 = md5, 10 = SASL). */
export function authenticationCode(body: Buffer): number {
  return body.length >= 4 ? body.readInt32BE(0) : -1;
}

/** Transaction status of the last ReadyForQuery in `bytes` ('I', 'T' or 'E'), if any. */
export function lastReadyStatus(bytes: Uint8Array): string | undefined {
  let status: string | undefined;
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const length =
      ((bytes[offset + 1] as number) << 24) |
      ((bytes[offset + 2] as number) << 16) |
      ((bytes[offset + 3] as number) << 8) |
      (bytes[offset + 4] as number);
    if (length < 4) break;
    if (bytes[offset] === 0x5a && length === 5 && offset + 6 <= bytes.length) {
      status = String.fromCharCode(bytes[offset + 5] as number);
    }
    offset += length + 1;
  }
  return status;
}
