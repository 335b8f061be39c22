/**
 * Turning job args and metadata into JSON text, refusing what JSON cannot carry faithfully
 * rather than letting `JSON.stringify` drop or change it silently.
 */

import { ValidationError } from '../errors.js';

const RAW_JSON = Symbol.for('eddy.rawJson');

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
  if (typeof value === 'bigint')
    return `a BigInt (${value}n); pass it as a string, or use rawJson()`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'number') return `${value}, which JSON cannot represent`;
  if (value === undefined) return 'undefined';
  const name = (value as object).constructor?.name ?? 'object';
  return `a ${name}, which is not a plain object; convert it to one first`;
}

/**
 * Serialises `value` to JSON text. Throws `ValidationError` naming the path of anything JSON
 * would lose: BigInt, functions, symbols, NaN/Infinity, cycles, Map/Set and other class
 * instances without `toJSON`, and `undefined` at the top level.
 */
export function toJsonText(value: unknown, label: string): string {
  if (isRawJson(value)) return value.text;
  const seen = new Set<object>();
  const check = (v: unknown, path: string): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v))
        throw new ValidationError(`${path} is ${describe(v)}`, [{ path, message: describe(v) }]);
      return;
    }
    if (typeof v !== 'object') {
      throw new ValidationError(`${path} is ${describe(v)}; JSON cannot carry it`, [
        { path, message: describe(v) },
      ]);
    }
    if (seen.has(v)) {
      throw new ValidationError(`${path} refers back to itself (a cycle); JSON cannot carry it`, [
        { path, message: 'cycle' },
      ]);
    }
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return; // Date and friends
    seen.add(v);
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        // JSON turns undefined and functions in arrays into null: refuse rather than change.
        if (item === undefined) {
          throw new ValidationError(`${path}[${i}] is undefined; use null`, [
            { path: `${path}[${i}]`, message: 'undefined' },
          ]);
        }
        check(item, `${path}[${i}]`);
      });
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new ValidationError(`${path} is ${describe(v)}`, [{ path, message: describe(v) }]);
      }
      for (const [key, item] of Object.entries(v)) {
        if (item === undefined) continue; // omitted, as JSON does for optional fields
        check(item, `${path}.${key}`);
      }
    }
    seen.delete(v);
  };
  if (value === undefined) {
    throw new ValidationError(`${label} is undefined; pass an object (use {} for no ${label})`, [
      { path: label, message: 'undefined' },
    ]);
  }
  check(value, label);
  return JSON.stringify(value);
}

const encoder = new TextEncoder();

/** UTF-8 byte length of a string. */
export function byteLength(text: string): number {
  return encoder.encode(text).length;
}
