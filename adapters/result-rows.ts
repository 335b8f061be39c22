/**
 * Results from query builders (Drizzle, Kysely) that ran the statement through their own
 * driver: rows may be objects or arrays and values may be parsed already. The core's decoder
 * keeps values a driver parsed itself and decodes the ones left as text.
 */

import type { RawResult } from '../src/driver/index.js';

interface BuilderResult {
  rows?: unknown[];
  fields?: { name: string; dataTypeID?: number }[];
  rowCount?: number | null;
  numAffectedRows?: bigint | number;
}

export function toRawResult(result: unknown): RawResult {
  const r: BuilderResult = Array.isArray(result)
    ? { rows: result }
    : ((result ?? {}) as BuilderResult);
  const rows = r.rows ?? [];
  const first = rows[0];
  const fields =
    r.fields?.map((f) => ({ name: f.name, typeId: f.dataTypeID ?? 0 })) ??
    (first && typeof first === 'object' && !Array.isArray(first)
      ? Object.keys(first).map((name) => ({ name, typeId: 0 }))
      : []);
  const asArrays = rows.map((row) =>
    Array.isArray(row) ? row : fields.map((f) => (row as Record<string, unknown>)[f.name]),
  ) as (string | null)[][];
  const affected =
    r.rowCount ?? (r.numAffectedRows === undefined ? undefined : Number(r.numAffectedRows));
  return { fields, rows: asArrays, rowCount: affected ?? rows.length };
}

/** Splits `$1`-style SQL into literal parts and the parameter index each part is followed by. */
export function splitPlaceholders(text: string): { parts: string[]; indexes: number[] } {
  const parts: string[] = [];
  const indexes: number[] = [];
  let last = 0;
  for (const match of text.matchAll(/\$(\d+)/g)) {
    parts.push(text.slice(last, match.index));
    indexes.push(Number(match[1]) - 1);
    last = (match.index ?? 0) + match[0].length;
  }
  parts.push(text.slice(last));
  return { parts, indexes };
}
