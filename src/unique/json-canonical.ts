/**
 * JSON exactly as Go's `encoding/json` would put it on the wire, for hashes that must match
 * River byte for byte.
 *
 * Go River hashes *encoded* args: the text `json.Marshal` produced, sliced and reassembled with
 * gjson/sjson. Two things about that text matter and `JSON.stringify` gets both wrong:
 *
 * - strings escape `<`, `>`, `&`, U+2028 and U+2029 (`\u003c`, …); `-0` stays `-0`;
 * - raw JSON keeps its own number text (`1e+100`, `18446744073709551615`) and escapes, and its
 *   duplicate keys — `json.Marshal` only compacts a `json.RawMessage` (and escapes as above).
 *
 * So JSON is parsed here into a tree that keeps each token's text, never into JS numbers.
 */

import { invalid } from '../errors.js';
import { isRawJson, MAX_JSON_DEPTH } from '../insert/json-args.js';

/** A parsed JSON value whose tokens keep their Go wire text. */
export type JsonNode =
  | { readonly type: 'object'; readonly members: readonly JsonMember[] }
  | { readonly type: 'array'; readonly items: readonly JsonNode[] }
  /** A number, string (quoted and escaped), `true`, `false` or `null`, as Go writes it. */
  | { readonly type: 'scalar'; readonly text: string };

/** One object member: the decoded key, its wire text, and the value. Duplicates are kept. */
export interface JsonMember {
  readonly key: string;
  readonly keyText: string;
  readonly value: JsonNode;
}

const MAX_DEPTH = MAX_JSON_DEPTH;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// Integers a Go int64/uint64 holds exactly but a JS number cannot: a JS number in this range
// has usually lost digits already (JSON.parse rounds silently), so it is refused, not hashed.
const TWO_53 = 2 ** 53;
const TWO_64 = 2 ** 64;

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** The extra escaping `json.Marshal` applies inside string tokens (its HTML-safe default). */
function escapeLikeGo(token: string): string {
  return token.replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] as string);
}

/** A string as Go's `json.Marshal` writes it. */
export function quoteLikeGo(value: string): string {
  return escapeLikeGo(JSON.stringify(value));
}

// With the `u` flag a paired surrogate is one code point, so this finds only lone halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Refuses strings that are not valid Unicode; UTF-8 (Go, Postgres) cannot carry them. */
export function checkWellFormed(value: string, path: string): void {
  if (LONE_SURROGATE.test(value)) {
    invalid(path, 'contains a lone UTF-16 surrogate, which is not valid Unicode; fix the string');
  }
}

/** Compares strings by UTF-8 bytes (= code points), as Go's `sort.Strings` does. */
export function compareUtf8(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(j) as number;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return (a.length - i > 0 ? 1 : 0) - (b.length - j > 0 ? 1 : 0);
}

/**
 * A key as sjson writes it when River reassembles args: verbatim between quotes unless it holds
 * a control character, `"`, `\` or non-ASCII, in which case `json.Marshal` quotes it. So `a<b`
 * stays `"a<b"` but `é<` becomes `"é\u003c"`.
 */
export function sjsonKey(key: string): string {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) return quoteLikeGo(key);
  }
  return `"${key}"`;
}

/** Writes a node as compact JSON with Go's escaping. */
export function compactJson(node: JsonNode): string {
  switch (node.type) {
    case 'scalar':
      return node.text;
    case 'array':
      return `[${node.items.map(compactJson).join(',')}]`;
    case 'object':
      return `{${node.members.map((m) => `${m.keyText}:${compactJson(m.value)}`).join(',')}}`;
  }
}

/**
 * Parses JSON text keeping each token's text: numbers exactly as written, strings with their
 * own escapes (plus Go's `<>&` escaping), duplicate keys in order. `path` names the input in
 * errors (`args`).
 */
