/**
 * postgres.js adapter (`postgres` package).
 *
 * @example
 * ```ts
 * import postgres from 'postgres';
 * import { postgresJs } from 'eddy/postgres-js';
 * const driver = postgresJs(postgres(process.env.DATABASE_URL!));
 * // inside sql.begin(async (tx) => ...): postgresJs(tx)
 * ```
 */

import type { Driver, QueryOptions, RawResult } from '../../src/driver/index.js';
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

/** The part of a postgres.js `Sql` (or `TransactionSql`) instance that Eddy uses. */
export interface PostgresJsLike {
  unsafe(text: string, params?: unknown[], options?: { prepare?: boolean }): PostgresJsQuery;
  typed(value: unknown, oid: number): unknown;
  begin?<T>(fn: (tx: PostgresJsLike) => Promise<T>): Promise<unknown>;
  savepoint?<T>(fn: (tx: PostgresJsLike) => Promise<T>): Promise<unknown>;
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
  return {
    name: 'postgres-js',
    capabilities: { interactiveTransactions: true, inTransaction },
    query: (text, params = [], options) => run(sql, text, params, options),
    transaction: (fn) => scoped((tx) => fn(postgresJs(tx))),
  };
}
