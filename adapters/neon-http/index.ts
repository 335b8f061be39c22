/**
 * Neon serverless driver over HTTP (`neon()` from `@neondatabase/serverless`). Every call is one
 * stateless HTTP request: `batch` maps to `sql.transaction([...])` (one atomic round trip), and
 * interactive transactions do not exist.
 *
 * @example
 * ```ts
 * import { neon } from '@neondatabase/serverless';
 * import { neonHttp } from 'eddy/neon-http';
 * const driver = neonHttp(neon(process.env.DATABASE_URL!));
 * ```
 */

import type { Driver, RawResult } from '../../src/driver.js';

const rawText = (value: string) => value;
/** Options that make the driver hand back the server's text (the core decodes it). */
export const RAW_QUERY_OPTIONS = {
  arrayMode: true,
  fullResults: true,
  types: { getTypeParser: () => rawText },
} as const;

interface NeonFullResult {
  fields: { name: string; dataTypeID: number }[];
  rows: (string | null)[][];
  rowCount: number | null;
}

/** A query object made by the user's `sql` function; opaque to Eddy. */
export type NeonQueryPromise = PromiseLike<unknown>;

/** The part of `neon()`'s query function that Eddy uses. */
export interface NeonHttpLike {
  query(
    text: string,
    params?: unknown[],
    options?: typeof RAW_QUERY_OPTIONS,
  ): NeonQueryPromise & PromiseLike<unknown>;
  transaction(queries: NeonQueryPromise[], options?: Record<string, unknown>): Promise<unknown[]>;
}

export function toRawResult(result: unknown): RawResult {
  const r = result as NeonFullResult;
  return {
    fields: (r.fields ?? []).map((f) => ({ name: f.name, typeId: f.dataTypeID })),
    rows: r.rows ?? [],
    rowCount: r.rowCount ?? r.rows?.length ?? 0,
  };
}

export function neonHttp(sql: NeonHttpLike): Driver {
  return {
    name: 'neon-http',
    capabilities: { interactiveTransactions: false, inTransaction: false },
    async query(text, params = []) {
      return toRawResult(await sql.query(text, [...params], RAW_QUERY_OPTIONS));
    },
    async batch(statements) {
      if (statements.length === 0) return [];
      const queries = statements.map((s) => sql.query(s.text, [...s.params], RAW_QUERY_OPTIONS));
      const results = await sql.transaction(queries, RAW_QUERY_OPTIONS);
      return results.map(toRawResult);
    },
  };
}

/**
 * Builds a prepared Eddy statement (e.g. from `eddy.prepareInsert(...)`) with *your* `sql`
 * function, so it can sit inside `sql.transaction([...])` next to your own writes. The Neon
 * driver refuses query objects made by any other copy of itself, which is why Eddy never
 * bundles it and asks for yours.
 *
 * @example
 * ```ts
 * const enqueue = await eddy.prepareInsert(sendEmail, { to, subject });
 * const [, jobs] = await sql.transaction([sql`INSERT INTO orders ...`, neonQuery(sql, enqueue)]);
 * const [{ job, skipped }] = readNeonInsert(enqueue, jobs);
 * ```
 */
export function neonQuery(
  sql: NeonHttpLike,
  prepared: { readonly text: string; readonly params: readonly (string | null)[] },
): NeonQueryPromise {
  return sql.query(prepared.text, [...prepared.params], RAW_QUERY_OPTIONS);
}

/** Reads the result of `neonQuery(sql, prepared)` from a `sql.transaction` into insert results. */
export function readNeonInsert<R>(prepared: { read(result: RawResult): R }, result: unknown): R {
  return prepared.read(toRawResult(result));
}
