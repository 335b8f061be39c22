import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { rawJson } from '../insert/json-args.js';
import type { JobState } from '../job.js';
import { compactJson, encodeJsonLikeGo, type JsonNode, parseJsonExact } from './json-canonical.js';
import {
  computeUniqueKey,
  DEFAULT_UNIQUE_STATES,
  type UniqueKeyInput,
  type UniqueOptions,
  uniqueKeyText,
  uniqueStatesMask,
} from './unique-key.js';

// River's conformance goldens (riverqueue/river conformance/fixtures/unique_keys.json).
const fixtureText = readFileSync(
  new URL('../../../shared/river-compat/unique_keys.json', import.meta.url),
  'utf8',
);

function field(node: JsonNode, key: string): JsonNode {
  if (node.type !== 'object') throw new Error(`not an object at ${key}`);
  const found = node.members.find((m) => m.key === key);
  if (!found) throw new Error(`no ${key}`);
  return found.value;
}

interface Golden {
  name: string;
  /** The args exactly as Go encoded them (number text, escapes and key order kept). */
  argsText: string;
  kind: string;
  queue: string;
  now: string;
  scheduled_at: string | null;
  options: {
    by_args: boolean;
    by_period_nanos: number;
    by_queue: boolean;
    by_state?: JobState[];
    exclude_kind: boolean;
  };
  selected_unique_paths: string[] | null;
  expected_sha256: string;
  expected_state_mask: number;
}

function goldens(list: 'cases' | 'typed_only_cases'): Golden[] {
  const root = parseJsonExact(fixtureText, 'fixture');
  const cases = field(root, list);
  if (cases.type !== 'array') throw new Error('cases');
  const all = JSON.parse(fixtureText) as Record<string, Omit<Golden, 'argsText'>[]>;
  return (all[list] ?? []).map((golden, i) => {
    const argsText = compactJson(field(cases.items[i] as JsonNode, 'args'));
    return { ...golden, argsText };
  });
}

function optionsOf(golden: Golden): UniqueOptions {
  const o = golden.options;
  const periodMs = o.by_period_nanos / 1e6;
  expect(Number.isSafeInteger(periodMs)).toBe(true);
  return {
    ...(o.by_args ? { byArgs: golden.selected_unique_paths ?? true } : {}),
    ...(periodMs > 0 ? { byPeriodMs: periodMs } : {}),
    ...(o.by_queue ? { byQueue: true } : {}),
    ...(o.by_state ? { byState: o.by_state } : {}),
    ...(o.exclude_kind ? { excludeKind: true } : {}),
  };
}

function inputOf(golden: Golden, args: unknown): UniqueKeyInput {
  return {
    kind: golden.kind,
    args,
    queue: golden.queue,
    scheduledAt: golden.scheduled_at,
    now: golden.now,
    options: optionsOf(golden),
  };
}

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