export function parseJsonExact(text: string, path: string): JsonNode {
  let pos = 0;
  const fail = (what: string): never =>
    invalid(path, `is not valid JSON: ${what} at offset ${pos}; fix the JSON text`);
  const skipSpace = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      pos++;
    }
  };
  const expect = (literal: string) => {
    if (!text.startsWith(literal, pos)) fail(`expected '${literal}'`);
    pos += literal.length;
  };
  const hex4 = (at: number): number => {
    const digits = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) fail('bad \\u escape');
    return Number.parseInt(digits, 16);
  };

  // Returns the decoded string and its raw token (quotes included).
  const parseString = (): { value: string; token: string } => {
    const start = pos;
    pos++; // opening quote
    let value = '';
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        pos++;
        break;
      }
      if (c < 0x20) fail('control character in string (escape it)');
      if (c !== 0x5c) {
        value += text[pos];
        pos++;
        continue;
      }
      const e = text[pos + 1];
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (e !== undefined && e in simple) {
        value += simple[e];
        pos += 2;
        continue;
      }
      if (e !== 'u') fail('bad escape');
      const unit = hex4(pos + 2);
      pos += 6;
      if (unit >= 0xd800 && unit <= 0xdbff && text.startsWith('\\u', pos)) {
        const low = hex4(pos + 2);
        if (low >= 0xdc00 && low <= 0xdfff) {
          value += String.fromCharCode(unit, low);
          pos += 6;
          continue;
        }
      }
      value += String.fromCharCode(unit);
    }
    const token = text.slice(start, pos);
    checkWellFormed(value, path);
    return { value, token: escapeLikeGo(token) };
  };

  const parseValue = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`);
    skipSpace();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const members: JsonMember[] = [];
      skipSpace();
      if (text[pos] === '}') {
        pos++;
        return { type: 'object', members };
      }
      for (;;) {
        skipSpace();
        if (text[pos] !== '"') fail('expected a string key');
        const key = parseString();
        skipSpace();
        expect(':');
        members.push({ key: key.value, keyText: key.token, value: parseValue(depth + 1) });
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect('}');
        return { type: 'object', members };
      }
    }
    if (c === '[') {
      pos++;
      const items: JsonNode[] = [];
      skipSpace();
      if (text[pos] === ']') {
        pos++;
        return { type: 'array', items };
      }
      for (;;) {
        items.push(parseValue(depth + 1));
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect(']');
        return { type: 'array', items };
      }
    }
    if (c === '"') return { type: 'scalar', text: parseString().token };
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, pos)) {
        pos += literal.length;
        return { type: 'scalar', text: literal };
      }
    }
    NUMBER.lastIndex = pos;
    const number = NUMBER.exec(text)?.[0];
    if (number === undefined) return fail('unexpected character');
    pos += number.length;
    return { type: 'scalar', text: number };
  };

  const node = parseValue(0);
  skipSpace();
  if (pos !== text.length) fail('unexpected text after the value');
  return node;
}

/** Go's `time.Time` JSON: RFC 3339 with trailing zeros of the fraction trimmed (`…05.5Z`). */
function timeLikeGo(date: Date, path: string): string {
  if (Number.isNaN(date.getTime())) invalid(path, 'is an invalid Date');
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999)
    invalid(path, `is in year ${year}; Go (River) encodes only years 0000–9999`);
  const iso = date.toISOString(); // 4-digit year in this range
  return iso.replace(/\.(\d{3})Z$/, (_, ms: string) =>
    ms === '000' ? 'Z' : `.${ms.replace(/0+$/, '')}Z`,
  );
}

function numberLikeGo(value: number, path: string): string {
  if (!Number.isFinite(value))
    invalid(path, `is ${value}, which JSON cannot carry (Go: unsupported value)`);
  if (Object.is(value, -0)) return '-0'; // Go's float64 encoding keeps the sign
  const magnitude = Math.abs(value);
  if (Number.isInteger(value) && magnitude >= TWO_53 && magnitude < TWO_64) {
    invalid(
      path,
      `is ${value}, an integer beyond JavaScript's exact range (±2^53−1) that may already have ` +
        'lost digits; pass it as a bigint, or give the args as rawJson(text)',
    );
  }
  // For finite doubles JS's shortest round-trip text equals Go's float64 encoding: fixed
  // notation within [1e-6, 1e21), exponent form (`1e-7`, `1e+21`) outside it.
  return String(value);
}

