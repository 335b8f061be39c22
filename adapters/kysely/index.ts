/**
 * Kysely transactions as an Eddy driver, so a job is enqueued in the same transaction as your
 * Kysely writes. Typed structurally: this adapter imports nothing from Kysely.
 *
 * Kysely returns rows without column types, so Eddy decodes nothing: every value arrives as
 * Kysely's driver parsed it. Over node-postgres (`PostgresDialect`) with pg's default type
 * parsers that matches the other adapters except (test/insert-query-builders.test.ts):
 * - int8 and `int8[]` elements arrive as strings (exact), not bigints;
 * - timestamptz and timestamp arrive as Dates (milliseconds; a timestamp without time zone is
 *   read in the process's time zone), never as the server's text with all six digits;
 * - date arrives as a Date (local midnight), not as its text.
 * Eddy's own results (the jobs an insert returns) convert what they read, so they are the same
 * through every adapter.
 *
 * @example
 * ```ts
 * import { kyselyTx } from 'eddy/kysely';
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto('orders').values(order).execute();
 *   await eddy.with(kyselyTx(trx)).insert(sendEmail, { to: order.email, subject: 'Thanks' });
 * });
 * ```
 */

import type { Driver } from '../../src/driver/index.js';
import { toRawResult } from '../result-rows.js';
import { withSavepoint } from '../savepoint.js';

interface CompiledRawQuery {
  readonly sql: string;
  readonly parameters: readonly unknown[];
  readonly query: {
    readonly kind: 'RawNode';
    readonly sqlFragments: readonly string[];
    readonly parameters: readonly unknown[];
  };
  readonly queryId: { readonly queryId: string };
}

/** The part of a Kysely `Transaction` that Eddy uses. */
export interface KyselyTransactionLike {
  // biome-ignore lint/suspicious/noExplicitAny: Kysely's CompiledQuery type; structurally a raw query
  executeQuery(query: any): Promise<{ rows: unknown[]; numAffectedRows?: bigint }>;
}

let queryCounter = 0;

async function run(trx: KyselyTransactionLike, text: string, params: readonly (string | null)[]) {
  const compiled: CompiledRawQuery = {
    sql: text,
    parameters: [...params],
    query: { kind: 'RawNode', sqlFragments: [text], parameters: [] },
    queryId: { queryId: `eddy-${++queryCounter}` },
  };
  return toRawResult(await trx.executeQuery(compiled));
}

export function kyselyTx(trx: KyselyTransactionLike): Driver {
  // Kysely has no nested transactions on a Transaction; a savepoint scopes ours (and a batch).
  const savepoint = <T>(fn: () => Promise<T>) => withSavepoint((sql) => run(trx, sql, []), fn);
  return {
    name: 'kysely',
    capabilities: { interactiveTransactions: true, inTransaction: true },
    query: (text, params = []) => run(trx, text, params),
    transaction: (fn) => savepoint(() => fn(kyselyTx(trx))),
  };
}
