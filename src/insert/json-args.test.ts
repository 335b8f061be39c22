import { describe, expect, it } from 'vitest';
import { parseJson } from '../driver/json.js';
import { MAX_JSON_DEPTH, toJsonText } from './json-args.js';

describe('toJsonText', () => {
  it('writes a bigint beyond 2^53 as its digits, and nothing else changes', () => {
    const args = {
      id: 2n ** 63n - 1n,
      list: [-(2n ** 64n), 1, 'x'],
      // Text that looks like the marker a bigint travels as is text still.
      s: '\\u0000bigint:123',
      quoted: '"\\u0000bigint:123"',
      at: new Date('2024-01-02T03:04:05.678Z'),
    };
    const text = toJsonText(args, 'args');
    expect(text).toBe(
      '{"id":9223372036854775807,"list":[-18446744073709551616,1,"x"],' +
        '"s":"\\\\u0000bigint:123","quoted":"\\"\\\\u0000bigint:123\\"",' +
        '"at":"2024-01-02T03:04:05.678Z"}',
    );
    expect(parseJson(text)).toEqual({ ...args, at: '2024-01-02T03:04:05.678Z' });
  });

  it('checks what toJSON returns, as that is what is stored', () => {
    const sneaky = { toJSON: () => ({ note: 'a\0' }) };
    expect(() => toJsonText({ sneaky }, 'args')).toThrow(/args\.sneaky\.note contains NUL/);
    expect(() => toJsonText({ at: new Date(Number.NaN) }, 'args')).toThrow(/invalid Date/);
  });

  it(`accepts ${MAX_JSON_DEPTH} levels and refuses one more, naming where`, () => {
    const deep = (levels: number) => {
      let value: unknown = 1;
      for (let i = 0; i < levels; i++) value = [value];
      return value;
    };
    expect(() => toJsonText({ a: deep(MAX_JSON_DEPTH - 1) }, 'args')).not.toThrow();
    expect(() => toJsonText({ a: deep(MAX_JSON_DEPTH) }, 'args', 'insert(k)')).toThrow(
      new RegExp(`^insert\\(k\\): args\\.a(\\[0\\]){${MAX_JSON_DEPTH}} nests deeper`),
    );
  });
});
