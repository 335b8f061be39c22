/**
 * Kysely transactions as an Eddy driver, so a job is enqueued in the same transaction as your
 * Kysely writes. Typed structurally: this adapter imports nothing from Kysely.
 *
 * @example
 * ```ts
 * import { kyselyTx } from 'eddy/kysely';
 * await db.transaction().execute(async (trx) => {
 *   await trx.insertInto('orders').values(order).execute();
 *   await eddy.insertTx(kyselyTx(trx), sendEmail, { to: order.email, subject: 'Thanks' });
 * });
 * ```
 */

import type { Driver, RawResult, Statement } from '../../src/driver/driver.js';
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
  // Kysely has no nested transactions on a Transaction; savepoints scope a batch instead.
  const savepoint = <T>(fn: () => Promise<T>) => withSavepoint((sql) => run(trx, sql, []), fn);
  const runAll = async (statements: readonly Statement[]) => {
    const results: RawResult[] = [];
    for (const s of statements) results.push(await run(trx, s.text, s.params));
    return results;
  };
  return {
    name: 'kysely',
    capabilities: { interactiveTransactions: true, inTransaction: true },
    query: (text, params = []) => run(trx, text, params),
    batch: (statements) => savepoint(() => runAll(statements)),
    transaction: (fn) => savepoint(() => fn(kyselyTx(trx))),
  };
}