async function sha256Hex(text: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

const cases = goldens('cases');
const typedOnly = goldens('typed_only_cases');

describe("River's unique-key goldens", () => {
  it('has every case the fixture lists', () => {
    expect(cases.length).toBe(21);
    expect(typedOnly.length).toBe(2);
  });

  it.each([...cases, ...typedOnly].map((c) => [c.name, c] as const))(
    '%s: args as exact JSON text hash like River',
    async (_, golden) => {
      const result = await computeUniqueKey(inputOf(golden, rawJson(golden.argsText)));
      expect(hex(result.key)).toBe(golden.expected_sha256);
      expect(result.mask).toBe(golden.expected_state_mask);
      expect(result.states).toBe(golden.expected_state_mask.toString(2).padStart(8, '0'));
      expect(await sha256Hex(result.text)).toBe(golden.expected_sha256);
    },
  );

  const exactOnly = new Set(['numeric_boundaries']);

  it.each(cases.filter((c) => !exactOnly.has(c.name)).map((c) => [c.name, c] as const))(
    '%s: args as a JS object hash like River',
    async (_, golden) => {
      const result = await computeUniqueKey(inputOf(golden, JSON.parse(golden.argsText)));
      expect(hex(result.key)).toBe(golden.expected_sha256);
      expect(result.mask).toBe(golden.expected_state_mask);
    },
  );

  it('refuses, as a JS object, integers a JS number cannot hold, and names rawJson', async () => {
    const golden = cases.find((c) => c.name === 'numeric_boundaries') as Golden;
    const parsed = JSON.parse(golden.argsText) as Record<string, number>;
    expect(parsed.maximum).toBe(2 ** 63); // JSON.parse already rounded 9223372036854775807
    await expect(computeUniqueKey(inputOf(golden, parsed))).rejects.toThrow(ValidationError);
    await expect(computeUniqueKey(inputOf(golden, parsed))).rejects.toThrow(
      /args\.maximum.*rawJson/,
    );
  });

  it('hashes Go map order only from exact JSON text, as River marks it typed-only', async () => {
    const golden = typedOnly.find((c) => c.name === 'typed_integer_like_map_keys') as Golden;
    // JS puts integer-like keys first ("2" before "10"); Go wrote them sorted as strings.
    const fromObject = await computeUniqueKey(inputOf(golden, JSON.parse(golden.argsText)));
    expect(hex(fromObject.key)).not.toBe(golden.expected_sha256);
    const fromText = await computeUniqueKey(inputOf(golden, rawJson(golden.argsText)));
    expect(hex(fromText.key)).toBe(golden.expected_sha256);
  });

  it('buckets a Date the same as the precise timestamp text', async () => {
    for (const golden of cases.filter((c) => c.options.by_period_nanos > 0)) {
      const input = inputOf(golden, JSON.parse(golden.argsText));
      const asDates = {
        ...input,
        now: new Date(golden.now),
        scheduledAt: golden.scheduled_at === null ? null : new Date(golden.scheduled_at),
      };
      expect(hex((await computeUniqueKey(asDates)).key)).toBe(golden.expected_sha256);
    }
  });
});

// Computed by River's algorithm running on tidwall/gjson v1.18.0 + sjson v1.2.5 and Go's
// time.Truncate/Format (kind "oracle"): cases the fixture does not reach.
const ORACLE = [
  {
    name: 'selected paths nest in sorted path order and absent paths are left out',
    args: '{"<k>":3,"a":{"b":1,"z":{"y":2}},"a-c":2,"q":[1,2]}',
    byArgs: ['a.z.y', 'a.b', 'a-c', '<k>', 'q', 'missing.x'],
    text: '&kind=oracle&args={"<k>":3,"a-c":2,"a":{"b":1,"z":{"y":2}},"q":[1,2]}',
    sha256: 'edb7459d0c0d306d77f5b2cb92b9e97ded6d2ce8f837f63ca697e476a6ead0a4',
  },
  {
    name: 'an escaped dot selects a literal key',
    args: '{"user.id":"literal","user":{"id":"nested"}}',
    byArgs: ['user\\.id', 'user.id'],
    text: '&kind=oracle&args={"user":{"id":"nested"},"user.id":"literal"}',
    sha256: '66254ff9e575313bc6bdde9850a13b73585747983b0ed5cc6989ecb70c2ba616',
  },
  {
    name: 'a selected object carries its children',
    args: '{"a":{"b":1,"c":{"d":2}},"e":null}',
    byArgs: ['a.c.d', 'a', 'e'],
    text: '&kind=oracle&args={"a":{"b":1,"c":{"d":2}},"e":null}',
    sha256: '2747a47bf196a8c9022aab7ed0d2ba4164dd99bb9c404bd266dc1b7f65ec57b2',
  },
  {
    name: 'selected keys are written as sjson writes them',
    args: '{"é":{"<":1},"a\\"b":2,"tab\\tkey":3}',
    byArgs: ['é.<', 'a"b', 'tab\tkey'],
    text: '&kind=oracle&args={"a\\"b":2,"tab\\tkey":3,"é":{"<":1}}',
    sha256: '632d9dbe815e1b655b29555fb149c375910577837b354b16b73ba3081baf9ed2',
  },
  {
    name: 'the first of duplicate keys wins',
    args: '{"a":{"b":1,"b":2},"a":{"b":3}}',
    byArgs: ['a.b'],
    text: '&kind=oracle&args={"a":{"b":1}}',
    sha256: '53749aa7809d7421a148bd53d601916768bdd82322dc92d99e5aef44cf8f23c1',
  },
  {
    name: 'exact JSON keeps its number text and escapes, compacted and HTML-escaped like Go',
    args: '{ "n" : 1.50 , "big":123456789012345678901234567890, "e":1E+2, "s":"\\u00e9\\/<", "o":{"z":[ 1 , {"b":true} ],"a":"\u2028"}}',
    byArgs: true,
    text: '&kind=oracle&args={"big":123456789012345678901234567890,"e":1E+2,"n":1.50,"o":{"z":[1,{"b":true}],"a":"\\u2028"},"s":"\\u00e9\\/\\u003c"}',
    sha256: '7418e3ebd0efb6fa0acbccc737b0a4270951e6ef51487103940440a3a5946237',
  },
  {
    name: 'all-args keys are literal, however path-like',
    args: '{"b":1,"":0,"a.b":2,"*":3,"#":4,"\\\\":5,"@keys":6,"a|b":7,"10":8,"-1":9,":x":10,"\\u007f":11}',
    byArgs: true,
    text: '&kind=oracle&args={"":0,"#":4,"*":3,"-1":9,"10":8,":x":10,"@keys":6,"\\\\":5,"a.b":2,"a|b":7,"b":1,"\x7f":11}',
    sha256: '517758d1dfe7144ed149922b6949d05718d6d8af50036d98e0be7d0ab585e2a8',
  },
  {
    name: 'an empty array hashes as {}',
    args: '[]',
    byArgs: true,
    text: '&kind=oracle&args={}',
    sha256: 'a91b7923d1660136200c2e172bc301b9d9fc2664791d3dfa13f271dec25889e1',
  },
] as const;

const PERIOD_ORACLE = [
  // Go truncates from 0001-01-01 (a Monday), so weeks start on Monday, not Thursday (1970).
  ['a week', 604800000, '2026-01-02T03:04:05.6789Z', '&kind=oracle&period=2025-12-29T00:00:00Z'],
  ['7 hours', 25200000, '2026-01-02T03:04:05.6789Z', '&kind=oracle&period=2026-01-02T02:00:00Z'],
  [
    '90 minutes before 1970',
    5400000,
    '1969-07-20T20:17:40.123456789Z',
    '&kind=oracle&period=1969-07-20T19:30:00Z',
  ],
  [
    '1 hour, 100 ns before its end',
    3600000,
    '2026-01-02T03:59:59.9999999Z',
    '&kind=oracle&period=2026-01-02T03:00:00Z',
  ],
  ['1.001 seconds', 1001, '2026-01-02T03:04:05.6789Z', '&kind=oracle&period=2026-01-02T03:04:04Z'],
] as const;

describe('cases checked against gjson/sjson and Go time', () => {
  it.each(ORACLE.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const result = await computeUniqueKey({
      kind: 'oracle',
      args: rawJson(c.args),
      queue: 'default',
      options: { byArgs: c.byArgs },
    });
    expect(result.text).toBe(c.text);
    expect(hex(result.key)).toBe(c.sha256);
  });

  it.each(PERIOD_ORACLE)('buckets a period of %s like Go', (_, periodMs, at, text) => {
    expect(
      uniqueKeyText({
        kind: 'oracle',
        args: {},
        queue: 'q',
        now: at,
        options: { byPeriodMs: periodMs },
      }),
    ).toBe(text);
  });

  it('uses scheduledAt over now, and now over the clock', () => {
    const input = { kind: 'k', args: {}, queue: 'q', options: { byPeriodMs: 3600000 } };
    expect(
      uniqueKeyText({
        ...input,
        now: '2026-01-02T03:04:05Z',
        scheduledAt: '2026-01-02T10:51:05+05:30',
      }),
    ).toBe('&kind=k&period=2026-01-02T05:00:00Z');
    expect(uniqueKeyText({ ...input, now: '2026-01-02T03:04:05Z', scheduledAt: null })).toBe(
      '&kind=k&period=2026-01-02T03:00:00Z',
    );
    const hourOf = (d: Date) => `&kind=k&period=${d.toISOString().slice(0, 13)}:00:00Z`;
    const before = new Date();
    const text = uniqueKeyText(input);
    expect([hourOf(before), hourOf(new Date())]).toContain(text);
  });
});

