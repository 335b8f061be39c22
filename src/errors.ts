/**
 * Every error Eddy throws is an `EddyError`. Messages say what to do about it; a driver's own
 * error is kept as `cause`.
 */
export class EddyError extends Error {
  override name = 'EddyError';
}

/** Input that Eddy refuses before anything reaches the database. */
export class ValidationError extends EddyError {
  override name = 'ValidationError';
  /** One entry per problem: where it is (`args.email`, `priority`) and what is wrong. */
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, issues: readonly { path: string; message: string }[] = []) {
    super(message);
    this.issues = issues;
  }
}

/** The driver cannot do what was asked (for example an interactive transaction over HTTP). */
export class UnsupportedError extends EddyError {
  override name = 'UnsupportedError';
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
  if (error instanceof EddyError) return error;
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
