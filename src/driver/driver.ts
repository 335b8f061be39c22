/**
 * The driver seam: the whole contract between Eddy's core and a Postgres client.
 *
 * Adapters (in `adapters/`) translate calls and nothing else. Values cross the seam as
 * Postgres *text*: parameters are strings (or null) encoded by the core, results are the raw
 * text the server sent plus each column's type OID. Because every adapter turns its driver's
 * own type parsing off, a bigint, a microsecond timestamp or a jsonb document reads back the
 * same through every driver, and the core decodes it once (see `values.ts`).
 */

/** One column of a result: its name and Postgres type OID. */
export interface Field {
  readonly name: string;
  readonly typeId: number;
}

/** A result in text form, exactly as the server sent it. */
export interface RawResult {
  readonly fields: readonly Field[];
  readonly rows: readonly (readonly (string | null)[])[];
  /** Rows affected (for INSERT/UPDATE/DELETE) or returned. */
  readonly rowCount: number;
}

/** A statement with `$1`-style placeholders and text parameters. */
export interface Statement {
  readonly text: string;
  readonly params: readonly (string | null)[];
  /** See `QueryOptions.prepare`. */
  readonly prepare?: boolean;
}

export interface QueryOptions {
  /**
   * A hint that this statement recurs (the core's inserts, claims and completions): an adapter
   * that can may prepare it once per connection and skip parsing and planning afterwards.
   */
  readonly prepare?: boolean;
}

/** What a driver can do. The core picks its strategy from these, never from the driver's name. */
export interface DriverCapabilities {
  /**
   * A callback transaction can run several statements with JS logic between them. False for
   * stateless HTTP drivers (Neon's `neon()`), which only offer `batch`.
   */
  readonly interactiveTransactions: boolean;
  /**
   * The driver is already inside the caller's transaction (a pg client after BEGIN, a PGlite
   * transaction, ...). Its `transaction` then opens a savepoint, so a failed batch or nested
   * transaction rolls back only itself and leaves the caller's transaction usable.
   */
  readonly inTransaction: boolean;
}

/**
 * A Postgres client as the core sees it. A driver implements `transaction` or, when it has no
 * interactive transactions, `batch`: the core needs one of them for atomic writes, and builds
 * batches from `transaction` itself (see `Database.batch`).
 *
 * @example
 * ```ts
 * const result = await driver.query('select $1::int8 + 1 as n', ['9007199254740993']);
 * result.rows[0][0]; // '9007199254740994'
 * ```
 */
export interface Driver {
  /** Adapter name, for messages: `node-postgres`, `neon-http`, ... */
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  /** Runs one statement. */
  query(
    text: string,
    params?: readonly (string | null)[],
    options?: QueryOptions,
  ): Promise<RawResult>;
  /**
   * Runs `fn` inside one transaction: commit when it resolves, roll back when it throws.
   * Absent when `capabilities.interactiveTransactions` is false.
   */
  transaction?<T>(fn: (tx: Driver) => Promise<T>): Promise<T>;
  /**
   * Runs statements atomically, in order: all commit or none do. Only for drivers without
   * interactive transactions, whose client has a batch of its own (Neon HTTP's
   * `sql.transaction([...])`, one round trip); every other driver leaves it out.
   */
  batch?(statements: readonly Statement[]): Promise<RawResult[]>;
  /**
   * LISTENs on `channels` until the returned `Listener` is closed. Resolves once LISTEN is in
   * effect for every channel (after one `onListening`); rejects, leaving nothing open, when that
   * first attempt fails. Afterwards a listener whose session drops reconnects by itself where
   * the driver can (see the adapter's doc comment). Channel names are identifiers of at most 63
   * bytes, used exactly as given (no case folding); others are refused with `ValidationError`.
   *
   * Only drivers that keep a session have it: not Neon HTTP, nor the query-builder adapters,
   * nor a driver inside a transaction (LISTEN there takes effect at COMMIT, and never on
   * ROLLBACK).
   *
   * @example
   * ```ts
   * const listener = await driver.listen?.(['river_insert'], {
   *   onNotification: ({ channel, payload }) => console.log(channel, JSON.parse(payload)),
   *   onListening: () => pollOnce(), // notifications sent while disconnected are lost
   * });
   * await listener?.close();
   * ```
   */
  listen?(channels: readonly string[], handlers: ListenHandlers): Promise<Listener>;
}

/** One NOTIFY as the listener received it. */
export interface Notification {
  readonly channel: string;
  /** `''` when the NOTIFY had none. */
  readonly payload: string;
}

/**
 * What a listener calls. What a handler throws is dropped (catch inside it to see it): a
 * throwing handler must not break the listener, nor the driver that delivered the message.
 */
export interface ListenHandlers {
  /** A notification arrived on one of the channels. A throwing handler must not break the listener. */
  onNotification(notification: Notification): void;
  /**
   * LISTEN is in effect: after the first connect and again after every reconnect.
   * Notifications sent while disconnected are lost, so a consumer polls once here.
   */
  onListening?(): void;
  /**
   * The session dropped, or a reconnect attempt failed; the listener keeps retrying (backoff
   * from ~100 ms doubling to 5 s, with jitter) until closed. A listener on a single client that
   * cannot reconnect (a plain node-postgres `Client`) reports the drop here and stays down.
   */
  onError?(error: unknown): void;
}

/** A LISTEN in effect; see `Driver.listen`. */
export interface Listener {
  /**
   * Stops for good: UNLISTEN where the session lives on, releases or destroys what the listener
   * holds, leaves no timer behind. No handler is called once it was called; calling it again
   * does nothing.
   */
  close(): Promise<void>;
}
