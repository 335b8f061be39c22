/**
 * Who may use the dashboard, decided per request: a bearer token, a signed session cookie, or
 * nobody at all when the deployment chose `insecureNoAuth`. Each answer carries the CSRF token
 * the request's forms must repeat.
 */

import { invalid } from '../errors.js';
import { MIN_SECRET_LENGTH, timingSafeEqual } from '../http/http-auth.js';
import {
  CSRF_COOKIE,
  cookieHeader,
  csrfToken,
  DEFAULT_SESSION_TTL_MS,
  isHttps,
  randomToken,
  readCookie,
  readSession,
  SESSION_COOKIE,
  sessionKey,
} from './session.js';

/**
 * How the dashboard is guarded: an admin token (at least 32 characters; signing in with it sets a
 * session cookie, and scripts may send it as `Authorization: Bearer`), or, only when asked for
 * in so many words, nothing.
 */
export type DashboardAuth =
  | {
      token: string | undefined;
      /** How long a login lasts. Default 12 hours. */
      sessionTtlMs?: number;
    }
  | {
      /**
       * Serves the dashboard to anyone who can reach it: they can see every job's args and
       * retry, cancel or delete any job. Only behind your own authentication (a VPN, an
       * authenticating proxy) or on a machine only you use.
       */
      insecureNoAuth: true;
    };

/** The checked setting: the session key derived once per token. */
export type AuthMode =
  | { mode: 'token'; token: string; key: Promise<Uint8Array>; ttlMs: number }
  | { mode: 'open' };

export interface Access {
  /** The CSRF token forms carry. */
  csrf: string;
  /** Signed in through the login form (a sign-out button makes sense). */
  session: boolean;
  /** Cookies to set with the response (a new CSRF cookie). */
  setCookies: string[];
}

const WHERE = 'createDashboard';

/** Checks an `auth` setting; throws a `ValidationError` naming what is wrong. */
export function checkAuth(auth: DashboardAuth | undefined): AuthMode {
  if (!auth || typeof auth !== 'object')
    invalid(
      'auth',
      'is required: { token } (at least 32 characters), or { insecureNoAuth: true }',
      WHERE,
    );
  if ('insecureNoAuth' in auth) {
    if (auth.insecureNoAuth !== true)
      invalid('auth.insecureNoAuth', 'must be true or left out', WHERE);
    if ('token' in auth) invalid('auth', 'takes a token or insecureNoAuth, not both', WHERE);
    return { mode: 'open' };
  }
  const { token } = auth;
  if (typeof token !== 'string' || token.length < MIN_SECRET_LENGTH)
    invalid(
      'auth.token',
      `must be at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`); it is ${typeof token === 'string' ? `${token.length} characters` : 'not set'}`,
      WHERE,
    );
  const ttlMs = auth.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 60_000)
    invalid('auth.sessionTtlMs', 'must be a whole number of ms, at least 60000', WHERE);
  const key = sessionKey(token);
  key.catch(() => undefined);
  return { mode: 'token', token, key, ttlMs };
}

/** The request's CSRF cookie, or a new one to set (forms without a session repeat it). */
export function anonymousCsrf(request: Request, path: string): Access {
  const existing = readCookie(request, CSRF_COOKIE);
  if (existing && /^[0-9a-f]{32}$/.test(existing))
    return { csrf: existing, session: false, setCookies: [] };
  const csrf = randomToken();
  return {
    csrf,
    session: false,
    setCookies: [
      cookieHeader(CSRF_COOKIE, csrf, { path, maxAgeSeconds: 86_400, secure: isHttps(request) }),
    ],
  };
}

/** Whether the request carries the admin token as a bearer token. */
async function hasBearer(request: Request, token: string): Promise<boolean> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  return match ? timingSafeEqual(match[1] as string, token) : false;
}

/** Who the request is, or undefined when it carries no valid credentials. */
export async function authenticate(
  request: Request,
  auth: AuthMode,
  cookiePath: string,
): Promise<Access | undefined> {
  if (auth.mode === 'open') return anonymousCsrf(request, cookiePath);
  const key = await auth.key;
  if (await hasBearer(request, auth.token))
    return { csrf: await csrfToken(key, 'bearer'), session: false, setCookies: [] };
  const session = await readSession(key, readCookie(request, SESSION_COOKIE));
  if (!session) return undefined;
  return { csrf: await csrfToken(key, session.nonce), session: true, setCookies: [] };
}
