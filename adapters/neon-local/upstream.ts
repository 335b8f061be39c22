/**
 * Where the endpoint's queries go: a PostgreSQL server (postgres-upstream.ts, which needs `pg`
 * and is loaded only for one) or an in-process PGlite (below, which needs nothing but PGlite).
 * Both open sessions for SQL over HTTP and raw connections for the WebSocket relay.
 */

import type { Duplex } from 'node:stream';
import { type PGliteLike, PgliteConnection, PgliteGate } from './pglite-connection.js';
import { WireSession } from './wire-session.js';

/** Who a request runs as: taken from the client's connection string. */
export interface Credentials {
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  /** The `options` connection parameter (e.g. `-c search_path=app`), passed on at startup. */
  readonly options: string | undefined;
}

/** A column of a result, as RowDescription describes it. */
export interface SqlField {
  readonly name: string;
  readonly tableID: number;
  readonly columnID: number;
  readonly dataTypeID: number;
  readonly dataTypeSize: number;
  readonly dataTypeModifier: number;
}

/** One statement's result, every value as the server's text. */
export interface SqlResult {
  readonly fields: readonly SqlField[];
  readonly rows: readonly (readonly (string | null)[])[];
  readonly command: string | null;
  readonly rowCount: number | null;
}

/** One upstream session for SQL over HTTP. */
export interface SqlSession {
  /** Runs one statement on the extended protocol, parameters and results as text. */
  run(text: string, params: readonly (string | null)[]): Promise<SqlResult>;
  /** Connected and outside any transaction, so another request may use it. */
  readonly reusable: boolean;
  /** Ends the session; resolves once its connection is closed. Never rejects. */
  close(): Promise<void>;
}

/** An error the server reported, with its fields named as the driver's `NeonDbError` names them. */
export class ServerError extends Error {
  constructor(
    message: string,
    readonly fields: Readonly<Record<string, string | undefined>>,
  ) {
    super(message);
  }
}

/** The upstream cannot be reached, or a connection to it broke. */
export class UpstreamError extends Error {}

export interface Upstream {
  /** For messages: `PostgreSQL at 127.0.0.1:5432`, `PGlite`. */
  readonly label: string;
  /** Credentials a local connection string carries by default. */
  readonly defaults: Credentials;
  /** Opens a session as `credentials`; rejects with `ServerError` or `UpstreamError`. */
  open(credentials: Credentials): Promise<SqlSession>;
  /** A fresh raw connection; the first bytes written to it must be a startup packet. */
  connect(): Duplex;
  close(): Promise<void>;
}

/** An in-process PGlite: one database, every connection serialised through one gate. */
export function pgliteUpstream(db: PGliteLike, closeDb: boolean): Upstream {
  const gate = new PgliteGate(db);
  const defaults = {
    user: 'postgres',
    password: undefined,
    database: 'postgres',
    options: undefined,
  };
  return {
    label: 'PGlite',
    defaults,
    // PGlite has one database and no roles: the connection string chooses nothing.
    open: () => WireSession.open(new PgliteConnection(gate), defaults),
    connect: () => new PgliteConnection(gate),
    async close() {
      gate.notifications.close();
      if (closeDb) await db.close();
    },
  };
}
