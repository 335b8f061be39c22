/**
 * Who may use the endpoint. It runs SQL as whoever the client names, so it must never be
 * reachable by anyone the developer did not mean to let in: web pages (through the browser),
 * pages on a rebound DNS name, and other machines. See "Trust model" in docs/neon-local.md.
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const LOOPBACK_NAME = /^(localhost|[^.]+\.localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

/** Whether listening on `host` keeps the endpoint on this machine. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAME.test(host);
}

/**
 * Whether a `Host` header names this machine. A page on a DNS name rebound to 127.0.0.1 sends
 * its own name here, so a loopback-only endpoint refuses any other (a client without one is no
 * browser).
 */
export function loopbackHostHeader(header: string | undefined): boolean {
  if (header === undefined) return true;
  const name = header.replace(/:\d+$/, '');
  return LOOPBACK_NAME.test(name);
}

/** The origins allowed in, normalised (`http://localhost:5173`); throws on one that is no URL. */
export function parseOrigins(origins: readonly string[] = []): ReadonlySet<string> {
  return new Set(
    origins.map((origin) => {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        throw new TypeError(
          `allowOrigins: '${origin}' is not an origin like http://localhost:5173`,
        );
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`allowOrigins: '${origin}' is not an http or https origin`);
      }
      return url.origin;
    }),
  );
}

/**
 * Node and workerd send no `Origin`; browsers always do on a POST and a WebSocket upgrade. Any
 * page can reach 127.0.0.1 through its visitor's browser, so only the origins named are let in.
 */
export function originAllowed(origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (origin === undefined) return true;
  try {
    return allowed.has(new URL(origin).origin);
  } catch {
    return false;
  }
}

/** A fresh access token: 256 random bits, URL-safe so it can sit in a path. */
export function generateAccessToken(): string {
  return randomBytes(32).toString('base64url');
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Splits `/<token>/rest` into its token check and `/rest`. Compares digests in constant time, so
 * neither the token's bytes nor its length leak through timing.
 */
export function stripAccessToken(
  path: string,
  token: string,
): { authorized: boolean; path: string } {
  const match = /^\/([^/]*)(\/.*)?$/.exec(path);
  const presented = match?.[1] ?? '';
  const authorized = timingSafeEqual(digest(presented), digest(token));
  return { authorized, path: match?.[2] ?? '/' };
}

export interface Access {
  readonly allowed: ReadonlySet<string>;
  readonly token: string | undefined;
  /** Refuse `Host` names that are not loopback ones (DNS rebinding). */
  readonly loopbackOnly: boolean;
}

export interface Refusal {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
}

/** The request's path without its token, or why it is refused. */
export function checkAccess(request: IncomingMessage, access: Access): string | Refusal {
  const { origin, host } = request.headers;
  if (!originAllowed(origin, access.allowed)) {
    return {
      status: 403,
      reason: 'Forbidden',
      message: `origin ${origin} is not allowed; let a page you trust in with --allow-origin ${origin} (allowOrigins)`,
    };
  }
  if (access.loopbackOnly && !loopbackHostHeader(host)) {
    return {
      status: 403,
      reason: 'Forbidden',
      message: `Host ${host} is not a loopback name; this endpoint serves this machine only`,
    };
  }
  const path = new URL(request.url ?? '/', 'http://local').pathname;
  if (access.token === undefined) return path;
  const { authorized, path: rest } = stripAccessToken(path, access.token);
  if (authorized) return rest;
  return {
    status: 401,
    reason: 'Unauthorized',
    message: 'missing or wrong access token: put it first in the path (http://HOST:PORT/TOKEN/sql)',
  };
}
