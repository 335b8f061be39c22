/**
 * One implementation for every client with node-postgres' interface: `pg` Pool/Client and the
 * Neon driver's WebSocket Pool/Client (which re-exports pg's). Shared so the two adapters cannot
 * drift apart. Typed structurally: this file imports no driver package.
 */

import type { Driver, QueryOptions, RawResult } from '../src/driver/index.js';
import { hasEvents, listenOnClient, listenOnPool, type PgClientEvents } from './pg-listen.js';
import { withSavepoint } from './savepoint.js';

export type { PgClientEvents, PgNotification } from './pg-listen.js';

interface PgQueryConfig {
  name?: string;
  text: string;
  values: (string | null)[];
  rowMode: 'array';
  types: { getTypeParser: (oid: number, format?: string) => (value: string) => unknown };
}

interface PgResult {
  fields: { name: string; dataTypeID: number }[];
  rows: (string | null)[][];
  rowCount: number | null;
}

/**
 * The part of pg's `Client` / `PoolClient` that Eddy uses. To listen, a Client also needs pg's
 * events (`PgClientEvents`), which both pg and Neon have; without them the driver has no
 * `listen`.
 */
export interface PgClientLike {
  query(config: PgQueryConfig): Promise<PgResult>;
}

/** The part of pg's `PoolClient` that Eddy uses (its events only to listen). */
export interface PgPoolClientLike extends PgClientLike, Partial<PgClientEvents> {
  release(destroy?: boolean | Error): void;
}

/** The part of pg's `Pool` that Eddy uses. */
export interface PgPoolLike extends PgClientLike {
  connect(): Promise<PgPoolClientLike>;
  totalCount: number;
}

export interface PgSessionOptions {
  /** The client is already inside the caller's transaction (after BEGIN). */
  inTransaction?: boolean;
}

// Every value comes back as the server's text; the core decodes it (src/driver/values.ts).
const rawText = (value: string) => value;
const RAW_TYPES = { getTypeParser: () => rawText };

function isPool(client: PgClientLike): client is PgPoolLike {
  return (
    typeof (client as Partial<PgPoolLike>).connect === 'function' &&
    typeof (client as Partial<PgPoolLike>).totalCount === 'number'
  );
}

/** A stable name for a statement's text (FNV-1a, 64 bits): one prepared statement per text. */
function hashName(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return `eddy_${(a >>> 0).toString(16)}${(b >>> 0).toString(16)}`;
}

// The core prepares a few dozen texts per schema, most of them the same string each time: a map
// finds the name without hashing 700 characters in JavaScript on every insert. Bounded anyway.
const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= 512) names.clear();
    name = hashName(text);
    names.set(text, name);
  }
  return name;
}

async function run(
  client: PgClientLike,
  text: string,
  params: readonly (string | null)[],
  options?: QueryOptions,
) {
  // pg reads the values and never keeps them: the core's fresh array needs no copy.
  const values = params as (string | null)[];
  // pg prepares a named statement once per connection and reuses it; measured on the single
  // insert, that is the difference between parsing and planning 11 parameters every time and not.
  if (options?.prepare && params.length > 0) {
    try {
      const name = statementName(text);
      return toRaw(await client.query({ name, text, values, rowMode: 'array', types: RAW_TYPES }));
    } catch (error) {
      // A plan prepared before a migration changed the table: run this one unprepared.
      if ((error as { code?: string }).code !== '0A000') throw error;
    }
  }
  return toRaw(await client.query({ text, values, rowMode: 'array', types: RAW_TYPES }));
}

function toRaw(result: PgResult): RawResult {
  return {
    fields: (result.fields ?? []).map((f) => ({ name: f.name, typeId: f.dataTypeID })),
    rows: result.rows ?? [],
    rowCount: result.rowCount ?? result.rows?.length ?? 0,
  };
}

/** Serialises work on a single connection so a BEGIN…COMMIT never interleaves with other work. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** Runs `fn` between BEGIN and COMMIT (ROLLBACK when it throws). */
async function withTransaction<T>(client: PgClientLike, fn: () => Promise<T>): Promise<T> {
  await run(client, 'BEGIN', []);
  try {
    const value = await fn();
    await run(client, 'COMMIT', []);
    return value;
  } catch (error) {
    await run(client, 'ROLLBACK', []).catch(() => undefined);
    throw error;
  }
}

/** A driver over one connection that is inside a transaction (the caller's or ours). */
function transactionDriver(name: string, client: PgClientLike): Driver {
  const mutex = new Mutex();
  const driver: Driver = {
    name,
    capabilities: { interactiveTransactions: true, inTransaction: true },
    query: (text, params = [], options) => mutex.lock(() => run(client, text, params, options)),
    transaction: (fn) =>
      mutex.lock(() =>
        withSavepoint(
          (sql) => run(client, sql, []),
          () => fn(transactionDriver(name, client)),
        ),
      ),
  };
  return driver;
}

/**
 * Builds a `Driver` over a pg-compatible Pool, Client or PoolClient.
 * A Pool checks out one connection per transaction (a batch is one, see `Database.batch`); a
 * Client is used directly and serialised; a client inside the caller's transaction uses
 * savepoints.
 *
 * `listen` over a Pool holds one of its connections for as long as the listener is open (size
 * `max` for it) and replaces it when it drops; over a Client it LISTENs on that client, which
 * cannot be replaced: a drop is reported through `onError` and the listener stays down. A
 * client inside the caller's transaction has no `listen` (LISTEN there waits for COMMIT).
 */
export function pgSession(
  name: string,
  client: PgClientLike,
  options: PgSessionOptions = {},
): Driver {
  if (options.inTransaction) return transactionDriver(name, client);
  if (isPool(client)) {
    const pool = client;
    const checkout = async <T>(fn: (c: PgPoolClientLike) => Promise<T>): Promise<T> => {
      const conn = await pool.connect();
      let broken: unknown;
      try {
        return await fn(conn);
      } catch (error) {
        broken = error;
        throw error;
      } finally {
        // A connection whose ROLLBACK failed may be mid-transaction: destroy it, never reuse it.
        conn.release(broken instanceof Error && !('code' in broken) ? broken : undefined);
      }
    };
    return {
      name,
      capabilities: { interactiveTransactions: true, inTransaction: false },
      query: (text, params = [], options) => run(pool, text, params, options),
      transaction: (fn) =>
        checkout((c) => withTransaction(c, () => fn(transactionDriver(name, c)))),
      listen: (channels, handlers) =>
        listenOnPool(name, pool, (c, text) => run(c, text, []), channels, handlers),
    };
  }
  const mutex = new Mutex();
  const driver: Driver = {
    name,
    capabilities: { interactiveTransactions: true, inTransaction: false },
    query: (text, params = [], options) => mutex.lock(() => run(client, text, params, options)),
    transaction: (fn) =>
      mutex.lock(() => withTransaction(client, () => fn(transactionDriver(name, client)))),
  };
  if (hasEvents(client)) {
    const events = client;
    driver.listen = (channels, handlers) =>
      listenOnClient(
        name,
        events,
        (fn) => mutex.lock(fn),
        (_, text) => run(client, text, []),
        channels,
        handlers,
      );
  }
  return driver;
}
