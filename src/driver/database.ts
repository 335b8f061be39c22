/**
 * The core's view of a driver: parameters encoded, rows decoded into objects, errors normalised
 * into `DatabaseError` with the SQLSTATE. Cross-cutting behaviour lives here once rather than in
 * every adapter.
 */

import { toDatabaseError, UnsupportedError } from '../errors.js';
import type { Driver, QueryOptions, RawResult, Statement } from './driver.js';
import { columnDecoder, encodeParams, type Param } from './values.js';

export type Row = Record<string, unknown>;

/** A statement as the core writes it: SQL text plus parameters not yet encoded. */
export interface Query {
  readonly text: string;
  readonly params?: readonly Param[];
}

export interface Result<T extends Row = Row> {
  readonly rows: T[];
  readonly rowCount: number;
}

export function decodeResult<T extends Row = Row>(raw: RawResult): Result<T> {
  const { fields } = raw;
  // One decoder per column, picked once: decoding claimed batches is on the runner's hot path.
  const decoders = fields.map((field) => columnDecoder(field.typeId));
  const rows = raw.rows.map((values) => {
    const row: Row = {};
    for (let i = 0; i < fields.length; i++) {
      row[(fields[i] as (typeof fields)[number]).name] = (decoders[i] as (typeof decoders)[number])(
        values[i],
      );
    }
    return row as T;
  });
  return { rows, rowCount: raw.rowCount };
}

function encodeQuery(query: Query): Statement {
  return { text: query.text, params: encodeParams(query.params ?? []) };
}

/** The core needs `transaction` or `batch` for atomic writes; a driver with neither is refused. */
function missingAtomicWrites(driver: Driver): UnsupportedError {
  return new UnsupportedError(
    `${driver.name ?? 'This driver'} cannot be used by Eddy: a driver must implement transaction(fn) or, if its client has no interactive transactions, batch(statements)`,
  );
}

/**
 * Runs statements atomically: through the driver's own `batch` where it has one (Neon HTTP, one
 * round trip), otherwise one after another inside `transaction`. Inside the caller's
 * transaction that is a savepoint, so a failed batch undoes only itself.
 */
function runBatch(driver: Driver, statements: readonly Statement[]): Promise<RawResult[]> {
  if (driver.batch) return driver.batch(statements);
  if (!driver.transaction) throw missingAtomicWrites(driver);
  return driver.transaction(async (tx) => {
    const results: RawResult[] = [];
    for (const s of statements) {
      results.push(await tx.query(s.text, s.params, s.prepare ? { prepare: true } : undefined));
    }
    return results;
  });
}

/**
 * Wraps a `Driver` for the core.
 *
 * @example
 * ```ts
 * const db = new Database(nodePostgres(pool));
 * const { rows } = await db.query('select $1::int8 as id', [2n ** 60n]);
 * rows[0].id; // 1152921504606846976n
 * ```
 */
export class Database {
  /** Statements sent so far through this wrapper (a batch counts each of its statements). */
  statementCount = 0;

  constructor(readonly driver: Driver) {
    // Refused here rather than at the first batch, which may come long after startup.
    if (!driver.transaction && !driver.batch) throw missingAtomicWrites(driver);
  }

  async query<T extends Row = Row>(
    text: string,
    params: readonly Param[] = [],
    options?: QueryOptions,
  ): Promise<Result<T>> {
    const statement = encodeQuery({ text, params });
    this.statementCount++;
    try {
      return decodeResult<T>(await this.driver.query(statement.text, statement.params, options));
    } catch (error) {
      throw toDatabaseError(error, this.driver.name);
    }
  }

  /** Runs the queries atomically (all or none) and returns one result each. */
  async batch(queries: readonly Query[]): Promise<Result[]> {
    const statements = queries.map(encodeQuery);
    this.statementCount += statements.length;
    try {
      const results = await runBatch(this.driver, statements);
      return results.map((raw) => decodeResult(raw));
    } catch (error) {
      throw toDatabaseError(error, this.driver.name);
    }
  }

  /**
   * Runs `fn` in one transaction. Over a stateless HTTP driver this throws `UnsupportedError`;
   * use `batch` there.
   */
  async transaction<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    const { driver } = this;
    if (!driver.transaction || !driver.capabilities.interactiveTransactions) {
      throw new UnsupportedError(
        `${driver.name} has no interactive transactions; use batch() (one atomic round trip) instead`,
      );
    }
    try {
      return await driver.transaction(async (tx) => {
        const inner = new Database(tx);
        try {
          return await fn(inner);
        } finally {
          this.statementCount += inner.statementCount;
        }
      });
    } catch (error) {
      throw toDatabaseError(error, driver.name);
    }
  }
}
