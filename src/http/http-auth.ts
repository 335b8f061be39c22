/**
 * Authenticating tick triggers with Web Crypto only (Workers, Vercel Edge and Node alike).
 * Every secret comparison is constant-time: both sides are hashed first, so neither the
 * content nor the length of the secret shows in the timing.
 */

import { invalid } from '../errors.js';

const encoder = new TextEncoder();

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data;
}

async function sha256(data: string | Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', toBytes(data) as BufferSource));
}

/** Compares two secrets in constant time. */
export async function timingSafeEqual(
  a: string | Uint8Array,
  b: string | Uint8Array,
): Promise<boolean> {
  const [x, y] = await Promise.all([sha256(a), sha256(b)]);
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= (x[i] as number) ^ (y[i] as number);
  return difference === 0;
}

/** Shortest secret a trigger accepts: 32 characters (`openssl rand -hex 32` gives 64). */
export const MIN_SECRET_LENGTH = 32;

/** Refuses a secret too short to resist guessing; `path` names the option that holds it. */
export function checkSecret(secret: string, path: string, where: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    invalid(
      path,
      `must be at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`,
      where,
    );
  }
}

/** True when `Authorization: Bearer <secret>` carries the secret (Vercel's CRON_SECRET scheme). */
export async function verifyBearer(request: Request, secret: string): Promise<boolean> {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer (.+)$/.exec(header);
  if (!match || !secret) return false;
  return timingSafeEqual(match[1] as string, secret);
}

async function hmac(secret: string | Uint8Array, data: string | Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'raw',
    toBytes(secret) as BufferSource,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, toBytes(data) as BufferSource));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Header carrying Eddy's own HMAC signature: `t=<unix seconds>,n=<nonce>,v1=<hex>`. */
export const SIGNATURE_HEADER = 'eddy-signature';
/** A signature older than this is refused. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;
/** A signature dated further ahead than this (clock skew) is refused. */
export const SIGNATURE_FUTURE_SKEW_MS = 30_000;

/** What a signature covers besides the body: the method and the request target. */
export interface SignedRequest {
  /** Default `POST`. */
  method?: string;
  /** The endpoint's URL, absolute or a path; only its path and query are signed. */
  url: string;
  body: string | Uint8Array;
}

/** The request target (`/api/tick?x=1`) of an absolute URL or a path. */
function requestTarget(url: string): string {
  const parsed = new URL(url, 'http://eddy.invalid');
  return parsed.pathname + parsed.search;
}

/**
 * The signed bytes: `v1\n<t>\n<nonce>\n<METHOD>\n<path?query>\n<body>`. Newlines separate the
 * fields because none can occur in the fields before the body (a URL's path percent-encodes
 * them), so no two requests sign the same bytes. The host is not signed: behind proxies, in
 * local development and on preview deployments the host an endpoint sees often differs from the
 * one the sender used; give each environment its own secret instead.
 */
function signedBytes(timestamp: number, nonce: string, request: SignedRequest): Uint8Array {
  const head = encoder.encode(
    `v1\n${timestamp}\n${nonce}\n${(request.method ?? 'POST').toUpperCase()}\n${requestTarget(request.url)}\n`,
  );
  const body = toBytes(request.body);
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

/**
 * Signs a request to a tick trigger: HMAC-SHA256 with `secret` over its method, path and body,
 * a timestamp and a fresh nonce (so no two signatures are alike and each is accepted once).
 *
 * @example
 * ```ts
 * const signature = await signBody(secret, { method: 'POST', url, body });
 * await fetch(url, { method: 'POST', body, headers: { [SIGNATURE_HEADER]: signature } });
 * ```
 */
export async function signBody(
  secret: string,
  request: SignedRequest,
  now = Date.now(),
): Promise<string> {
  const timestamp = Math.floor(now / 1000);
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  const signature = hex(await hmac(secret, signedBytes(timestamp, nonce, request)));
  return `t=${timestamp},n=${nonce},v1=${signature}`;
}

/** An `eddy-signature` header read, before the body is. */
export interface ParsedSignature {
  /** Unix seconds. */
  timestamp: number;
  nonce: string;
  /** The HMAC, lowercase hex: unique per signed request, so it identifies a replay. */
  signature: string;
}

/**
 * Reads an `eddy-signature` header and checks its date: not older than `toleranceMs`, not
 * ahead by more than `futureSkewMs`. Undefined when malformed or out of time.
 */
export function parseSignature(
  header: string | null,
  {
    now = Date.now(),
    toleranceMs = SIGNATURE_TOLERANCE_MS,
    futureSkewMs = SIGNATURE_FUTURE_SKEW_MS,
  }: { now?: number; toleranceMs?: number; futureSkewMs?: number } = {},
): ParsedSignature | undefined {
  if (!header) return undefined;
  const parts = new Map<string, string>();
  for (const part of header.split(',')) {
    const index = part.indexOf('=');
    if (index > 0) parts.set(part.slice(0, index).trim(), part.slice(index + 1).trim());
  }
  const timestamp = Number(parts.get('t'));
  const nonce = parts.get('n') ?? '';
  const signature = (parts.get('v1') ?? '').toLowerCase();
  if (!Number.isSafeInteger(timestamp) || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) return undefined;
  const signedAt = timestamp * 1000;
  if (now - signedAt > toleranceMs || signedAt - now > futureSkewMs) return undefined;
  return { timestamp, nonce, signature };
}

/** Whether `parsed` is the HMAC of `request` with `secret`. Replays are the caller's to refuse. */
export async function verifySignature(
  parsed: ParsedSignature,
  request: SignedRequest,
  secret: string,
): Promise<boolean> {
  if (!secret) return false;
  const expected = hex(await hmac(secret, signedBytes(parsed.timestamp, parsed.nonce, request)));
  return timingSafeEqual(expected, parsed.signature);
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
