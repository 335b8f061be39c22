import { describe, expect, it } from 'vitest';
import { hasLongDigitRun, parseJson, parseJsonAsJsonb } from './json.js';

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ['', 'a', '12345678901234567890', 'é', '🎉', 'q"uo\\te', 'line\nbreak', '\u2028'];
const NUMBERS = [0, -0, 1, -1, 1.5, 9007199254740991, -9007199254740991, 1.2345678901234567, 1e-7];

/** A random JSON value with no integer beyond ±(2^53−1): JSON.parse reads it exactly. */
function document(next: () => number, depth = 0): unknown {
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
  const r = next();
  if (depth < 4 && r < 0.25) {
    return Array.from({ length: Math.floor(next() * 4) }, () => document(next, depth + 1));
  }
  if (depth < 4 && r < 0.5) {
    const object: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 4); i > 0; i--) {
      object[pick([...STRINGS, '__proto__', 'k'])] = document(next, depth + 1);
    }
    return object;
  }
  return pick<unknown>([...STRINGS, ...NUMBERS, true, false, null]);
}

describe('parseJson', () => {
  it('reads what JSON.parse reads, through the fast and the slow path alike', () => {
    const next = random(42);
    let slow = 0;
    for (let i = 0; i < 3000; i++) {
      const text = JSON.stringify(document(next), null, next() < 0.5 ? 1 : undefined);
      if (hasLongDigitRun(text)) slow++;
      expect(parseJson(text)).toStrictEqual(JSON.parse(text));
      expect(parseJsonAsJsonb(text)).toStrictEqual(JSON.parse(text));
    }
    expect(slow).toBeGreaterThan(500); // '12345678901234567890' sends many down the slow path
  });

  it('reads an integer beyond ±(2^53−1) as a bigint, exactly, wherever it is', () => {
    const text =
      '{"id": 9007199254740993, "list": [1, -9223372036854775808, 18446744073709551615], ' +
      '"nested": {"n": 100000000000000000000}, "s": "9007199254740993", "f": 1.5}';
    expect(parseJson(text)).toStrictEqual({
      id: 9007199254740993n,
      list: [1, -9223372036854775808n, 18446744073709551615n],
      nested: { n: 100000000000000000000n },
      s: '9007199254740993',
      f: 1.5,
    });
    expect(parseJson('9007199254740993')).toBe(9007199254740993n);
  });

  it('keeps the safe range as numbers, and bigint starts at 2^53', () => {
    expect(parseJson('[9007199254740991, -9007199254740991, 1000000000000000]')).toEqual([
      9007199254740991, -9007199254740991, 1000000000000000,
    ]);
    expect(parseJson('[9007199254740992, -9007199254740992]')).toEqual([
      9007199254740992n,
      -9007199254740992n,
    ]);
  });

  it('leaves numbers with a fraction or an exponent to JSON.parse (a float is a float)', () => {
    const text = '[12345678901234567.5, 1.00000000000000001, 1e20, 12345678901234567]';
    expect(parseJson(text)).toEqual([...JSON.parse(text).slice(0, 3), 12345678901234567n]);
  });

  it('follows nesting of any depth without recursion', () => {
    const depth = 100_000;
    let value = parseJson(`${'['.repeat(depth)}9007199254740993${']'.repeat(depth)}`);
    for (let i = 0; i < depth; i++) value = (value as unknown[])[0];
    expect(value).toBe(9007199254740993n);
  });

  it('makes __proto__ an own property, as JSON.parse does, and lets the last duplicate win', () => {
    const value = parseJson('{"__proto__": {"polluted": 1}, "a": 1, "a": 12345678901234567}');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(value as object)).toEqual(['__proto__', 'a']);
    expect((value as { a: unknown }).a).toBe(12345678901234567n);
  });

  it('refuses what is not JSON', () => {
    const long = '12345678901234567';
    for (const text of [
      '{',
      `[${long},]`,
      `{"a":${long},}`,
      `"${long}`,
      `${long} 1`,
      `[0${long}]`,
    ]) {
      expect(() => parseJson(text), text).toThrow(SyntaxError);
    }
  });
});

describe('parseJsonAsJsonb', () => {
  it('reads a whole number written with an exponent as jsonb prints it: an integer', () => {
    // Postgres: '[9.007199254740993e15, 1e20, 2.50e1, 1.5e1]'::jsonb prints
    // [9007199254740993, 100000000000000000000, 25.0, 15].
    expect(parseJsonAsJsonb('[9.007199254740993e15, 1e20, 2.50e1, 1.5e1, -1.5E+16]')).toEqual([
      9007199254740993n,
      100000000000000000000n,
      25,
      15,
      -15000000000000000n,
    ]);
  });
});

describe('hasLongDigitRun', () => {
  it('agrees with /\\d{16}/ on every alignment', () => {
    const next = random(7);
    for (let i = 0; i < 20000; i++) {
      let text = '';
      const length = Math.floor(next() * 80);
      for (let k = 0; k < length; k++)
        text += next() < 0.85 ? String(Math.floor(next() * 10)) : 'x';
      expect(hasLongDigitRun(text), text).toBe(/\d{16}/.test(text));
    }
  });
});
