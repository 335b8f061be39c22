/**
 * A Postgres connection to an in-process PGlite, as a Node `Duplex` that looks enough like a
 * `net.Socket` for node-postgres (`stream` option) and for the WebSocket relay.
 *
 * PGlite is one Postgres backend: one session, one transaction at a time. Queueing its messages
 * per message (as @electric-sql/pglite-socket does with several connections) lets a second
 * connection's statements run inside the first one's open transaction, or between its Parse and
 * its Sync. So a connection holds the whole database from its first message until PGlite is idle
 * again (ReadyForQuery 'I'): one statement in autocommit, a whole BEGIN…COMMIT otherwise. The
 * hold is PGlite's own mutexes, so the application's direct `db.query()` / `db.transaction()`
 * calls queue behind it too and never land inside a client's transaction.
 *
 * PGlite is also not hardened against malformed input (an unknown message type or a bad length
 * hangs it or exhausts memory), so only well-framed messages of the types a client may send after
 * startup ever reach it; anything else ends the connection with a FATAL error, as Postgres would.
 */

import { Duplex } from 'node:stream';
import {
  NotificationRouter,
  type Subscriber,
  withoutNotifications,
} from './pglite-notifications.js';
import {
  errorResponse,
  lastReadyStatus,
  type Message,
  MessageReader,
  message,
  PROTOCOL_3,
  ProtocolError,
  queryMessage,
  readFirstPacket,
  startupMessage,
} from './wire.js';

/** The part of a `PGlite` instance the endpoint uses. */
export interface PGliteLike {
  readonly waitReady: Promise<void>;
  execProtocolRaw(message: Uint8Array, options?: { syncToFs?: boolean }): Promise<Uint8Array>;
  runExclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** PGlite's transaction mutex (taken by `query()` and `transaction()`); used when present. */
  _runExclusiveTransaction?<T>(fn: () => Promise<T>): Promise<T>;
  /** Every notification PGlite receives; the endpoint routes them (pglite-notifications.ts). */
  onNotification?(callback: (channel: string, payload: string) => void): () => void;
  close(): Promise<void>;
}

// Extended and simple query protocol, COPY FROM STDIN. PasswordMessage ('p') is absent: PGlite
// has no authentication, and a stray one sends it into an endless loop.
const FRONTEND_TYPES = new Set(['Q', 'P', 'B', 'E', 'D', 'C', 'S', 'H', 'd', 'c', 'f']);
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Exclusive use of one PGlite, shared by every connection to it. */
export class PgliteGate {
  /** Which connection listens on what: PGlite's one backend cannot tell them apart. */
  readonly notifications: NotificationRouter;

  constructor(readonly db: PGliteLike) {
    this.notifications = new NotificationRouter(db);
  }

  /** Waits until nothing else uses the database; resolves with the function that lets go. */
  acquire(): Promise<() => void> {
    const { db } = this;
    return new Promise((granted, failed) => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const hold = () =>
        db.runExclusive(async () => {
          granted(release);
          await held;
        });
      const run = db._runExclusiveTransaction ? db._runExclusiveTransaction.call(db, hold) : hold();
      run.catch(failed);
    });
  }
}

