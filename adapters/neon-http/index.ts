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

import type { Driver, RawResult } from '../../src/driver/index.js';

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

/**
 * The part of `neon()`'s query function that Eddy uses. Parameters are loose on purpose: the
 * driver's own types are generic over result shapes and would tie Eddy to one driver version.
 */
export interface NeonHttpLike {
  // biome-ignore lint/suspicious/noExplicitAny: structural stand-in for the driver's generic signature
  query(text: string, params?: any[], options?: any): any;
  // biome-ignore lint/suspicious/noExplicitAny: structural stand-in for the driver's generic signature
  transaction(queries: any[], options?: any): Promise<any[]>;
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
 * The element type `sql.transaction([...])` accepts. Eddy's query runs with its own result
 * options (raw text), which the driver supports per query inside a transaction; its static
 * types only know the function's defaults, so the query is typed as the array expects.
 */
export type TransactionQuery<S extends NeonHttpLike> = Extract<
  Parameters<S['transaction']>[0],
  readonly unknown[]
>[number];

/** An Eddy insert ready to sit in your `sql.transaction([...])`. */
export interface NeonInsert<S extends NeonHttpLike, R> {
  /** Put this in the array you pass to `sql.transaction`. */
  readonly query: TransactionQuery<S>;
  /** Reads this query's result (its element of the transaction's results). */
  read(result: unknown): R;
}

/**
 * Puts a prepared insert (`eddy.prepareInsertMany([...])`) into a Neon HTTP transaction next to
 * your own writes, built with *your* `sql` function: the Neon driver refuses query objects made
 * by any other copy of itself, which is why Eddy never bundles it.
 *
 * @example
 * ```ts
 * const enqueue = neonInsert(sql, await eddy.prepareInsertMany([{ kind: sendEmail, args: { to, subject } }]));
 * const [, jobs] = await sql.transaction([sql`INSERT INTO orders ...`, enqueue.query]);
 * const [{ job, skipped }] = enqueue.read(jobs);
 * ```
 */
export function neonInsert<S extends NeonHttpLike, R>(
  sql: S,
  prepared: {
    readonly text: string;
    readonly params: readonly (string | null)[];
    read(result: RawResult): R;
  },
): NeonInsert<S, R> {
  return {
    query: sql.query(prepared.text, [...prepared.params], RAW_QUERY_OPTIONS) as TransactionQuery<S>,
    read: (result) => prepared.read(toRawResult(result)),
  };
}

/** A worker's completion ready to sit in your `sql.transaction([...])`. */
export interface NeonCompletion<S extends NeonHttpLike> {
  /** Put this in the array you pass to `sql.transaction`. */
  readonly query: TransactionQuery<S>;
}

/**
 * Puts a worker's completion of its own job (`ctx.prepareComplete()`) into a Neon HTTP
 * transaction next to your own writes (River's `JobCompleteTx` over HTTP). If the attempt no
 * longer holds the job, the statement fails and the whole transaction with it.
 *
 * @example
 * ```ts
 * defineWorker(chargeOrder, async (job, ctx) => {
 *   await sql.transaction([
 *     sql`UPDATE orders SET charged = true WHERE id = ${job.args.orderId}`,
 *     neonComplete(sql, ctx.prepareComplete()).query,
 *   ]);
 * });
 * ```
 */
export function neonComplete<S extends NeonHttpLike>(
  sql: S,
  prepared: { readonly text: string; readonly params: readonly (string | null)[] },
): NeonCompletion<S> {
  return {
    query: sql.query(prepared.text, [...prepared.params], RAW_QUERY_OPTIONS) as TransactionQuery<S>,
  };
}
