/**
 * Text encoding of parameters and decoding of results, done once for every driver.
 *
 * Adapters switch their driver's type parsing off (see `driver.ts`), so this file alone decides
 * what a Postgres value becomes in JavaScript:
 *
 * | Postgres                  | JavaScript                              |
 * |---------------------------|-----------------------------------------|
 * | int8                      | `bigint` (never a lossy `number`)       |
 * | int2, int4, oid, float    | `number`                                |
 * | numeric                   | `string` (exact)                        |
 * | bool                      | `boolean`                               |
 * | json, jsonb               | parsed; big integers `bigint` (json.ts) |
 * | bytea                     | `Uint8Array`                            |
 * | timestamptz, timestamp    | `Date` (select `::text` for microseconds) |
 * | arrays of the above       | arrays                                  |
 * | text, varchar, bit, enum… | `string`                                |
 */

import { ValidationError } from '../errors.js';
import { parseJson } from './json.js';

/** A value the core may pass as a parameter. Objects are sent as JSON. */
export type Param =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | null
  | undefined
  | readonly Param[]
  | { readonly [key: string]: unknown };

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function bytesToHex(bytes: Uint8Array): string {
  let out = '\\x';
  for (const byte of bytes) out += HEX[byte];
  return out;
}

function hexToBytes(text: string): Uint8Array {
  // bytea_output = hex (the default since PostgreSQL 9.0): `\x` followed by two digits a byte.
  const hex = text.startsWith('\\x') ? text.slice(2) : text;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const NEEDS_ESCAPE = /["\\]/;

function quoteArrayElement(text: string): string {
  // Most elements (kinds, queues, states, numbers) need no escaping: skip the regex replace.
  return NEEDS_ESCAPE.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`;
}

function encodeArray(values: readonly Param[]): string {
  let out = '{';
  for (let k = 0; k < values.length; k++) {
    const value = values[k];
    if (k > 0) out += ',';
    if (value === null || value === undefined) out += 'NULL';
    else if (Array.isArray(value)) out += encodeArray(value);
    else out += quoteArrayElement(encodeParam(value) as string);
  }
  return `${out}}`;
}

/**
 * Encodes one parameter as Postgres text. SQL in the core casts every placeholder
 * (`$1::jsonb`), so the server never has to guess a type.
 */
export function encodeParam(value: Param): string | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return String(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime()))
      throw new ValidationError('Invalid Date passed as a query parameter');
    return value.toISOString();
  }
  if (value instanceof Uint8Array) return bytesToHex(value);
  if (Array.isArray(value)) return encodeArray(value);
  return JSON.stringify(value);
}

export function encodeParams(values: readonly Param[]): (string | null)[] {
  return values.map(encodeParam);
}

// Type OIDs from pg_type.dat; stable across PostgreSQL versions.
const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  timestamp: 1114,
  timestamptz: 1184,
  jsonb: 3802,
} as const;

type Decoder = (text: string) => unknown;

const TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * Epoch ms of the shape Postgres prints nearly always (`2024-05-01 12:34:56.789012+00`, year
 * 100–9999, offset in hours or hours:minutes), read without a regex; undefined for anything
 * else, which the general parser handles. Decoding claimed jobs reads three per row.
 */
function parseCommonTimestamp(text: string): number | undefined {
  const length = text.length;
  if (length < 19 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const separator = text.charCodeAt(10);
  if ((separator !== 32 && separator !== 84) || text.charCodeAt(13) !== 58) return undefined;
  if (text.charCodeAt(16) !== 58) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 100 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  let i = 19;
  let ms = 0;
  if (text.charCodeAt(i) === 46) {
    // Fraction: 1–6 digits, of which milliseconds are the first three.
    const start = ++i;
    while (i < length && i - start < 6) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      if (i - start < 3) ms = ms * 10 + d;
      i++;
    }
    if (i === start) return undefined;
    for (let n = Math.min(i - start, 3); n < 3; n++) ms *= 10;
  }
  let offsetMinutes = 0;
  if (i < length) {
    const sign = text.charCodeAt(i);
    if (sign !== 43 && sign !== 45) return undefined;
    const hours = digitsAt(text, i + 1, 2);
    if (hours < 0) return undefined;
    i += 3;
    let minutes = 0;
    if (i < length) {
      if (text.charCodeAt(i) !== 58 || i + 3 !== length) return undefined;
      minutes = digitsAt(text, i + 1, 2);
      if (minutes < 0) return undefined;
      i += 3;
    }
    if (i !== length) return undefined;
    offsetMinutes = (sign === 45 ? -1 : 1) * (hours * 60 + minutes);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

/** Parses Postgres timestamp output (ISO DateStyle). Values without an offset are read as UTC. */
export function parseTimestamp(text: string): Date {
  const fast = parseCommonTimestamp(text);
  if (fast !== undefined) return new Date(fast);
  if (text === 'infinity') return new Date(8.64e15);
  if (text === '-infinity') return new Date(-8.64e15);
  const m = TIMESTAMP.exec(text);
  if (!m) return new Date(Number.NaN);
  let year = Number(m[1]);
  if (m[12]) year = 1 - year;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000 + 1e-9) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), ms);
  if (m[8]) {
    const sign = m[8] === '-' ? -1 : 1;
    const offsetSeconds = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0);
    date.setTime(date.getTime() - sign * offsetSeconds * 1000);
  }
  return date;
}

function parseFloatText(text: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === 'Infinity') return Number.POSITIVE_INFINITY;
  if (text === '-Infinity') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/**
 * Parses a Postgres array literal (`{a,"b c",NULL,{1,2}}`) applying `element` to each item.
 */
export function parseArray(text: string, element: Decoder): unknown[] {
  // The usual shape (`{}`, `{eddy:…}`, `{1,2}`): one dimension, nothing quoted. Postgres quotes
  // every element holding a delimiter, brace, quote or space, so splitting on commas is exact.
  if (text.charCodeAt(0) === 123 && text.indexOf('"') === -1 && text.indexOf('{', 1) === -1) {
    if (text.length === 2) return [];
    const items: unknown[] = text.slice(1, -1).split(',');
    for (let k = 0; k < items.length; k++) {
      const raw = items[k] as string;
      items[k] = raw === 'NULL' ? null : element(raw);
    }
    return items;
  }
  const cursor = { at: 0 };
  // Arrays with non-default bounds print as `[0:2]={...}`; the bounds carry nothing we use.
  if (text[0] === '[') cursor.at = text.indexOf('=') + 1;
  return parseLevel(text, cursor, element);
}

function parseLevel(text: string, cursor: { at: number }, element: Decoder): unknown[] {
  const out: unknown[] = [];
  let i = cursor.at + 1; // past '{'
  if (text[i] === '}') {
    cursor.at = i + 1;
    return out;
  }
  for (;;) {
    const ch = text[i];
    if (ch === '{') {
      cursor.at = i;
      out.push(parseLevel(text, cursor, element));
      i = cursor.at;
    } else if (ch === '"') {
      i++;
      let value = '';
      let start = i;
      while (text[i] !== '"') {
        if (text[i] === '\\') {
          value += text.slice(start, i);
          i++; // the escaped character is taken literally
          start = i;
        }
        i++;
      }
      value += text.slice(start, i);
      i++;
      out.push(element(value));
    } else {
      let end = i;
      while (text[end] !== ',' && text[end] !== '}') end++;
      const raw = text.slice(i, end);
      out.push(raw === 'NULL' ? null : element(raw));
      i = end;
    }
    if (text[i] === ',') {
      i++;
      continue;
    }
    cursor.at = i + 1; // past '}'
    return out;
  }
}

const identity: Decoder = (text) => text;

const scalarDecoders = new Map<number, Decoder>([
  [OID.bool, (t) => t === 't' || t === 'true'],
  [OID.bytea, hexToBytes],
  [OID.int8, (t) => BigInt(t)],
  [OID.int2, Number],
  [OID.int4, Number],
  [OID.oid, Number],
  [OID.json, parseJson],
  [OID.jsonb, parseJson],
  [OID.float4, parseFloatText],
  [OID.float8, parseFloatText],
  [OID.timestamp, parseTimestamp],
  [OID.timestamptz, parseTimestamp],
]);

// Array type OID -> element decoder. Arrays of types not listed (enums, ...) stay text.
const arrayElements: [number, Decoder][] = [
  [1000, scalarDecoders.get(OID.bool) as Decoder],
  [1001, hexToBytes],
  [1005, Number],
  [1007, Number],
  [1016, (t) => BigInt(t)],
  [1028, Number],
  [199, parseJson],
  [3807, parseJson],
  [1021, parseFloatText],
  [1022, parseFloatText],
  [1115, parseTimestamp],
  [1185, parseTimestamp],
  // text-like arrays: text, varchar, bpchar, name, uuid, numeric, bit, varbit, date
  [1009, identity],
  [1015, identity],
  [1014, identity],
  [1003, identity],
  [2951, identity],
  [1231, identity],
  [1561, identity],
  [1563, identity],
  [1182, identity],
];

const decoders = new Map<number, Decoder>(scalarDecoders);
for (const [oid, element] of arrayElements) decoders.set(oid, (t) => parseArray(t, element));

/** `columnDecoder`'s functions, one per type OID seen (a handful): none made per result. */
const columnDecoders = new Map<number, (text: string | null | undefined) => unknown>();

/** Decodes one text value of the given type OID. Unknown types stay text. */
export function decodeValue(text: string | null, typeId: number): unknown {
  return columnDecoder(typeId)(text);
}

/**
 * `decodeValue` for one column: the decoder is picked once, for decoding many rows.
 *
 * @example
 * ```ts
 * const decodeId = columnDecoder(result.fields[0].typeId);
 * const ids = result.rows.map((row) => decodeId(row[0]));
 * ```
 */
export function columnDecoder(typeId: number): (text: string | null | undefined) => unknown {
  let column = columnDecoders.get(typeId);
  if (!column) {
    const decoder = decoders.get(typeId);
    // A driver that parsed the value itself despite being asked not to: keep its value.
    column = decoder
      ? (text) => (typeof text === 'string' ? decoder(text) : (text ?? null))
      : (text) => text ?? null;
    columnDecoders.set(typeId, column);
  }
  return column;
}
