/**
 * Every error Eddy throws is an `EddyError`. Messages say what to do about it; a driver's own
 * error is kept as `cause`.
 *
 * Recognise them with `isEddyError(e)` (or a subclass's `is…` function) rather than
 * `instanceof`: with two copies of the package installed (a workspace, a bundled dependency),
 * `instanceof` fails across them; the brand, a `Symbol.for` key, is shared.
 */

import type { TickStats } from './runner/runner.js';

const BRAND = Symbol.for('eddy.error');

/** The brand's value is the error's kind, so subclasses can be told apart across copies too. */
function branded(value: unknown, kind?: string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const brand = (value as { [BRAND]?: unknown })[BRAND];
  return Array.isArray(brand) && (kind === undefined || brand.includes(kind));
}

/**
 * Adds a kind to an error's brand. Each class names itself in its constructor, as a literal,
 * so the brand survives minifiers that rename classes.
 */
export function brand(error: object, kind: string): void {
  const target = error as { [BRAND]?: string[] };
  target[BRAND] = [...(target[BRAND] ?? []), kind];
}

export class EddyError extends Error {
  override name = 'EddyError';
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    brand(this, 'EddyError');
  }
}

/** Whether `value` is an `EddyError` from any copy of Eddy. */
export function isEddyError(value: unknown): value is EddyError {
  return branded(value, 'EddyError');
}

/** Input that Eddy refuses before anything reaches the database. */
export class ValidationError extends EddyError {
  override name = 'ValidationError';
  /** One entry per problem: where it is (`args.email`, `priority`) and what is wrong. */
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, issues: readonly { path: string; message: string }[] = []) {
    super(message);
    brand(this, 'ValidationError');
    this.issues = issues;
  }
}

/**
 * Throws a `ValidationError` for one bad value: `path` says where it is (`args.email`,
 * `priority`), `message` what is wrong, `where` which call refused it (`insert(send_email)`).
 */
export function invalid(path: string, message: string, where?: string): never {
  throw new ValidationError(`${where ? `${where}: ` : ''}${path} ${message}`, [{ path, message }]);
}

/** Edit distance, for suggesting the option a misspelt key meant. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        (row[j] as number) + 1,
        (next[j - 1] as number) + 1,
        (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length] as number;
}

/**
 * Refuses keys of `value` that `known` lacks, naming the nearest known one: an option that is
 * misspelt, or that Eddy does not have, would otherwise be ignored without a word.
 */
export function refuseUnknownKeys(
  value: object,
  known: Readonly<Record<string, unknown>>,
  path: string,
  where: string,
): void {
  const names = Object.keys(known);
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(known, key)) continue;
    const scored = names.map((name) => ({
      name,
      d: distance(key.toLowerCase(), name.toLowerCase()),
    }));
    const best = scored.sort((a, b) => a.d - b.d)[0];
    const hint =
      best && best.d <= Math.max(2, key.length / 3) ? `; did you mean '${best.name}'?` : '';
    invalid(
      path ? `${path}.${key}` : key,
      `is not an option${hint} (known: ${names.join(', ')})`,
      where,
    );
  }
}

/** Whether `value` is a `ValidationError` from any copy of Eddy. */
export function isValidationError(value: unknown): value is ValidationError {
  return branded(value, 'ValidationError');
}

/** The driver cannot do what was asked (for example an interactive transaction over HTTP). */
export class UnsupportedError extends EddyError {
  override name = 'UnsupportedError';
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    brand(this, 'UnsupportedError');
  }
}

/** Details Postgres attaches to an error, when the driver reports them. */
export interface DatabaseErrorFields {
  /** SQLSTATE, e.g. `23505` for unique_violation. */
  code?: string;
  detail?: string;
  hint?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  severity?: string;
}

/** A statement failed in Postgres or on the way there. `code` is the SQLSTATE when known. */
export class DatabaseError extends EddyError {
  override name = 'DatabaseError';
  readonly code: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly schema: string | undefined;
  readonly column: string | undefined;
  readonly severity: string | undefined;
  constructor(message: string, fields: DatabaseErrorFields, options?: { cause?: unknown }) {
    super(message, options);
    brand(this, 'DatabaseError');
    this.code = fields.code;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.constraint = fields.constraint;
    this.table = fields.table;
    this.schema = fields.schema;
    this.column = fields.column;
    this.severity = fields.severity;
  }
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

function pick(source: Record<string, unknown>, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const value = source[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * Turns whatever a driver threw into a `DatabaseError` carrying the SQLSTATE and the original
 * error as `cause`. node-postgres, the Neon driver, postgres.js and PGlite name their fields
 * slightly differently (`constraint` vs `constraint_name`); this is the one place that knows.
 */
export function toDatabaseError(error: unknown, driverName: string): EddyError {
  if (isEddyError(error)) return error;
  const source = (typeof error === 'object' && error !== null ? error : {}) as Record<
    string,
    unknown
  >;
  const code = pick(source, 'code');
  const message = error instanceof Error ? error.message : String(error);
  return new DatabaseError(
    `${driverName}: ${message}`,
    {
      code: code && SQLSTATE.test(code) ? code : undefined,
      detail: pick(source, 'detail'),
      hint: pick(source, 'hint'),
      schema: pick(source, 'schema', 'schema_name'),
      table: pick(source, 'table', 'table_name'),
      column: pick(source, 'column', 'column_name'),
      constraint: pick(source, 'constraint', 'constraint_name'),
      severity: pick(source, 'severity'),
    },
    { cause: error },
  );
}

/** Whether `value` is a `DatabaseError` from any copy of Eddy. */
export function isDatabaseError(value: unknown): value is DatabaseError {
  return branded(value, 'DatabaseError');
}

/**
 * A tick could not record outcomes (or claim); the jobs it holds will be rescued when their
 * lease passes. `stats` says what the tick did before it failed.
 */
export class TickError extends EddyError {
  override name = 'TickError';
  constructor(
    message: string,
    readonly stats: TickStats,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    brand(this, 'TickError');
  }
}

/** Whether `value` is a `TickError` from any copy of Eddy. */
export function isTickError(value: unknown): value is TickError {
  return branded(value, 'TickError');
}

/**
 * What was asked for does not exist: a job id no row has (River's `ErrNotFound` from
 * `JobGet`), or a queue River does not know. `what` says which, `key` the id or name asked for.
 */
export class NotFoundError extends EddyError {
  override name = 'NotFoundError';
  constructor(
    readonly what: 'job' | 'queue',
    readonly key: string,
    message = `${what} ${what === 'job' ? key : JSON.stringify(key)} does not exist`,
  ) {
    super(message);
    brand(this, 'NotFoundError');
  }
}

/** Whether `value` is a `NotFoundError` from any copy of Eddy. */
export function isNotFoundError(value: unknown): value is NotFoundError {
  return branded(value, 'NotFoundError');
}