describe('JS values are encoded as Go encodes the same value', () => {
  const textFor = (args: unknown, byArgs: UniqueOptions['byArgs'] = true) =>
    uniqueKeyText({ kind: 'k', args, queue: 'q', options: { byArgs } });

  it('escapes <, >, &, U+2028 and U+2029 and keeps -0', () => {
    expect(textFor({ s: '<a href="x">&\u2028\u2029', n: -0 })).toBe(
      '&kind=k&args={"n":-0,"s":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u2028\\u2029"}',
    );
  });

  it('writes floats as Go does and bigints as exact integers', () => {
    expect(
      textFor({ a: 1e21, b: 1e-7, c: 0.000001, d: 123456789012345678901234567890n, e: 0.1 }),
    ).toBe(
      '&kind=k&args={"a":1e+21,"b":1e-7,"c":0.000001,"d":123456789012345678901234567890,"e":0.1}',
    );
  });

  it('refuses integers in [2^53, 2^64) and suggests bigint or rawJson', () => {
    for (const n of [2 ** 53, -(2 ** 63), 18446744073709550000]) {
      expect(() => textFor({ id: n })).toThrow(/args\.id .*bigint.*rawJson/);
    }
    expect(textFor({ id: 2 ** 53 - 1 })).toBe('&kind=k&args={"id":9007199254740991}');
  });

  it('takes exact numbers from rawJson inside a JS object', () => {
    expect(
      textFor({ id: rawJson('9223372036854775807'), price: rawJson('0.1000000000000000000001') }),
    ).toBe('&kind=k&args={"id":9223372036854775807,"price":0.1000000000000000000001}');
  });

  it("writes a Date as Go's time.Time does", () => {
    expect(
      textFor({
        at: new Date('2026-01-02T03:04:05.500Z'),
        whole: new Date('2026-01-02T03:04:05Z'),
      }),
    ).toBe('&kind=k&args={"at":"2026-01-02T03:04:05.5Z","whole":"2026-01-02T03:04:05Z"}');
  });

  it('omits undefined properties and keeps nested key order', () => {
    expect(textFor({ b: { z: 1, a: undefined, y: 2 }, a: null })).toBe(
      '&kind=k&args={"a":null,"b":{"z":1,"y":2}}',
    );
  });

  it('refuses what JSON would change or drop, naming where', () => {
    expect(() => textFor({ n: Number.NaN })).toThrow(/args\.n is NaN/);
    expect(() => textFor({ list: [1, undefined] })).toThrow(/args\.list\[1\] is undefined/);
    expect(() => textFor({ m: new Map() })).toThrow(/args\.m is a Map/);
    expect(() => textFor({ f: () => 1 })).toThrow(/args\.f is a function/);
    expect(() => textFor({ s: 'half \ud800' })).toThrow(/args\.s .*lone UTF-16 surrogate/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => textFor(cycle)).toThrow(/args\.self .*cycle/);
  });

  it('encodes whole args the same way for storage', () => {
    expect(encodeJsonLikeGo({ b: '<', a: [1, -0] }, 'args')).toBe('{"b":"\\u003c","a":[1,-0]}');
  });
});

