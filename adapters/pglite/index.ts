/**
 * PGlite adapter: PostgreSQL compiled to WebAssembly, in-process. The embedded default for local
 * development and the demo.
 *
 * `listen` (on a PGlite instance) hears NOTIFYs sent through the same instance. It sends its
 * own quoted LISTEN / UNLISTEN and reads `onNotification`, rather than `db.listen`, which in
 * PGlite 0.5 sends the name as raw SQL (a dot is a syntax error, upper case folds) and whose
 * unlisten sends it unquoted again. In-process, the session never drops: `onError` is never
 * called.
 *
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * import { pglite } from 'eddy/pglite';
 * const driver = pglite(new PGlite());
 * // inside db.transaction(async (tx) => ...): pglite(tx)
 * ```
 */

import {
  assertChannelNames,
  type Driver,
  guardHandlers,
  type Listener,
  type ListenHandlers,
  listenStatement,
  type RawResult,
  sharedChannels,
  unlistenStatement,
} from '../../src/driver/index.js';
import { withSavepoint } from '../savepoint.js';

type Parser = (text: string) => unknown;
// biome-ignore lint/suspicious/noExplicitAny: PGlite declares serializers over any
type Serializer = (value: any) => string;

interface PGliteResults {
  rows: unknown[][];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

interface PGliteQueryOptions {
  rowMode: 'array';
  parsers: Record<number, Parser>;
  serializers: Record<number, Serializer>;
}

/** The part of a `PGlite` instance or PGlite `Transaction` that Eddy uses. */
export interface PGliteLike {
  query(text: string, params?: unknown[], options?: PGliteQueryOptions): Promise<PGliteResults>;
  transaction?<T>(fn: (tx: PGliteLike) => Promise<T>): Promise<T>;
  parsers?: Record<number, unknown>;
  serializers?: Record<number, unknown>;
  /** Every notification the instance receives; returns the function that stops it. */
  onNotification?(callback: (channel: string, payload: string) => void): () => void;
}

// PGlite picks a parser or serializer by type OID and falls back to text for any it lacks, so
// mapping every OID it knows to the identity hands the core the server's text both ways.
const passText = (text: unknown) => text as string;
function identityOptions(keys: Iterable<number | string>): PGliteQueryOptions {
  const parsers: Record<number, Parser> = {};
  for (const key of keys) parsers[Number(key)] = passText;
  return { rowMode: 'array', parsers, serializers: parsers as Record<number, Serializer> };
}

type OptionsSource = () => PGliteQueryOptions;

/**
 * For an instance: identity over the OIDs it knows, rebuilt when that set grows (PGlite adds
 * array types once it is ready). PGlite copies the map into every query, so it stays this size
 * rather than covering every possible OID.
 */
function instanceOptions(db: PGliteLike): OptionsSource {
  let known = -1;
  let options: PGliteQueryOptions | undefined;
  return () => {
    const keys = [...Object.keys(db.parsers ?? {}), ...Object.keys(db.serializers ?? {})];
    if (keys.length !== known || !options) {
      known = keys.length;
      options = identityOptions(keys);
    }
    return options;
  };
}

// A Transaction passed in on its own exposes no type maps: cover every built-in OID (< 16384;
// user types such as enums have no PGlite parser anyway).
let builtinOptions: PGliteQueryOptions | undefined;
const allBuiltins: OptionsSource = () => {
  builtinOptions ??= identityOptions(Array.from({ length: 16384 }, (_, i) => i));
  return builtinOptions;
};

async function run(
  db: PGliteLike,
  options: OptionsSource,
  text: string,
  params: readonly (string | null)[],
): Promise<RawResult> {
  const result = await db.query(text, [...params], options());
  const rows = result.rows as (string | null)[][];
  return {
    fields: result.fields.map((f) => ({ name: f.name, typeId: f.dataTypeID })),
    rows,
    // PGlite reports affectedRows 0 for a SELECT.
    rowCount: result.affectedRows || rows.length,
  };
}

export function pglite(db: PGliteLike): Driver {
  return pgliteDriver(db, db.parsers ? instanceOptions(db) : allBuiltins);
}

function pgliteDriver(db: PGliteLike, options: OptionsSource): Driver {
  const inTransaction = typeof db.transaction !== 'function';
  const savepoint = <T>(fn: () => Promise<T>) => withSavepoint((sql) => db.query(sql), fn);
  const scoped = <T>(fn: (tx: PGliteLike) => Promise<T>): Promise<T> =>
    db.transaction ? db.transaction(fn) : savepoint(() => fn(db));
  const driver: Driver = {
    name: 'pglite',
    capabilities: { interactiveTransactions: true, inTransaction },
    query: (text, params = []) => run(db, options, text, params),
    transaction: (fn) => scoped((tx) => fn(pgliteDriver(tx, options))),
  };
  if (!inTransaction && typeof db.onNotification === 'function')
    driver.listen = (channels, handlers) => listen(db, channels, handlers);
  return driver;
}

async function listen(
  db: PGliteLike,
  channels: readonly string[],
  listenHandlers: ListenHandlers,
): Promise<Listener> {
  const names = assertChannelNames(channels, 'pglite: listen');
  const handlers = guardHandlers(listenHandlers, names);
  const subscribe = db.onNotification as NonNullable<PGliteLike['onNotification']>;
  const off = subscribe.call(db, (channel, payload) => handlers.notification(channel, payload));
  // One instance is one session, which other listeners (Eddy's) may share: UNLISTEN only what
  // no other one holds.
  const unlisten = async (unheld: readonly string[]) => {
    off();
    for (const channel of unheld) await db.query(unlistenStatement(channel)).catch(() => undefined);
  };
  const done: string[] = [];
  try {
    for (const channel of names) {
      await db.query(listenStatement(channel));
      done.push(channel);
    }
  } catch (error) {
    handlers.close();
    sharedChannels.add(db, done);
    await unlisten(sharedChannels.remove(db, done));
    throw error;
  }
  sharedChannels.add(db, names);
  handlers.listening();

  let closing: Promise<void> | undefined;
  return {
    close() {
      if (!closing) {
        handlers.close();
        closing = unlisten(sharedChannels.remove(db, names));
      }
      return closing;
    },
  };
}
