import { describe, expect, it } from 'vitest';
import { checkJsonValue, copyPlainJson, plainJsonText, toJsonText } from './json-args.js';

describe('the fast path for plain JSON', () => {
  it('refuses what Postgres cannot store wherever it hides, and keeps what only looks like it', () => {
    const refused: [unknown, RegExp][] = [
      [{ a: 'x\0y' }, /args\.a contains NUL/],
      [{ 'k\0': 1 }, /args key "k\\u0000" contains NUL/],
      [{ a: ['ok', '\uD800'] }, /args\.a\[1\] contains a lone UTF-16 surrogate/],
      [{ a: { b: 'x\uDFFFy' } }, /args\.a\.b contains a lone UTF-16 surrogate/],
      [{ a: 2 ** 53 }, /args\.a is 9007199254740992, a number beyond/],
      [{ a: [1, undefined] }, /args\.a\[1\] is undefined/],
      [{ a: Number.POSITIVE_INFINITY }, /args\.a is Infinity/],
      [{ a: new Map() }, /args\.a is a Map/],
      [{ a: Symbol('s') }, /args\.a is a symbol/],
    ];
    for (const [value, message] of refused) {
      expect(() => toJsonText(value, 'args')).toThrow(message);
    }
    const kept = [
      { emoji: '😀 \uD83D\uDE00', escaped: '\\u0000 and \\ud800 as text' },
      { n: -0, f: 0.1, tiny: 1e-300, small: -(2 ** 53 - 1), none: undefined, nested: [[{}], null] },
      Object.assign(Object.create(null), { a: 1 }),
    ];
    for (const value of kept) {
      expect(checkJsonValue(value, 'args')).toBe(false);
      expect(toJsonText(value, 'args')).toBe(JSON.stringify(value));
    }
  });

  it('copies plain JSON exactly as parsing its text would', () => {
    const proto = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const values = [
      { a: -0, b: [-0, 0.5, -1e-7], c: 'x', d: null, e: true, f: undefined, g: [[], {}] },
      { 2: 'two', b: 'b', 1: 'one', a: { z: 1, y: [1, { x: 'deep' }] } },
      proto,
      Object.assign(Object.create(null), { n: 1 }),
      [1, 'a', [null]],
      { emoji: '😀', escaped: '\\n\n"quoted"' },
    ];
    for (const value of values) {
      const text = plainJsonText(value);
      expect(text).toBe(JSON.stringify(value));
      const copy = copyPlainJson(value);
      expect(copy).toStrictEqual(JSON.parse(text as string));
      expect(Object.keys(copy as object)).toEqual(Object.keys(JSON.parse(text as string)));
      expect(copy).not.toBe(value);
    }
    const copied = copyPlainJson(proto) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copied)).toBe(Object.prototype);
    expect(Object.hasOwn(copied, '__proto__')).toBe(true);
    expect(Object.is((copyPlainJson({ z: -0 }) as { z: number }).z, 0)).toBe(true);
  });
});
