/**
 * Drizzle ORM transactions as an Eddy driver, so a job is enqueued in the same transaction as
 * your Drizzle writes, over Drizzle's node-postgres and Neon WebSocket (`neon-serverless`)
 * drivers.
 *
 * Drizzle runs the statement through its own driver, which parses values before Eddy sees
 * them; Eddy decodes what is still text and keeps the rest. With the default type parsers of
 * node-postgres (Neon's Pool bundles the same; Drizzle leaves dates and times as text) every
 * value matches the other adapters except (test/insert-query-builders.test.ts):
 * - `int8[]` elements arrive as strings (exact), not bigints;
 * - a json/jsonb value that is itself a JSON string is parsed twice: `'"123"'` arrives as the
 *   number 123 and `'"abc"'` fails to decode. Job args and metadata are objects, never this.
 * A parser you set with `types.setTypeParser` is kept too (parseInt for int8 loses digits).
 *
 * Not for Drizzle's postgres.js and PGlite drivers: they re-encode Eddy's text parameters by
 * type (over postgres.js a bytea parameter arrives as the bytes of its text and a bool one as
 * false; PGlite refuses a bytea given as text), and postgres.js rows carry no column types.
 *
 * @example
 * ```ts
 * import { drizzleTx } from 'eddy/drizzle';
 * await db.transaction(async (tx) => {
 *   await tx.insert(orders).values(order);
 *   await eddy.with(drizzleTx(tx)).insert(sendEmail, { to: order.email, subject: 'Thanks' });
 * });
 * ```
 */

import { type SQL, sql } from 'drizzle-orm';
import type { Driver } from '../../src/driver/index.js';
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

const hasCode = (error: unknown) => typeof (error as { code?: unknown } | null)?.code === 'string';

async function run(tx: DrizzleTransactionLike, text: string, params: readonly (string | null)[]) {
  try {
    return toRawResult(await tx.execute(toSql(text, params)));
  } catch (error) {
    // Drizzle 0.44+ wraps the driver's error in a DrizzleQueryError without the SQLSTATE (and
    // with the parameters in its message): hand on the driver's own error, as other adapters do.
    const cause = (error as { cause?: unknown } | null)?.cause;
    throw !hasCode(error) && hasCode(cause) ? cause : error;
  }
}

export function drizzleTx(tx: DrizzleTransactionLike): Driver {
  return {
    name: 'drizzle',
    capabilities: { interactiveTransactions: true, inTransaction: true },
    query: (text, params = []) => run(tx, text, params),
    // A nested Drizzle transaction is a savepoint: our failed batch or transaction leaves yours
    // usable.
    transaction: (fn) => tx.transaction((inner) => fn(drizzleTx(inner))),
  };
}
