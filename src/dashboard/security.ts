/**
 * What every dashboard response carries, and the same-origin check of every request that
 * changes something.
 */

import { base64url } from '../http/http-auth.js';

/** A fresh nonce for the page's one inline style and one inline script. */
export function cspNonce(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * A strict policy: nothing loads but the page itself, its nonce-bearing style and script; forms
 * post only back to it; no page may frame it. No style attributes either (`style-src` has no
 * 'unsafe-inline'), so the pages use classes only.
 */
export function securityHeaders(nonce: string): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "connect-src 'self'",
      "form-action 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the
    // dashboard's own form posts, which the same-origin check would refuse.
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

/**
 * Whether a request that changes something comes from the dashboard's own pages: a browser's
 * `Sec-Fetch-Site`, when sent, must be `same-origin`, and its `Origin`, when sent, must name the
 * host the request was sent to (the `Host` header, or the URL's host: behind a proxy or the Node
 * server the URL's own host may differ from the one the browser used). A client that sends
 * neither is no browser page (curl, a script): the CSRF token still has to be right.
 */
export function isSameOrigin(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin') return false;
  const origin = request.headers.get('origin');
  if (origin === null) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // `null` (an opaque origin: a sandboxed frame, a data: page) or garbage
  }
  // Either name of this server will do: the one the browser addressed (Host) or the one the
  // request's URL carries (a Worker's; Miniflare rewrites Host to its own loopback). A page on
  // another origin names neither.
  const names = [request.headers.get('host'), new URL(request.url).host];
  return host !== '' && names.some((name) => name?.toLowerCase() === host.toLowerCase());
}
