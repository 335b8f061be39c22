import { describe, expect, it } from 'vitest';
import { csrfToken, newSession, readSession, sessionKey } from './session.js';

describe('sessions', () => {
  it('reads back a session signed with the key until it expires, and nothing else', async () => {
    const key = await sessionKey('a'.repeat(40));
    const { session, cookie } = await newSession(key, 60_000, 1_000_000);
    expect(await readSession(key, cookie, 1_000_000)).toEqual(session);
    expect(await readSession(key, cookie, 1_060_000)).toBeUndefined();
    expect(await readSession(await sessionKey('b'.repeat(40)), cookie, 1_000_000)).toBeUndefined();
    const [expiry, nonce, signature] = cookie.split('.');
    expect(
      await readSession(key, `${Number(expiry) + 1}.${nonce}.${signature}`, 1_000_000),
    ).toBeUndefined();
    expect(await readSession(key, undefined)).toBeUndefined();
  });

  it('gives each session its own CSRF token', async () => {
    const key = await sessionKey('a'.repeat(40));
    const one = await csrfToken(key, 'a'.repeat(32));
    expect(one).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await csrfToken(key, 'b'.repeat(32))).not.toBe(one);
    expect(await csrfToken(await sessionKey('c'.repeat(40)), 'a'.repeat(32))).not.toBe(one);
  });
});
