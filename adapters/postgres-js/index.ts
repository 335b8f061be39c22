/**
 * postgres.js adapter (`postgres` package).
 *
 * `listen` maps onto `sql.listen`: postgres.js LISTENs on a connection of its own, shared by
 * every `sql.listen` of that instance, and reconnects it itself. What it does not tell:
 * - a drop. Eddy learns of one when postgres.js LISTENs again, and then calls `onError` (once
 *   per reconnect, not per failed attempt) just before `onListening`;
 * - that connection outlives `close()` (which UNLISTENs), until `sql.end()`;
 * - a LISTEN whose first attempt failed stays registered and is retried in the background
 *   until `sql.end()`. Eddy checks the database with `SELECT 1` before it LISTENs, so a
 *   database that is down at startup leaves nothing behind, and never calls a handler of a
 *   listener whose `listen` rejected;
 * - against an endpoint that accepts connections and closes them at once (a proxy refusing
 *   clients), postgres.js 3.4 retries without backoff (porsager/postgres#1179, #1193), and a
 *   first LISTEN there never settles.
 *
 * @example
 * ```ts
 * import postgres from 'postgres';
 * import { postgresJs } from 'eddy/postgres-js';
 * const driver = postgresJs(postgres(process.env.DATABASE_URL!));
 * // inside sql.begin(async (tx) => ...): postgresJs(tx)
 * ```
 */

import {
  assertChannelNames,
  type Driver,
  guardHandlers,
  type Listener,
  type ListenHandlers,
  type QueryOptions,
  type RawResult,
  waitAtMost,
} from '../../src/driver/index.js';
import { UnsupportedError } from '../../src/index.js';

// Parameters are declared as type `unknown` (OID 705) so the server resolves each from its cast
// and postgres.js sends our text untouched; with the inferred type it would re-serialise it
// (JSON.stringify a jsonb string, hex-encode a bytea literal).
const UNKNOWN_OID = 705;

interface PostgresJsResult {
  columns?: { name: string; type: number }[];
  count: number | null;
  length: number;
  [index: number]: (Uint8Array | null)[];
}

interface PostgresJsQuery extends PromiseLike<PostgresJsResult> {
  raw(): PromiseLike<PostgresJsResult>;
}

/** What postgres.js' `sql.listen` resolves with. */
interface PostgresJsListening {
  unlisten(): Promise<unknown>;
}

/** The part of a postgres.js `Sql` (or `TransactionSql`) instance that Eddy uses. */
export interface PostgresJsLike {
  unsafe(text: string, params?: unknown[], options?: { prepare?: boolean }): PostgresJsQuery;
  typed(value: unknown, oid: number): unknown;
  begin?<T>(fn: (tx: PostgresJsLike) => Promise<T>): Promise<unknown>;
  savepoint?<T>(fn: (tx: PostgresJsLike) => Promise<T>): Promise<unknown>;
  listen?(
    channel: string,
    onnotify: (payload: string) => void,
    onlisten?: () => void,
  ): Promise<PostgresJsListening>;
}

const decoder = new TextDecoder();

async function run(
  sql: PostgresJsLike,
  text: string,
  params: readonly (string | null)[],
  options?: QueryOptions,
) {
  const values = params.map((p) => (p === null ? null : sql.typed(p, UNKNOWN_OID)));
  const result = await sql.unsafe(text, values, { prepare: options?.prepare === true }).raw();
  const rows: (string | null)[][] = [];
  for (let i = 0; i < result.length; i++) {
    rows.push(
      (result[i] as (Uint8Array | null)[]).map((v) => (v === null ? null : decoder.decode(v))),
    );
  }
  const raw: RawResult = {
    fields: (result.columns ?? []).map((c) => ({ name: c.name, typeId: c.type })),
    rows,
    rowCount: result.count ?? rows.length,
  };
  return raw;
}

export function postgresJs(sql: PostgresJsLike): Driver {
  const inTransaction = typeof sql.savepoint === 'function';
  // Inside sql.begin() our transaction (and so a batch) is a savepoint; outside, begin() opens one.
  const scoped = <T>(fn: (tx: PostgresJsLike) => Promise<T>): Promise<T> => {
    const open = inTransaction ? sql.savepoint : sql.begin;
    if (!open)
      throw new UnsupportedError(
        'postgresJs: pass a postgres.js Sql instance (postgres(url)) or the transaction sql.begin() gives you; this one has neither begin() nor savepoint()',
      );
    return open.call(sql, fn) as Promise<T>;
  };
  const driver: Driver = {
    name: 'postgres-js',
    capabilities: { interactiveTransactions: true, inTransaction },
    query: (text, params = [], options) => run(sql, text, params, options),
    transaction: (fn) => scoped((tx) => fn(postgresJs(tx))),
  };
  if (!inTransaction && typeof sql.listen === 'function')
    driver.listen = (channels, handlers) => listen(sql, channels, handlers);
  return driver;
}

/** How long close() waits for postgres.js to UNLISTEN (it queues the statement while down). */
const UNLISTEN_WAIT_MS = 2000;

async function listen(
  sql: PostgresJsLike,
  channels: readonly string[],
  listenHandlers: ListenHandlers,
): Promise<Listener> {
  const names = assertChannelNames(channels, 'postgres-js: listen');
  const handlers = guardHandlers(listenHandlers, names);
  const listenOn = sql.listen as NonNullable<PostgresJsLike['listen']>;
  await sql.unsafe('SELECT 1'); // see the module comment: fail here rather than in sql.listen

  let started = false;
  /** Channels LISTENed again since postgres.js reconnected. */
  const back = new Set<string>();
  const onlisten = (channel: string) => () => {
    if (!started) return; // the first LISTEN: listen() resolves instead
    if (back.size === 0)
      handlers.error(new Error('postgres-js: the listening connection dropped; reconnected'));
    back.add(channel);
    if (back.size < names.length) return;
    back.clear();
    handlers.listening();
  };

  const subscriptions: PostgresJsListening[] = [];
  const unlistenAll = () =>
    waitAtMost(Promise.allSettled(subscriptions.map((s) => s.unlisten())), UNLISTEN_WAIT_MS);
  try {
    // One at a time, so a failure leaves as few channels as possible registered in postgres.js.
    for (const channel of names) {
      const onnotify = (payload: string) => handlers.notification(channel, payload);
      subscriptions.push(await listenOn.call(sql, channel, onnotify, onlisten(channel)));
    }
  } catch (error) {
    handlers.close();
    await unlistenAll();
    throw error;
  }
  started = true;
  handlers.listening();

  let closing: Promise<void> | undefined;
  return {
    close() {
      if (!closing) {
        handlers.close();
        // unlisten() takes our callbacks off at once; the UNLISTEN may wait for a connection.
        closing = unlistenAll();
      }
      return closing;
    },
  };
}
