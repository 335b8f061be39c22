/**
 * Turning job args and metadata into JSON text, refusing what JSON or Postgres cannot carry
 * faithfully rather than letting `JSON.stringify` drop or change it silently, or the database
 * refuse it (which would abort the caller's transaction).
 *
 * Big integers: a JSON integer beyond ±(2^53−1) is a `bigint` in JavaScript both ways. Workers
 * receive one as a `bigint` (`driver/json.ts`), so such a `bigint` is accepted here and stored
 * as its digits; a `number` there is refused (it may already be rounded, and would come back a
 * `bigint`), and so is a `bigint` within the safe range (it would come back a `number`).
 */

import { invalid, ValidationError } from '../errors.js';

const RAW_JSON = Symbol.for('eddy.rawJson');

/** Deepest nesting accepted in args and metadata (the unique-key encoder shares it). */
export const MAX_JSON_DEPTH = 1000;

/** Args given as exact JSON text, e.g. numbers a JS `number` cannot hold. See `rawJson()`. */
export interface RawJson {
  readonly [RAW_JSON]: true;
  readonly text: string;
}

export function isRawJson(value: unknown): value is RawJson {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[RAW_JSON] === true
  );
}

/**
 * Wraps JSON text to be stored exactly as written (after checking it parses).
 *
 * @example
 * ```ts
 * await eddy.insert('ledger_entry', rawJson('{"amount": 12345678901234567890}'));
 * ```
 */
export function rawJson(text: string): RawJson {
  try {
    JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`rawJson(): not valid JSON: ${(error as Error).message}`);
  }
  return Object.freeze({ [RAW_JSON]: true as const, text });
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'number') return `${value}, which JSON cannot represent`;
  if (value === undefined) return 'undefined';
  const name = (value as object).constructor?.name ?? 'object';
  return `a ${name}, which is not a plain object; convert it to one first`;
}

// NUL (Postgres text and jsonb refuse it: 22P05) or half of a UTF-16 pair without its other
// half (not Unicode; refused as 22P02). With the `u` flag a paired surrogate is one code point.
const NOT_STORABLE = /[\0\uD800-\uDFFF]/u;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Refuses a string Postgres cannot store, naming where it is. */
export function checkStorableText(value: string, path: string, where?: string): void {
  if (!NOT_STORABLE.test(value)) return;
  const what = value.includes('\0')
    ? 'contains NUL (U+0000), which Postgres cannot store; remove it'
    : 'contains a lone UTF-16 surrogate, which is not valid Unicode; fix the string';
  invalid(path, what, where);
}

/**
 * Checks that `value` becomes the same value in JSON, stored in jsonb and read back (see the
 * file's comment); throws a `ValidationError` naming the path of anything that would not.
 * Returns whether it holds a `bigint`. `fromText`: `value` was parsed from `rawJson()` text.
 */
export function checkJsonValue(
  value: unknown,
  label: string,
  where?: string,
  fromText = false,
): boolean {
  const seen = new Set<object>();
  let bigints = false;
  // Recursive, but bounded by MAX_JSON_DEPTH, far below any engine's stack.
  const check = (v: unknown, path: string, key: string, depth: number): void => {
    if (depth > MAX_JSON_DEPTH) {
      invalid(path, `nests deeper than ${MAX_JSON_DEPTH} levels, the most Eddy accepts`, where);
    }
    if (v === null || typeof v === 'boolean') return;
    if (typeof v === 'string') {
      checkStorableText(v, path, where);
      return;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) invalid(path, `is ${describe(v)}`, where);
      // Parsed from JSON text, a number this large had a fraction (jsonb keeps it, see json.ts).
      if (!fromText && Number.isInteger(v) && !Number.isSafeInteger(v)) {
        invalid(
          path,
          `is ${v}, a number beyond ±(2^53−1): it may already have lost digits, and workers would receive it as a bigint; pass a bigint (or a string)`,
          where,
        );
      }
      return;
    }
    if (typeof v === 'bigint') {
      if (v >= -MAX_SAFE && v <= MAX_SAFE) {
        invalid(
          path,
          `is a BigInt (${v}n) within ±(2^53−1), which workers would receive as a number; pass a number (or a string)`,
          where,
        );
      }
      bigints = true;
      return;
    }
    if (typeof v !== 'object') invalid(path, `is ${describe(v)}; JSON cannot carry it`, where);
    if (seen.has(v)) invalid(path, 'refers back to itself (a cycle); JSON cannot carry it', where);
    if (v instanceof Date) {
      // JSON.stringify writes an invalid Date as null.
      if (Number.isNaN(v.getTime())) invalid(path, 'is an invalid Date', where);
      return;
    }
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    const json: unknown = typeof toJSON === 'function' ? toJSON.call(v, key) : v;
    seen.add(v);
    if (json !== v) {
      check(json, path, key, depth + 1); // what JSON.stringify will write
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        // JSON turns undefined (and holes) in arrays into null: refuse rather than change.
        if (v[i] === undefined) invalid(`${path}[${i}]`, 'is undefined; use null', where);
        check(v[i], `${path}[${i}]`, String(i), depth + 1);
      }
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) invalid(path, `is ${describe(v)}`, where);
      for (const [name, item] of Object.entries(v)) {
        if (item === undefined) continue; // omitted, as JSON does for optional fields
        checkStorableText(name, `${path} key ${JSON.stringify(name)}`, where);
        check(item, `${path}.${name}`, name, depth + 1);
      }
    }
    seen.delete(v);
  };
  if (value === undefined) {
    invalid(label, `is undefined; pass an object (use {} for no ${label})`, where);
  }
  check(value, label, '', 0);
  return bigints;
}