/** One client session on a PGlite, speaking the backend side of the wire protocol. */
export class PgliteConnection extends Duplex implements Subscriber {
  private readonly reader = new MessageReader(MAX_MESSAGE_BYTES);
  private started = false;
  /** Set once the session is over; nothing more reaches PGlite. */
  private closing = false;
  private ended = false;
  private release: (() => void) | undefined;
  /** Everything this session does to PGlite, in order. */
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly gate: PgliteGate) {
    super();
  }

  // What node-postgres calls on a net.Socket.
  connect(): this {
    queueMicrotask(() => this.emit('connect'));
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  override _read(): void {}

  /** A notification on a channel this connection LISTENs on, between two of its messages. */
  notify(frame: Buffer): void {
    if (!this.closing && !this.destroyed) this.push(frame);
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    if (this.closing) {
      done(); // the session is over; what the client still sends goes nowhere
      return;
    }
    this.reader.push(chunk);
    this.schedule(() => this.drain()).then(() => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    // Ending the readable side too lets the stream close, which frees the connection's slot.
    this.endSession().then(() => {
      this.endOfStream();
      done();
    });
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.endSession().then(() => done(error));
  }

  private schedule(step: () => Promise<void>): Promise<void> {
    this.work = this.work.then(step).catch((error: unknown) => this.fail(error));
    return this.work;
  }

  private async drain(): Promise<void> {
    if (!this.started) {
      const packet = readFirstPacket(this.reader.peek());
      if (!packet) return;
      this.reader.take(packet.length);
      if (packet.kind === 'ssl' || packet.kind === 'gssenc') {
        this.push(Buffer.from('N'));
        return this.drain();
      }
      if (packet.kind === 'cancel') throw new ProtocolError('PGlite cannot cancel a running query');
      if (packet.protocol !== PROTOCOL_3)
        throw new ProtocolError('PGlite speaks protocol 3.0 only');
      this.started = true;
      // PGlite has one database and no roles to switch to; the packet only sets session options.
      await this.exec(startupMessage(PROTOCOL_3, packet.params));
    }
    for (let next = this.reader.next(); next && !this.closing; next = this.reader.next()) {
      await this.handle(next);
    }
  }

  private async handle(msg: Message): Promise<void> {
    if (msg.type === 'X') {
      this.closing = true;
      this.endOfStream();
      return;
    }
    if (!FRONTEND_TYPES.has(msg.type)) {
      throw new ProtocolError(`invalid frontend message type ${msg.frame[0]}`);
    }
    if (msg.type !== 'Q') return this.exec(msg.frame);
    const { frame, released } = this.gate.notifications.query(this, msg.frame);
    await this.exec(frame);
    await this.unlisten(released);
  }

  /** Runs one message with the database held, and lets go once PGlite is idle again. */
  private async exec(bytes: Buffer): Promise<void> {
    this.release ??= await this.gate.acquire();
    if (this.closing) return;
    const response = await this.gate.db.execProtocolRaw(bytes);
    // Notifications go to the connections that listen (the router), not to whoever caused them.
    const reply = this.gate.notifications.active
      ? withoutNotifications(response)
      : Buffer.from(response);
    if (reply.length > 0 && !this.destroyed) this.push(reply);
    const status = lastReadyStatus(response);
    // Without a ReadyForQuery the session is mid-sequence (Parse…Sync, COPY) and keeps the hold.
    if (status === 'I') this.letGo();
  }

  private endOfStream(): void {
    if (this.ended) return;
    this.ended = true;
    this.push(null);
  }

  private letGo(): void {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  /** Ends the session once its queued work is done, finishing whatever it left open. */
  private endSession(): Promise<void> {
    this.closing = true;
    const listened = this.gate.notifications.drop(this);
    return this.schedule(async () => {
      await this.cleanUp();
      await this.unlisten(listened);
    });
  }

  /** UNLISTENs what this session listened on and no other does: PGlite would go on listening. */
  private async unlisten(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    // Inside its transaction the session still holds the database (and the UNLISTEN waits for
    // its COMMIT, as the client's own would); otherwise it takes it for this one statement.
    const release = this.release ? undefined : await this.gate.acquire();
    try {
      const query = this.gate.notifications.unlistenUnheld(channels);
      if (query) await this.gate.db.execProtocolRaw(query);
    } finally {
      release?.();
    }
  }

  private async cleanUp(): Promise<void> {
    if (!this.release) return;
    try {
      const db = this.gate.db;
      // CopyFail ends a COPY FROM STDIN (ignored otherwise); Sync ends an extended-protocol
      // sequence and reports the transaction status; ROLLBACK ends an open transaction.
      await db.execProtocolRaw(message('f', Buffer.from('connection closed\0')));
      const status = lastReadyStatus(await db.execProtocolRaw(message('S')));
      if (status !== 'I') await db.execProtocolRaw(queryMessage('ROLLBACK'));
    } finally {
      this.letGo();
    }
  }

  /** Reports a failure as a FATAL error, as Postgres does, and ends the session. */
  private async fail(error: unknown): Promise<void> {
    const text = error instanceof Error ? error.message : String(error);
    const code = error instanceof ProtocolError ? '08P01' : '58000';
    let listened: string[] = [];
    if (!this.closing) {
      this.closing = true;
      listened = this.gate.notifications.drop(this);
      this.push(errorResponse('FATAL', code, text));
      this.endOfStream();
    }
    await this.cleanUp().catch(() => this.letGo());
    await this.unlisten(listened).catch(() => undefined);
  }
}
