/**
 * Value conversions at the JSON boundary of SQL over HTTP, with Neon's semantics.
 *
 * Parameters arrive as JSON and go to Postgres as text: strings as they are, `null` as SQL NULL,
 * booleans, numbers and objects as their JSON text, arrays as Postgres array literals. Results go
 * back as the server's exact text when the client asks for raw text output (the driver always
 * does); otherwise booleans, small integers, floats, json and arrays of them become JSON values,
 * and everything else (int8, numeric, timestamps, ...) stays text so no precision is lost.
 */

/** A JSON parameter as Postgres text. */
export function paramToText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value);
}

function arrayLiteral(items: readonly unknown[]): string {
  const parts = items.map((item) => {
    if (item === null || item === undefined) return 'NULL';
    if (Array.isArray(item)) return arrayLiteral(item);
    if (typeof item === 'boolean' || typeof item === 'number') return String(item);
    const text = typeof item === 'string' ? item : JSON.stringify(item);
    return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  });
  return `{${parts.join(',')}}`;
}

// Built-in array type OIDs and their element types; the elements below get JSON values.
const BOOL = 16;
const INT2 = 21;
const INT4 = 23;
const FLOAT4 = 700;
const FLOAT8 = 701;
const JSON_OID = 114;
const JSONB = 3802;
const TEXT = 25;
const ARRAY_ELEMENTS: Record<number, number> = {
  1000: BOOL,
  1005: INT2,
  1007: INT4,
  1021: FLOAT4,
  1022: FLOAT8,
  199: JSON_OID,
  3807: JSONB,
  // Arrays whose elements stay text, but which still come back as JSON arrays.
  1009: TEXT, // text[]
  1015: TEXT, // varchar[]
  1014: TEXT, // bpchar[]
  1016: TEXT, // int8[]
  1231: TEXT, // numeric[]
  1115: TEXT, // timestamp[]
  1185: TEXT, // timestamptz[]
  1182: TEXT, // date[]
  2951: TEXT, // uuid[]
  1001: TEXT, // bytea[]
  1003: TEXT, // name[]
};

/** A Postgres text value as JSON, for clients that did not ask for raw text. */
export function textToJson(text: string, typeId: number): unknown {
  const element = ARRAY_ELEMENTS[typeId];
  if (element !== undefined) return parseArray(text, element);
  return scalarToJson(text, typeId);
}

function scalarToJson(text: string, typeId: number): unknown {
  switch (typeId) {
    case BOOL:
      return text === 't';
    case INT2:
    case INT4:
      return Number(text);
    case FLOAT4:
    case FLOAT8: {
      const n = Number(text);
      return Number.isFinite(n) ? n : text; // NaN and ±Infinity have no JSON number
    }
    case JSON_OID:
    case JSONB:
      return JSON.parse(text);
    default:
      return text;
  }
}

/** Parses Postgres array output (`{1,2}`, `{{a,"b c"},{NULL,"\""}}`, `[0:1]={1,2}`). */
function parseArray(text: string, element: number): unknown[] {
  let i = 0;
  if (text.startsWith('[')) i = text.indexOf('=') + 1; // explicit bounds carry no JSON meaning
  const parseLevel = (): unknown[] => {
    if (text[i] !== '{') throw new SyntaxError('malformed array literal');
    i++;
    const items: unknown[] = [];
    if (text[i] === '}') {
      i++;
      return items;
    }
    for (;;) {
      if (text[i] === '{') {
        items.push(parseLevel());
      } else if (text[i] === '"') {
        let value = '';
        for (i++; text[i] !== '"'; i++) {
          if (i >= text.length) throw new SyntaxError('unterminated quoted array element');
          if (text[i] === '\\') i++;
          value += text[i];
        }
        i++;
        items.push(scalarToJson(value, element));
      } else {
        const start = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
        const raw = text.slice(start, i).trim();
        items.push(raw === 'NULL' ? null : scalarToJson(raw, element));
      }
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return items;
      }
      throw new SyntaxError('malformed array literal');
    }
  };
  return parseLevel();
}
