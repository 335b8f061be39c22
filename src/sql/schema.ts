/**
 * Schema qualification for core SQL. With no schema, names resolve through the session's
 * search_path, as River does without Config.Schema.
 */

import { assertSchemaName, quoteIdentifier } from '../driver/schema-name.js';

/** `"name".` for a schema, or '' for the search_path. Throws `ValidationError` on a bad name. */
export function schemaPrefix(schema: string | undefined): string {
  if (schema === undefined || schema === '') return '';
  return `${quoteIdentifier(assertSchemaName(schema))}.`;
}
