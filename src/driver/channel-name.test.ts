import { describe, expect, it } from 'vitest';
import { isValidationError } from '../errors.js';
import { assertChannelNames, listenStatement, unlistenStatement } from './channel-name.js';

const refusal = (channels: unknown[]) => {
  try {
    assertChannelNames(channels, 'node-postgres: listen');
  } catch (error) {
    expect(isValidationError(error)).toBe(true);
    return error as Error & { issues: { path: string; message: string }[] };
  }
  return expect.unreachable('should refuse');
};

describe('channel names', () => {
  it("accepts River's channels and any identifier of up to 63 bytes, unchanged and once each", () => {
    const names = ['jobs.river_insert', 'Jobs.River_Control', 'we"ird', 'ünï', 'x'.repeat(63)];
    expect(assertChannelNames([...names, 'jobs.river_insert'])).toEqual(names);
  });

  it('refuses a name Postgres would truncate, counting bytes, not characters', () => {
    const long = refusal(['ok', 'x'.repeat(64)]);
    expect(long.message).toBe(
      `node-postgres: listen: channels[1] "${'x'.repeat(64)}" is 64 bytes; Postgres allows 63 (it would truncate it and never hear the NOTIFY)`,
    );
    expect(long.issues).toHaveLength(1);
    expect(refusal(['é'.repeat(32)]).issues[0]?.path).toBe('channels[0]');
    expect(assertChannelNames(['é'.repeat(31)])).toHaveLength(1);
  });

  it('refuses no channels, an empty name, NUL, a lone surrogate and non-strings', () => {
    expect(refusal([]).issues).toEqual([
      { path: 'channels', message: 'is empty: name at least one channel' },
    ]);
    expect(refusal(['']).issues[0]?.message).toBe('is empty');
    expect(refusal(['a\0b']).issues[0]?.message).toMatch(/NUL/);
    expect(refusal(['half \ud800']).issues[0]?.message).toMatch(/lone UTF-16 surrogate/);
    expect(assertChannelNames(['🎉'])).toEqual(['🎉']);
    expect(refusal([null]).issues[0]?.message).toBe('must be a string, got object');
  });

  it('quotes a channel as an identifier, doubling the quotes inside', () => {
    expect(listenStatement('jobs.river_insert')).toBe('LISTEN "jobs.river_insert"');
    expect(unlistenStatement('a"b')).toBe('UNLISTEN "a""b"');
  });
});