// A bigint travels through JSON.stringify as this marker: NUL cannot occur in a checked string.
const BIGINT_MARK = '\0bigint:';
const BIGINT_MARKED = /"\\u0000bigint:(-?\d+)"/g;

/**
 * Whether `value` is made only of what JSON carries unchanged, so that `JSON.stringify` alone
 * is exact: plain objects and arrays (no `toJSON`, no holes or undefined elements), strings,
 * booleans, null, finite numbers that are no unsafe integers. Strings are not checked here (see
 * `UNSTORABLE_ESCAPE`). No paths, no cycle set: anything else, a cycle included (it runs past
 * the depth limit), goes to `checkJsonValue`, which says what is wrong and where. This walk is
 * what nearly every insert takes; building a path for every value cost more than the rest of
 * the check and `JSON.stringify` together.
 */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isSafeInteger(value) || (Number.isFinite(value) && !Number.isInteger(value));
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_JSON_DEPTH) return false;
  if ((value as { toJSON?: unknown }).toJSON !== undefined) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined || !isPlainJson(item, depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const item = (value as Record<string, unknown>)[keys[i] as string];
    if (item !== undefined && !isPlainJson(item, depth + 1)) return false;
  }
  return true;
}

/**
 * How `JSON.stringify` writes NUL and lone surrogates (as `\u0000`, `\ud800`…; a surrogate pair
 * stays as it is), so one scan of the text finds any string or key Postgres cannot store. Text
 * that merely spells such an escape (`"\\u0000"`) takes the exact check too.
 */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f])/;

/**
 * `value`'s JSON text when it is plain JSON (`isPlainJson`) with nothing Postgres cannot store:
 * the insert's fast path. Undefined otherwise; `toJsonText` then says what is wrong, if anything.
 */
export function plainJsonText(value: unknown): string | undefined {
  if (typeof value !== 'object' || isRawJson(value) || !isPlainJson(value, 0)) return undefined;
  const text = JSON.stringify(value);
  return UNSTORABLE_ESCAPE.test(text) ? undefined : text;
}

/**
 * A copy of a value `plainJsonText` wrote: the same as `JSON.parse` of that text (-0 as 0,
 * undefined members left out, `__proto__` an own key, plain prototypes), about four times
 * faster for small args. Given back to the inserter as the args a worker will read.
 */
export function copyPlainJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return Object.is(value, -0) ? 0 : value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyPlainJson(value[i]);
    return out;
  }
  const out: Record<string, unknown> = {};
  // Own enumerable keys, in the order JSON.stringify writes them.
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (key === '__proto__') {
      Object.defineProperty(out, key, {
        value: copyPlainJson(item),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    } else out[key] = copyPlainJson(item);
  }
  return out;
}

/**
 * Serialises `value` to JSON text after `checkJsonValue`; a `rawJson()` value is its own text
 * (check its parsed value with `checkJsonValue` first).
 */
export function toJsonText(value: unknown, label: string, where?: string): string {
  if (isRawJson(value)) return value.text;
  const plain = plainJsonText(value);
  if (plain !== undefined) return plain;
  if (!checkJsonValue(value, label, where)) return JSON.stringify(value);
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint' ? BIGINT_MARK + v : v,
  ).replace(BIGINT_MARKED, '$1');
}

const encoder = new TextEncoder();

/** UTF-8 byte length of a string. */
export function byteLength(text: string): number {
  return encoder.encode(text).length;
}