/**
 * Turns a JS value (or `rawJson()` text) into a node encoded as Go's `json.Marshal` would encode
 * the equivalent Go value. Refuses, with the path, anything JSON would lose or Go would encode
 * differently: NaN/Infinity, integers in [2^53, 2^64), lone surrogates, `undefined` in arrays,
 * functions, symbols, Map/Set and other class instances without `toJSON`, cycles.
 */
export function jsonNodeFromValue(value: unknown, path: string): JsonNode {
  const seen = new Set<object>();
  // `key` is what JSON.stringify would pass to toJSON: the property name, index or ''.
  const convert = (v: unknown, at: string, key: string, depth: number): JsonNode => {
    if (depth > MAX_DEPTH) invalid(at, `nests deeper than ${MAX_DEPTH} levels`);
    if (v === null) return { type: 'scalar', text: 'null' };
    if (typeof v === 'boolean') return { type: 'scalar', text: String(v) };
    if (typeof v === 'string') {
      checkWellFormed(v, at);
      return { type: 'scalar', text: quoteLikeGo(v) };
    }
    if (typeof v === 'number') return { type: 'scalar', text: numberLikeGo(v, at) };
    if (typeof v === 'bigint') return { type: 'scalar', text: v.toString() };
    if (v === undefined)
      invalid(at, 'is undefined; JSON has no undefined (use null or omit the key)');
    if (typeof v !== 'object') invalid(at, `is a ${typeof v}, which JSON cannot carry`);
    const object = v as object;
    if (isRawJson(object)) return parseJsonExact(object.text, at);
    if (object instanceof Date)
      return { type: 'scalar', text: quoteLikeGo(timeLikeGo(object, at)) };
    if (seen.has(object)) invalid(at, 'refers back to itself (a cycle), which JSON cannot carry');
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      return convert(toJSON.call(object, key), at, key, depth + 1);
    }
    seen.add(object);
    try {
      if (Array.isArray(object)) {
        const items: JsonNode[] = [];
        for (let i = 0; i < object.length; i++) {
          const item: unknown = object[i];
          if (item === undefined) invalid(`${at}[${i}]`, 'is undefined (or a hole); use null');
          items.push(convert(item, `${at}[${i}]`, String(i), depth + 1));
        }
        return { type: 'array', items };
      }
      const proto: unknown = Object.getPrototypeOf(object);
      if (proto !== Object.prototype && proto !== null) {
        const name = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        invalid(
          at,
          `is a ${name}, not a plain object; convert it to a plain object or array first`,
        );
      }
      const members: JsonMember[] = [];
      for (const [name, item] of Object.entries(object)) {
        if (item === undefined) continue; // omitted, as JSON.stringify and Go's omitempty do
        checkWellFormed(name, `${at} key`);
        const value = convert(item, `${at}.${name}`, name, depth + 1);
        members.push({ key: name, keyText: quoteLikeGo(name), value });
      }
      return { type: 'object', members };
    } finally {
      seen.delete(object);
    }
  };
  return convert(value, path, '', 0);
}

/**
 * The JSON text Go River would store and hash for these args: compact, Go-escaped, numbers as
 * Go writes them; `rawJson()` text keeps its own numbers and key order.
 *
 * @example
 * ```ts
 * encodeJsonLikeGo({ html: '<b>', n: -0 }, 'args'); // '{"html":"\u003cb\u003e","n":-0}'
 * ```
 */
export function encodeJsonLikeGo(value: unknown, path: string): string {
  return compactJson(jsonNodeFromValue(value, path));
}
