/**
 * Schema qualification for core SQL. With no schema, names resolve through the session's
 * search_path, as River does without Config.Schema.
 */

import { ValidationError } from '../errors.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** Throws unless `schema` is a plain Postgres identifier of at most 63 bytes. */
export function validateSchemaName(schema: string): void {
  if (!IDENTIFIER.test(schema) || new TextEncoder().encode(schema).length > 63) {
    throw new ValidationError(
      `schema '${schema}' is not a valid name: use letters, digits and underscores (at most 63, not starting with a digit)`,
      [{ path: 'schema', message: 'invalid identifier' }],
    );
  }
}

/** `"name".` for a schema, or '' for the search_path. */
export function schemaPrefix(schema: string | undefined): string {
  if (schema === undefined || schema === '') return '';
  validateSchemaName(schema);
  return `"${schema}".`;
}
