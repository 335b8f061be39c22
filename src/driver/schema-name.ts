/**
 * Schema names: checked before anything reaches the database, then always quoted.
 */

import { ValidationError } from '../errors.js';

// An identifier that needs no quotes in psql: a letter or underscore, then letters, digits, `_`
// or `$`. Names that need quoting invite mistakes (`Jobs` vs `jobs`) and are refused. The same
// rule as src/sql/schema.ts applies to the client's SQL.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;
// NAMEDATALEN - 1: longer names are silently truncated by Postgres.
const MAX_BYTES = 63;

/**
 * Returns `name` if it is a usable schema name, otherwise throws `ValidationError`.
 *
 * @example
 * ```ts
 * assertSchemaName('jobs'); // 'jobs'
 * assertSchemaName('jobs; drop table x'); // throws ValidationError
 * ```
 */
export function assertSchemaName(name: unknown): string {
  const problem = schemaNameProblem(name);
  if (problem) {
    throw new ValidationError(`Invalid schema name: ${problem}`, [
      { path: 'schema', message: problem },
    ]);
  }
  return name as string;
}

function schemaNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `expected a string, got ${typeof name}`;
  if (name === '') return 'it is empty';
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_BYTES)
    return `${JSON.stringify(name)} is ${bytes} bytes; Postgres allows ${MAX_BYTES}`;
  if (!IDENTIFIER.test(name)) {
    return `${JSON.stringify(name)} must start with a letter or underscore and contain only ASCII letters, digits, _ and $`;
  }
  if (name.toLowerCase().startsWith('pg_'))
    return `${JSON.stringify(name)}: names starting with pg_ are reserved by Postgres`;
  return undefined;
}

/** Quotes an identifier for SQL text: `my"schema` becomes `"my""schema"`. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The prefix that qualifies the core's table names: `"name".` for a schema, or '' to resolve
 * through the session's search_path, as River does without Config.Schema. Throws
 * `ValidationError` on a bad name.
 */
export function schemaPrefix(schema: string | undefined): string {
  if (schema === undefined || schema === '') return '';
  return `${quoteIdentifier(assertSchemaName(schema))}.`;
}
