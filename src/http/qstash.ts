/**
 * Upstash QStash signatures: an `Upstash-Signature` JWT (HS256) over the destination URL and the
 * body's hash, signed with the current or the next signing key. Its own module, passed in as
 * `auth.qstash: qstashVerifier(keys)`, so a deployment that never uses QStash (a Cloudflare
 * Worker) does not carry it.
 */

import { base64url, encoder, hex, hmac, sha256, timingSafeEqual } from './http-auth.js';

/** QStash's signing keys (current and next: QStash rotates them) and the URL it signs. */
export interface QStashKeys {
  currentSigningKey: string;
  nextSigningKey?: string | undefined;
  /**
   * The URL a token must be for; default the URL the request arrived at (set it when a proxy
   * rewrites the URL your handler sees).
   */
  url?: string | undefined;
}

/** Checks a request's QStash token; made by `qstashVerifier`. */
export interface QStashVerifier {
  readonly qstash: true;
  /**
   * Checks the token from the headers alone; resolves with the check of the body to come, or
   * `undefined` when the token is refused.
   */
  check(
    token: string,
    requestUrl: string,
  ): Promise<((body: Uint8Array) => Promise<boolean>) | undefined>;
}

/**
 * A QStash check for `createTickTrigger({ auth: { qstash: qstashVerifier(keys) } })`
 * (`eddy/vercel`'s `qstash` option makes one for you).
 */
export function qstashVerifier(keys: QStashKeys): QStashVerifier {
  return {
    qstash: true,
    async check(token, requestUrl) {
      const claims = await verifyQStashToken(token, keys, { url: keys.url || requestUrl });
      return claims && ((body) => qstashBodyMatches(claims, body));
    },
  };
}

function fromBase64url(text: string): Uint8Array {
  const padded =
    text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const binary = atob(padded);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** A JSON object from a JWT part, or undefined for anything else (`null`, arrays, garbage). */
function jsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromBase64url(part)));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function sameUrl(a: unknown, b: string): boolean {
  if (typeof a !== 'string' || !URL.canParse(a) || !URL.canParse(b)) return false;
  return new URL(a).href === new URL(b).href;
}

/** The claims of a QStash token that passed every check but the body's. */
export interface QStashClaims {
  body: string;
}

/**
 * Checks an Upstash QStash `Upstash-Signature` JWT (HS256) before the body is read: signed with
 * the current or the next signing key (QStash rotates them), issued by Upstash, not expired, not
 * before its time, and for `url` (QStash signs the destination URL as `sub`).
 */
export async function verifyQStashToken(
  token: string | null,
  keys: { currentSigningKey: string; nextSigningKey?: string | undefined },
  {
    url,
    now = Date.now(),
    clockToleranceMs = 5_000,
  }: { url: string; now?: number; clockToleranceMs?: number },
): Promise<QStashClaims | undefined> {
  if (!token) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = jsonObject(headerPart);
  const claims = jsonObject(payloadPart);
  if (!header || !claims || header.alg !== 'HS256') return undefined;
  const signed = `${headerPart}.${payloadPart}`;
  let valid = false;
  for (const key of [keys.currentSigningKey, keys.nextSigningKey]) {
    if (!key) continue;
    if (await timingSafeEqual(base64url(await hmac(key, signed)), signaturePart)) valid = true;
  }
  if (!valid) return undefined;
  const seconds = now / 1000;
  const tolerance = clockToleranceMs / 1000;
  if (claims.iss !== 'Upstash') return undefined;
  if (typeof claims.exp !== 'number' || seconds - tolerance > claims.exp) return undefined;
  if (typeof claims.nbf === 'number' && seconds + tolerance < claims.nbf) return undefined;
  if (!sameUrl(claims.sub, url)) return undefined;
  if (typeof claims.body !== 'string') return undefined;
  return { body: claims.body };
}

/** Whether a checked QStash token carries the SHA-256 of exactly this body. */
export async function qstashBodyMatches(
  claims: QStashClaims,
  body: string | Uint8Array,
): Promise<boolean> {
  // QStash has sent the hash both with and without base64 padding; compare unpadded.
  return timingSafeEqual(claims.body.replace(/=+$/, ''), base64url(await sha256(body)));
}

/** A QStash token's checks and its body's, in one call. */
export async function verifyQStashSignature(
  token: string | null,
  body: string | Uint8Array,
  keys: { currentSigningKey: string; nextSigningKey?: string | undefined },
  options: { url: string; now?: number; clockToleranceMs?: number },
): Promise<boolean> {
  const claims = await verifyQStashToken(token, keys, options);
  return claims !== undefined && (await qstashBodyMatches(claims, body));
}

/** Builds a QStash-style token (for tests and local schedulers that imitate QStash). */
export async function signQStashToken(
  key: string,
  body: string,
  { url, now = Date.now(), ttlSeconds = 300 }: { url: string; now?: number; ttlSeconds?: number },
): Promise<string> {
  const seconds = Math.floor(now / 1000);
  const header = base64url(encoder.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const payload = base64url(
    encoder.encode(
      JSON.stringify({
        iss: 'Upstash',
        sub: url,
        exp: seconds + ttlSeconds,
        nbf: seconds,
        iat: seconds,
        jti: `jwt_${hex(crypto.getRandomValues(new Uint8Array(8)))}`,
        body: base64url(await sha256(body)),
      }),
    ),
  );
  return `${header}.${payload}.${base64url(await hmac(key, `${header}.${payload}`))}`;
}
