/**
 * LISTEN / NOTIFY for connections that share one PGlite. PGlite is one backend: a LISTEN from
 * any connection makes it listen, and it hands each notification out once, inside the response
 * to whatever statement committed it (another connection's, or the application's own
 * `db.query()`), never to the connection that listened. So the endpoint routes them itself: it
 * records the channels each connection LISTENs on (from Query messages made only of LISTEN /
 * UNLISTEN statements, which is how node-postgres and the Neon driver send them), strips
 * NotificationResponse from every response, and sends each notification PGlite reports
 * (`db.onNotification` sees all of them) to the connections listening on its channel. An
 * UNLISTEN reaches PGlite only when no other connection still listens on the channel.
 */

import { message } from './wire.js';

/** A connection that can be sent a NotificationResponse. */
export interface Subscriber {
  notify(frame: Buffer): void;
}

export interface NotificationSource {
  onNotification?(callback: (channel: string, payload: string) => void): () => void;
}

interface ListenStatement {
  readonly unlisten: boolean;
  /** The channel as Postgres names it (unquoted, case folded), or `*` (UNLISTEN only). */
  readonly channel: string;
}

const NOTIFICATION_RESPONSE = 0x41; // 'A'
// What an UNLISTEN becomes while another connection still listens on its channel: the client
// still gets the CommandComplete it expects, and PGlite goes on listening for the others.
const HELD_ELSEWHERE = 'UNLISTEN "neon-local: still listened by another connection"';

/**
 * The statements of `sql` if it is nothing but LISTEN / UNLISTEN statements (separated by `;`),
 * otherwise undefined. Quoted identifiers keep their case and may contain `;` or `""`.
 */
export function parseListenQuery(sql: string): ListenStatement[] | undefined {
  const statements: ListenStatement[] = [];
  const pattern =
    /\s*(LISTEN|UNLISTEN)\s+(?:"((?:[^"]|"")+)"|([A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)|(\*))\s*(?:;|$)/iy;
  pattern.lastIndex = 0;
  while (pattern.lastIndex < sql.length) {
    if (/^[\s;]*$/.test(sql.slice(pattern.lastIndex))) break;
    const match = pattern.exec(sql);
    if (!match) return undefined;
    const [, keyword, quoted, bare, star] = match;
    const unlisten = (keyword as string).toUpperCase() === 'UNLISTEN';
    if (star && !unlisten) return undefined;
    const channel =
      quoted !== undefined
        ? quoted.replace(/""/g, '"')
        : star
          ? '*'
          : (bare as string).replace(/[A-Z]/g, (c) => c.toLowerCase());
    statements.push({ unlisten, channel });
  }
  return statements.length > 0 ? statements : undefined;
}

const quote = (channel: string) => `"${channel.replace(/"/g, '""')}"`;

/** A NotificationResponse: backend pid, channel, payload. */
function notificationResponse(channel: string, payload: string): Buffer {
  const pid = Buffer.alloc(4); // PGlite has no backend pid worth naming
  return message('A', Buffer.concat([pid, Buffer.from(`${channel}\0${payload}\0`, 'utf8')]));
}

/** `bytes` without its NotificationResponse messages (the router delivers them instead). */
export function withoutNotifications(bytes: Uint8Array): Buffer {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!buffer.includes(NOTIFICATION_RESPONSE)) return buffer;
  const kept: Buffer[] = [];
  let offset = 0;
  while (offset + 5 <= buffer.length) {
    const end = offset + 1 + buffer.readInt32BE(offset + 1);
    if (end > buffer.length || end <= offset + 4) break; // not framed as we expect: keep it all
    if (buffer[offset] !== NOTIFICATION_RESPONSE) kept.push(buffer.subarray(offset, end));
    offset = end;
  }
  if (offset !== buffer.length) return buffer;
  return Buffer.concat(kept);
}

/** Who listens on what, for every connection to one PGlite. */
export class NotificationRouter {
  private readonly channels = new Map<string, Set<Subscriber>>();
  private readonly off: (() => void) | undefined;

  constructor(db: NotificationSource) {
    this.off = db.onNotification?.((channel, payload) => this.deliver(channel, payload));
  }

  /** Whether PGlite reports notifications (`onNotification`); without, nothing is routed. */
  get active(): boolean {
    return this.off !== undefined;
  }

  /**
   * The Query message `frame` from `subscriber` as PGlite should get it: recorded and, where an
   * UNLISTEN would deafen another connection, rewritten; any other message comes back as is.
   * `released`: channels an `UNLISTEN *` let go of while others listened on other channels; the
   * connection UNLISTENs those no one holds once the query ran (`unlistenUnheld`).
   */
  query(subscriber: Subscriber, frame: Buffer): { frame: Buffer; released: string[] } {
    const released: string[] = [];
    if (!this.active) return { frame, released };
    const statements = parseListenQuery(frame.toString('utf8', 5, frame.length - 1));
    if (!statements) return { frame, released };
    const sent = statements.map(({ unlisten, channel }) => {
      if (!unlisten) {
        this.holders(channel).add(subscriber);
        return `LISTEN ${quote(channel)}`;
      }
      if (channel === '*') {
        released.push(...this.drop(subscriber));
        return this.channels.size > 0 ? HELD_ELSEWHERE : 'UNLISTEN *';
      }
      this.release(subscriber, channel);
      return this.channels.has(channel) ? HELD_ELSEWHERE : `UNLISTEN ${quote(channel)}`;
    });
    return { frame: message('Q', Buffer.from(`${sent.join('; ')}\0`, 'utf8')), released };
  }

  /** The connection ended: it listens on nothing any more. Returns the channels it held. */
  drop(subscriber: Subscriber): string[] {
    const held = this.channelsOf(subscriber);
    for (const channel of held) this.release(subscriber, channel);
    return held;
  }

  /**
   * The Query that UNLISTENs those of `channels` no connection listens on (now: run it with the
   * database held, so no LISTEN slips in between), or undefined when every one is still held.
   */
  unlistenUnheld(channels: readonly string[]): Buffer | undefined {
    const unheld = channels.filter((channel) => !this.channels.has(channel));
    if (unheld.length === 0) return undefined;
    const sql = unheld.map((channel) => `UNLISTEN ${quote(channel)}`).join('; ');
    return message('Q', Buffer.from(`${sql}\0`, 'utf8'));
  }

  close(): void {
    this.off?.();
    this.channels.clear();
  }

  private deliver(channel: string, payload: string): void {
    const holders = this.channels.get(channel);
    if (!holders) return;
    const frame = notificationResponse(channel, payload);
    for (const subscriber of holders) subscriber.notify(frame);
  }

  private holders(channel: string): Set<Subscriber> {
    const holders = this.channels.get(channel) ?? new Set<Subscriber>();
    this.channels.set(channel, holders);
    return holders;
  }

  private release(subscriber: Subscriber, channel: string): void {
    const holders = this.channels.get(channel);
    holders?.delete(subscriber);
    if (holders?.size === 0) this.channels.delete(channel);
  }

  private channelsOf(subscriber: Subscriber): string[] {
    return [...this.channels].filter(([, s]) => s.has(subscriber)).map(([channel]) => channel);
  }
}
