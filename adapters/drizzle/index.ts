/**
 * Drizzle ORM transactions as an Eddy driver, so a job is enqueued in the same transaction as
 * your Drizzle writes (node-postgres, postgres.js, Neon WebSocket and PGlite Drizzle drivers).
 *
 * @example
 * ```ts
 * import { drizzleTx } from 'eddy/drizzle';
 * await db.transaction(async (tx) => {
 *   await tx.insert(orders).values(order);
 *   await eddy.insertTx(drizzleTx(tx), sendEmail, { to: order.email, subject: 'Thanks' });
 * });
 * ```
 */

import { type SQL, sql } from 'drizzle-orm';
import type { Driver, RawResult, Statement } from '../../src/driver/driver.js';
import { splitPlaceholders, toRawResult } from '../result-rows.js';

/** The part of a Drizzle transaction that Eddy uses. */
export interface DrizzleTransactionLike {
  execute(query: SQL): PromiseLike<unknown>;
  transaction<T>(fn: (tx: DrizzleTransactionLike) => Promise<T>): Promise<T>;
}

function toSql(text: string, params: readonly (string | null)[]): SQL {
  const { parts, indexes } = splitPlaceholders(text);
  const query = sql.empty();
  parts.forEach((part, i) => {
    query.append(sql.raw(part));
    if (i < indexes.length) query.append(sql`${sql.param(params[indexes[i] as number] ?? null)}`);
  });
  return query;
}

async function run(tx: DrizzleTransactionLike, text: string, params: readonly (string | null)[]) {
  return toRawResult(await tx.execute(toSql(text, params)));
}

export function drizzleTx(tx: DrizzleTransactionLike): Driver {
  const runAll = async (inner: DrizzleTransactionLike, statements: readonly Statement[]) => {
    const results: RawResult[] = [];
    for (const s of statements) results.push(await run(inner, s.text, s.params));
    return results;
  };
  return {
    name: 'drizzle',
    capabilities: { interactiveTransactions: true, inTransaction: true },
    query: (text, params = []) => run(tx, text, params),
    // A nested Drizzle transaction is a savepoint: a failed batch leaves yours usable.
    batch: (statements) => tx.transaction((inner) => runAll(inner, statements)),
    transaction: (fn) => tx.transaction((inner) => fn(drizzleTx(inner))),
  };
}
