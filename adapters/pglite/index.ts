/**
 * PGlite adapter: PostgreSQL compiled to WebAssembly, in-process. The embedded default for local
 * development and the demo.
 *
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * import { pglite } from 'eddy/pglite';
 * const driver = pglite(new PGlite());
 * // inside db.transaction(async (tx) => ...): pglite(tx)
 * ```
 */

import type { Driver, RawResult, Statement } from '../../src/driver.js';
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
}

// PGlite picks a parser or serializer by type OID and falls back to text for any it lacks, so
// mapping every OID it knows to the identity hands the core the server's text both ways.
// Built-in types all have OIDs below 16384; user types (enums) have no PGlite parser anyway.
const passText = (text: unknown) => text as string;
function identityMap<T>(keys: Iterable<number | string>): Record<number, T> {
  const map: Record<number, T> = {};
  for (const key of keys) map[Number(key)] = passText as T;
  return map;
}
const BUILTIN_OIDS = Array.from({ length: 16384 }, (_, i) => i);

// PGlite registers array types (some with OIDs above 16384) once it is ready, so the map is
// completed from the instance at each query; a Transaction has no map and inherits its parent's.
function optionsFor(db: PGliteLike, base?: PGliteQueryOptions): PGliteQueryOptions {
  const options = base ?? {
    rowMode: 'array' as const,
    parsers: identityMap<Parser>(BUILTIN_OIDS),
    serializers: identityMap<Serializer>(BUILTIN_OIDS),
  };
  for (const k of Object.keys(db.parsers ?? {})) options.parsers[Number(k)] ??= passText;
  for (const k of Object.keys(db.serializers ?? {}))
    options.serializers[Number(k)] ??= passText as Serializer;
  return options;
}

async function run(
  db: PGliteLike,
  options: PGliteQueryOptions,
  text: string,
  params: readonly (string | null)[],
): Promise<RawResult> {
  const result = await db.query(text, [...params], optionsFor(db, options));
  const rows = result.rows as (string | null)[][];
  return {
    fields: result.fields.map((f) => ({ name: f.name, typeId: f.dataTypeID })),
    rows,
    // PGlite reports affectedRows 0 for a SELECT.
    rowCount: result.affectedRows || rows.length,
  };
}

async function runAll(
  db: PGliteLike,
  options: PGliteQueryOptions,
  statements: readonly Statement[],
) {
  const results: RawResult[] = [];
  for (const s of statements) results.push(await run(db, options, s.text, s.params));
  return results;
}

export function pglite(db: PGliteLike, inherited?: PGliteQueryOptions): Driver {
  const options = inherited ?? optionsFor(db);
  const inTransaction = typeof db.transaction !== 'function';
  const savepoint = <T>(fn: () => Promise<T>) => withSavepoint((sql) => db.query(sql), fn);
  const scoped = <T>(fn: (tx: PGliteLike) => Promise<T>): Promise<T> =>
    db.transaction ? db.transaction(fn) : savepoint(() => fn(db));
  return {
    name: 'pglite',
    capabilities: { interactiveTransactions: true, inTransaction },
    query: (text, params = []) => run(db, options, text, params),
    batch: (statements) => scoped((tx) => runAll(tx, options, statements)),
    transaction: (fn) => scoped((tx) => fn(pglite(tx, options))),
  };
}