describe('options River refuses are refused with what to fix', () => {
  const base: Omit<UniqueKeyInput, 'options'> = {
    kind: 'k',
    args: { a: 1 },
    queue: 'q',
    now: new Date(),
  };
  const attempt = (options: UniqueOptions) => computeUniqueKey({ ...base, options });
  const issue = async (options: UniqueOptions) => {
    const error = await attempt(options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  };

  it('refuses an unknown state', async () => {
    const error = await issue({ byState: ['available', 'finished' as JobState] });
    expect(error.message).toMatch(/unique\.byState contains 'finished', which is not a job state/);
    expect(error.issues).toEqual([{ path: 'unique.byState', message: expect.any(String) }]);
  });

  it('refuses states without the ones River requires, listing them', async () => {
    const error = await issue({ byArgs: true, byState: ['available', 'completed'] });
    expect(error.message).toMatch(
      /must include available, pending, running, scheduled.*missing: pending, running, scheduled/,
    );
  });

  it('takes an empty state list as the defaults, as River does', async () => {
    expect((await attempt({ byArgs: true, byState: [] })).mask).toBe(245);
    expect(uniqueStatesMask(DEFAULT_UNIQUE_STATES)).toEqual({ mask: 245, bits: '11110101' });
    expect(uniqueStatesMask(['scheduled'])).toEqual({ mask: 128, bits: '10000000' });
  });

  it('refuses a negative, sub-second or fractional period', async () => {
    for (const byPeriodMs of [-60000, 999, 1500.5, Number.POSITIVE_INFINITY]) {
      expect((await issue({ byPeriodMs })).message).toMatch(/unique\.byPeriodMs .*at least 1000/);
    }
  });

  it('refuses options that ask for nothing, excludeKind alone included', async () => {
    for (const options of [{}, { excludeKind: true }, { byArgs: false, byPeriodMs: 0 }]) {
      expect((await issue(options)).message).toMatch(/^unique asks for nothing/);
    }
  });

  it('refuses selected paths River would read as path syntax', async () => {
    const bad: [string, RegExp][] = [
      ['a*b', /'\*', which is path syntax.*'\\\*'/],
      ['#', /'#'/],
      ['user.@id', /'@'/],
      [':id', /':'/],
      ['items.0', /segment '0'.*array index/],
      ['a..b', /empty segment/],
      ['a\\', /lone backslash/],
    ];
    for (const [path, message] of bad) {
      const error = await issue({ byArgs: [path] });
      expect(error.message).toMatch(message);
      expect(error.issues[0]?.path).toBe('unique.byArgs[0]');
    }
    expect((await issue({ byArgs: [] })).message).toMatch(/empty list/);
    await expect(attempt({ byArgs: ['\\:id', 'a\\*b', 'path/key', 'a!b'] })).resolves.toBeDefined();
  });

  it('refuses args that are not an object when keyed by args', async () => {
    for (const args of [[1], null, 'text', rawJson('"text"')]) {
      await expect(computeUniqueKey({ ...base, args, options: { byArgs: true } })).rejects.toThrow(
        /args must be a JSON object/,
      );
    }
    await expect(
      computeUniqueKey({ ...base, args: [], options: { byArgs: ['a'] } }),
    ).rejects.toThrow(/args must be a JSON object/);
  });

  it('refuses raw JSON that is invalid or not valid Unicode', async () => {
    expect(() => rawJson('{"a":')).toThrow(ValidationError);
    await expect(
      computeUniqueKey({ ...base, args: rawJson('{"a":"\\ud800"}'), options: { byArgs: true } }),
    ).rejects.toThrow(/args .*lone UTF-16 surrogate/);
  });

  it('refuses unusable instants', async () => {
    const options = { byPeriodMs: 60000 };
    await expect(computeUniqueKey({ ...base, now: new Date(Number.NaN), options })).rejects.toThrow(
      /now is an invalid Date/,
    );
    await expect(
      computeUniqueKey({ ...base, scheduledAt: '2026-02-30T00:00:00Z', options }),
    ).rejects.toThrow(/scheduledAt .*not a real date/);
    await expect(computeUniqueKey({ ...base, scheduledAt: 'tomorrow', options })).rejects.toThrow(
      /scheduledAt must be a Date or RFC 3339 text/,
    );
  });
});
