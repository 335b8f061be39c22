/**
 * The dashboard's credentials: the admin token as a bearer token, or a session cookie the login
 * form sets, signed with a key derived from the token (HMAC-SHA256), so no session is stored
 * anywhere and every isolate or process with the token can check one. Each session has its own
 * CSRF token, derived from it; requests without a session (the login form, a dashboard without
 * auth) carry a random one in a cookie of their own, which the form must repeat. Every compare
 * is constant-time (`timingSafeEqual` hashes both sides).
 */

import { base64url, hex, hmac, timingSafeEqual } from '../http/http-auth.js';

/** The signed session: `<expiry, epoch ms>.<nonce>.<HMAC>`. */
export const SESSION_COOKIE = 'eddy_dashboard_session';
/** A random value a form without a session repeats (double submit). */
export const CSRF_COOKIE = 'eddy_dashboard_csrf';
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60_000;

/** The key sessions and CSRF tokens are signed with, derived from the admin token. */
export function sessionKey(token: string): Promise<Uint8Array> {
  return hmac(token, 'eddy dashboard session key v1');
}

export interface Session {
  expiresAt: number;
  nonce: string;
}

const sign = async (key: Uint8Array, what: string) => base64url(await hmac(key, what));

/** A session's cookie value. */
export async function signSession(key: Uint8Array, session: Session): Promise<string> {
  const body = `${session.expiresAt}.${session.nonce}`;
  return `${body}.${await sign(key, `session.${body}`)}`;
}

/** A new session's cookie value, valid for `ttlMs`. */
export async function newSession(
  key: Uint8Array,
  ttlMs: number,
  now = Date.now(),
): Promise<{ session: Session; cookie: string }> {
  const session = { expiresAt: now + ttlMs, nonce: randomToken() };
  return { session, cookie: await signSession(key, session) };
}

/** The session a cookie value carries, if it is signed with `key` and has not expired. */
export async function readSession(
  key: Uint8Array,
  value: string | undefined,
  now = Date.now(),
): Promise<Session | undefined> {
  const match = /^(\d{1,16})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
  if (!match) return undefined;
  const [, expiry, nonce, signature] = match as unknown as [string, string, string, string];
  const expected = await sign(key, `session.${expiry}.${nonce}`);
  if (!(await timingSafeEqual(expected, signature))) return undefined;
  const expiresAt = Number(expiry);
  return expiresAt > now ? { expiresAt, nonce } : undefined;
}

/** The CSRF token of a session (or of bearer requests, `subject` 'bearer'). */
export function csrfToken(key: Uint8Array, subject: string): Promise<string> {
  return sign(key, `csrf.${subject}`);
}

/** 128 random bits, hex. */
export function randomToken(): string {
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

/** A cookie of the request, by name. */
export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/**
 * A `Set-Cookie` value: HttpOnly, SameSite=Strict, scoped to the dashboard's path, Secure when the
 * request came over HTTPS (a browser drops a Secure cookie set over plain HTTP).
 */
export function cookieHeader(
  name: string,
  value: string,
  options: { path: string; maxAgeSeconds: number; secure: boolean },
): string {
  return [
    `${name}=${value}`,
    `Path=${options.path}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

/** Whether the request reached the app over HTTPS (directly, or as a proxy in front says). */
export function isHttps(request: Request): boolean {
  if (new URL(request.url).protocol === 'https:') return true;
  return (request.headers.get('x-forwarded-proto') ?? '').split(',')[0]?.trim() === 'https';
}

/** Whether `given` is `expected`, in constant time; an empty or missing one never is. */
export async function sameSecret(given: string | undefined | null, expected: string) {
  if (!given || !expected) return false;
  return timingSafeEqual(given, expected);
}
